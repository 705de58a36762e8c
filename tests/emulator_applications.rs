//! `/environments/{envID}/applications[/{appID}[/secret]]`.

use crate::kit::{Harness, worker_body};
use serde_json::{Value, json};
use std::collections::HashSet;

fn id_of(app: &Value) -> String {
    app["id"].as_str().unwrap().to_owned()
}

#[test]
fn create_answers_201_with_the_fields_sent_and_what_pingone_adds() {
    let h = Harness::start();
    let app = h.create_worker("my-worker");
    for field in [
        "name",
        "description",
        "enabled",
        "type",
        "protocol",
        "grantTypes",
        "tokenEndpointAuthMethod",
    ] {
        assert_eq!(app[field], worker_body("my-worker")[field], "{field}");
    }
    assert!(uuid::Uuid::parse_str(&id_of(&app)).is_ok());
    assert_eq!(app["environment"]["id"], h.env().as_str());
    assert!(
        app.get("assignActorRoles").is_none(),
        "assignActorRoles is write-only"
    );
    assert_eq!(app["createdAt"], app["updatedAt"]);
    let base = format!(
        "{}/environments/{}/applications/{}",
        h.info().api_url,
        h.env(),
        id_of(&app)
    );
    assert_eq!(app["_links"]["self"]["href"], base.as_str());
    assert_eq!(
        app["_links"]["secret"]["href"],
        format!("{base}/secret").as_str()
    );
    assert_eq!(
        app["_links"]["roleAssignments"]["href"],
        format!("{base}/roleAssignments").as_str()
    );
    assert_eq!(
        app["_links"]["environment"]["href"],
        h.api(&format!("/environments/{}", h.env())).as_str()
    );
    let read = h.get(&base, &h.admin).expect(200, "ApplicationOIDC");
    assert_eq!(read, app);
}

#[test]
fn read_only_and_unknown_fields_in_a_body_are_ignored() {
    let h = Harness::start();
    let mut body = worker_body("ignores");
    body["id"] = json!("my-own-id");
    body["createdAt"] = json!("2000-01-01T00:00:00.000Z");
    body["environment"] = json!({ "id": "elsewhere" });
    body["favouriteColour"] = json!("green");
    let app = h.create_app(&h.admin, &body);
    assert_ne!(app["id"], "my-own-id");
    assert_ne!(app["createdAt"], "2000-01-01T00:00:00.000Z");
    assert_eq!(app["environment"]["id"], h.env().as_str());
    assert!(app.get("favouriteColour").is_none());
}

