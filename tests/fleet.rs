//! Fleet runs: many environments in one command, isolated failures, request economy, the
//! client-side rate budget, shards.

use crate::kit::{Admin, SECRET_VAR, Test, config_text, emulator};
use p1run::emulator::{Emulator, EmulatorOptions};
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;

const WORKER: &str = "PingOne Authorize Worker";

/// A config for every emulator environment plus `extra` (e.g. `[fleet]`).
fn fleet_config(emulator: &Emulator, extra: &str) -> String {
    format!("{}{extra}", config_text(emulator))
}

fn fleet(emulator: &Emulator, extra: &str) -> Test {
    Test::new()
        .file("p1run.toml", &fleet_config(emulator, extra))
        .env(SECRET_VAR, &emulator.info().client_secret)
}

fn statuses(report: &Value) -> Vec<(String, String)> {
    report["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["environment"].as_str().unwrap().to_owned(),
                e["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The API requests an emulator served, token requests included.
fn requests(emulator: &Emulator) -> usize {
    emulator.requests().len()
}

#[test]
fn authorize_worker_takes_at_most_8_requests_and_a_rerun_at_most_5_without_writes() {
    let emulator = emulator(1);
    Test::new()
        .config_for(&emulator)
        .args(["apply", "authorize-worker"])
        .run()
        .success();
    let fresh = requests(&emulator);
    assert!(
        fresh <= 8,
        "a fresh run made {fresh} requests: {:#?}",
        emulator.requests()
    );

    Test::new()
        .config_for(&emulator)
        .args(["apply", "authorize-worker"])
        .run()
        .success();
    let rerun: Vec<_> = emulator.requests().into_iter().skip(fresh).collect();
    assert!(
        rerun.len() <= 5,
        "a rerun made {} requests: {rerun:#?}",
        rerun.len()
    );
    assert!(
        rerun
            .iter()
            .all(|r| r.method == "GET" || r.path.ends_with("/as/token")),
        "a rerun wrote: {rerun:#?}"
    );
}

#[test]
fn a_fleet_pays_5_requests_per_fresh_environment_and_2_per_rerun() {
    let emulator = emulator(4);
    let run = || {
        fleet(&emulator, "[fleet]\nrequests_per_second = 1000\n")
            .args(["apply", "authorize-worker", "--all"])
            .run()
            .success();
    };
    run();
    let per_environment = |requests: &[p1run::emulator::RequestRecord]| {
        let mut counts = std::collections::BTreeMap::<&str, usize>::new();
        // The acting worker's own assignments are the fleet's shared read, not env-1's.
        let actor = &emulator.info().client_id;
        for record in requests.iter().filter(|r| !r.path.contains(actor.as_str())) {
            if let Some(env) = emulator
                .info()
                .environments
                .iter()
                .find(|env| record.path.contains(&format!("/environments/{}/", env.id)))
            {
                *counts.entry(env.name.as_str()).or_default() += 1;
            }
        }
        counts.into_values().collect::<Vec<_>>()
    };
    // The token, the roles and the acting worker's assignments are read once for the fleet;
    // each environment then lists its applications, creates the worker (enabled), reads the
    // list again for namesakes, and grants two roles.
    let fresh = emulator.requests();
    assert_eq!(per_environment(&fresh), [5, 5, 5, 5], "{fresh:#?}");
    run();
    let rerun: Vec<_> = emulator.requests().into_iter().skip(fresh.len()).collect();
    // A rerun: the list, and the worker's assignments.
    assert_eq!(per_environment(&rerun), [2, 2, 2, 2], "{rerun:#?}");
}

#[test]
fn fifty_environments_under_faults_all_end_provisioned() {
    let emulator = Emulator::start(EmulatorOptions {
        environments: 50,
        fault_rate: 0.1,
        seed: Some(50),
        propagation_delay: Duration::from_millis(300),
        ..EmulatorOptions::default()
    })
    .expect("emulator");
    let output = fleet(&emulator, "[fleet]\nrequests_per_second = 1000\n")
        .args([
            "apply",
            "authorize-worker",
            "--all",
            "-j",
            "8",
            "--output",
            "json",
        ])
        .run()
        .success();
    let report = output.json();
    assert_eq!(report["environments"].as_array().unwrap().len(), 50);
    assert!(
        statuses(&report)
            .iter()
            .all(|(_, status)| status == "succeeded"),
        "{report}"
    );

    let admin = Admin::new(&emulator);
    for env in &emulator.info().environments {
        let app = admin
            .application_named(&env.id, WORKER)
            .unwrap_or_else(|| panic!("no worker in {}", env.name));
        assert_eq!(app["enabled"], true, "{}", env.name);
        let grants: Vec<(String, String)> = admin
            .grants(&env.id, app["id"].as_str().unwrap())
            .into_iter()
            .map(|(role, kind, _)| (role, kind))
            .collect();
        assert_eq!(
            grants,
            [
                ("Environment Admin".into(), "ORGANIZATION".into()),
                ("Identity Data Admin".into(), "ENVIRONMENT".into())
            ],
            "{}",
            env.name
        );
    }
}

#[test]
fn three_wrong_secrets_fail_exactly_those_three() {
    let emulator = emulator(50);
    let wrong: BTreeSet<&str> = ["env-7", "env-23", "env-41"].into();
    let mut config = String::new();
    for block in config_text(&emulator)
        .split("\n\n")
        .filter(|b| !b.trim().is_empty())
    {
        let name = block
            .lines()
            .next()
            .unwrap()
            .trim_start_matches("[environments.")
            .trim_end_matches(']');
        let block = if wrong.contains(name) {
            block.replace(SECRET_VAR, "WRONG_SECRET")
        } else {
            block.to_owned()
        };
        config.push_str(&block);
        config.push_str("\n\n");
    }
    config.push_str("[fleet]\nrequests_per_second = 1000\n");
    let output = Test::new()
        .file("p1run.toml", &config)
        .env(SECRET_VAR, &emulator.info().client_secret)
        .env("WRONG_SECRET", "not-the-secret")
        .args(["apply", "authorize-worker", "--all", "--output", "json"])
        .run()
        .failure();
    let report = output.json();
    let failed: BTreeSet<String> = statuses(&report)
        .into_iter()
        .filter(|(_, status)| status == "failed")
        .map(|(name, _)| name)
        .collect();
    assert_eq!(failed, wrong.iter().map(|s| (*s).to_owned()).collect());
    assert_eq!(
        statuses(&report)
            .iter()
            .filter(|(_, status)| status == "succeeded")
            .count(),
        47
    );
    for name in &wrong {
        assert!(
            output.stderr.contains(&format!("error: {name}: ")),
            "{}",
            output.stderr
        );
    }
    assert!(
        output.stderr.contains("invalid_client"),
        "{}",
        output.stderr
    );
    let admin = Admin::new(&emulator);
    for env in &emulator.info().environments {
        assert_eq!(
            admin.application_named(&env.id, WORKER).is_some(),
            !wrong.contains(env.name.as_str()),
            "{}",
            env.name
        );
    }
}

#[test]
fn the_rate_budget_keeps_a_fleet_under_the_server_limit() {
    let emulator = Emulator::start(EmulatorOptions {
        environments: 10,
        rate_limit: Some(20),
        ..EmulatorOptions::default()
    })
    .expect("emulator");
    fleet(&emulator, "[fleet]\nrequests_per_second = 20\n")
        .args(["apply", "authorize-worker", "--all", "-j", "10"])
        .run()
        .success();
    let limited: Vec<_> = emulator
        .requests()
        .into_iter()
        .filter(|r| r.status == 429)
        .collect();
    assert!(
        limited.is_empty(),
        "the server had to push back: {limited:#?}"
    );
    assert!(requests(&emulator) >= 50);
}

#[test]
fn shards_split_a_fleet_deterministically_and_completely() {
    let emulator = emulator(7);
    let mut seen = Vec::new();
    for shard in ["1/3", "2/3", "3/3"] {
        let report = fleet(&emulator, "[fleet]\nrequests_per_second = 1000\n")
            .args([
                "plan",
                "authorize-worker",
                "--all",
                "--shard",
                shard,
                "--output",
                "json",
            ])
            .run()
            .status(2)
            .json();
        let names: Vec<String> = statuses(&report)
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        let again = fleet(&emulator, "[fleet]\nrequests_per_second = 1000\n")
            .args([
                "plan",
                "authorize-worker",
                "--all",
                "--shard",
                shard,
                "--output",
                "json",
            ])
            .run()
            .status(2)
            .json();
        assert_eq!(
            statuses(&again)
                .into_iter()
                .map(|(name, _)| name)
                .collect::<Vec<_>>(),
            names,
            "shard {shard} moved"
        );
        seen.extend(names);
    }
    seen.sort();
    let mut all: Vec<String> = emulator
        .info()
        .environments
        .iter()
        .map(|e| e.name.clone())
        .collect();
    all.sort();
    assert_eq!(seen, all);
    fleet(&emulator, "")
        .args(["plan", "authorize-worker", "--all", "--shard", "4/3"])
        .run()
        .failure()
        .stderr_has(&["expected I/N with 1 <= I <= N"]);
}

#[test]
fn groups_select_environments_and_plans_gate_on_changes() {
    let emulator = emulator(3);
    let groups = "[groups]\nblue = [\"env-1\", \"env-3\"]\n[fleet]\nrequests_per_second = 1000\n";
    let output = fleet(&emulator, groups)
        .args(["apply", "authorize-worker", "--group", "blue"])
        .run()
        .success();
    assert!(
        output.stdout.contains("2 ok, 0 failed"),
        "{}",
        output.stdout
    );
    let plan = fleet(&emulator, groups)
        .args(["plan", "authorize-worker", "--all", "--output", "json"])
        .run()
        .status(2)
        .json();
    let changes: Vec<(String, usize)> = plan["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["environment"].as_str().unwrap().to_owned(),
                e["changes"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("env-1".to_owned(), 0),
            ("env-2".to_owned(), 4),
            ("env-3".to_owned(), 0)
        ]
    );
    fleet(&emulator, groups)
        .args(["plan", "authorize-worker", "--group", "blue"])
        .run()
        .status(0);
    fleet(&emulator, groups)
        .args(["plan", "authorize-worker", "--group", "green"])
        .run()
        .failure()
        .stderr_has(&["no group named \"green\"", "blue"]);
}

#[test]
fn the_fleet_report_has_one_entry_per_environment() {
    let emulator = emulator(3);
    let output = fleet(&emulator, "[fleet]\nrequests_per_second = 1000\n")
        .args([
            "apply",
            "authorize-worker",
            "--env",
            "env-1",
            "--env",
            "env-2",
            "--report",
            "fleet.json",
        ])
        .run()
        .success();
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(output.path("fleet.json")).unwrap()).unwrap();
    let environments = report["environments"].as_array().unwrap();
    assert_eq!(environments.len(), 2);
    assert!(
        environments
            .iter()
            .all(|e| e["status"] == "succeeded" && e["changes"].as_array().unwrap().len() == 4)
    );
}

#[test]
fn ctrl_c_stops_a_fleet_between_steps_and_reports_what_was_done() {
    use std::io::{BufRead, BufReader};
    let emulator = Emulator::start(EmulatorOptions {
        environments: 4,
        latency: Duration::from_millis(100),
        ..EmulatorOptions::default()
    })
    .expect("emulator");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p1run.toml"),
        fleet_config(&emulator, "[fleet]\nrequests_per_second = 1000\n"),
    )
    .unwrap();
    let mut child = std::process::Command::new(crate::kit::P1RUN)
        .current_dir(dir.path())
        .env(SECRET_VAR, &emulator.info().client_secret)
        .args([
            "apply",
            "authorize-worker",
            "--all",
            "-j",
            "1",
            "--output",
            "json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("p1run");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    // Interrupt as soon as the first environment is done (plain progress lines off a terminal).
    loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "p1run ended early:\n{seen}"
        );
        seen.push_str(&line);
        if line.contains("env-1: done") {
            break;
        }
    }
    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let output = child.wait_with_output().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert_eq!(output.status.code(), Some(1), "stderr:\n{seen}{rest}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let statuses = statuses(&report);
    assert_eq!(statuses[0], ("env-1".to_owned(), "succeeded".to_owned()));
    assert!(
        statuses[1..].iter().all(|(_, status)| status == "failed"),
        "{statuses:?}"
    );
    assert!(
        format!("{seen}{rest}").contains("interrupted"),
        "{seen}{rest}"
    );
    assert!(
        report["environments"][3]["error"]
            .as_str()
            .unwrap()
            .contains("not started"),
        "{report}"
    );
}
