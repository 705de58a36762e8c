//! `p1run apply`: the documented recipe end to end, idempotent reruns, the HTTP-service
//! variant's token behaviour. Final state is always read back from the emulator over HTTP.

use crate::kit::{Admin, Test, emulator};
use p1run::emulator::{Emulator, EmulatorOptions};

const WORKER: &str = "PingOne Authorize Worker";

fn writes(emulator: &Emulator) -> Vec<String> {
    emulator
        .requests()
        .into_iter()
        .filter(|r| {
            matches!(r.method.as_str(), "POST" | "PUT" | "DELETE") && !r.path.ends_with("/as/token")
        })
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[test]
fn authorize_worker_with_no_config_provisions_the_embedded_emulator() {
    let test = Test::new();
    let state = test.path().join("local-state.json");
    let output = test
        .env("P1RUN_LOCAL_STATE", state.to_str().unwrap())
        .args(["apply", "authorize-worker"])
        .run()
        .success()
        .stdout_has(&[
            "authorize-worker on local",
            "create application \"PingOne Authorize Worker\" (WORKER)",
        ]);

    // The embedded emulator saved its state; a new emulator serves it over HTTP.
    let emulator = Emulator::start(EmulatorOptions {
        state_file: Some(state),
        ..EmulatorOptions::default()
    })
    .expect("emulator from the run's state");
    let admin = Admin::new(&emulator);
    let env = admin.environment_id.clone();
    let app = admin
        .application_named(&env, WORKER)
        .expect("worker created");
    drop(output);
    assert_eq!(app["type"], "WORKER");
    assert_eq!(app["enabled"], true);
    assert_eq!(app["tokenEndpointAuthMethod"], "CLIENT_SECRET_BASIC");
    let grants = admin.grants(&env, app["id"].as_str().unwrap());
    assert_eq!(
        grants,
        vec![
            (
                "Environment Admin".into(),
                "ORGANIZATION".into(),
                admin.organization_id.clone()
            ),
            (
                "Identity Data Admin".into(),
                "ENVIRONMENT".into(),
                env.clone()
            ),
        ]
    );
}

#[test]
fn a_second_run_sends_no_writes_and_reports_no_changes() {
    let emulator = emulator(1);
    let first = Test::new()
        .config_for(&emulator)
        .args(["apply", "authorize-worker", "--output", "json"])
        .run()
        .success();
    assert_eq!(
        first.json()["changes"].as_array().unwrap().len(),
        4,
        "{}",
        first.stdout
    );
    let before = writes(&emulator).len();

    let second = Test::new()
        .config_for(&emulator)
        .args(["apply", "authorize-worker", "--output", "json"])
        .run()
        .success();
    let report = second.json();
    assert_eq!(report["status"], "succeeded");
    assert_eq!(report["changes"], serde_json::json!([]));
    assert_eq!(
        writes(&emulator).len(),
        before,
        "the rerun wrote: {:?}",
        &writes(&emulator)[before..]
    );
    assert_eq!(report["outputs"]["enabled"], true);

    let text = Test::new()
        .config_for(&emulator)
        .args(["apply", "authorize-worker"])
        .run()
        .success();
    assert!(text.stdout.contains("no changes"), "{}", text.stdout);
}

#[test]
fn json_output_lists_each_write_once() {
    let emulator = emulator(1);
    let output = Test::new()
        .config_for(&emulator)
        .args(["apply", "authorize-worker", "--output", "json"])
        .run()
        .success();
    let report = output.json();
    assert_eq!(report["recipe"], "authorize-worker");
    assert_eq!(report["environment"], "env-1");
    // The enable rides on the create (one request fewer), so it is listed with it.
    assert_eq!(output.actions(), ["create", "update", "grant", "grant"]);
    // Only the changes carry an `action` key, so a consumer can count writes by it.
    fn action_keys(value: &serde_json::Value) -> usize {
        match value {
            serde_json::Value::Object(map) => {
                usize::from(map.contains_key("action"))
                    + map.values().map(action_keys).sum::<usize>()
            }
            serde_json::Value::Array(items) => items.iter().map(action_keys).sum(),
            _ => 0,
        }
    }
    assert_eq!(action_keys(&report), 4);
    for change in report["changes"].as_array().unwrap() {
        for key in ["action", "resource", "id", "detail"] {
            assert!(change.get(key).is_some(), "{change} lacks {key}");
        }
    }
    assert!(report["requests"].as_u64().unwrap() > 0);
    assert!(report["duration_ms"].is_u64());
}

#[test]
fn http_service_worker_authenticates_with_form_credentials_only() {
    let emulator = emulator(1);
    Test::new()
        .config_for(&emulator)
        .args(["apply", "authorize-worker-http-service"])
        .run()
        .success();
    let admin = Admin::new(&emulator);
    let env = admin.environment_id.clone();
    let app = admin.application_named(&env, WORKER).expect("worker");
    assert_eq!(app["tokenEndpointAuthMethod"], "CLIENT_SECRET_POST");
    let id = app["id"].as_str().unwrap();
    let secret = admin.secret(&env, id);
    assert_eq!(
        admin.token_for(&env, id, &secret, false),
        Err(401),
        "Basic must be refused"
    );
    assert!(
        admin.token_for(&env, id, &secret, true).is_ok(),
        "form credentials must work"
    );
}

#[test]
fn env_scoped_variant_grants_environment_admin_on_the_environment_only() {
    let emulator = emulator(1);
    Test::new()
        .config_for(&emulator)
        .args(["apply", "authorize-worker-env-scoped"])
        .run()
        .success();
    let admin = Admin::new(&emulator);
    let env = admin.environment_id.clone();
    let app = admin.application_named(&env, WORKER).expect("worker");
    assert_eq!(
        admin.grants(&env, app["id"].as_str().unwrap()),
        vec![
            (
                "Environment Admin".into(),
                "ENVIRONMENT".into(),
                env.clone()
            ),
            (
                "Identity Data Admin".into(),
                "ENVIRONMENT".into(),
                env.clone()
            ),
        ]
    );
}

#[test]
fn vars_pick_the_name_and_the_scope() {
    let emulator = emulator(2);
    let admin = Admin::new(&emulator);
    let env2 = emulator.info().environments[1].id.clone();
    Test::new()
        .config_for(&emulator)
        .args([
            "apply",
            "authorize-worker",
            "--env",
            "env-2",
            "--var",
            "name=Team A",
            "--var",
            "env_admin_scope=environment",
        ])
        .run()
        .success();
    let app = admin
        .application_named(&env2, "Team A")
        .expect("worker in env-2");
    assert_eq!(admin.grants(&env2, app["id"].as_str().unwrap()).len(), 2);
    assert!(
        admin
            .application_named(&admin.environment_id, "Team A")
            .is_none()
    );
}

#[test]
fn remove_worker_revokes_and_deletes_by_name() {
    let emulator = emulator(1);
    Test::new()
        .config_for(&emulator)
        .args(["apply", "authorize-worker"])
        .run()
        .success();
    let output = Test::new()
        .config_for(&emulator)
        .args(["apply", "remove-worker", "--output", "json"])
        .run()
        .success();
    let actions = output.actions();
    assert_eq!(actions, ["revoke", "revoke", "delete"]);
    let admin = Admin::new(&emulator);
    assert!(
        admin
            .application_named(&admin.environment_id, WORKER)
            .is_none()
    );
    // Nothing left to remove: a no-op.
    let again = Test::new()
        .config_for(&emulator)
        .args(["apply", "remove-worker", "--output", "json"])
        .run()
        .success();
    assert_eq!(again.json()["changes"], serde_json::json!([]));
}

#[test]
fn worker_app_grants_a_list_of_roles() {
    let emulator = emulator(1);
    Test::new()
        .config_for(&emulator)
        .args([
            "apply",
            "worker-app",
            "--var",
            "name=Reporter",
            "--var",
            "roles=Identity Data Read Only@environment,Configuration Read Only@environment",
        ])
        .run()
        .success();
    let admin = Admin::new(&emulator);
    let env = admin.environment_id.clone();
    let app = admin.application_named(&env, "Reporter").expect("worker");
    let roles: Vec<String> = admin
        .grants(&env, app["id"].as_str().unwrap())
        .into_iter()
        .map(|g| g.0)
        .collect();
    assert_eq!(
        roles,
        ["Configuration Read Only", "Identity Data Read Only"]
    );
}

#[test]
fn an_existing_worker_is_adopted_not_duplicated() {
    let emulator = emulator(1);
    let admin = Admin::new(&emulator);
    let env = admin.environment_id.clone();
    let (status, _) = admin.call(
        "POST",
        &format!("/environments/{env}/applications"),
        Some(serde_json::json!({
            "name": WORKER, "description": "Worker application for PingOne Authorize", "enabled": false,
            "type": "WORKER", "protocol": "OPENID_CONNECT", "grantTypes": ["CLIENT_CREDENTIALS"],
            "tokenEndpointAuthMethod": "CLIENT_SECRET_BASIC", "assignActorRoles": false
        })),
    );
    assert_eq!(status, 201);
    let output = Test::new()
        .config_for(&emulator)
        .args(["apply", "authorize-worker", "--output", "json"])
        .run()
        .success();
    let actions = output.actions();
    assert_eq!(actions, ["grant", "grant", "update"]);
    assert_eq!(
        admin
            .applications(&env)
            .iter()
            .filter(|a| a["name"] == WORKER)
            .count(),
        1
    );
}

#[test]
fn a_script_imports_a_module_beside_it_and_prints_only_to_the_log() {
    let emulator = emulator(1);
    let output = Test::new()
        .config_for(&emulator)
        .file("naming.rhai", "fn worker_name(team) { `worker-${team}` }\n")
        .file(
            "recipe.rhai",
            "import \"naming\" as naming;\nprint(\"provisioning\");\nlet app = create_app(#{ name: naming::worker_name(\"red\") });\napp.name\n",
        )
        .args(["apply", "recipe.rhai", "-v"])
        .run()
        .success()
        .stdout_has(&["create application \"worker-red\" (WORKER)", "result: \"worker-red\""]);
    assert!(
        !output.stdout.contains("provisioning"),
        "print reached stdout:\n{}",
        output.stdout
    );
    assert_eq!(
        output.stderr.matches("provisioning").count(),
        1,
        "printed once, to the log:\n{}",
        output.stderr
    );
}
