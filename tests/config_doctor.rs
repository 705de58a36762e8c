//! `p1run init`, `p1run doctor`, `[defaults]`, per-environment vars and `--var-file`, over the
//! real binary against the emulator.

use crate::kit::{Admin, SECRET_VAR, Test, config_text, emulator};
use p1run::emulator::Emulator;
use serde_json::{Value, json};

/// What `init --env staging` wrote, with the ids of the emulator's first environment filled
/// in and the emulator's hosts added to `[defaults]`, as a user would edit it.
fn filled_init(emulator: &Emulator) -> String {
    let written = Test::new()
        .args(["init", "--env", "staging"])
        .run()
        .success()
        .stdout_has(&[
            "wrote p1run.toml",
            "export P1_STAGING_SECRET=",
            "p1run doctor",
        ]);
    let text = std::fs::read_to_string(written.path("p1run.toml")).unwrap();
    assert!(!text.contains(&emulator.info().client_secret));
    let info = emulator.info();
    text.replace("<staging environment id>", &info.environments[0].id)
        .replace("<staging worker client id>", &info.client_id)
        .replace(
            "[defaults]\n",
            &format!(
                "[defaults]\nworker_environment_id = \"{}\"\napi_url = \"{}\"\nauth_url = \"{}\"\n",
                info.environment_id, info.api_url, info.auth_url
            ),
        )
}

/// Asserts that no output of a run shows the secret.
#[track_caller]
fn no_secret(output: &crate::kit::Output, secret: &str) {
    assert!(!output.stdout.contains(secret), "stdout shows the secret");
    assert!(!output.stderr.contains(secret), "stderr shows the secret");
}

#[test]
fn init_then_doctor_against_the_emulator_passes() {
    let emulator = emulator(1);
    let secret = emulator.info().client_secret.clone();
    let config = filled_init(&emulator);
    let output = Test::new()
        .file("p1run.toml", &config)
        .env("P1_STAGING_SECRET", &secret)
        .args(["doctor"])
        .run()
        .success()
        .stdout_has(&[
            "staging",
            "ok       config",
            "ok       secret   $P1_STAGING_SECRET is set",
            "ok       token",
            "ok       api",
            "ok       roles",
            "Organization Admin",
            // A fresh environment has no worker to rotate: shown, not a failure.
            "6 of 7 bundled recipes would pass pre-flight; 1 cannot plan here",
            "ready    authorize-worker ",
            "n/a      rotate-worker-secret",
            "nothing to rotate",
            "doctor: 1 environment checked, all ready",
        ]);
    no_secret(&output, &secret);

    // The same, as one JSON document.
    let output = Test::new()
        .file("p1run.toml", &config)
        .env("P1_STAGING_SECRET", &secret)
        .args(["doctor", "--env", "staging", "--output", "json"])
        .run()
        .success();
    no_secret(&output, &secret);
    let document = output.json();
    assert_eq!(document["status"], "passed", "{document:#}");
    let env = &document["environments"][0];
    assert_eq!(env["environment"], "staging");
    let checks: Vec<(&str, &str)> = env["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["check"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        checks,
        [
            ("config", "ok"),
            ("secret", "ok"),
            ("token", "ok"),
            ("api", "ok"),
            ("roles", "ok"),
            ("recipes", "ok")
        ]
    );
    let recipes = env["recipes"].as_array().unwrap();
    assert_eq!(recipes.len(), p1run::recipes::RECIPES.len(), "{document:#}");
    assert!(
        recipes
            .iter()
            .any(|r| r["recipe"] == "authorize-worker" && r["status"] == "ready"),
        "{document:#}"
    );
    // Doctor plans, it never writes.
    assert!(
        emulator
            .requests()
            .iter()
            .all(|r| r.method == "GET" || r.path.ends_with("/as/token")),
        "doctor wrote: {:#?}",
        emulator.requests()
    );
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let output = Test::new()
        .file("p1run.toml", "# mine\n")
        .args(["init"])
        .run()
        .failure()
        .stderr_has(&["p1run.toml already exists", "--force"]);
    assert_eq!(
        std::fs::read_to_string(output.path("p1run.toml")).unwrap(),
        "# mine\n"
    );
    let output = Test::new()
        .file("p1run.toml", "# mine\n")
        .args(["init", "--force", "--env", "qa"])
        .run()
        .success();
    let text = std::fs::read_to_string(output.path("p1run.toml")).unwrap();
    assert!(
        text.contains("[environments.qa]") && text.contains("client_secret_env = \"P1_QA_SECRET\""),
        "{text}"
    );
    assert!(!text.contains("client_secret ="), "{text}");
}

