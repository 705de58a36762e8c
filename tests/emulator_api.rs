//! The catalog endpoints: environments, organizations and the built-in roles.

use crate::kit::{Harness, spec};
use p1run::emulator::EmulatorOptions;
use serde_json::Value;
use std::collections::HashMap;

const ROLE_NAMES: [&str; 19] = [
    "Authorize Gateway Policy Evaluator",
    "Advanced Identity Cloud Super Admin",
    "Advanced Identity Cloud Tenant Admin",
    "Application Owner",
    "Client Application Developer",
    "Configuration Read Only",
    "Custom Roles Admin",
    "DaVinci Admin Read Only",
    "DaVinci Admin",
    "Environment Admin",
    "Help Desk Admin",
    "Identity Data Admin",
    "Identity Data Read Only",
    "Organization Admin",
    "PingFederate Administrator",
    "PingFederate Auditor",
    "PingFederate Crypto Administrator",
    "PingFederate Expression Administrator",
    "PingFederate User Administrator",
];

fn roles_by_name(h: &Harness) -> HashMap<String, Value> {
    let list = h
        .get(&h.api("/roles"), &h.admin)
        .expect_list("roles", "Role");
    list["_embedded"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|role| (role["name"].as_str().unwrap().to_owned(), role.clone()))
        .collect()
}

#[test]
fn an_environment_names_its_organization_region_and_type() {
    let h = Harness::start();
    let url = h.api(&format!("/environments/{}", h.env()));
    let environment = h.get(&url, &h.admin).expect(200, "Environment");
    // The official spec's stricter response schema holds too (uuid ids, required dates).
    spec().validate(
        "com.pingidentity.pingone.orgmgt.environments.data.Environment",
        &environment,
    );
    assert_eq!(environment["id"], h.env().as_str());
    assert_eq!(environment["name"], "env-1");
    assert_eq!(environment["region"], "NA");
    assert_eq!(environment["type"], "SANDBOX");
    assert_eq!(
        environment["organization"]["id"],
        h.info().organization_id.as_str()
    );
    assert_eq!(environment["_links"]["self"]["href"], url.as_str());
    h.get(
        &h.api(&format!("/environments/{}", uuid::Uuid::new_v4())),
        &h.admin,
    )
    .expect_error(404, "NOT_FOUND");
}

#[test]
fn every_seeded_environment_is_named_in_order_and_readable_by_the_bootstrap_worker() {
    let h = Harness::with_options(EmulatorOptions {
        environments: 3,
        ..EmulatorOptions::default()
    });
    let names: Vec<&str> = h
        .info()
        .environments
        .iter()
        .map(|environment| environment.name.as_str())
        .collect();
    assert_eq!(names, ["env-1", "env-2", "env-3"]);
    assert_eq!(h.info().environments[0].id, h.info().environment_id);
    for environment in &h.info().environments {
        let body = h
            .get(
                &h.api(&format!("/environments/{}", environment.id)),
                &h.admin,
            )
            .expect(200, "Environment");
        assert_eq!(body["name"], environment.name.as_str());
    }
}

#[test]
fn the_one_organization_is_listed_and_readable() {
    let h = Harness::start();
    let list = h
        .get(&h.api("/organizations"), &h.admin)
        .expect_list("organizations", "Organization");
    assert_eq!(list["count"], 1);
    let organization = &list["_embedded"]["organizations"][0];
    assert_eq!(organization["id"], h.info().organization_id.as_str());
    let url = organization["_links"]["self"]["href"].as_str().unwrap();
    assert_eq!(
        &h.get(url, &h.admin).expect(200, "Organization"),
        organization
    );
    h.get(
        &h.api(&format!("/organizations/{}", uuid::Uuid::new_v4())),
        &h.admin,
    )
    .expect_error(404, "NOT_FOUND");
}

#[test]
fn the_nineteen_built_in_roles_are_listed_under_their_api_names() {
    let h = Harness::start();
    let roles = roles_by_name(&h);
    let mut names: Vec<&str> = roles.keys().map(String::as_str).collect();
    names.sort_unstable();
    let mut expected = ROLE_NAMES;
    expected.sort_unstable();
    assert_eq!(names, expected);
    for role in roles.values() {
        assert!(!role["description"].as_str().unwrap().is_empty());
        let permissions = role["permissions"].as_array().unwrap();
        assert!(!permissions.is_empty());
        for permission in permissions {
            for field in ["id", "classifier", "description"] {
                assert!(
                    !permission[field].as_str().unwrap().is_empty(),
                    "{permission}"
                );
            }
        }
        let url = role["_links"]["self"]["href"].as_str().unwrap();
        assert_eq!(&h.get(url, &h.admin).expect(200, "Role"), role);
    }
}

#[test]
fn roles_apply_to_the_scopes_observed_on_the_live_api() {
    let h = Harness::start();
    let roles = roles_by_name(&h);
    let applicable = |name: &str| -> Vec<String> {
        let mut scopes: Vec<String> = roles[name]["applicableTo"]
            .as_array()
            .unwrap()
            .iter()
            .map(|scope| scope.as_str().unwrap().to_owned())
            .collect();
        scopes.sort();
        scopes
    };
    assert_eq!(applicable("Organization Admin"), ["ORGANIZATION"]);
    assert_eq!(
        applicable("Environment Admin"),
        ["ENVIRONMENT", "ORGANIZATION"]
    );
    assert_eq!(
        applicable("Identity Data Admin"),
        ["ENVIRONMENT", "POPULATION"]
    );
    assert_eq!(
        applicable("Application Owner"),
        ["APPLICATION", "ENVIRONMENT"]
    );
    for name in [
        "Identity Data Read Only",
        "Client Application Developer",
        "Configuration Read Only",
    ] {
        assert!(
            applicable(name).contains(&"ENVIRONMENT".to_owned()),
            "{name}"
        );
    }
}

#[test]
fn role_ids_are_random_per_emulator() {
    let first = Harness::start();
    let second = Harness::start();
    let id = first.role_id("Environment Admin");
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    assert_ne!(id, second.role_id("Environment Admin"));
    first
        .get(
            &first.api(&format!("/roles/{}", uuid::Uuid::new_v4())),
            &first.admin,
        )
        .expect_error(404, "NOT_FOUND");
}

#[test]
fn roles_page_by_cursor_when_a_limit_is_asked() {
    let h = Harness::start();
    let mut url = h.api("/roles?limit=5");
    let mut names = Vec::new();
    loop {
        let page = h.get(&url, &h.admin).expect_list("roles", "Role");
        assert_eq!(page["count"], 19);
        names.extend(
            page["_embedded"]["roles"]
                .as_array()
                .unwrap()
                .iter()
                .map(|role| role["name"].as_str().unwrap().to_owned()),
        );
        match page["_links"]["next"]["href"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(names.len(), 19);
}

#[test]
fn a_worker_without_roles_may_read_neither_roles_nor_organizations() {
    let h = Harness::start();
    let (_, token) = h.worker_with_roles("roleless", &[]);
    h.get(&h.api("/roles"), &token)
        .expect_error(403, "ACCESS_FAILED");
    h.get(&h.api("/organizations"), &token)
        .expect_error(403, "ACCESS_FAILED");
}
