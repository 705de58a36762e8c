//! `apply --rollback-on-failure` leaves no trace of a failed run; without it, a failed run
//! says what it did and that a rerun continues. Pre-flight failures write nothing.

use crate::kit::{Admin, SECRET_VAR, Test, config_text, emulator, emulator_refusing};
use p1run::emulator::Emulator;
use serde_json::Value;

/// (role, scope type, scope id).
type Grant = (String, String, String);

/// Everything PingOne holds in the target environment: apps (without timestamps) and grants.
fn snapshot(emulator: &Emulator) -> Vec<(Value, Vec<Grant>)> {
    let admin = Admin::new(emulator);
    let env = admin.environment_id.clone();
    let mut apps: Vec<_> = admin
        .applications(&env)
        .into_iter()
        .map(|mut app| {
            let id = app["id"].as_str().unwrap().to_owned();
            for volatile in ["updatedAt", "_links"] {
                app.as_object_mut().unwrap().remove(volatile);
            }
            let grants = admin.grants(&env, &id);
            (app, grants)
        })
        .collect();
    apps.sort_by_key(|(app, _)| app["id"].as_str().unwrap().to_owned());
    apps
}

/// A script that makes `writes`, then fails at a step only the apply pass can fail: a secret
/// rotation PingOne refuses (the emulator of [`refusing`] refuses writes to `/secret`).
fn failing_after(writes: &str) -> String {
    format!("{writes}\nrotate_secret(app, 60);\n")
}

fn refusing() -> Emulator {
    emulator_refusing("/secret")
}