#[test]
fn doctor_fails_naming_an_unset_secret_variable() {
    let emulator = emulator(1);
    let output = Test::new()
        .file("p1run.toml", &filled_init(&emulator))
        .args(["doctor"])
        .run()
        .failure()
        .stdout_has(&[
            "FAIL     secret",
            "$P1_STAGING_SECRET, which is not set",
            "export P1_STAGING_SECRET=",
            "skipped  token",
            "not ready: staging (secret)",
        ]);
    // Nothing was sent without a secret.
    assert!(emulator.requests().is_empty(), "{:#?}", emulator.requests());
    drop(output);
}

#[test]
fn doctor_fails_naming_a_wrong_secret_and_never_shows_it() {
    let emulator = emulator(1);
    let wrong = "not-the-secret-4711";
    let output = Test::new()
        .file("p1run.toml", &filled_init(&emulator))
        .env("P1_STAGING_SECRET", wrong)
        .args(["doctor", "--output", "json"])
        .run()
        .failure();
    no_secret(&output, wrong);
    no_secret(&output, &emulator.info().client_secret);
    let document = output.json();
    assert_eq!(document["status"], "failed");
    let checks = document["environments"][0]["checks"].as_array().unwrap();
    let token = checks.iter().find(|c| c["check"] == "token").unwrap();
    assert_eq!(token["status"], "fail", "{document:#}");
    assert!(
        token["detail"].as_str().unwrap().contains("invalid_client"),
        "{document:#}"
    );
    let later: Vec<&Value> = checks
        .iter()
        .filter(|c| ["api", "roles", "recipes"].contains(&c["check"].as_str().unwrap()))
        .map(|c| &c["status"])
        .collect();
    assert_eq!(later, [&json!("skipped"); 3], "{document:#}");
}

#[test]
fn doctor_reports_the_recipes_a_limited_worker_may_not_run_without_failing() {
    let emulator = emulator(1);
    let admin = Admin::new(&emulator);
    let env = admin.environment_id.clone();
    // A worker that may hand out Identity Data Admin in its environment only: every recipe
    // that grants Environment Admin at the organization is refused.
    let (actor, secret) = admin.limited_actor(
        &env,
        "Limited Actor",
        &["Client Application Developer", "Identity Data Admin"],
    );
    let config = config_text(&emulator).replace(&emulator.info().client_id, &actor);
    let output = Test::new()
        .file("p1run.toml", &config)
        .env(SECRET_VAR, &secret)
        .args(["doctor", "--output", "json"])
        .run()
        .success();
    no_secret(&output, &secret);
    let document = output.json();
    let env = &document["environments"][0];
    let recipe = |name: &str| {
        env["recipes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["recipe"] == name)
            .unwrap()
            .clone()
    };
    let refused = recipe("authorize-worker");
    assert_eq!(refused["status"], "refused", "{document:#}");
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("\"Environment Admin\" at ORGANIZATION"),
        "{document:#}"
    );
    assert_eq!(recipe("worker-app")["status"], "ready", "{document:#}");
    assert_eq!(recipe("rotate-worker-secret")["status"], "cannot_plan");
    let checks = env["checks"].as_array().unwrap();
    let recipes = checks.iter().find(|c| c["check"] == "recipes").unwrap();
    assert_eq!(recipes["status"], "warn", "{document:#}");
}

/// A config whose environments carry only their id and vars: everything else is inherited.
fn defaults_config(emulator: &Emulator) -> String {
    let info = emulator.info();
    let mut text = format!(
        "[defaults]\nregion = \"NA\"\nclient_id = \"{}\"\nclient_secret_env = \"{SECRET_VAR}\"\n\
         worker_environment_id = \"{}\"\napi_url = \"{}\"\nauth_url = \"{}\"\n\n\
         [defaults.vars]\ndescription = \"from the defaults\"\n\n",
        info.client_id, info.environment_id, info.api_url, info.auth_url
    );
    for (env, name) in info.environments.iter().zip(["Alpha", "Beta"]) {
        text.push_str(&format!(
            "[environments.{}]\nenvironment_id = \"{}\"\n[environments.{}.vars]\nname = \"{name}\"\n\n",
            env.name, env.id, env.name
        ));
    }
    text
}

fn defaults_run(emulator: &Emulator) -> Test {
    Test::new()
        .file("p1run.toml", &defaults_config(emulator))
        .env(SECRET_VAR, &emulator.info().client_secret)
}

