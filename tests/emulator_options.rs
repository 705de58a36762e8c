//! The `p1run emulator` options: state across restarts, latency, rate limit, injected faults,
//! propagation delay, and the life cycle of `Emulator` itself.

use crate::kit::{Harness, Http, poll, worker_body};
use p1run::emulator::{Emulator, EmulatorOptions};
use std::time::{Duration, Instant};

#[test]
fn state_survives_a_restart_and_is_saved_whole() {
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("emulator.json");
    let options = EmulatorOptions {
        state_file: Some(state_file.clone()),
        environments: 2,
        ..EmulatorOptions::default()
    };
    let (info, app_id, role_id) = {
        let h = Harness::with_options(options.clone());
        let app = h.create_worker("persistent");
        let app_id = app["id"].as_str().unwrap().to_owned();
        h.assign(
            &h.admin,
            &app_id,
            "Identity Data Admin",
            "ENVIRONMENT",
            &h.env(),
        )
        .expect(201, "RoleAssignment");
        (h.info().clone(), app_id, h.role_id("Identity Data Admin"))
    };
    assert!(state_file.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary files are left behind");

    let h = Harness::with_options(options);
    assert_eq!(h.info().organization_id, info.organization_id);
    assert_eq!(h.info().client_id, info.client_id);
    assert_eq!(h.info().client_secret, info.client_secret);
    assert_eq!(h.info().environments.len(), 2);
    assert_eq!(h.role_id("Identity Data Admin"), role_id);
    let app = h
        .get(&h.apps(&format!("/{app_id}")), &h.admin)
        .expect(200, "ApplicationOIDC");
    assert_eq!(app["name"], "persistent");
    let assignments = h
        .get(&h.apps(&format!("/{app_id}/roleAssignments")), &h.admin)
        .expect_list("roleAssignments", "RoleAssignment");
    assert_eq!(assignments["count"], 1);
}

#[test]
fn a_corrupt_state_file_is_an_error_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("emulator.json");
    std::fs::write(&state_file, "{ not quite").unwrap();
    let error = Emulator::start(EmulatorOptions {
        state_file: Some(state_file),
        ..EmulatorOptions::default()
    })
    .err()
    .expect("a corrupt state file is refused");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
}

#[test]
fn a_taken_port_is_an_error_at_start() {
    let first = Emulator::start(EmulatorOptions::default()).unwrap();
    let port = url::Url::parse(&first.info().auth_url)
        .unwrap()
        .port()
        .unwrap();
    let error = Emulator::start(EmulatorOptions {
        listen: ([127, 0, 0, 1], port).into(),
        ..EmulatorOptions::default()
    })
    .err()
    .expect("the port is taken");
    assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse);
}

#[test]
fn dropping_the_emulator_stops_it() {
    let emulator = Emulator::start(EmulatorOptions::default()).unwrap();
    let address = url::Url::parse(&emulator.info().auth_url)
        .unwrap()
        .socket_addrs(|| None)
        .unwrap()[0];
    assert!(std::net::TcpStream::connect(address).is_ok());
    drop(emulator);
    assert!(std::net::TcpStream::connect(address).is_err());
}

