//! Every bundled recipe reaches the same final state against a slow, faulty, eventually
//! consistent or rate-limited emulator as against a well-behaved one.

use crate::harness::{Admin, Test};
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
    for step in setup.iter().chain([&recipe]) {
        let mut args = vec!["apply".to_owned(), (*step).to_owned()];
        for var in vars {
            args.extend(["--var".to_owned(), (*var).to_owned()]);
        }
        Test::new().config_for(&emulator).args(args).run().success();
    }
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
