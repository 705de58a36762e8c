//! Requests per second of the PingOne emulator on loopback, for its hot paths: the token
//! endpoint, reading an application, creating an application and granting a role.
//!
//! `cargo run --release --example bench_emulator [REQUESTS] [CONCURRENCY]`
//!
//! Each scenario sends a fixed number of requests from a pool of concurrent tasks over one
//! keep-alive client, checks every status, and prints a table. Not a test: numbers depend on
//! the machine.

use p1run::emulator::{Emulator, EmulatorOptions};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

struct Outcome {
    name: &'static str,
    requests: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

/// Sends `requests` requests, `concurrency` at a time; `make(i)` builds the i-th one.
async fn run(
    name: &'static str,
    requests: usize,
    concurrency: usize,
    expected_status: u16,
    make: Arc<dyn Fn(usize) -> reqwest::RequestBuilder + Send + Sync>,
) -> Outcome {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let next = next.clone();
            let make = make.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= requests {
                        break latencies;
                    }
                    let sent = Instant::now();
                    let response = make(i).send().await.expect("the emulator answers");
                    let status = response.status().as_u16();
                    let body = response.bytes().await.expect("a body");
                    assert_eq!(
                        status,
                        expected_status,
                        "{name}: {}",
                        String::from_utf8_lossy(&body)
                    );
                    latencies.push(sent.elapsed());
                }
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(requests);
    for worker in workers {
        latencies.extend(worker.await.expect("a worker finishes"));
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    Outcome {
        name,
        requests,
        elapsed,
        latencies,
    }
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let requests: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let concurrency: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(16);
    let _ = rustls::crypto::ring::default_provider().install_default();

    let emulator = Emulator::start(EmulatorOptions::default()).expect("the emulator starts");
    let info = emulator.info().clone();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("a client");
    let token_url = format!("{}/{}/as/token", info.auth_url, info.environment_id);
    let token: String = client
        .post(&token_url)
        .basic_auth(&info.client_id, Some(&info.client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .and_then(|response| response.error_for_status())
        .expect("a token")
        .json::<serde_json::Value>()
        .await
        .expect("a token body")["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned();
    let apps_url = format!(
        "{}/environments/{}/applications",
        info.api_url, info.environment_id
    );
    let roles: serde_json::Value = client
        .get(format!("{}/roles", info.api_url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let role_id = roles["_embedded"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|role| role["name"] == "Identity Data Admin")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut outcomes = Vec::new();
    let (c, t, u, i) = (
        client.clone(),
        token_url.clone(),
        info.client_id.clone(),
        info.client_secret.clone(),
    );
    outcomes.push(
        run(
            "POST token",
            requests,
            concurrency,
            200,
            Arc::new(move |_| {
                c.post(&t)
                    .basic_auth(&u, Some(&i))
                    .form(&[("grant_type", "client_credentials")])
            }),
        )
        .await,
    );
    let (c, k, one) = (
        client.clone(),
        token.clone(),
        format!("{apps_url}/{}", info.client_id),
    );
    outcomes.push(
        run(
            "GET application",
            requests,
            concurrency,
            200,
            Arc::new(move |_| c.get(&one).bearer_auth(&k)),
        )
        .await,
    );

    // One fresh application per role grant: granting the same role twice is a duplicate.
    let (c, k, url) = (client.clone(), token.clone(), apps_url.clone());
    outcomes.push(
        run(
            "POST application",
            requests,
            concurrency,
            201,
            Arc::new(move |n| {
                c.post(&url).bearer_auth(&k).json(&json!({
                    "name": format!("bench-{n}"),
                    "enabled": true,
                    "type": "WORKER",
                    "protocol": "OPENID_CONNECT",
                    "grantTypes": ["CLIENT_CREDENTIALS"],
                    "tokenEndpointAuthMethod": "CLIENT_SECRET_BASIC",
                    "assignActorRoles": false,
                }))
            }),
        )
        .await,
    );
    let list: serde_json::Value = client
        .get(&apps_url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let app_ids: Arc<Vec<String>> = Arc::new(
        list["_embedded"]["applications"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|app| {
                app["name"]
                    .as_str()
                    .is_some_and(|name| name.starts_with("bench-"))
            })
            .map(|app| app["id"].as_str().unwrap().to_owned())
            .collect(),
    );
    let (c, k, url, env) = (
        client.clone(),
        token.clone(),
        apps_url.clone(),
        info.environment_id.clone(),
    );
    outcomes.push(
        run(
            "POST role assignment",
            app_ids.len(),
            concurrency,
            201,
            Arc::new(move |n| {
                c.post(format!("{url}/{}/roleAssignments", app_ids[n]))
                    .bearer_auth(&k)
                    .json(&json!({
                        "role": { "id": role_id },
                        "scope": { "id": env, "type": "ENVIRONMENT" },
                    }))
            }),
        )
        .await,
    );

    println!(
        "PingOne emulator on loopback, {concurrency} concurrent requests, {} cores",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    println!("| scenario | requests | seconds | requests/s | p50 ms | p99 ms |");
    println!("|---|---:|---:|---:|---:|---:|");
    for outcome in &outcomes {
        let seconds = outcome.elapsed.as_secs_f64();
        println!(
            "| {} | {} | {:.2} | {:.0} | {:.2} | {:.2} |",
            outcome.name,
            outcome.requests,
            seconds,
            outcome.requests as f64 / seconds,
            percentile(&outcome.latencies, 0.50).as_secs_f64() * 1000.0,
            percentile(&outcome.latencies, 0.99).as_secs_f64() * 1000.0,
        );
    }
    drop(emulator);
}
