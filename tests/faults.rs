//! Every bundled recipe reaches the same final state against a slow, faulty, eventually
//! consistent or rate-limited emulator as against a well-behaved one.

use crate::kit::{Admin, Test};
use p1run::emulator::{Emulator, EmulatorOptions};
use std::time::Duration;

/// A worker as PingOne holds it: type, enabled, auth method, (role, scope type) grants.
type WorkerState = (String, bool, String, Vec<(String, String)>);

/// What PingOne holds for the named worker: type, enabled, auth method, and grants as
/// (role, scope type) — ids differ between emulators, so they are left out.
fn final_state(emulator: &Emulator, name: &str) -> Option<WorkerState> {
    let admin = Admin::new(emulator);
    let env = admin.environment_id.clone();
    let app = admin.application_named(&env, name)?;
    let grants = admin
        .grants(&env, app["id"].as_str().unwrap())
        .into_iter()
        .map(|(role, kind, _)| (role, kind))
        .collect();
    Some((
        app["type"].as_str().unwrap().to_owned(),
        app["enabled"].as_bool().unwrap(),
        app["tokenEndpointAuthMethod"].as_str().unwrap().to_owned(),
        grants,
    ))
}

/// Runs the recipe (after `setup` recipes) and returns the final state of `name`.
fn provision(
    options: EmulatorOptions,
    setup: &[&str],
    recipe: &str,
    vars: &[&str],
    name: &str,
) -> Option<WorkerState> {
    let emulator = Emulator::start(options).expect("emulator");
    for step in setup {
        Test::new()
            .config_for(&emulator)
            .args(["apply", step])
            .run()
            .success();
    }
    let mut args = vec!["apply".to_owned(), recipe.to_owned()];
    for var in vars {
        args.extend(["--var".to_owned(), (*var).to_owned()]);
    }
    Test::new().config_for(&emulator).args(args).run().success();
    final_state(&emulator, name)
}

fn faulty() -> EmulatorOptions {
    EmulatorOptions {
        latency: Duration::from_millis(20),
        fault_rate: 0.2,
        seed: Some(42),
        propagation_delay: Duration::from_millis(500),
        ..EmulatorOptions::default()
    }
}

fn rate_limited() -> EmulatorOptions {
    EmulatorOptions {
        rate_limit: Some(5),
        ..EmulatorOptions::default()
    }
}

#[track_caller]
fn converges(setup: &[&str], recipe: &str, vars: &[&str], name: &str) {
    let expected = provision(EmulatorOptions::default(), setup, recipe, vars, name);
    assert_eq!(
        expected.is_none(),
        recipe == "remove-worker",
        "{recipe} without faults: {expected:?}"
    );
    assert_eq!(
        provision(faulty(), setup, recipe, vars, name),
        expected,
        "{recipe} with faults"
    );
    assert_eq!(
        provision(rate_limited(), setup, recipe, vars, name),
        expected,
        "{recipe} rate-limited"
    );
}

#[test]
fn authorize_worker_converges_under_faults_and_rate_limits() {
    converges(&[], "authorize-worker", &[], "PingOne Authorize Worker");
}

#[test]
fn authorize_worker_http_service_converges_under_faults_and_rate_limits() {
    converges(
        &[],
        "authorize-worker-http-service",
        &[],
        "PingOne Authorize Worker",
    );
}

#[test]
fn authorize_worker_env_scoped_converges_under_faults_and_rate_limits() {
    converges(
        &[],
        "authorize-worker-env-scoped",
        &[],
        "PingOne Authorize Worker",
    );
}

#[test]
fn worker_app_converges_under_faults_and_rate_limits() {
    converges(
        &[],
        "worker-app",
        &["roles=Identity Data Admin@environment,Environment Admin@organization"],
        "Automation Worker",
    );
}

#[test]
fn remove_worker_converges_under_faults_and_rate_limits() {
    converges(
        &["authorize-worker"],
        "remove-worker",
        &[],
        "PingOne Authorize Worker",
    );
}

#[test]
fn rotate_worker_secret_converges_under_faults_and_rate_limits() {
    for options in [EmulatorOptions::default(), faulty(), rate_limited()] {
        let emulator = Emulator::start(options).expect("emulator");
        Test::new()
            .config_for(&emulator)
            .args(["apply", "authorize-worker"])
            .run()
            .success();
        let admin = Admin::new(&emulator);
        let env = admin.environment_id.clone();
        let app = admin
            .application_named(&env, "PingOne Authorize Worker")
            .unwrap();
        let id = app["id"].as_str().unwrap().to_owned();
        let before = admin.secret(&env, &id);
        let rotated = Test::new()
            .config_for(&emulator)
            .args(["apply", "rotate-worker-secret", "--var", "out=w.secret"])
            .run()
            .success();
        let now = admin.secret(&env, &id);
        assert_ne!(now, before, "the secret was rotated");
        assert_eq!(
            std::fs::read_to_string(rotated.path("w.secret")).unwrap(),
            now,
            "the file holds the secret PingOne now has"
        );
        let rotations = emulator
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/secret") && r.status == 200)
            .count();
        assert_eq!(rotations, 1, "rotated once");
    }
}

/// A 5xx after PingOne already acted (the answer lost on the way) must not make the tool act
/// twice: no second application, no duplicate-grant failure, no second rotation.
#[test]
fn lost_answers_never_make_a_write_twice() {
    let emulator = Emulator::start(EmulatorOptions {
        lost_answer_rate: 0.5,
        seed: Some(11),
        ..EmulatorOptions::default()
    })
    .expect("emulator");
    Test::new()
        .config_for(&emulator)
        .args(["apply", "authorize-worker"])
        .run()
        .success();
    let admin = Admin::new(&emulator);
    let env = admin.environment_id.clone();
    let apps: Vec<_> = admin
        .applications(&env)
        .into_iter()
        .filter(|a| a["name"] == "PingOne Authorize Worker")
        .collect();
    assert_eq!(apps.len(), 1, "one worker, not two: {apps:#?}");
    let id = apps[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(admin.grants(&env, &id).len(), 2);
    assert_eq!(apps[0]["enabled"], true);
    let lost = emulator
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.status == 502)
        .count();
    assert!(
        lost > 0,
        "the seed must lose at least one answer: {:#?}",
        emulator.requests()
    );

    let before = admin.secret(&env, &id);
    let rotated = Test::new()
        .config_for(&emulator)
        .args(["apply", "rotate-worker-secret", "--var", "out=w.secret"])
        .run()
        .success();
    let now = admin.secret(&env, &id);
    assert_ne!(now, before);
    assert_eq!(
        std::fs::read_to_string(rotated.path("w.secret")).unwrap(),
        now
    );
    // Rotated once: the secret from before is still the valid previous one.
    assert!(
        admin.token_for(&env, &id, &before, false).is_ok(),
        "the old secret died: rotated twice"
    );
}
