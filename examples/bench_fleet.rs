//! Fleet benchmark: `authorize-worker` across N = 10, 100 and 500 fresh environments of one
//! emulator that adds 50 ms to every request, 32 environments at a time.
//!
//! `cargo run --release --example bench_fleet [N ...]`
//!
//! The emulator runs in a child process (this binary, re-executed), so the peak RSS and CPU
//! time printed are the runner's alone. The bound is `(1 + ceil(N/j) × 4) × latency`: one
//! environment alone needs 5 dependent round trips (token → roles, applications and the
//! worker's own assignments at once → create, enabled → the uniqueness read → both grants at
//! once), and in a fleet the token and the shared reads are paid once, so every wave of `j`
//! needs 4 after the first round trip. Also compares one environment with the same recipe done step by step by `curl`
//! (8 sequential requests).
//! Not a test: numbers depend on the machine.

use p1run::config::{Config, Limits};
use p1run::emulator::{EmulatorInfo, EmulatorOptions};
use p1run::host::Mode;
use p1run::run::{RunRequest, Script, Shared};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const LATENCY: Duration = Duration::from_millis(50);
const JOBS: usize = 32;
/// Dependent round trips of one environment once the token and the shared reads are cached.
const ROUND_TRIPS: u32 = 4;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--serve-emulator") {
        let environments = args[2].parse().expect("N");
        let options = EmulatorOptions {
            environments,
            latency: LATENCY,
            ..EmulatorOptions::default()
        };
        p1run::emulator::serve_until_interrupted(options).expect("serve");
        return;
    }
    let sizes: Vec<usize> = if args.len() > 1 {
        args[1..].iter().map(|n| n.parse().expect("N")).collect()
    } else {
        vec![1, 10, 100, 500]
    };
    println!(
        "authorize-worker, fresh environments, emulator latency {} ms, -j {JOBS}",
        LATENCY.as_millis()
    );
    println!(
        "|     N |   wall ms | bound ms | ratio | requests | req/env | peak RSS MB | CPU ms/env |"
    );
    println!(
        "|------:|----------:|---------:|------:|---------:|--------:|------------:|-----------:|"
    );
    for n in sizes {
        let (mut child, info) = start_emulator(n);
        let config = write_config(&info);
        let cpu_before = cpu_time();
        let started = Instant::now();
        let requests = run_fleet(&config);
        let wall = started.elapsed();
        let cpu = cpu_time().saturating_sub(cpu_before);
        let waves = u32::try_from(n.div_ceil(JOBS)).unwrap_or(u32::MAX);
        let bound = LATENCY * (1 + ROUND_TRIPS * waves);
        println!(
            "| {n:>5} | {:>9.0} | {:>8.0} | {:>5.2} | {requests:>8} | {:>7.2} | {:>11.1} | {:>10.2} |",
            wall.as_secs_f64() * 1000.0,
            bound.as_secs_f64() * 1000.0,
            wall.as_secs_f64() / bound.as_secs_f64(),
            requests as f64 / n as f64,
            peak_rss_mb(),
            cpu.as_secs_f64() * 1000.0 / n as f64,
        );
        if n == 1 {
            let curl = curl_walk(&info);
            if let Some(curl) = curl {
                println!(
                    "|       | one environment: p1run {:.0} ms, curl step by step {:.0} ms: {:.2}x faster |",
                    wall.as_secs_f64() * 1000.0,
                    curl.as_secs_f64() * 1000.0,
                    curl.as_secs_f64() / wall.as_secs_f64()
                );
            }
        }
        eprintln!(
            "N={n}: emulator process CPU {:.0} ms",
            cpu_time_of(&format!("/proc/{}/stat", child.id())).as_secs_f64() * 1000.0
        );
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn start_emulator(environments: usize) -> (Child, EmulatorInfo) {
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .args(["--serve-emulator", &environments.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("emulator process");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("info line");
    let info: EmulatorInfo = serde_json::from_str(&line).expect("info JSON");
    (child, info)
}

fn write_config(info: &EmulatorInfo) -> Config {
    let dir = std::env::temp_dir().join(format!("p1run-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("secret"), &info.client_secret).expect("secret file");
    let mut text = String::from(
        "[fleet]\n# The emulator sets no rate limit; the budget is lifted to measure latency.\nrequests_per_second = 1000000\n",
    );
    for env in &info.environments {
        text.push_str(&format!(
            "[environments.{}]\nenvironment_id = \"{}\"\nclient_id = \"{}\"\nclient_secret_file = \"secret\"\n\
             worker_environment_id = \"{}\"\napi_url = \"{}\"\nauth_url = \"{}\"\n",
            env.name, env.id, info.client_id, info.environment_id, info.api_url, info.auth_url
        ));
    }
    let path = dir.join("p1run.toml");
    std::fs::write(&path, text).expect("config");
    Config::load(&path).expect("config loads")
}

/// Runs the fleet through the library, as `p1run apply authorize-worker --all -j 32` does;
/// returns the requests sent.
fn run_fleet(config: &Config) -> u64 {
    let script = Script::resolve("authorize-worker").expect("bundled");
    let limits = Limits::default();
    let request = RunRequest {
        script: &script,
        vars: Default::default(),
        mode: Mode::Apply,
        limits: &limits,
        retry: config.retry.policy(),
        saved_plan: None,
        rollback_on_failure: false,
        quiet: true,
        label_prints: true,
    };
    let shared =
        Shared::new(Some(p1run::fleet::BudgetPolicy::new(&config.fleet, None))).expect("shared");
    let names = config.environment_names();
    let results = p1run::fleet::run(&request, &names, config, &shared, JOBS);
    let failed: Vec<_> = results
        .iter()
        .filter(|r| r.failed())
        .map(|r| r.name.clone())
        .collect();
    assert!(failed.is_empty(), "failed: {failed:?}");
    results
        .iter()
        .map(|r| r.outcome("authorize-worker").requests)
        .sum()
}

/// The documented recipe as `curl` commands, one after the other, against environment 1.
fn curl_walk(info: &EmulatorInfo) -> Option<Duration> {
    let env = &info.environments.first()?.id;
    let api = &info.api_url;
    let curl = |args: &[&str]| -> Option<String> {
        let output = Command::new("curl").arg("-sf").args(args).output().ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    };
    let started = Instant::now();
    let token_url = format!("{}/{}/as/token", info.auth_url, info.environment_id);
    let basic = format!("{}:{}", info.client_id, info.client_secret);
    let token: serde_json::Value = serde_json::from_str(&curl(&[
        "-u",
        &basic,
        "-d",
        "grant_type=client_credentials",
        &token_url,
    ])?)
    .ok()?;
    let bearer = format!("Authorization: Bearer {}", token["access_token"].as_str()?);
    let environment: serde_json::Value = serde_json::from_str(&curl(&[
        "-H",
        &bearer,
        &format!("{api}/environments/{env}"),
    ])?)
    .ok()?;
    let org = environment["organization"]["id"].as_str()?.to_owned();
    let body = r#"{"name":"curl-worker","type":"WORKER","protocol":"OPENID_CONNECT","grantTypes":["CLIENT_CREDENTIALS"],"tokenEndpointAuthMethod":"CLIENT_SECRET_BASIC","assignActorRoles":false}"#;
    let json = "Content-Type: application/json";
    let apps = format!("{api}/environments/{env}/applications");
    let app: serde_json::Value =
        serde_json::from_str(&curl(&["-H", &bearer, "-H", json, "-d", body, &apps])?).ok()?;
    let app_id = app["id"].as_str()?.to_owned();
    let roles: serde_json::Value =
        serde_json::from_str(&curl(&["-H", &bearer, &format!("{api}/roles")])?).ok()?;
    let role = |name: &str| -> Option<String> {
        roles["_embedded"]["roles"]
            .as_array()?
            .iter()
            .find(|r| r["name"] == name)?["id"]
            .as_str()
            .map(str::to_owned)
    };
    let assignments = format!("{apps}/{app_id}/roleAssignments");
    for (role, scope, kind) in [
        (role("Identity Data Admin")?, env.clone(), "ENVIRONMENT"),
        (role("Environment Admin")?, org, "ORGANIZATION"),
    ] {
        let grant =
            format!(r#"{{"role":{{"id":"{role}"}},"scope":{{"id":"{scope}","type":"{kind}"}}}}"#);
        curl(&["-H", &bearer, "-H", json, "-d", &grant, &assignments])?;
    }
    let mut app: serde_json::Value =
        serde_json::from_str(&curl(&["-H", &bearer, &format!("{apps}/{app_id}")])?).ok()?;
    let object = app.as_object_mut()?;
    for read_only in ["_links", "id", "environment", "createdAt", "updatedAt"] {
        object.remove(read_only);
    }
    object.insert("enabled".into(), true.into());
    let put = serde_json::to_string(&app).ok()?;
    curl(&[
        "-X",
        "PUT",
        "-H",
        &bearer,
        "-H",
        json,
        "-d",
        &put,
        &format!("{apps}/{app_id}"),
    ])?;
    Some(started.elapsed())
}

/// User plus system CPU time of this process, from /proc (Linux).
fn cpu_time() -> Duration {
    cpu_time_of("/proc/self/stat")
}

fn cpu_time_of(stat_path: &str) -> Duration {
    let stat = std::fs::read_to_string(stat_path).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let ticks: u64 = fields
        .get(11..13)
        .map_or(0, |f| f.iter().filter_map(|t| t.parse::<u64>().ok()).sum());
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

/// Peak resident set size of this process so far, from /proc (Linux).
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}
