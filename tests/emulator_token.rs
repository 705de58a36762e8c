//! `POST {auth_url}/{envID}/as/token`: client authentication by the app's method, the token's
//! shape, and what a token carries.

use crate::kit::{Harness, Reply, poll, worker_body};
use p1run::emulator::EmulatorOptions;
use serde_json::json;
use std::time::Duration;

#[track_caller]
fn assert_invalid_client(reply: &Reply) {
    assert_eq!(reply.status, 401, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["error"], "invalid_client");
    let description = body["error_description"].as_str().unwrap();
    let correlation = description
        .strip_prefix("Request denied: Unsupported authentication method (Correlation ID: ")
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("unexpected description {description}"));
    assert!(uuid::Uuid::parse_str(correlation).is_ok(), "{description}");
}

fn form_token(h: &Harness, environment_id: &str, client_id: &str, secret: &str) -> Reply {
    h.http.send(|client| {
        client.post(h.token_url(environment_id)).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
        ])
    })
}

fn basic_token(h: &Harness, environment_id: &str, client_id: &str, secret: &str) -> Reply {
    h.http.send(|client| {
        client
            .post(h.token_url(environment_id))
            .basic_auth(client_id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
    })
}

#[test]
fn the_bootstrap_worker_gets_an_opaque_one_hour_bearer_token_by_basic_auth() {
    let h = Harness::start();
    let info = h.info().clone();
    let reply = basic_token(
        &h,
        &info.environment_id,
        &info.client_id,
        &info.client_secret,
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("cache-control").as_deref(), Some("no-store"));
    let body = reply.json();
    assert_eq!(body.as_object().unwrap().len(), 3, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    let token = body["access_token"].as_str().unwrap();
    assert!(
        token.len() >= 32 && !token.contains('.'),
        "opaque, not a JWT: {token}"
    );
    let environment = h.get(
        &h.api(&format!("/environments/{}", info.environment_id)),
        token,
    );
    environment.expect(200, "Environment");
}

#[test]
fn every_token_is_new() {
    let h = Harness::start();
    let info = h.info().clone();
    let again = h.token_basic(&info.environment_id, &info.client_id, &info.client_secret);
    assert_ne!(again, h.admin);
}

#[test]
fn a_basic_app_refuses_credentials_in_the_form() {
    let h = Harness::start();
    let info = h.info().clone();
    assert_invalid_client(&form_token(
        &h,
        &info.environment_id,
        &info.client_id,
        &info.client_secret,
    ));
}

#[test]
fn a_post_app_accepts_only_credentials_in_the_form() {
    let h = Harness::start();
    let mut body = worker_body("post-worker");
    body["tokenEndpointAuthMethod"] = json!("CLIENT_SECRET_POST");
    let app = h.create_app(&h.admin, &body);
    let id = app["id"].as_str().unwrap();
    let secret = h.secret_of(id);
    assert_invalid_client(&basic_token(&h, &h.env(), id, &secret));
    let reply = form_token(&h, &h.env(), id, &secret);
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["token_type"], "Bearer");
}

#[test]
fn both_methods_at_once_are_refused() {
    let h = Harness::start();
    let info = h.info().clone();
    let reply = h.http.send(|client| {
        client
            .post(h.token_url(&info.environment_id))
            .basic_auth(&info.client_id, Some(&info.client_secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", info.client_id.as_str()),
                ("client_secret", info.client_secret.as_str()),
            ])
    });
    assert_invalid_client(&reply);
}

#[test]
fn a_wrong_secret_an_unknown_client_and_the_wrong_environment_are_refused_alike() {
    let h = Harness::with_options(EmulatorOptions {
        environments: 2,
        ..EmulatorOptions::default()
    });
    let info = h.info().clone();
    assert_invalid_client(&basic_token(
        &h,
        &info.environment_id,
        &info.client_id,
        "not-the-secret",
    ));
    assert_invalid_client(&basic_token(
        &h,
        &info.environment_id,
        &uuid::Uuid::new_v4().to_string(),
        "x",
    ));
    assert_invalid_client(&basic_token(
        &h,
        &info.environments[1].id,
        &info.client_id,
        &info.client_secret,
    ));
}

#[test]
fn a_disabled_app_or_one_without_client_credentials_gets_no_token() {
    let h = Harness::start();
    let mut disabled = worker_body("disabled");
    disabled.as_object_mut().unwrap().remove("enabled");
    let disabled = h.create_app(&h.admin, &disabled);
    assert_eq!(disabled["enabled"], false, "enabled defaults to false");
    let id = disabled["id"].as_str().unwrap();
    assert_invalid_client(&basic_token(&h, &h.env(), id, &h.secret_of(id)));

    let mut no_grant = worker_body("no-client-credentials");
    no_grant["grantTypes"] = json!(["AUTHORIZATION_CODE"]);
    let no_grant = h.create_app(&h.admin, &no_grant);
    let id = no_grant["id"].as_str().unwrap();
    assert_invalid_client(&basic_token(&h, &h.env(), id, &h.secret_of(id)));
}

#[test]
fn grant_types_other_than_client_credentials_and_non_form_bodies_are_oauth_errors() {
    let h = Harness::start();
    let info = h.info().clone();
    let reply = h.http.send(|client| {
        client
            .post(h.token_url(&info.environment_id))
            .basic_auth(&info.client_id, Some(&info.client_secret))
            .form(&[("grant_type", "password")])
    });
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"], "unsupported_grant_type");
    let reply = h.http.send(|client| {
        client
            .post(h.token_url(&info.environment_id))
            .basic_auth(&info.client_id, Some(&info.client_secret))
            .form(&[("scope", "x")])
    });
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"], "invalid_request");
    let reply = h.http.send(|client| {
        client
            .post(h.token_url(&info.environment_id))
            .basic_auth(&info.client_id, Some(&info.client_secret))
            .json(&json!({ "grant_type": "client_credentials" }))
    });
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"], "invalid_request");
}

#[test]
fn a_token_carries_the_roles_of_its_issue_time_only() {
    let h = Harness::start();
    let app = h.create_worker("late-grant");
    let id = app["id"].as_str().unwrap();
    let secret = h.secret_of(id);
    let before = h.token_basic(&h.env(), id, &secret);
    let environment_url = h.api(&format!("/environments/{}", h.env()));
    h.get(&environment_url, &before)
        .expect_error(403, "ACCESS_FAILED");

    h.assign(&h.admin, id, "Identity Data Admin", "ENVIRONMENT", &h.env())
        .expect(201, "RoleAssignment");
    h.get(&environment_url, &before)
        .expect_error(403, "ACCESS_FAILED");
    let after = h.token_basic(&h.env(), id, &secret);
    h.get(&environment_url, &after).expect(200, "Environment");
}

#[test]
fn an_expired_token_is_refused_like_a_missing_one() {
    let h = Harness::with_options(EmulatorOptions {
        token_lifetime: Duration::from_secs(1),
        ..EmulatorOptions::default()
    });
    let info = h.info().clone();
    let reply = basic_token(
        &h,
        &info.environment_id,
        &info.client_id,
        &info.client_secret,
    );
    assert_eq!(reply.json()["expires_in"], 1);
    let environment_url = h.api(&format!("/environments/{}", info.environment_id));
    h.get(&environment_url, &h.admin).expect(200, "Environment");
    let refused = poll(Duration::from_secs(5), || {
        let reply = h.get(&environment_url, &h.admin);
        (reply.status == 401).then_some(reply)
    });
    refused.expect_error(401, "ACCESS_FAILED");
    assert_eq!(refused.detail()["code"], "INVALID_TOKEN");
}

#[test]
fn a_deleted_apps_tokens_stop_working() {
    let h = Harness::start();
    let (app, token) = h.worker_with_roles(
        "short-lived",
        &[("Identity Data Admin", "ENVIRONMENT", &h.env())],
    );
    let environment_url = h.api(&format!("/environments/{}", h.env()));
    h.get(&environment_url, &token).expect(200, "Environment");
    assert_eq!(
        h.delete(
            &h.apps(&format!("/{}", app["id"].as_str().unwrap())),
            &h.admin
        )
        .status,
        204
    );
    h.get(&environment_url, &token)
        .expect_error(401, "ACCESS_FAILED");
}
