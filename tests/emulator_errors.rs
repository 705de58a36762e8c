//! Whatever the request, the answer is one of PingOne's errors in PingOne's format; and the
//! spec validator itself catches a body that drifts.

use crate::kit::{Harness, spec, worker_body};
use serde_json::json;

#[test]
fn a_missing_or_unknown_token_is_401_invalid_token() {
    let h = Harness::start();
    let url = h.api(&format!("/environments/{}", h.env()));
    for reply in [
        h.http.request("GET", &url, None, None),
        h.http.request("GET", &url, Some("not-a-token"), None),
        h.http.send(|client| {
            client
                .get(&url)
                .header("authorization", "Basic Zm9vOmJhcg==")
        }),
    ] {
        let body = reply.expect_error(401, "ACCESS_FAILED");
        assert_eq!(
            body["details"],
            json!([{
                "code": "INVALID_TOKEN",
                "target": "Authentication Credentials",
                "message": "The authorization token is either missing or invalid, or it has expired.",
            }])
        );
    }
}

#[test]
fn unknown_paths_are_404_not_found_in_json() {
    let h = Harness::start();
    h.get(&h.api("/nothing/here"), &h.admin)
        .expect_error(404, "NOT_FOUND");
    let outside = h.http.request(
        "GET",
        &format!("{}/favicon.ico", h.info().auth_url),
        None,
        None,
    );
    outside.expect_error(404, "NOT_FOUND");
}

#[test]
fn a_wrong_method_is_405_in_json() {
    let h = Harness::start();
    let app = h.create_worker("w");
    let url = h.apps(&format!("/{}", app["id"].as_str().unwrap()));
    let reply = h
        .http
        .request("PATCH", &url, Some(&h.admin), Some(&json!({})));
    reply.expect_error(405, "INVALID_REQUEST");
    let reply = h
        .http
        .request("DELETE", &h.api("/roles"), Some(&h.admin), None);
    reply.expect_error(405, "INVALID_REQUEST");
}

#[test]
fn a_body_that_is_not_json_is_415_and_broken_json_is_400() {
    let h = Harness::start();
    let reply = h.http.send(|client| {
        client
            .post(h.apps(""))
            .bearer_auth(&h.admin)
            .header("content-type", "text/plain")
            .body("name=worker")
    });
    reply.expect_error(415, "INVALID_REQUEST");
    for garbage in ["{\"name\": ", "[1, 2, 3]", "\u{0}\u{1}binary", "null"] {
        let reply = h.http.send(|client| {
            client
                .post(h.apps(""))
                .bearer_auth(&h.admin)
                .header("content-type", "application/json")
                .body(garbage)
        });
        reply.expect_error(400, "INVALID_REQUEST");
    }
}

#[test]
fn a_huge_body_is_400_size_limit_exceeded() {
    let h = Harness::start();
    let mut body = worker_body("huge");
    // Just over the 256 KiB cap: far larger bodies are refused before they are sent whole,
    // which the client sees as a broken pipe rather than an answer.
    body["description"] = json!("x".repeat(257 * 1024));
    let reply = h.post(&h.apps(""), &h.admin, &body);
    reply.expect_error(400, "INVALID_DATA");
    assert_eq!(reply.detail()["code"], "SIZE_LIMIT_EXCEEDED");
    let list = h
        .get(&h.apps(""), &h.admin)
        .expect_list("applications", "ApplicationOIDC");
    assert_eq!(list["count"], 1, "nothing was created");
}

#[test]
fn the_request_log_names_method_path_status_and_caller() {
    let h = Harness::start();
    let env_url = h.api(&format!("/environments/{}", h.env()));
    h.get(&env_url, &h.admin).expect(200, "Environment");
    h.http.request("GET", &env_url, None, None);
    let records = h.emulator.requests();
    let path = format!("/v1/environments/{}", h.env());
    let client_id = h.info().client_id.clone();
    let token_path = format!("/{}/as/token", h.env());
    assert_eq!(records.len(), 3, "{records:?}");
    assert_eq!(
        (
            records[0].method.as_str(),
            records[0].path.as_str(),
            records[0].status
        ),
        ("POST", token_path.as_str(), 200)
    );
    assert_eq!(records[0].caller.as_deref(), Some(client_id.as_str()));
    assert_eq!(
        (
            records[1].path.as_str(),
            records[1].status,
            records[1].caller.as_deref()
        ),
        (path.as_str(), 200, Some(client_id.as_str()))
    );
    assert_eq!(
        (records[2].status, records[2].caller.as_deref()),
        (401, None)
    );

    let served = h.http.request(
        "GET",
        &format!("{}/_emulator/requests", h.info().auth_url),
        None,
        None,
    );
    assert_eq!(served.status, 200);
    let served: Vec<p1run::emulator::RequestRecord> = serde_json::from_str(&served.text).unwrap();
    assert_eq!(served, records, "reading the log does not add to it");
}

#[test]
fn the_spec_validator_rejects_a_body_that_drifts_from_the_spec() {
    let h = Harness::start();
    let app = h.create_worker("w");
    assert!(spec().is_valid("ApplicationOIDC", &app));
    let mut extra_field = app.clone();
    extra_field["clientSecretPreview"] = json!("abc");
    assert!(!spec().is_valid("ApplicationOIDC", &extra_field));
    let mut wrong_enum = app.clone();
    wrong_enum["tokenEndpointAuthMethod"] = json!("BASIC");
    assert!(!spec().is_valid("ApplicationOIDC", &wrong_enum));
    let mut wrong_type = app;
    wrong_type["enabled"] = json!("true");
    assert!(!spec().is_valid("ApplicationOIDC", &wrong_type));

    let environment = h
        .get(&h.api(&format!("/environments/{}", h.env())), &h.admin)
        .expect(200, "Environment");
    let mut not_a_uuid = environment;
    not_a_uuid["organization"]["id"] = json!("org-1");
    assert!(!spec().is_valid(
        "com.pingidentity.pingone.orgmgt.environments.data.Environment",
        &not_a_uuid
    ));
    let error = json!({ "id": "x", "code": "NOT_FOUND", "message": "gone" });
    assert!(
        !spec().is_valid("com.pingidentity.ApiErrorResponse.404", &error),
        "id must be a uuid"
    );
}

#[test]
fn a_bad_page_size_or_cursor_is_invalid_data() {
    let h = Harness::start();
    for (query, target) in [
        ("limit=0", "limit"),
        ("limit=ten", "limit"),
        ("cursor=not-ours", "cursor"),
    ] {
        let reply = h.get(&h.apps(&format!("?{query}")), &h.admin);
        reply.expect_error(400, "INVALID_DATA");
        assert_eq!(reply.detail()["target"], target, "{query}");
    }
}
