//! The emulator's memory under a flood of large request bodies: unauthenticated (anyone can
//! send those), then authenticated, each followed by one read of the request log.
//!
//! `cargo run --release --example bench_emulator_flood [REQUESTS] [BODY_KIB]`
//!
//! The emulator runs in this process, so the RSS read from `/proc/self/status` is the
//! emulator's plus this small client's. Every flood sends a fixed number of requests and stops.
//! Not a test: numbers depend on the machine and the allocator.

use p1run::emulator::{Emulator, EmulatorOptions, REQUEST_LOG_BYTES};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Resident memory in MiB, from `/proc/self/status` (Linux).
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// Sends `requests` POSTs of `body`, 8 at a time, with `token` (or none); returns the status
/// of the last one.
async fn flood(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    body: Arc<Vec<u8>>,
    requests: usize,
) -> u16 {
    let next = Arc::new(AtomicUsize::new(0));
    let status = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (client, url, body) = (client.clone(), url.to_owned(), body.clone());
            let (next, status) = (next.clone(), status.clone());
            let token = token.map(str::to_owned);
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < requests {
                    let mut request = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(body.as_ref().clone());
                    if let Some(token) = &token {
                        request = request.bearer_auth(token);
                    }
                    let response = request.send().await.expect("the emulator answers");
                    status.store(usize::from(response.status().as_u16()), Ordering::Relaxed);
                    let _ = response.bytes().await;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("a worker finishes");
    }
    u16::try_from(status.load(Ordering::Relaxed)).unwrap_or_default()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let requests: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(400);
    let body_kib: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(250);
    let emulator = Emulator::start(EmulatorOptions::default()).expect("the emulator starts");
    let info = emulator.info().clone();
    // reqwest is built without a default crypto provider (p1run installs ring).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let apps = format!(
        "{}/environments/{}/applications",
        info.api_url, info.environment_id
    );
    let log_url = format!("{}/_emulator/requests", info.auth_url);
    // A JSON application without a type: authenticated, it is refused (400) but logged.
    let body = Arc::new(
        serde_json::to_vec(&json!({ "name": "flood", "padding": "x".repeat(body_kib * 1024) }))
            .expect("json"),
    );
    let token = client
        .post(format!(
            "{}/{}/as/token",
            info.auth_url, info.environment_id
        ))
        .basic_auth(&info.client_id, Some(&info.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("a token")
        .json::<serde_json::Value>()
        .await
        .expect("a token answer")["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned();

    println!(
        "{requests} POSTs of {body_kib} KiB JSON, 8 concurrent; request log bound {} MiB\n",
        REQUEST_LOG_BYTES / (1024 * 1024)
    );
    println!("| step | status | RSS MiB | log answer KiB | ms |");
    println!("|---|---:|---:|---:|---:|");
    println!("| started | – | {:.1} | – | – |", rss_mib());
    for (name, token) in [
        ("unauthenticated", None),
        ("authenticated", Some(token.as_str())),
    ] {
        let started = Instant::now();
        let status = flood(&client, &apps, token, body.clone(), requests).await;
        println!(
            "| {name} flood | {status} | {:.1} | – | {} |",
            rss_mib(),
            started.elapsed().as_millis()
        );
        let started = Instant::now();
        let log = client
            .get(&log_url)
            .send()
            .await
            .expect("the log")
            .bytes()
            .await
            .expect("the log body");
        println!(
            "| then GET /_emulator/requests | 200 | {:.1} | {} | {} |",
            rss_mib(),
            log.len() / 1024,
            started.elapsed().as_millis()
        );
    }
}
