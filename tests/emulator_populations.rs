//! `/environments/{envID}/populations[/{populationID}]` and `POPULATION` scopes in role
//! assignments (PingOne: "Populations",
//! https://developer.pingidentity.com/pingone-api/platform/populations.html).

use crate::kit::{Harness, Reply};
use p1run::emulator::EmulatorOptions;
use serde_json::{Value, json};

fn id_of(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

fn populations_url(h: &Harness, environment_id: &str) -> String {
    h.api(&format!("/environments/{environment_id}/populations"))
}

#[track_caller]
fn list(h: &Harness, environment_id: &str, token: &str) -> Vec<Value> {
    h.get(&populations_url(h, environment_id), token)
        .expect_list("populations", "Population")["_embedded"]["populations"]
        .as_array()
        .unwrap()
        .clone()
}

#[track_caller]
fn create(h: &Harness, name: &str) -> Value {
    h.post(
        &populations_url(h, &h.env()),
        &h.admin,
        &json!({ "name": name, "description": format!("{name}, made by a test") }),
    )
    .expect(201, "Population")
}

#[track_caller]
fn assert_invalid(reply: &Reply, code: &str, target: &str) {
    reply.expect_error(400, "INVALID_DATA");
    let detail = reply.detail();
    assert_eq!(detail["code"], code, "{detail}");
    assert_eq!(detail["target"], target, "{detail}");
}

#[test]
fn every_environment_starts_with_its_default_population() {
    let h = Harness::with_options(EmulatorOptions {
        environments: 2,
        ..EmulatorOptions::default()
    });
    for environment in &h.info().environments {
        let populations = list(&h, &environment.id, &h.admin);
        assert_eq!(populations.len(), 1, "{populations:?}");
        let default = &populations[0];
        assert_eq!(default["name"], "Default");
        assert_eq!(default["default"], true);
        assert_eq!(default["userCount"], 0);
        assert_eq!(default["environment"]["id"], environment.id.as_str());
    }
    let first = list(&h, &h.info().environments[0].id, &h.admin);
    let second = list(&h, &h.info().environments[1].id, &h.admin);
    assert_ne!(first[0]["id"], second[0]["id"]);
}

#[test]
fn a_population_is_created_read_listed_replaced_and_deleted() {
    let h = Harness::start();
    let population = create(&h, "Staff");
    let url = format!("{}/{}", populations_url(&h, &h.env()), id_of(&population));
    assert_eq!(population["name"], "Staff");
    assert_eq!(population["default"], false);
    assert_eq!(population["_links"]["self"]["href"], url.as_str());
    assert_eq!(h.get(&url, &h.admin).expect(200, "Population"), population);
    let names: Vec<String> = list(&h, &h.env(), &h.admin)
        .iter()
        .map(|population| population["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["Default", "Staff"]);

    // PUT replaces: the description left out is gone.
    let updated = h
        .put(&url, &h.admin, &json!({ "name": "Employees" }))
        .expect(200, "Population");
    assert_eq!(updated["name"], "Employees");
    assert!(updated.get("description").is_none(), "{updated}");
    assert_eq!(updated["createdAt"], population["createdAt"]);

    assert_eq!(h.delete(&url, &h.admin).status, 204);
    h.get(&url, &h.admin).expect_error(404, "NOT_FOUND");
    h.delete(&url, &h.admin).expect_error(404, "NOT_FOUND");
    assert_eq!(list(&h, &h.env(), &h.admin).len(), 1);
}

#[test]
fn population_names_are_required_and_unique_in_the_environment() {
    let h = Harness::with_options(EmulatorOptions {
        environments: 2,
        ..EmulatorOptions::default()
    });
    let url = populations_url(&h, &h.env());
    create(&h, "Staff");
    assert_invalid(
        &h.post(&url, &h.admin, &json!({ "name": "Staff" })),
        "UNIQUENESS_VIOLATION",
        "name",
    );
    assert_invalid(
        &h.post(&url, &h.admin, &json!({ "name": "Default" })),
        "UNIQUENESS_VIOLATION",
        "name",
    );
    assert_invalid(
        &h.post(&url, &h.admin, &json!({ "description": "nameless" })),
        "REQUIRED_VALUE",
        "name",
    );
    assert_invalid(
        &h.post(&url, &h.admin, &json!({ "name": "x", "default": "yes" })),
        "INVALID_VALUE",
        "default",
    );
    let other = create(&h, "Other");
    assert_invalid(
        &h.put(
            &format!("{url}/{}", id_of(&other)),
            &h.admin,
            &json!({ "name": "Staff" }),
        ),
        "UNIQUENESS_VIOLATION",
        "name",
    );
    // Another environment may use the name.
    let second = h.info().environments[1].id.clone();
    h.post(
        &populations_url(&h, &second),
        &h.admin,
        &json!({ "name": "Staff" }),
    )
    .expect(201, "Population");
}

#[test]
fn the_default_population_cannot_be_deleted_and_the_flag_moves_to_a_new_default() {
    let h = Harness::start();
    let url = populations_url(&h, &h.env());
    let old_default = list(&h, &h.env(), &h.admin)[0].clone();
    let old_url = format!("{url}/{}", id_of(&old_default));
    let refusal = h.delete(&old_url, &h.admin);
    let body = refusal.expect_error(400, "REQUEST_FAILED");
    assert!(
        body["message"].as_str().unwrap().contains("default"),
        "{body}"
    );

    let new_default = h
        .post(&url, &h.admin, &json!({ "name": "New", "default": true }))
        .expect(201, "Population");
    assert_eq!(new_default["default"], true);
    let old = h.get(&old_url, &h.admin).expect(200, "Population");
    assert_eq!(old["default"], false);
    assert_eq!(h.delete(&old_url, &h.admin).status, 204);
    h.delete(&format!("{url}/{}", id_of(&new_default)), &h.admin)
        .expect_error(400, "REQUEST_FAILED");
}

#[test]
fn population_scopes_resolve_in_role_assignments() {
    let h = Harness::start();
    let staff = create(&h, "Staff");
    let app_id = id_of(&h.create_worker("w"));
    let assignment = h
        .assign(
            &h.admin,
            &app_id,
            "Identity Data Admin",
            "POPULATION",
            &id_of(&staff),
        )
        .expect(201, "RoleAssignment");
    assert_eq!(
        assignment["scope"],
        json!({ "id": id_of(&staff), "type": "POPULATION" })
    );
    // A population that does not exist is refused.
    let reply = h.assign(
        &h.admin,
        &app_id,
        "Help Desk Admin",
        "POPULATION",
        &uuid::Uuid::new_v4().to_string(),
    );
    assert_invalid(&reply, "INVALID_VALUE", "scope.id");
    // An environment-wide grant of the same role overlaps the population one.
    assert_invalid(
        &h.assign(
            &h.admin,
            &app_id,
            "Identity Data Admin",
            "ENVIRONMENT",
            &h.env(),
        ),
        "UNIQUENESS_VIOLATION",
        "role",
    );

    // Deleting the population takes the assignments over it along.
    let url = format!("{}/{}", populations_url(&h, &h.env()), id_of(&staff));
    assert_eq!(h.delete(&url, &h.admin).status, 204);
    let left = h
        .get(&h.apps(&format!("/{app_id}/roleAssignments")), &h.admin)
        .expect_list("roleAssignments", "RoleAssignment");
    assert_eq!(left["count"], 0);
}

#[test]
fn a_role_held_over_a_population_reaches_that_population_only() {
    let h = Harness::with_options(EmulatorOptions {
        environments: 2,
        ..EmulatorOptions::default()
    });
    let staff = create(&h, "Staff");
    let guests = create(&h, "Guests");
    let (_, token) = h.worker_with_roles(
        "population-admin",
        &[("Identity Data Admin", "POPULATION", &id_of(&staff))],
    );
    let url = populations_url(&h, &h.env());
    // It sees and changes its population, not the others.
    h.get(&format!("{url}/{}", id_of(&staff)), &token)
        .expect(200, "Population");
    h.put(
        &format!("{url}/{}", id_of(&staff)),
        &token,
        &json!({ "name": "Staff", "description": "changed by its admin" }),
    )
    .expect(200, "Population");
    h.get(&format!("{url}/{}", id_of(&guests)), &token)
        .expect_error(403, "ACCESS_FAILED");
    let visible = list(&h, &h.env(), &token);
    assert_eq!(visible.len(), 1);
    assert_eq!(visible[0]["id"], staff["id"]);
    // Nor may it create populations: that is an environment-wide right.
    h.post(&url, &token, &json!({ "name": "Mine" }))
        .expect_error(403, "ACCESS_FAILED");

    // Granting roles to an application takes a right over the application, which a
    // population's role does not give.
    let target = id_of(&h.create_worker("target"));
    h.assign(
        &token,
        &target,
        "Help Desk Admin",
        "POPULATION",
        &id_of(&staff),
    )
    .expect_error(403, "ACCESS_FAILED");
    // With that right from a custom role over the environment, it may grant what it holds
    // over its population, and nothing wider or elsewhere.
    let assigner = h
        .post(
            &h.api(&format!("/environments/{}/roles", h.env())),
            &h.admin,
            &json!({
                "name": "Application Role Assigner",
                "applicableTo": ["ENVIRONMENT"],
                "permissions": [
                    { "id": "permissions:read:applicationRoleAssignments" },
                    { "id": "permissions:create:applicationRoleAssignments" },
                ],
                "canBeAssignedBy": [{ "id": h.role_id("Environment Admin") }],
            }),
        )
        .expect(201, "CustomAdminRole");
    let worker = h.create_worker("population-admin-2");
    let worker_id = id_of(&worker);
    h.assign(
        &h.admin,
        &worker_id,
        "Identity Data Admin",
        "POPULATION",
        &id_of(&staff),
    )
    .expect(201, "RoleAssignment");
    h.post(
        &h.apps(&format!("/{worker_id}/roleAssignments")),
        &h.admin,
        &json!({ "role": { "id": id_of(&assigner) }, "scope": { "id": h.env(), "type": "ENVIRONMENT" } }),
    )
    .expect(201, "RoleAssignment");
    let token = h.token_basic(&h.env(), &worker_id, &h.secret_of(&worker_id));
    h.assign(
        &token,
        &target,
        "Help Desk Admin",
        "POPULATION",
        &id_of(&staff),
    )
    .expect(201, "RoleAssignment");
    for (kind, id) in [("ENVIRONMENT", h.env()), ("POPULATION", id_of(&guests))] {
        let reply = h.assign(&token, &target, "Identity Data Admin", kind, &id);
        reply.expect_error(403, "ACCESS_FAILED");
        assert!(
            reply.detail()["message"]
                .as_str()
                .unwrap()
                .starts_with("Must have role at the same or broader scope"),
            "{}",
            reply.text
        );
    }

    // An environment's role covers its own populations, not another environment's.
    let second = h.info().environments[1].id.clone();
    let elsewhere = h
        .post(
            &populations_url(&h, &second),
            &h.admin,
            &json!({ "name": "Elsewhere" }),
        )
        .expect(201, "Population");
    let (_, env_one_admin) = h.worker_with_roles(
        "env-one-ida",
        &[("Identity Data Admin", "ENVIRONMENT", &h.env())],
    );
    h.assign(
        &env_one_admin,
        &target,
        "Identity Data Admin",
        "POPULATION",
        &id_of(&guests),
    )
    .expect(201, "RoleAssignment");
    h.assign(
        &env_one_admin,
        &target,
        "Help Desk Admin",
        "POPULATION",
        &id_of(&elsewhere),
    )
    .expect_error(403, "ACCESS_FAILED");
}
