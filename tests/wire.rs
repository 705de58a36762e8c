//! What `p1run` sends is what PingOne's spec describes: every JSON body of every write a
//! bundled recipe makes validates against the request schema of its operation.

use crate::kit::spec;
use crate::kit::{Test, emulator};

/// The spec's request schema for a write, by method and path shape.
fn request_schema(method: &str, path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.trim_start_matches("/v1/").split('/').collect();
    match (method, segments.as_slice()) {
        ("POST", ["environments", _, "applications"]) => Some("createApplication_request"),
        ("PUT", ["environments", _, "applications", _]) => Some("updateApplication_request"),
        ("POST", ["environments", _, "applications", _, "roleAssignments"]) => {
            Some("RoleAssignment")
        }
        ("POST", ["environments", _, "applications", _, "secret"]) => Some("ApplicationSecret"),
        ("POST", ["environments", _, "roles"]) | ("PUT", ["environments", _, "roles", _]) => {
            Some("CustomAdminRole")
        }
        ("POST", ["environments", _, "populations"])
        | ("PUT", ["environments", _, "populations", _]) => Some("Population"),
        _ => None,
    }
}

#[test]
fn every_request_body_of_the_bundled_recipes_matches_the_spec() {
    let emulator = emulator(1);
    for recipe in [
        "authorize-worker-http-service",
        "authorize-worker-env-scoped",
        "remove-worker",
        "worker-app",
    ] {
        Test::new()
            .config_for(&emulator)
            .args(["apply", recipe])
            .run()
            .success();
    }
    Test::new()
        .config_for(&emulator)
        .args(["apply", "authorize-worker"])
        .run()
        .success();
    Test::new()
        .config_for(&emulator)
        .args(["apply", "rotate-worker-secret", "--var", "out=w.secret"])
        .run()
        .success();

    let mut checked = std::collections::BTreeSet::new();
    for record in emulator.requests() {
        if record.method == "GET" || record.path.ends_with("/as/token") || record.method == "DELETE"
        {
            continue;
        }
        let schema = request_schema(&record.method, &record.path).unwrap_or_else(|| {
            panic!(
                "no request schema known for {} {}",
                record.method, record.path
            )
        });
        let body = record
            .body
            .clone()
            .unwrap_or_else(|| panic!("{} {} sent no JSON body", record.method, record.path));
        spec().validate(schema, &body);
        checked.insert(schema);
    }
    assert_eq!(
        checked.len(),
        4,
        "every kind of write was checked: {checked:?}"
    );
}

#[test]
fn token_requests_are_never_recorded_with_their_body() {
    let emulator = emulator(1);
    Test::new()
        .config_for(&emulator)
        .args(["apply", "authorize-worker"])
        .run()
        .success();
    let tokens: Vec<_> = emulator
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/as/token"))
        .collect();
    assert!(!tokens.is_empty());
    assert!(tokens.iter().all(|r| r.body.is_none()));
}