#[test]
fn latency_is_added_to_every_request() {
    let h = Harness::with_options(EmulatorOptions {
        latency: Duration::from_millis(150),
        ..EmulatorOptions::default()
    });
    let started = Instant::now();
    h.get(&h.api("/roles"), &h.admin)
        .expect_list("roles", "Role");
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[test]
fn a_client_over_its_rate_limit_gets_429_with_retry_after_and_others_do_not() {
    let h = Harness::with_options(EmulatorOptions {
        rate_limit: Some(3),
        ..EmulatorOptions::default()
    });
    // The harness's token request used one of the bootstrap worker's three.
    let url = h.api("/roles");
    assert_eq!(h.get(&url, &h.admin).status, 200);
    let limited = poll(Duration::from_secs(5), || {
        let reply = h.get(&url, &h.admin);
        (reply.status != 200).then_some(reply)
    });
    let body = limited.expect_error(429, "REQUEST_LIMITED");
    let retry_after: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_eq!(body["details"][0]["code"], "LIMIT_EXCEEDED");

    // Another client has a bucket of its own: refused for its credentials, not its rate.
    let unlimited_client = h.http.send(|client| {
        client
            .post(h.token_url(&h.env()))
            .basic_auth("someone-else", Some("x"))
            .form(&[("grant_type", "client_credentials")])
    });
    assert_eq!(unlimited_client.status, 401, "{}", unlimited_client.text);
    let recovered = poll(Duration::from_secs(5), || {
        let reply = h.get(&url, &h.admin);
        (reply.status == 200).then_some(reply)
    });
    recovered.expect_list("roles", "Role");
}

#[test]
fn token_requests_with_form_credentials_count_against_their_own_client() {
    // Three a second: enough for the admin's token, create and secret read.
    let h = Harness::with_options(EmulatorOptions {
        rate_limit: Some(3),
        ..EmulatorOptions::default()
    });
    let mut body = worker_body("form-client");
    body["tokenEndpointAuthMethod"] = serde_json::json!("CLIENT_SECRET_POST");
    let id = h.create_app(&h.admin, &body)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret = h.secret_of(&id);
    let request = || {
        h.http.send(|client| {
            client.post(h.token_url(&h.env())).form(&[
                ("grant_type", "client_credentials"),
                ("client_id", id.as_str()),
                ("client_secret", secret.as_str()),
            ])
        })
    };
    assert_eq!(request().status, 200);
    let limited = poll(Duration::from_secs(5), || {
        let reply = request();
        (reply.status != 200).then_some(reply)
    });
    limited.expect_error(429, "REQUEST_LIMITED");
    let last = h.emulator.requests().pop().unwrap();
    assert_eq!(
        (last.status, last.caller.as_deref()),
        (429, Some(id.as_str()))
    );
}

#[test]
fn with_every_request_faulty_management_calls_fail_in_pingone_format_but_control_calls_do_not() {
    let h = Harness::with_options(EmulatorOptions {
        fault_rate: 1.0,
        seed: Some(1),
        ..EmulatorOptions::default()
    });
    let mut statuses = std::collections::BTreeSet::new();
    for _ in 0..30 {
        let reply = h.get(&h.api("/roles"), &h.admin);
        assert!([500, 502, 503].contains(&reply.status), "{}", reply.status);
        let body = reply.expect_error(reply.status, "UNEXPECTED_ERROR");
        assert!(body["message"].is_string());
        if reply.status == 503 {
            assert!(reply.header("retry-after").is_some());
        }
        statuses.insert(reply.status);
    }
    assert_eq!(statuses.len(), 3, "all three kinds occur: {statuses:?}");
    let log = h.http.request(
        "GET",
        &format!("{}/_emulator/requests", h.info().auth_url),
        None,
        None,
    );
    assert_eq!(log.status, 200);
}

#[test]
fn a_faulted_write_was_not_applied() {
    let h = Harness::with_options(EmulatorOptions {
        fault_rate: 0.5,
        seed: Some(7),
        ..EmulatorOptions::default()
    });
    let mut failed = Vec::new();
    let mut created = Vec::new();
    for n in 0..20 {
        let name = format!("attempt-{n}");
        let reply = h.post(&h.apps(""), &h.admin, &worker_body(&name));
        match reply.status {
            201 => created.push(name),
            _ => failed.push(name),
        }
    }
    assert!(!failed.is_empty() && !created.is_empty());
    let list = poll(Duration::from_secs(5), || {
        let reply = h.get(&h.apps(""), &h.admin);
        (reply.status == 200).then(|| reply.expect_list("applications", "ApplicationOIDC"))
    });
    let names: Vec<&str> = list["_embedded"]["applications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|app| app["name"].as_str().unwrap())
        .collect();
    for name in &failed {
        assert!(
            !names.contains(&name.as_str()),
            "{name} was applied despite the fault"
        );
    }
    for name in &created {
        assert!(names.contains(&name.as_str()), "{name} is missing");
    }
}

#[test]
fn the_same_seed_injects_the_same_faults() {
    let statuses = |seed| {
        let h = Harness::with_options(EmulatorOptions {
            fault_rate: 0.5,
            seed: Some(seed),
            ..EmulatorOptions::default()
        });
        (0..20)
            .map(|_| h.get(&h.api("/roles"), &h.admin).status)
            .collect::<Vec<_>>()
    };
    let first = statuses(11);
    assert_eq!(first, statuses(11));
    assert!(first.contains(&200) && first.iter().any(|status| *status >= 500));
}

#[test]
fn a_new_application_is_listed_at_once_but_readable_by_id_only_after_the_delay() {
    let h = Harness::with_options(EmulatorOptions {
        propagation_delay: Duration::from_millis(1500),
        ..EmulatorOptions::default()
    });
    let app = h.create_worker("eventually");
    let url = h.apps(&format!("/{}", app["id"].as_str().unwrap()));
    h.get(&url, &h.admin).expect_error(404, "NOT_FOUND");
    h.get(&format!("{url}/roleAssignments"), &h.admin)
        .expect_error(404, "NOT_FOUND");
    h.put(&url, &h.admin, &worker_body("renamed"))
        .expect_error(404, "NOT_FOUND");
    let list = h
        .get(&h.apps(""), &h.admin)
        .expect_list("applications", "ApplicationOIDC");
    assert_eq!(list["count"], 2, "the list shows it already");
    let read = poll(Duration::from_secs(10), || {
        let reply = h.get(&url, &h.admin);
        (reply.status == 200).then_some(reply)
    });
    read.expect(200, "ApplicationOIDC");
}

#[test]
fn a_new_grant_counts_only_after_the_delay() {
    let h = Harness::with_options(EmulatorOptions {
        propagation_delay: Duration::from_millis(1000),
        ..EmulatorOptions::default()
    });
    let app = h.create_worker("grantee");
    let id = app["id"].as_str().unwrap().to_owned();
    let secret = poll(Duration::from_secs(10), || {
        let reply = h.get(&h.apps(&format!("/{id}/secret")), &h.admin);
        (reply.status == 200).then(|| reply.expect(200, "ApplicationSecret"))
    })["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    h.assign(
        &h.admin,
        &id,
        "Identity Data Admin",
        "ENVIRONMENT",
        &h.env(),
    )
    .expect(201, "RoleAssignment");
    let token = h.token_basic(&h.env(), &id, &secret);
    let env_url = h.api(&format!("/environments/{}", h.env()));
    let denied = h.get(&env_url, &token);
    denied.expect_error(403, "ACCESS_FAILED");
    assert_eq!(
        denied.detail()["message"],
        "The actor attempting to perform the request is not authorized."
    );
    poll(Duration::from_secs(10), || {
        let reply = h.get(&env_url, &token);
        (reply.status == 200).then_some(reply)
    })
    .expect(200, "Environment");
}

#[test]
fn a_plain_client_can_reach_the_emulator_from_a_test_thread() {
    // The emulator runs on its own runtime: a blocking client on the test's thread works.
    let emulator = Emulator::start(EmulatorOptions::default()).unwrap();
    let http = Http::new();
    let reply = http.request(
        "GET",
        &format!("{}/roles", emulator.info().api_url),
        None,
        None,
    );
    reply.expect_error(401, "ACCESS_FAILED");
}
