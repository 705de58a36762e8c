//! Bad input of every kind ends in one clear message naming what failed and where, exit 1,
//! and no panic.

use crate::kit::{Admin, SECRET_VAR, Test, config_text, emulator, emulator_refusing};
use p1run::emulator::{Emulator, EmulatorOptions};

/// A script run against a fresh emulator with the given extra config text.
fn script_with(emulator: &Emulator, extra_config: &str, script: &str) -> Test {
    let config = format!("{}{extra_config}", config_text(emulator));
    Test::new()
        .file("p1run.toml", &config)
        .env(SECRET_VAR, &emulator.info().client_secret)
        .file("recipe.rhai", script)
        .args(["apply", "recipe.rhai"])
}

fn script(emulator: &Emulator, script: &str) -> Test {
    script_with(emulator, "", script)
}

#[test]
fn syntax_error_names_file_line_and_column() {
    let emulator = emulator(1);
    script(&emulator, "let app = create_app(#{ name: \"x\" };\n")
        .run()
        .failure()
        .stderr_has(&["recipe.rhai:1:", "syntax error", "let app = create_app"]);
}

#[test]
fn unknown_primitive_points_at_the_call() {
    let emulator = emulator(1);
    script(
        &emulator,
        "let x = 1;\ncreate_application(#{ name: \"x\" });\n",
    )
    .run()
    .failure()
    .stderr_has(&[
        "recipe.rhai:2:1",
        "unknown function",
        "create_application",
        "p1run primitives",
    ]);
}

#[test]
fn unknown_role_lists_the_valid_names() {
    let emulator = emulator(1);
    script(&emulator, "let app = create_app(#{ name: \"x\" });\ngrant_role(app, \"Super Admin\", environment());\n")
        .run()
        .failure()
        .stderr_has(&["recipe.rhai:2:1", "grant_role: unknown role \"Super Admin\"", "Identity Data Admin", "Environment Admin"]);
}

#[test]
fn a_scope_the_role_does_not_accept_names_the_ones_it_does() {
    let emulator = emulator(1);
    script(&emulator, "let app = create_app(#{ name: \"x\" });\ngrant_role(app, \"Identity Data Admin\", organization());\n")
        .run()
        .failure()
        .stderr_has(&["recipe.rhai:2:1", "cannot be granted at ORGANIZATION scope", "ENVIRONMENT, POPULATION"]);
}

#[test]
fn invalid_auth_method_lists_the_five() {
    let emulator = emulator(1);
    script(
        &emulator,
        "let app = create_app(#{ name: \"x\" });\nset_auth_method(app, \"BASIC\");\n",
    )
    .run()
    .failure()
    .stderr_has(&[
        "recipe.rhai:2:1",
        "unknown token endpoint auth method \"BASIC\"",
        "NONE, CLIENT_SECRET_BASIC, CLIENT_SECRET_POST, PRIVATE_KEY_JWT, CLIENT_SECRET_JWT",
    ]);
}

#[test]
fn api_error_shows_the_call_and_pingones_code() {
    let emulator = emulator_refusing("/roleAssignments");
    script(&emulator, "let app = create_app(#{ name: \"x\" });\ngrant_role(app, \"Identity Data Admin\", environment());\n")
        .run()
        .failure()
        .stderr_has(&[
            "recipe.rhai:2:1",
            "grant_role:",
            "POST /v1/environments/",
            "/roleAssignments",
            "400",
            "INVALID_DATA",
            "INVALID_VALUE",
            "refused by the emulator",
        ]);
}

#[test]
fn error_inside_a_library_function_shows_the_chain() {
    let emulator = emulator(1);
    script(&emulator, "import \"lib/worker\" as worker;\nworker::authorize_worker(\"x\", \"\", \"CLIENT_SECRET_BASIC\", \"galaxy\");\n")
        .run()
        .failure()
        .stderr_has(&["scripts/lib/worker.rhai:", "env_admin_scope must be \"organization\" or \"environment\"", "recipe.rhai:2:"]);
}

#[test]
fn missing_config_file() {
    Test::new()
        .args(["apply", "authorize-worker", "--env", "staging"])
        .run()
        .failure()
        .stderr_has(&[
            "--env staging needs a config file",
            "./p1run.toml does not exist",
        ]);
    Test::new()
        .args(["apply", "authorize-worker", "--config", "nowhere.toml"])
        .run()
        .failure()
        .stderr_has(&["config nowhere.toml: cannot read it"]);
}

#[test]
fn unknown_environment_lists_the_configured_ones() {
    let emulator = emulator(2);
    Test::new()
        .config_for(&emulator)
        .args(["apply", "authorize-worker", "--env", "prod"])
        .run()
        .failure()
        .stderr_has(&["no environment named \"prod\"", "env-1, env-2"]);
}

#[test]
fn bad_config_says_which_key() {
    Test::new()
        .file("p1run.toml", "[environments.a]\nenvironment_id = \"e\"\nregion = \"MARS\"\nclient_id = \"c\"\nclient_secret_env = \"X\"\n")
        .env("X", "s")
        .args(["apply", "authorize-worker", "--env", "a"])
        .run()
        .failure()
        .stderr_has(&["p1run.toml", "[environments.a] region", "MARS"]);
    Test::new()
        .file("p1run.toml", "[environments.a]\nenvironment_id = \"e\"\nregion = \"NA\"\nclient_id = \"c\"\nclient_secret = \"inline\"\n")
        .args(["apply", "authorize-worker", "--env", "a"])
        .run()
        .failure()
        .stderr_has(&["inline client_secret", "client_secret_env"]);
    Test::new()
        .file("p1run.toml", "[environments.a\n")
        .args(["apply", "authorize-worker", "--env", "a"])
        .run()
        .failure()
        .stderr_has(&["config p1run.toml:"]);
}

