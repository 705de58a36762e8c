//! `p1run emulator` as users run it: a separate process, its one JSON line, a config pointing
//! at it, and its request log over HTTP.

use crate::harness::{P1RUN, SECRET_VAR, Test, config_text_for};
use p1run::emulator::{EmulatorInfo, RequestRecord};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A `p1run emulator` process, killed when dropped.
struct Served {
    child: Child,
    info: EmulatorInfo,
}

impl Served {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(P1RUN)
            .args(["emulator", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("p1run emulator");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the info line");
        let info = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not the info JSON ({e}): {line}"));
        Self { child, info }
    }

    fn apply(&self, recipe: &str) -> crate::harness::Output {
        Test::new()
            .file("p1run.toml", &config_text_for(&self.info))
            .env(SECRET_VAR, &self.info.client_secret)
            .args(["apply", recipe, "--env", "env-1"])
            .run()
            .success()
    }

    /// `GET /_emulator/requests`.
    fn requests(&self) -> Vec<RequestRecord> {
        let url = format!("{}/_emulator/requests", self.info.auth_url);
        let text = crate::support::Http::new()
            .send(|client| client.get(&url))
            .text;
        serde_json::from_str(&text).expect("request log JSON")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_emulator_prints_one_info_line_with_its_urls_and_bootstrap_credentials() {
    let served = Served::start(&["--environments", "3"]);
    let info = &served.info;
    assert!(
        info.api_url.starts_with("http://127.0.0.1:") && info.api_url.ends_with("/v1"),
        "{}",
        info.api_url
    );
    assert_eq!(format!("{}/v1", info.auth_url), info.api_url);
    let names: Vec<&str> = info.environments.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["env-1", "env-2", "env-3"]);
    assert_eq!(info.environments[0].id, info.environment_id);
    assert!(info.client_secret.len() >= 64);
}

#[test]
fn against_a_running_emulator_a_rerun_sends_no_write() {
    let served = Served::start(&[]);
    served.apply("authorize-worker");
    let first = served.requests().len();
    let rerun = served.apply("authorize-worker");
    assert!(rerun.stdout.contains("no changes"), "{}", rerun.stdout);
    let writes: Vec<_> = served.requests()[first..]
        .iter()
        .filter(|r| r.method != "GET" && !r.path.ends_with("/as/token"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(writes.is_empty(), "the rerun wrote: {writes:?}");
}

#[test]
fn the_state_file_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let state = state.to_str().unwrap();
    let first = Served::start(&["--state", state]);
    first.apply("authorize-worker");
    let info = first.info.clone();
    drop(first);

    let second = Served::start(&["--state", state]);
    assert_eq!(second.info.client_id, info.client_id);
    assert_eq!(second.info.environment_id, info.environment_id);
    let rerun = second.apply("authorize-worker");
    assert!(
        rerun.stdout.contains("no changes"),
        "the worker was lost:\n{}",
        rerun.stdout
    );
}