fn rolls_back(setup: &[&str], writes: &str, expected_undo: &[&str]) {
    let emulator = refusing();
    for recipe in setup {
        Test::new()
            .config_for(&emulator)
            .args(["apply", recipe])
            .run()
            .success();
    }
    let before = snapshot(&emulator);
    let output = Test::new()
        .config_for(&emulator)
        .file("recipe.rhai", &failing_after(writes))
        .args([
            "apply",
            "recipe.rhai",
            "--rollback-on-failure",
            "--report",
            "report.json",
        ])
        .run()
        .failure()
        .stderr_has(&["rotate_secret: ", "refused by the emulator", "rolled back"]);
    for undo in expected_undo {
        assert!(
            output.stderr.contains(undo),
            "stderr lacks {undo:?}:\n{}",
            output.stderr
        );
    }
    assert_eq!(snapshot(&emulator), before, "the failed run left a trace");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(output.path("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["status"], "rolled_back");
    assert_eq!(
        report["compensations"].as_array().unwrap().len(),
        expected_undo.len()
    );
    assert!(
        report["compensations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c.get("error").is_none()),
        "{report}"
    );
}

#[test]
fn rollback_deletes_the_application_it_created() {
    rolls_back(
        &[],
        "let app = create_app(#{ name: \"Temp\" });",
        &["undone: create application \"Temp\" (WORKER)"],
    );
}

#[test]
fn rollback_revokes_the_roles_it_granted() {
    rolls_back(
        &["authorize-worker-env-scoped"],
        "let app = create_app(#{ name: \"PingOne Authorize Worker\", description: \"Worker application for PingOne Authorize\" });\n\
         grant_role(app, \"Identity Data Read Only\", environment());\n\
         grant_role(app, \"Configuration Read Only\", environment());",
        &[
            "undone: grant \"Configuration Read Only\"",
            "undone: grant \"Identity Data Read Only\"",
        ],
    );
}

#[test]
fn rollback_restores_the_auth_method_it_changed() {
    rolls_back(
        &["authorize-worker"],
        "let app = find_app(\"PingOne Authorize Worker\");\nset_auth_method(app, \"CLIENT_SECRET_POST\");",
        &["undone: tokenEndpointAuthMethod CLIENT_SECRET_BASIC -> CLIENT_SECRET_POST"],
    );
}

#[test]
fn rollback_restores_the_enabled_state_it_changed() {
    rolls_back(
        &["authorize-worker"],
        "let app = find_app(\"PingOne Authorize Worker\");\ndisable(app);",
        &["undone: disable \"PingOne Authorize Worker\""],
    );
}

#[test]
fn rollback_re_grants_the_roles_it_revoked() {
    rolls_back(
        &["authorize-worker"],
        "let app = find_app(\"PingOne Authorize Worker\");\nrevoke_role(app, \"Identity Data Admin\", environment());",
        &["undone: revoke \"Identity Data Admin\""],
    );
}

#[test]
fn rollback_undoes_a_whole_recipe_whose_last_step_fails() {
    let emulator = refusing();
    let before = snapshot(&emulator);
    // The secret cannot be written: its directory does not exist. Everything before goes.
    let output = Test::new()
        .config_for(&emulator)
        .file(
            "recipe.rhai",
            "import \"lib/worker\" as worker;\n\
             let app = worker::ensure(\"Doomed\", \"\");\n\
             grant_role(app, \"Identity Data Admin\", environment());\n\
             enable(app);\n\
             rotate_secret(app, 60);\n",
        )
        .args(["apply", "recipe.rhai", "--rollback-on-failure"])
        .run()
        .failure()
        .stderr_has(&[
            "recipe.rhai:5:1",
            "rotate_secret: ",
            "refused by the emulator",
            // The enable rode on the create: deleting the application undoes both.
            "rolled back 2 write(s)",
        ]);
    assert!(!output.stderr.contains("NOT undone"), "{}", output.stderr);
    assert_eq!(snapshot(&emulator), before);
}

#[test]
fn without_rollback_a_failed_run_says_what_it_did_and_how_to_continue() {
    let emulator = refusing();
    Test::new()
        .config_for(&emulator)
        .file(
            "recipe.rhai",
            &failing_after("let app = create_app(#{ name: \"Half\" });"),
        )
        .args(["apply", "recipe.rhai"])
        .run()
        .failure()
        .stderr_has(&[
            "before failing, this run made 1 change(s)",
            "+ create application \"Half\"",
            "rerun to continue",
        ]);
    let admin = Admin::new(&emulator);
    assert!(
        admin
            .application_named(&admin.environment_id, "Half")
            .is_some()
    );
}

#[test]
fn preflight_failure_exits_before_any_write() {
    let emulator = emulator(1);
    let admin = Admin::new(&emulator);
    let env = admin.environment_id.clone();
    // A worker that may create apps and hand out Identity Data Admin, but holds no
    // Environment Admin, so it cannot grant it.
    let (actor, secret) = admin.limited_actor(
        &env,
        "Limited Actor",
        &["Client Application Developer", "Identity Data Admin"],
    );
    let config = config_text(&emulator).replace(&emulator.info().client_id, &actor);
    let writes_before = emulator
        .requests()
        .iter()
        .filter(|r| r.method != "GET" && !r.path.ends_with("/as/token"))
        .count();
    Test::new()
        .file("p1run.toml", &config)
        .env(SECRET_VAR, &secret)
        .args(["apply", "authorize-worker"])
        .run()
        .failure()
        .stderr_has(&[
            "pre-flight",
            &actor,
            "\"Environment Admin\" at ORGANIZATION",
            "nothing was changed",
        ]);
    let writes_after = emulator
        .requests()
        .iter()
        .filter(|r| r.method != "GET" && !r.path.ends_with("/as/token"))
        .count();
    assert_eq!(
        writes_after, writes_before,
        "pre-flight must stop the run before any write"
    );
}

#[test]
fn a_grant_overlapping_a_narrower_one_fails_before_writing() {
    let emulator = emulator(1);
    Test::new()
        .config_for(&emulator)
        .args(["apply", "authorize-worker-env-scoped"])
        .run()
        .success();
    let before = snapshot(&emulator);
    Test::new()
        .config_for(&emulator)
        .args(["apply", "authorize-worker"])
        .run()
        .failure()
        .stderr_has(&[
            "already holds \"Environment Admin\" at ENVIRONMENT",
            "revoke_role the narrower one first",
        ]);
    assert_eq!(snapshot(&emulator), before);
}

#[test]
fn rollback_removes_the_secret_file_it_wrote() {
    let emulator = refusing();
    Test::new()
        .config_for(&emulator)
        .args(["apply", "authorize-worker"])
        .run()
        .success();
    let output = Test::new()
        .config_for(&emulator)
        .file(
            "recipe.rhai",
            "let app = find_app(\"PingOne Authorize Worker\");\n\
             write_secret(app_secret(app), \"first.secret\");\n\
             rotate_secret(app, 60);\n",
        )
        .args(["apply", "recipe.rhai", "--rollback-on-failure"])
        .run()
        .failure()
        .stderr_has(&[
            "refused by the emulator",
            "undone: write secret of \"PingOne Authorize Worker\" to first.secret",
        ]);
    assert!(
        !output.path("first.secret").exists(),
        "the file the run wrote is gone"
    );
}