#[test]
fn a_fleet_inherits_the_defaults_and_each_environment_gets_its_own_vars() {
    let emulator = emulator(2);
    let admin = Admin::new(&emulator);
    let envs = emulator.info().environments.clone();
    defaults_run(&emulator)
        .args(["apply", "authorize-worker", "--all"])
        .run()
        .success();
    let alpha = admin
        .application_named(&envs[0].id, "Alpha")
        .expect("Alpha in env-1");
    assert_eq!(alpha["description"], "from the defaults");
    assert!(admin.application_named(&envs[0].id, "Beta").is_none());
    assert!(admin.application_named(&envs[1].id, "Beta").is_some());

    // --var goes over the environment's vars, in every environment of a fleet.
    defaults_run(&emulator)
        .args(["apply", "authorize-worker", "--all", "--var", "name=Gamma"])
        .run()
        .success();
    for env in &envs {
        assert!(
            admin.application_named(&env.id, "Gamma").is_some(),
            "{}",
            env.name
        );
    }
}

#[test]
fn a_var_file_goes_over_the_config_vars_and_under_var() {
    let emulator = emulator(2);
    let admin = Admin::new(&emulator);
    let envs = emulator.info().environments.clone();
    defaults_run(&emulator)
        .file(
            "vars.json",
            r#"{"name": "Delta", "description": "from the file"}"#,
        )
        .args([
            "apply",
            "authorize-worker",
            "--env",
            "env-1",
            "--var-file",
            "vars.json",
        ])
        .run()
        .success();
    let delta = admin
        .application_named(&envs[0].id, "Delta")
        .expect("Delta");
    assert_eq!(delta["description"], "from the file");

    defaults_run(&emulator)
        .file("vars.toml", "name = \"Epsilon\"\n")
        .args([
            "apply",
            "authorize-worker",
            "--env",
            "env-2",
            "--var-file",
            "vars.toml",
        ])
        .args(["--var", "name=Zeta"])
        .run()
        .success();
    assert!(admin.application_named(&envs[1].id, "Zeta").is_some());
    assert!(admin.application_named(&envs[1].id, "Epsilon").is_none());

    // A name the recipe does not read is refused, naming the file.
    defaults_run(&emulator)
        .file("vars.toml", "nmae = \"x\"\n")
        .args([
            "plan",
            "authorize-worker",
            "--env",
            "env-2",
            "--var-file",
            "vars.toml",
        ])
        .run()
        .failure()
        .stderr_has(&["--var-file vars.toml: nmae", "has no param \"nmae\""]);
}

#[test]
fn a_saved_plan_keeps_the_config_vars_it_was_made_with() {
    let emulator = emulator(2);
    let admin = Admin::new(&emulator);
    let envs = emulator.info().environments.clone();
    let planned = defaults_run(&emulator)
        .args([
            "plan",
            "authorize-worker",
            "--env",
            "env-1",
            "--out",
            "plan.json",
        ])
        .run()
        .status(2);
    let plan = std::fs::read_to_string(planned.path("plan.json")).unwrap();
    let plan: Value = serde_json::from_str(&plan).unwrap();
    assert_eq!(plan["vars"]["name"], "Alpha", "{plan:#}");
    Test::new()
        .file("p1run.toml", &defaults_config(&emulator))
        .file("plan.json", &plan.to_string())
        .env(SECRET_VAR, &emulator.info().client_secret)
        .args(["apply", "--plan", "plan.json"])
        .run()
        .success();
    assert!(admin.application_named(&envs[0].id, "Alpha").is_some());
}

#[test]
fn a_typo_in_defaults_is_an_error_with_the_key_meant() {
    Test::new()
        .file("p1run.toml", "[defaults]\nregoin = \"NA\"\n")
        .args(["plan", "authorize-worker"])
        .run()
        .failure()
        .stderr_has(&[
            "p1run.toml: line 2, column 1: unknown key `regoin` in [defaults]",
            "did you mean `region`?",
        ]);
    Test::new()
        .file("p1run.toml", "[defaults.var]\nname = \"x\"\n")
        .args(["doctor"])
        .run()
        .failure()
        .stderr_has(&["unknown table `var` in [defaults]", "did you mean `vars`?"]);
}

#[test]
fn a_mistyped_environment_gets_the_name_meant() {
    let emulator = emulator(2);
    let config = config_text(&emulator).replace("env-2", "staging");
    for args in [
        &["plan", "authorize-worker", "--env", "stagng"][..],
        &[
            "plan",
            "authorize-worker",
            "--env",
            "env-1",
            "--env",
            "stagng",
        ],
        &["doctor", "--env", "stagng"],
    ] {
        Test::new()
            .file("p1run.toml", &config)
            .env(SECRET_VAR, &emulator.info().client_secret)
            .args(args.iter().copied())
            .run()
            .failure()
            .stderr_has(&[
                "no environment named \"stagng\" (did you mean \"staging\"?)",
                "configured: env-1, staging",
            ]);
    }
}