#[test]
fn missing_required_fields_are_each_reported_with_their_target() {
    let h = Harness::start();
    let reply = h.post(&h.apps(""), &h.admin, &json!({ "description": "nameless" }));
    let body = reply.expect_error(400, "INVALID_DATA");
    assert_eq!(
        body["message"],
        "The request could not be completed. One or more validation errors were in the request."
    );
    let targets: HashSet<(&str, &str)> = body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|detail| {
            (
                detail["code"].as_str().unwrap(),
                detail["target"].as_str().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("REQUIRED_VALUE", "name"),
        ("REQUIRED_VALUE", "protocol"),
        ("REQUIRED_VALUE", "type"),
    ];
    assert_eq!(targets, expected.into_iter().collect());

    let mut no_method = worker_body("no-method");
    no_method
        .as_object_mut()
        .unwrap()
        .remove("tokenEndpointAuthMethod");
    let reply = h.post(&h.apps(""), &h.admin, &no_method);
    reply.expect_error(400, "INVALID_DATA");
    assert_eq!(reply.detail()["code"], "REQUIRED_VALUE");
    assert_eq!(reply.detail()["target"], "tokenEndpointAuthMethod");
}

#[test]
fn enum_and_type_violations_are_invalid_values() {
    let h = Harness::start();
    for (field, value) in [
        ("type", json!("ROBOT")),
        ("protocol", json!("CARRIER_PIGEON")),
        ("tokenEndpointAuthMethod", json!("TRUST_ME")),
        ("grantTypes", json!(["CLIENT_CREDENTIALS", "TELEPATHY"])),
        ("name", json!(42)),
        ("enabled", json!("yes")),
        ("assignActorRoles", json!("no")),
    ] {
        let mut body = worker_body("invalid");
        body[field] = value;
        let reply = h.post(&h.apps(""), &h.admin, &body);
        reply.expect_error(400, "INVALID_DATA");
        let detail = reply.detail();
        assert_eq!(
            (detail["code"].as_str(), detail["target"].as_str()),
            (Some("INVALID_VALUE"), Some(field)),
            "{detail}"
        );
    }
    let mut body = worker_body("invalid");
    body["type"] = json!("ROBOT");
    let detail = h.post(&h.apps(""), &h.admin, &body).detail();
    assert!(
        detail["innerError"]["allowedValues"]
            .as_array()
            .unwrap()
            .contains(&json!("WORKER"))
    );
}

#[test]
fn list_embeds_every_application_and_pages_by_cursor() {
    let h = Harness::start();
    let mut created: Vec<String> = (0..4)
        .map(|n| id_of(&h.create_worker(&format!("w{n}"))))
        .collect();
    created.push(h.info().client_id.clone());
    let whole = h
        .get(&h.apps(""), &h.admin)
        .expect_list("applications", "ApplicationOIDC");
    assert_eq!(whole["count"], 5);
    assert_eq!(whole["_links"]["self"]["href"], h.apps("").as_str());
    assert!(whole["_links"].get("next").is_none());

    let mut seen = Vec::new();
    let mut url = h.apps("?limit=2");
    let mut pages = 0;
    loop {
        let page = h
            .get(&url, &h.admin)
            .expect_list("applications", "ApplicationOIDC");
        pages += 1;
        assert!(page["size"].as_u64().unwrap() <= 2);
        assert_eq!(page["count"], 5);
        seen.extend(
            page["_embedded"]["applications"]
                .as_array()
                .unwrap()
                .iter()
                .map(id_of),
        );
        match page["_links"]["next"]["href"].as_str() {
            Some(next) => {
                assert!(next.contains("cursor="), "{next}");
                url = next.to_owned();
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 5, "every application once: {seen:?}");
    created.sort();
    seen.sort();
    assert_eq!(seen, created);
}

#[test]
fn put_replaces_the_whole_application() {
    let h = Harness::start();
    let app = h.create_worker("to-replace");
    let url = h.apps(&format!("/{}", id_of(&app)));
    // The recipe: GET, change the auth method and enabled, PUT it all back (read-only included).
    let mut body = h.get(&url, &h.admin).expect(200, "ApplicationOIDC");
    body["tokenEndpointAuthMethod"] = json!("CLIENT_SECRET_POST");
    body["enabled"] = json!(false);
    body.as_object_mut().unwrap().remove("description");
    body["id"] = json!("ignored");
    let updated = h.put(&url, &h.admin, &body).expect(200, "ApplicationOIDC");
    assert_eq!(updated["tokenEndpointAuthMethod"], "CLIENT_SECRET_POST");
    assert_eq!(updated["enabled"], false);
    assert!(
        updated.get("description").is_none(),
        "an omitted optional field is cleared"
    );
    assert_eq!(updated["id"], app["id"]);
    assert_eq!(updated["createdAt"], app["createdAt"]);
    assert!(updated["updatedAt"].as_str() >= app["updatedAt"].as_str());
    assert_eq!(
        h.get(&url, &h.admin).expect(200, "ApplicationOIDC"),
        updated
    );

    let reply = h.put(&url, &h.admin, &json!({ "name": "only-a-name" }));
    reply.expect_error(400, "INVALID_DATA");
}

#[test]
fn delete_answers_204_then_the_application_and_its_assignments_are_gone() {
    let h = Harness::start();
    let app = h.create_worker("doomed");
    let id = id_of(&app);
    h.assign(
        &h.admin,
        &id,
        "Identity Data Admin",
        "ENVIRONMENT",
        &h.env(),
    )
    .expect(201, "RoleAssignment");
    let reply = h.delete(&h.apps(&format!("/{id}")), &h.admin);
    assert_eq!(reply.status, 204);
    assert!(reply.text.is_empty());
    h.get(&h.apps(&format!("/{id}")), &h.admin)
        .expect_error(404, "NOT_FOUND");
    h.get(&h.apps(&format!("/{id}/roleAssignments")), &h.admin)
        .expect_error(404, "NOT_FOUND");
    h.delete(&h.apps(&format!("/{id}")), &h.admin)
        .expect_error(404, "NOT_FOUND");
}

#[test]
fn unknown_applications_and_environments_are_404() {
    let h = Harness::start();
    let missing = uuid::Uuid::new_v4();
    let body = h
        .get(&h.apps(&format!("/{missing}")), &h.admin)
        .expect_error(404, "NOT_FOUND");
    assert_eq!(
        body["message"],
        "The request could not be completed. The requested resource was not found."
    );
    h.get(
        &h.api(&format!("/environments/{missing}/applications")),
        &h.admin,
    )
    .expect_error(404, "NOT_FOUND");
}

#[test]
fn a_new_application_inherits_the_creators_roles_unless_told_not_to() {
    let h = Harness::start();
    let mut inheriting = worker_body("inherits");
    inheriting
        .as_object_mut()
        .unwrap()
        .remove("assignActorRoles");
    let inheriting = h.create_app(&h.admin, &inheriting);
    let list = |app: &Value| {
        h.get(
            &h.apps(&format!("/{}/roleAssignments", id_of(app))),
            &h.admin,
        )
        .expect_list("roleAssignments", "RoleAssignment")
    };
    let bootstrap = json!({ "id": h.info().client_id });
    let pairs = |list: &Value| {
        let mut pairs: Vec<(String, String)> = list["_embedded"]["roleAssignments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|assignment| {
                (
                    assignment["role"]["id"].to_string(),
                    assignment["scope"].to_string(),
                )
            })
            .collect();
        pairs.sort();
        pairs
    };
    assert_eq!(pairs(&list(&inheriting)), pairs(&list(&bootstrap)));
    assert_eq!(list(&inheriting)["count"], 4);

    let mut explicit = worker_body("explicit-true");
    explicit["assignActorRoles"] = json!(true);
    assert_eq!(list(&h.create_app(&h.admin, &explicit))["count"], 4);
    assert_eq!(list(&h.create_worker("no-inheritance"))["count"], 0);
}

#[test]
fn a_secret_is_long_and_readable_only_with_a_superset_of_the_apps_roles() {
    let h = Harness::start();
    let env = h.env();
    let (reader, reader_token) = h.worker_with_roles(
        "reader",
        &[
            ("Client Application Developer", "ENVIRONMENT", &env),
            ("Identity Data Admin", "ENVIRONMENT", &env),
        ],
    );
    let modest = h.create_worker("modest");
    h.assign(
        &h.admin,
        &id_of(&modest),
        "Identity Data Admin",
        "ENVIRONMENT",
        &env,
    )
    .expect(201, "RoleAssignment");
    let secret = h
        .get(
            &h.apps(&format!("/{}/secret", id_of(&modest))),
            &reader_token,
        )
        .expect(200, "ApplicationSecret");
    assert!(secret["secret"].as_str().unwrap().len() >= 64);
    assert_eq!(secret["environment"]["id"], env.as_str());
    assert!(secret.get("previous").is_none());

    let mighty = h.create_worker("mighty");
    h.assign(
        &h.admin,
        &id_of(&mighty),
        "Environment Admin",
        "ORGANIZATION",
        &h.info().organization_id,
    )
    .expect(201, "RoleAssignment");
    let reply = h.get(
        &h.apps(&format!("/{}/secret", id_of(&mighty))),
        &reader_token,
    );
    reply.expect_error(403, "ACCESS_FAILED");

    let own = h.get(
        &h.apps(&format!("/{}/secret", id_of(&reader))),
        &reader_token,
    );
    own.expect_error(403, "ACCESS_FAILED");
    assert_eq!(own.detail()["code"], "INSUFFICIENT_PERMISSIONS");
}

#[test]
fn rotating_a_secret_retires_the_old_one_at_once_or_when_asked() {
    let h = Harness::start();
    let id = id_of(&h.create_worker("rotating"));
    let secret_url = h.apps(&format!("/{id}/secret"));
    let first = h.secret_of(&id);
    h.token_basic(&h.env(), &id, &first);

    let rotated = h
        .http
        .send(|client| client.post(&secret_url).bearer_auth(&h.admin))
        .expect(200, "ApplicationSecret");
    let second = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    assert!(rotated.get("previous").is_none());
    let refused = h.http.send(|client| {
        client
            .post(h.token_url(&h.env()))
            .basic_auth(&id, Some(&first))
            .form(&[("grant_type", "client_credentials")])
    });
    assert_eq!(refused.status, 401);

    let expires_at = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let expires_at = expires_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let kept = h
        .post(
            &secret_url,
            &h.admin,
            &json!({ "previous": { "expiresAt": expires_at } }),
        )
        .expect(200, "ApplicationSecret");
    let third = kept["secret"].as_str().unwrap().to_owned();
    assert_eq!(kept["previous"]["secret"], second.as_str());
    h.token_basic(&h.env(), &id, &third);
    h.token_basic(&h.env(), &id, &second);
    let shown = h
        .get(&secret_url, &h.admin)
        .expect(200, "ApplicationSecret");
    assert!(shown["previous"]["lastUsed"].is_string(), "{shown}");

    let dropped = h.delete(&secret_url, &h.admin);
    assert_eq!(dropped.status, 204);
    assert!(
        h.get(&secret_url, &h.admin)
            .expect(200, "ApplicationSecret")
            .get("previous")
            .is_none()
    );
    let refused = h.http.send(|client| {
        client
            .post(h.token_url(&h.env()))
            .basic_auth(&id, Some(&second))
            .form(&[("grant_type", "client_credentials")])
    });
    assert_eq!(refused.status, 401);
}

#[test]
fn a_previous_secret_must_expire_between_a_minute_and_thirty_days_ahead() {
    let h = Harness::start();
    let id = id_of(&h.create_worker("rotating"));
    let secret_url = h.apps(&format!("/{id}/secret"));
    for expires_at in ["2000-01-01T00:00:00Z", "2999-01-01T00:00:00Z", "tomorrow"] {
        let reply = h.post(
            &secret_url,
            &h.admin,
            &json!({ "previous": { "expiresAt": expires_at } }),
        );
        reply.expect_error(400, "INVALID_DATA");
        assert_eq!(reply.detail()["target"], "previous.expiresAt");
    }
}

#[test]
fn application_permissions_follow_the_built_in_roles() {
    let h = Harness::start();
    let env = h.env();
    let (_, read_only) = h.worker_with_roles(
        "config-reader",
        &[("Configuration Read Only", "ENVIRONMENT", &env)],
    );
    let (_, identity_only) = h.worker_with_roles(
        "identity",
        &[("Identity Data Read Only", "ENVIRONMENT", &env)],
    );
    let (_, developer) = h.worker_with_roles(
        "developer",
        &[("Client Application Developer", "ENVIRONMENT", &env)],
    );

    let denied = h.post(&h.apps(""), &identity_only, &worker_body("nope"));
    let body = denied.expect_error(403, "ACCESS_FAILED");
    assert_eq!(
        body,
        json!({
            "id": body["id"],
            "code": "ACCESS_FAILED",
            "message": "The request could not be completed. You do not have access to this resource.",
            "details": [{ "code": "INSUFFICIENT_PERMISSIONS", "message": "The actor attempting to perform the request is not authorized." }],
        })
    );
    h.get(&h.apps(""), &identity_only)
        .expect_error(403, "ACCESS_FAILED");

    let app = h.create_app(&developer, &worker_body("by-developer"));
    let url = h.apps(&format!("/{}", id_of(&app)));
    h.get(&url, &read_only).expect(200, "ApplicationOIDC");
    h.get(&h.apps(""), &read_only)
        .expect_list("applications", "ApplicationOIDC");
    h.put(&url, &read_only, &worker_body("renamed"))
        .expect_error(403, "ACCESS_FAILED");
    h.delete(&url, &read_only)
        .expect_error(403, "ACCESS_FAILED");
    h.put(&url, &developer, &worker_body("renamed"))
        .expect(200, "ApplicationOIDC");
    assert_eq!(h.delete(&url, &developer).status, 204);
}