#[test]
fn missing_secret_variable() {
    let emulator = emulator(1);
    Test::new()
        .file("p1run.toml", &config_text(&emulator))
        .args(["apply", "authorize-worker", "--env", "env-1"])
        .run()
        .failure()
        .stderr_has(&[
            &format!("${SECRET_VAR}, which is not set"),
            &format!("export {SECRET_VAR}="),
        ]);
}

#[test]
fn wrong_secret_is_refused_at_the_token_endpoint() {
    let emulator = emulator(1);
    Test::new()
        .file("p1run.toml", &config_text(&emulator))
        .env(SECRET_VAR, "not-the-secret")
        .args(["apply", "authorize-worker", "--env", "env-1"])
        .run()
        .failure()
        .stderr_has(&["/as/token", "invalid_client"]);
}

#[test]
fn unreachable_api_fails_fast_with_the_host() {
    // A port nobody listens on: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = format!(
        "[environments.gone]\nenvironment_id = \"e\"\nclient_id = \"c\"\nclient_secret_env = \"{SECRET_VAR}\"\n\
         api_url = \"http://127.0.0.1:{port}/v1\"\nauth_url = \"http://127.0.0.1:{port}\"\n\
         [retry]\ndeadline_ms = 500\ninitial_delay_ms = 50\n"
    );
    Test::new()
        .file("p1run.toml", &config)
        .env(SECRET_VAR, "s")
        .args(["apply", "authorize-worker"])
        .run()
        .failure()
        .stderr_has(&[&format!("127.0.0.1:{port}")]);
}

#[test]
fn a_500_storm_outlasting_the_deadline_fails_clearly() {
    let emulator = Emulator::start(EmulatorOptions {
        fault_rate: 1.0,
        seed: Some(7),
        ..EmulatorOptions::default()
    })
    .expect("emulator");
    script_with(
        &emulator,
        "[retry]\ndeadline_ms = 800\ninitial_delay_ms = 20\nmax_delay_ms = 100\n",
        "env()\n",
    )
    .run()
    .failure()
    .stderr_has(&["deadline"]);
}

#[test]
fn an_endless_loop_is_stopped_by_the_operation_limit() {
    let emulator = emulator(1);
    script_with(
        &emulator,
        "[limits]\nmax_operations = 50000\n",
        "let n = 0;\nloop { n += 1; }\n",
    )
    .run()
    .failure()
    .stderr_has(&[
        "recipe.rhai:2:",
        "more than 50000 operations",
        "max_operations",
    ]);
}

#[test]
fn an_unknown_var_lists_the_recipes_params() {
    Test::new()
        .args(["apply", "authorize-worker", "--var", "nmae=x"])
        .run()
        .failure()
        .stderr_has(&[
            "--var nmae",
            "name, description, auth_method, env_admin_scope",
        ]);
    Test::new()
        .args(["apply", "authorize-worker", "--var", "name"])
        .run()
        .failure()
        .stderr_has(&["NAME=VALUE"]);
}

#[test]
fn a_var_of_the_wrong_type_names_it() {
    let emulator = emulator(1);
    Test::new()
        .config_for(&emulator)
        .args(["apply", "worker-app", "--var", "enabled=maybe"])
        .run()
        .failure()
        .stderr_has(&["--var enabled=\"maybe\" is not a boolean"]);
}

#[test]
fn an_unknown_recipe_lists_the_bundled_ones() {
    Test::new()
        .args(["apply", "authorise-worker"])
        .run()
        .failure()
        .stderr_has(&[
            "no recipe \"authorise-worker\"",
            "authorize-worker, authorize-worker-http-service",
        ]);
}

#[test]
fn imports_cannot_leave_the_script_directory() {
    let emulator = emulator(1);
    let admin = Admin::new(&emulator);
    drop(admin);
    script(&emulator, "import \"/etc/passwd\" as p;\n")
        .run()
        .failure()
        .stderr_has(&["cannot import \"/etc/passwd\""]);
    script(&emulator, "import \"../x\" as p;\n")
        .run()
        .failure()
        .stderr_has(&["cannot import \"../x\""]);
}

#[test]
fn a_failed_write_the_script_catches_still_fails_the_run() {
    let emulator = emulator_refusing("/roleAssignments");
    let output = script(
        &emulator,
        "let app = create_app(#{ name: \"caught\" });\nenable(app);\n\
         grant_role(app, \"Environment Admin\", environment());\n\
         try { app_secret(app); } catch (e) { print(`caught: ${e.message}`); }\n#{ enabled: app.enabled }\n",
    )
    .args(["--output", "json"])
    .run()
    .failure()
    .stderr_has(&["a write failed and the script caught its error", "grant_role"]);
    assert_eq!(output.json()["status"], "failed");
    let admin = Admin::new(&emulator);
    let app = admin
        .application_named(&admin.environment_id, "caught")
        .expect("created");
    // The enable rode on the create's body, before the grant failed.
    assert_eq!(app["enabled"], true);
}

#[test]
fn a_config_parse_error_never_quotes_the_offending_line() {
    let output = Test::new()
        .file(
            "p1run.toml",
            "[environments.a]\nenvironment_id = \"e\"\nclient_secret = SuperSecretValue123\n",
        )
        .args(["apply", "authorize-worker", "--env", "a"])
        .run()
        .failure()
        .stderr_has(&["config p1run.toml: line 3, column"]);
    assert!(
        !output.stderr.contains("SuperSecretValue123"),
        "{}",
        output.stderr
    );
}
