//! Fleets across CI machines, over real processes: concurrent shards share each license's
//! budget, `p1run report merge` joins their reports into the one a single process writes, and
//! the JUnit file and the GitHub step summary show every environment without a secret.

use crate::kit::{P1RUN, SECRET_VAR, Test, config_text, emulator};
use p1run::emulator::{Emulator, EmulatorOptions};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

/// A `p1run` command in `dir`, with the worker secret and nothing of the caller's environment
/// that would change what it does.
fn p1run(dir: &Path, emulator: &Emulator, args: &[&str]) -> Command {
    let mut command = Command::new(P1RUN);
    command
        .current_dir(dir)
        .args(args)
        .env_remove("P1RUN_CONFIG")
        .env_remove("RUST_LOG")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env(SECRET_VAR, &emulator.info().client_secret);
    command
}

#[track_caller]
fn assert_exit(output: &Output, code: i32, what: &str) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{what}\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Replaces every UUID in `text` with `<id>`: two emulators give the same names different ids.
fn without_uuids(text: &str) -> String {
    let shape = |s: &[u8]| {
        s.len() >= 36
            && s[..36].iter().enumerate().all(|(i, b)| match i {
                8 | 13 | 18 | 23 => *b == b'-',
                _ => b.is_ascii_hexdigit(),
            })
    };
    let bytes = text.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        if shape(&bytes[i..]) {
            out.push_str("<id>");
            i += 36;
        } else {
            let c = text[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// A report with what honestly differs between one process and three shards removed: timings,
/// ids, the budget each process ran under, the merge's sources, and request counts (each
/// process pays the token and the shared reads once; the totals are checked on their own).
fn comparable(value: &Value) -> Value {
    match value {
        Value::Object(map) => map
            .iter()
            .filter(|(key, _)| {
                !matches!(
                    key.as_str(),
                    "duration_ms" | "id" | "environment_id" | "budget" | "merged_from" | "requests"
                )
            })
            .map(|(key, value)| (key.clone(), comparable(value)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        Value::Array(items) => items.iter().map(comparable).collect(),
        Value::String(text) => without_uuids(text).into(),
        other => other.clone(),
    }
}

const ENVIRONMENTS: usize = 24;

#[test]
fn three_concurrent_shards_split_the_budget_and_merge_into_the_one_process_report() {
    // PingOne's configuration rate as the emulator's limit, and the default budget under it:
    // one process stays under it; three that each spent the whole budget got 39% 429s.
    let limited = Emulator::start(EmulatorOptions {
        environments: ENVIRONMENTS,
        rate_limit: Some(10),
        ..EmulatorOptions::default()
    })
    .expect("emulator");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p1run.toml"),
        format!(
            "{}[fleet]\nrequests_per_second = 8\n",
            config_text(&limited)
        ),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let shards: Vec<_> = (1..=3)
        .map(|i| {
            let shard = format!("{i}/3");
            let report = format!("report-{i}.json");
            p1run(
                dir.path(),
                &limited,
                &[
                    "apply",
                    "authorize-worker",
                    "--all",
                    "--shard",
                    &shard,
                    "--report",
                    &report,
                    "-v",
                ],
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn a shard")
        })
        .collect();
    for (i, shard) in shards.into_iter().enumerate() {
        let output = shard.wait_with_output().unwrap();
        assert_exit(&output, 0, &format!("shard {}/3", i + 1));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("request budget of license default: 2.67 requests/s")
                && stderr.contains(&format!("1/3 for shard {}/3", i + 1)),
            "-v states the shard's budget:\n{stderr}"
        );
    }
    let elapsed = started.elapsed();
    let log = limited.requests();
    let limited_answers = log.iter().filter(|r| r.status == 429).count();
    assert_eq!(
        limited_answers,
        0,
        "429s with the default split, of {}",
        log.len()
    );
    // 3 × 3 shared reads + 24 × 5 at 8/s together: about 16 s, bounded well under 30.
    assert!(elapsed.as_secs() < 30, "three shards took {elapsed:?}");

    let budget = &read_json(&dir.path().join("report-2.json"))["budget"];
    assert_eq!(budget["shard"], "2/3", "{budget}");
    assert_eq!(budget["shard_budget"], "split", "{budget}");
    assert_eq!(budget["per_second"]["default"], 2.67, "{budget}");

    let merge = p1run(
        dir.path(),
        &limited,
        &[
            "report",
            "merge",
            "report-1.json",
            "report-2.json",
            "report-3.json",
            "--out",
            "merged.json",
        ],
    )
    .output()
    .unwrap();
    assert_exit(&merge, 0, "report merge");
    let merged = read_json(&dir.path().join("merged.json"));
    // The merged totals are what the emulator served.
    assert_eq!(merged["requests"].as_u64(), Some(log.len() as u64));

    // The same fleet, fresh, in one process.
    let fresh = emulator(ENVIRONMENTS);
    let single = Test::new()
        .file(
            "p1run.toml",
            &format!(
                "{}[fleet]\nrequests_per_second = 1000\n",
                config_text(&fresh)
            ),
        )
        .env(SECRET_VAR, &fresh.info().client_secret)
        .args(["apply", "authorize-worker", "--all", "--report", "all.json"])
        .run()
        .success();
    let single = read_json(&single.path("all.json"));
    assert_eq!(
        single["requests"].as_u64(),
        Some(fresh.requests().len() as u64)
    );
    let names: Vec<&str> = merged["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["environment"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), ENVIRONMENTS);
    assert_eq!(&names[..3], ["env-1", "env-2", "env-3"], "natural order");
    assert_eq!(names[ENVIRONMENTS - 1], "env-24");
    assert_eq!(merged["status"], "succeeded");
    assert_eq!(merged["changes"], 4 * ENVIRONMENTS);
    pretty_assertions::assert_eq!(comparable(&merged), comparable(&single));
}

/// A config for every environment of `emulator` in which the environments in `wrong` use a
/// wrong secret, read from `WRONG_SECRET`.
fn config_with_wrong_secrets(emulator: &Emulator, wrong: &[&str]) -> String {
    let mut config = String::new();
    for block in config_text(emulator)
        .split("\n\n")
        .filter(|b| !b.trim().is_empty())
    {
        let name = block
            .lines()
            .next()
            .unwrap()
            .trim_start_matches("[environments.")
            .trim_end_matches(']');
        if wrong.contains(&name) {
            config.push_str(&block.replace(SECRET_VAR, "WRONG_SECRET"));
        } else {
            config.push_str(block);
        }
        config.push_str("\n\n");
    }
    config + "[fleet]\nrequests_per_second = 1000\n"
}

const WRONG_SECRET: &str = "wrong-secret-do-not-print";

#[test]
fn junit_and_the_step_summary_show_every_environment_and_no_secret() {
    let emulator = emulator(5);
    let secret = emulator.info().client_secret.clone();
    let output = Test::new()
        .file(
            "p1run.toml",
            &config_with_wrong_secrets(&emulator, &["env-2", "env-4"]),
        )
        .file("summary.md", "earlier step\n")
        .env(SECRET_VAR, &secret)
        .env("WRONG_SECRET", WRONG_SECRET)
        .args(["apply", "authorize-worker", "--all", "--junit", "junit.xml"])
        .env("GITHUB_STEP_SUMMARY", "summary.md")
        .run()
        .failure();
    let xml = std::fs::read_to_string(output.path("junit.xml")).unwrap();
    let summary = std::fs::read_to_string(output.path("summary.md")).unwrap();
    for text in [&xml, &summary] {
        assert!(
            !text.contains(&secret) && !text.contains(WRONG_SECRET),
            "{text}"
        );
    }

    let document = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}:\n{xml}"));
    let suites: Vec<_> = document
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 1, "{xml}");
    assert_eq!(suites[0].attribute("tests"), Some("5"));
    assert_eq!(suites[0].attribute("failures"), Some("2"));
    let cases: Vec<(String, Option<String>)> = suites[0]
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|case| {
            let failure = case
                .children()
                .find(|n| n.has_tag_name("failure"))
                .map(|f| f.text().unwrap_or_default().to_owned());
            (case.attribute("name").unwrap().to_owned(), failure)
        })
        .collect();
    let names: Vec<&str> = cases.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["env-1", "env-2", "env-3", "env-4", "env-5"]);
    for (name, failure) in &cases {
        match failure {
            Some(text) => {
                assert!(["env-2", "env-4"].contains(&name.as_str()), "{name}");
                assert!(text.contains("invalid_client"), "{name}: {text}");
            }
            None => assert!(!["env-2", "env-4"].contains(&name.as_str()), "{name}"),
        }
    }

    assert!(
        summary.starts_with("earlier step\n"),
        "appended:\n{summary}"
    );
    assert!(
        summary.contains("5 environments, 3 ok, 2 failed"),
        "{summary}"
    );
    for i in 1..=5 {
        let row = summary
            .lines()
            .find(|line| line.starts_with(&format!("| env-{i} |")))
            .unwrap_or_else(|| panic!("no row for env-{i}:\n{summary}"));
        // (Requests vary: the first environment to start pays the fleet's shared reads.)
        let expected = if i % 2 == 0 {
            "| failed | 0 |"
        } else {
            "| succeeded | 4 |"
        };
        assert!(row.contains(expected), "{row}");
    }
}

#[test]
fn a_single_plan_writes_one_junit_case_and_merge_can_publish_too() {
    let emulator = emulator(2);
    let output = Test::new()
        .config_for(&emulator)
        .args([
            "plan",
            "authorize-worker",
            "--env",
            "env-1",
            "--junit",
            "plan.xml",
            "--report",
            "env-1.json",
        ])
        .run()
        .status(2);
    let xml = std::fs::read_to_string(output.path("plan.xml")).unwrap();
    let document = roxmltree::Document::parse(&xml).unwrap();
    let cases: Vec<_> = document
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 1, "{xml}");
    assert_eq!(cases[0].attribute("name"), Some("env-1"));
    assert_eq!(
        cases[0].attribute("classname"),
        Some("p1run.plan.authorize-worker")
    );
    assert!(
        !xml.contains("<failure"),
        "a pending change is no failure: {xml}"
    );
    assert!(xml.contains("create application"), "{xml}");

    // A single-environment report merges as one environment, and the merge publishes too.
    let dir = output.dir.path();
    let merge = p1run(
        dir,
        &emulator,
        &["report", "merge", "env-1.json", "--junit", "merged.xml"],
    )
    .env("GITHUB_STEP_SUMMARY", dir.join("summary.md"))
    .output()
    .unwrap();
    assert_exit(&merge, 0, "merge of one single-environment report");
    let merged: Value = serde_json::from_slice(&merge.stdout).unwrap();
    assert_eq!(merged["mode"], "plan");
    assert_eq!(merged["status"], "planned");
    assert_eq!(merged["environments"].as_array().unwrap().len(), 1);
    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(summary.contains("| env-1 | planned | 4 |"), "{summary}");
    assert!(
        std::fs::read_to_string(dir.join("merged.xml"))
            .unwrap()
            .contains("tests=\"1\"")
    );
}

#[test]
fn merge_refuses_other_recipes_other_modes_and_an_environment_twice_naming_the_files() {
    let emulator = emulator(2);
    let run = |args: &[&str]| {
        Test::new()
            .config_for(&emulator)
            .args(args.iter().copied())
            .run()
    };
    let plan_1 = run(&[
        "plan",
        "authorize-worker",
        "--env",
        "env-1",
        "--report",
        "r.json",
    ]);
    let plan_2 = run(&[
        "plan",
        "authorize-worker",
        "--env",
        "env-2",
        "--report",
        "r.json",
    ]);
    let other = run(&[
        "plan",
        "remove-worker",
        "--env",
        "env-2",
        "--report",
        "r.json",
    ]);
    let apply = run(&[
        "apply",
        "authorize-worker",
        "--env",
        "env-2",
        "--report",
        "r.json",
    ]);
    let dir = tempfile::tempdir().unwrap();
    for (name, output) in [
        ("plan-1.json", &plan_1),
        ("plan-2.json", &plan_2),
        ("other.json", &other),
        ("apply.json", &apply),
    ] {
        std::fs::copy(output.path("r.json"), dir.path().join(name)).unwrap();
    }
    std::fs::copy(
        dir.path().join("plan-1.json"),
        dir.path().join("again.json"),
    )
    .unwrap();
    std::fs::write(dir.path().join("junk.json"), "{\"hello\": 1}").unwrap();
    let merge = |files: &[&str]| {
        let mut args = vec!["report", "merge"];
        args.extend(files);
        p1run(dir.path(), &emulator, &args).output().unwrap()
    };
    let refused = |files: &[&str], fragments: &[&str]| {
        let output = merge(files);
        assert_exit(&output, 1, &format!("merge of {files:?}"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        for fragment in fragments {
            assert!(
                stderr.contains(fragment),
                "{files:?}: lacks {fragment:?}:\n{stderr}"
            );
        }
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(output.stdout.is_empty(), "nothing merged is printed");
    };
    refused(
        &["plan-1.json", "other.json"],
        &["plan-1.json", "other.json", "recipe", "remove-worker"],
    );
    refused(
        &["plan-1.json", "apply.json"],
        &["plan-1.json", "apply.json", "mode", "apply"],
    );
    refused(
        &["plan-1.json", "plan-2.json", "again.json"],
        &["environment env-1 is in both plan-1.json and again.json"],
    );
    refused(
        &["plan-1.json", "junk.json"],
        &["junk.json is not a p1run report"],
    );
    refused(&["plan-1.json", "missing.json"], &["missing.json"]);
    assert_exit(&merge(&["plan-1.json", "plan-2.json"]), 0, "two plans");
}

#[test]
fn the_budget_keys_are_checked() {
    let emulator = emulator(1);
    let config = |fleet: &str| format!("{}[fleet]\n{fleet}\n", config_text(&emulator));
    for (fleet, message) in [
        ("address_shar = 0.5", "did you mean `address_share`?"),
        (
            "address_share = 0",
            "address_share must be more than 0 and at most 1",
        ),
        (
            "address_share = 1.5",
            "address_share must be more than 0 and at most 1",
        ),
        ("shard_budget = \"half\"", "unknown variant `half`"),
    ] {
        Test::new()
            .file("p1run.toml", &config(fleet))
            .env(SECRET_VAR, &emulator.info().client_secret)
            .args(["plan", "authorize-worker", "--env", "env-1"])
            .run()
            .failure()
            .stderr_has(&[message]);
    }
    Test::new()
        .file(
            "p1run.toml",
            &config("shard_budget = \"full\"\naddress_share = 1.0"),
        )
        .env(SECRET_VAR, &emulator.info().client_secret)
        .args(["plan", "authorize-worker", "--env", "env-1"])
        .run()
        .status(2);
}
