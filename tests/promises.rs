//! The safety promises of the README, each on the path where it is easiest to break: Ctrl-C
//! between writes, a rotation whose secret cannot be saved, a lost answer under propagation
//! delay, concurrent applies, a plan PingOne would refuse, and a rollback under lost answers.

use crate::kit::{Admin, SECRET_VAR, Test, config_text, emulator, emulator_with};
use p1run::emulator::{Emulator, EmulatorOptions};
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::Duration;

const WORKER: &str = "PingOne Authorize Worker";

fn posts_to_applications(emulator: &Emulator) -> usize {
    emulator
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/applications"))
        .count()
}

#[test]
fn ctrl_c_after_an_answered_write_sends_no_queued_grant_and_rolls_back() {
    // Every request takes 300 ms, so the signal, sent once the create is answered, lands
    // while the run still checks for namesakes; the grants the script asks for next must
    // never go out.
    let emulator = emulator_with(EmulatorOptions {
        latency: Duration::from_millis(300),
        ..EmulatorOptions::default()
    });
    let admin = Admin::new(&emulator);
    let env = admin.environment_id.clone();
    let (status, _) = admin.call(
        "POST",
        &format!("/environments/{env}/applications"),
        Some(crate::kit::worker_body("Existing")),
    );
    assert_eq!(status, 201);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p1run.toml"), config_text(&emulator)).unwrap();
    std::fs::write(
        dir.path().join("recipe.rhai"),
        "let app = create_app(#{ name: \"Stopped\" });\n\
         grant_role(app, \"Identity Data Admin\", environment());\n\
         grant_role(app, \"Environment Admin\", organization());\n",
    )
    .unwrap();
    let child = Command::new(crate::kit::P1RUN)
        .current_dir(dir.path())
        .env(SECRET_VAR, &emulator.info().client_secret)
        .args([
            "apply",
            "recipe.rhai",
            "--rollback-on-failure",
            "--output",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("p1run");
    // The run's own create is the second: the first made "Existing".
    crate::kit::poll(Duration::from_secs(20), || {
        (posts_to_applications(&emulator) == 2).then_some(())
    });
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["status"], "interrupted", "{report}");
    let grants_sent = emulator
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/roleAssignments"))
        .count();
    assert_eq!(grants_sent, 0, "no grant goes out after Ctrl-C");
    assert_eq!(
        report["compensations"][0]["undo"],
        "delete application \"Stopped\" created by this run"
    );
    assert!(admin.application_named(&env, "Stopped").is_none());
}

#[test]
fn ctrl_c_while_queued_grants_go_out_stops_the_write_that_waited_for_them() {
    // The create of "Second" first sends the grant queued before it; Ctrl-C lands while that
    // grant is in flight (every request takes 300 ms), so "Second" must never be created.
    let emulator = emulator_with(EmulatorOptions {
        latency: Duration::from_millis(300),
        ..EmulatorOptions::default()
    });
    let admin = Admin::new(&emulator);
    let env = admin.environment_id.clone();
    let (status, _) = admin.call(
        "POST",
        &format!("/environments/{env}/applications"),
        Some(crate::kit::worker_body("Existing")),
    );
    assert_eq!(status, 201);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p1run.toml"), config_text(&emulator)).unwrap();
    std::fs::write(
        dir.path().join("recipe.rhai"),
        "let first = create_app(#{ name: \"First\" });\n\
         grant_role(first, \"Identity Data Admin\", environment());\n\
         create_app(#{ name: \"Second\" });\n",
    )
    .unwrap();
    let child = Command::new(crate::kit::P1RUN)
        .current_dir(dir.path())
        .env(SECRET_VAR, &emulator.info().client_secret)
        .args(["apply", "recipe.rhai", "--output", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("p1run");
    // "First" is created and checked for namesakes (the second list of applications, after
    // the one every run starts with): the create of "Second" now sends the queued grant, and
    // the signal lands while it is in flight.
    crate::kit::poll(Duration::from_secs(20), || {
        let lists = emulator
            .requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path.ends_with("/applications"))
            .count();
        (lists == 2).then_some(())
    });
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["status"], "interrupted", "{report}");
    assert!(admin.application_named(&env, "First").is_some());
    assert!(
        admin.application_named(&env, "Second").is_none(),
        "no write after Ctrl-C"
    );
}

#[test]
fn a_rotation_whose_secret_cannot_be_saved_is_refused_by_the_plan() {
    let emulator = emulator(1);
    Test::new()
        .config_for(&emulator)
        .args(["apply", "authorize-worker"])
        .run()
        .success();
    let writes_before = emulator.requests().len();
    Test::new()
        .config_for(&emulator)
        .args([
            "plan",
            "rotate-worker-secret",
            "--var",
            "out=missing/dir/w.secret",
        ])
        .run()
        .status(1)
        .stderr_has(&["the folder missing/dir does not exist"]);
    let writes = emulator.requests()[writes_before..]
        .iter()
        .filter(|r| r.method != "GET" && !r.path.ends_with("/as/token"))
        .count();
    assert_eq!(writes, 0);
}

#[test]
fn a_rerun_never_ends_a_previous_secret_that_is_still_valid() {
    let emulator = emulator(1);
    let admin = Admin::new(&emulator);
    let env = admin.environment_id.clone();
    Test::new()
        .config_for(&emulator)
        .args(["apply", "authorize-worker"])
        .run()
        .success();
    let first = Test::new()
        .config_for(&emulator)
        .args(["apply", "rotate-worker-secret", "--var", "out=w.secret"])
        .run()
        .success();
    let app = admin.application_named(&env, WORKER).unwrap();
    let app_id = app["id"].as_str().unwrap();
    let rotated = admin.secret(&env, app_id);
    assert_eq!(
        std::fs::read_to_string(first.path("w.secret")).unwrap(),
        rotated
    );
    for command in ["plan", "apply"] {
        Test::new()
            .config_for(&emulator)
            .args([command, "rotate-worker-secret", "--var", "out=w2.secret"])
            .run()
            .status(1)
            .stderr_has(&[
                "refusing to rotate the secret of \"PingOne Authorize Worker\"",
                "previous secret is still valid until",
                "#{force: true}",
            ]);
    }
    // Twice in one script: the plan sees what the second rotation would end.
    Test::new()
        .config_for(&emulator)
        .file(
            "twice.rhai",
            "let app = create_app(#{ name: \"Twice\" });\n\
             rotate_secret(app, 60);\n\
             rotate_secret(app, 60);\n",
        )
        .args(["plan", "twice.rhai"])
        .run()
        .status(1)
        .stderr_has(&["twice.rhai:3:1", "twice in one run"]);
    assert_eq!(admin.secret(&env, app_id), rotated, "nothing was rotated");
    // Asked for explicitly, it happens.
    Test::new()
        .config_for(&emulator)
        .file(
            "force.rhai",
            "let app = find_app(\"PingOne Authorize Worker\");\n\
             write_secret(rotate_secret(app, 0, #{ force: true }), \"forced.secret\");\n",
        )
        .args(["apply", "force.rhai"])
        .run()
        .success();
    assert_ne!(admin.secret(&env, app_id), rotated);
}

#[test]
fn a_create_found_after_a_lost_answer_counts_for_propagation_waits() {
    let emulator = emulator_with(EmulatorOptions {
        lost_answer_rate: 1.0,
        propagation_delay: Duration::from_millis(1000),
        seed: Some(3),
        ..EmulatorOptions::default()
    });
    Test::new()
        .config_for(&emulator)
        .args(["apply", "authorize-worker"])
        .run()
        .success();
    let admin = Admin::new(&emulator);
    let env = admin.environment_id.clone();
    let apps: Vec<Value> = admin
        .applications(&env)
        .into_iter()
        .filter(|app| app["name"] == WORKER)
        .collect();
    assert_eq!(apps.len(), 1);
    let grants = admin.grants(&env, apps[0]["id"].as_str().unwrap());
    assert_eq!(grants.len(), 2, "{grants:?}");
}

/// Four processes apply `authorize-worker` at once. A process's create lands three round trips
/// after it starts (token, reads, create) and its plan reads the list after two, so with
/// 250 ms a round trip, processes started within 250 ms of each other all plan a create.
/// Whether they raced or not, the end state must be one application.
fn race_once() -> (Emulator, bool) {
    let emulator = emulator_with(EmulatorOptions {
        latency: Duration::from_millis(250),
        ..EmulatorOptions::default()
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p1run.toml"), config_text(&emulator)).unwrap();
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(crate::kit::P1RUN)
                .current_dir(dir.path())
                .env(SECRET_VAR, &emulator.info().client_secret)
                .args(["apply", "authorize-worker"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("p1run")
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let admin = Admin::new(&emulator);
    let env = admin.environment_id.clone();
    let apps: Vec<Value> = admin
        .applications(&env)
        .into_iter()
        .filter(|app| app["name"] == WORKER)
        .collect();
    assert_eq!(apps.len(), 1, "{apps:?}");
    assert_eq!(apps[0]["enabled"], true);
    let grants = admin.grants(&env, apps[0]["id"].as_str().unwrap());
    assert_eq!(grants.len(), 2, "each grant once: {grants:?}");
    let raced = posts_to_applications(&emulator) > 1;
    (emulator, raced)
}

#[test]
fn concurrent_applies_converge_to_one_application() {
    // A loaded machine may start the processes too far apart to race; a few rounds make sure
    // the converging path, not only the plain one, is what passed.
    let emulator = (0..3)
        .map(|_| race_once())
        .find_map(|(emulator, raced)| raced.then_some(emulator))
        .expect("in three rounds, the processes raced at least once (each created one)");
    // And a rerun finds nothing to do.
    Test::new()
        .config_for(&emulator)
        .args(["plan", "authorize-worker"])
        .run()
        .status(0);
}

#[test]
fn plan_refuses_what_pingone_would_refuse() {
    let emulator = emulator(1);
    // A population is resolved by id or name when the script names it (population()), so a
    // missing one fails the plan pass there, before the pre-flight, writing nothing either.
    let pre_flight = |expected: &'static str| vec!["pre-flight", expected, "nothing was"];
    for (roles, expected) in [
        (
            "Organization Admin@organization",
            pre_flight("\"Organization Admin\" at ORGANIZATION"),
        ),
        (
            "Identity Data Admin@population:3f1c0a3e-0000-4000-8000-000000000000",
            vec![
                "population: no population with id or name \"3f1c0a3e-0000-4000-8000-000000000000\"",
                "it has \"Default\"",
            ],
        ),
        (
            "Identity Data Admin@environment:3f1c0a3e-0000-4000-8000-000000000001",
            pre_flight("scope ENVIRONMENT 3f1c0a3e-0000-4000-8000-000000000001: does not exist"),
        ),
    ] {
        for command in ["plan", "apply"] {
            Test::new()
                .config_for(&emulator)
                .args([command, "worker-app", "--var", &format!("roles={roles}")])
                .run()
                .status(1)
                .stderr_has(&expected);
        }
    }
    let writes = emulator
        .requests()
        .iter()
        .filter(|r| r.method != "GET" && !r.path.ends_with("/as/token"))
        .count();
    assert_eq!(writes, 0, "neither plan nor apply wrote anything");
}

#[test]
fn rollback_re_grants_once_even_when_the_answer_is_lost() {
    let emulator = emulator_with(EmulatorOptions {
        lost_answer_rate: 1.0,
        refuse_writes_to: Some("/secret".into()),
        seed: Some(5),
        ..EmulatorOptions::default()
    });
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
             revoke_role(app, \"Identity Data Admin\", environment());\n\
             rotate_secret(app, 60);\n",
        )
        .args([
            "apply",
            "recipe.rhai",
            "--rollback-on-failure",
            "--output",
            "json",
        ])
        .run()
        .failure();
    let report = output.json();
    assert_eq!(report["status"], "rolled_back", "{report}");
    let admin = Admin::new(&emulator);
    let env = admin.environment_id.clone();
    let app = admin.application_named(&env, WORKER).unwrap();
    let grants = admin.grants(&env, app["id"].as_str().unwrap());
    assert_eq!(
        grants
            .iter()
            .filter(|(role, _, _)| role == "Identity Data Admin")
            .count(),
        1,
        "{grants:?}"
    );
}
