//! `p1run emulator` as users run it: a separate process, its one JSON line, a config pointing
//! at it, and its request log over HTTP.

use crate::kit::served::Served;

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
