//! `/environments/{envID}/applications/{appID}/roleAssignments[/{id}]`: the recipe's grants and
//! every rule in the order PingOne applies them.

use crate::kit::{Harness, Reply};
use p1run::emulator::EmulatorOptions;
use serde_json::{Value, json};

fn id_of(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

#[track_caller]
fn assert_invalid_value(reply: &Reply, target: &str) {
    reply.expect_error(400, "INVALID_DATA");
    let detail = reply.detail();
    assert_eq!(detail["code"], "INVALID_VALUE", "{detail}");
    assert_eq!(detail["target"], target, "{detail}");
}

#[track_caller]
fn assert_broader_scope_needed(reply: &Reply) {
    reply.expect_error(403, "ACCESS_FAILED");
    let detail = reply.detail();
    assert_eq!(detail["code"], "INSUFFICIENT_PERMISSIONS");
    assert!(
        detail["message"]
            .as_str()
            .unwrap()
            .starts_with("Must have role at the same or broader scope"),
        "{detail}"
    );
}

#[track_caller]
fn assert_duplicate(reply: &Reply) {
    let body = reply.expect_error(400, "INVALID_DATA");
    assert_eq!(
        body["message"],
        "The request could not be completed. One or more validation errors were in the request."
    );
    let detail = reply.detail();
    assert_eq!(
        detail,
        json!({ "code": "UNIQUENESS_VIOLATION", "message": "May not assign duplicate Role", "target": "role" })
    );
}

#[test]
fn the_recipe_grants_identity_data_admin_on_the_environment_and_environment_admin_on_the_organization()
 {
    let h = Harness::start();
    let app = h.create_worker("recipe");
    let app_id = id_of(&app);
    let ida = h
        .assign(
            &h.admin,
            &app_id,
            "Identity Data Admin",
            "ENVIRONMENT",
            &h.env(),
        )
        .expect(201, "RoleAssignment");
    assert_eq!(ida["role"]["id"], h.role_id("Identity Data Admin").as_str());
    assert_eq!(
        ida["scope"],
        json!({ "id": h.env(), "type": "ENVIRONMENT" })
    );
    assert_eq!(ida["environment"]["id"], h.env().as_str());
    assert_eq!(ida["readOnly"], false);
    let self_url = h.apps(&format!("/{app_id}/roleAssignments/{}", id_of(&ida)));
    assert_eq!(ida["_links"]["self"]["href"], self_url.as_str());
    assert_eq!(
        ida["_links"]["role"]["href"],
        h.api(&format!("/roles/{}", ida["role"]["id"].as_str().unwrap()))
            .as_str()
    );
    assert_eq!(
        ida["_links"]["environment"]["href"],
        h.api(&format!("/environments/{}", h.env())).as_str()
    );

    let org = h.info().organization_id.clone();
    let env_admin = h
        .assign(&h.admin, &app_id, "Environment Admin", "ORGANIZATION", &org)
        .expect(201, "RoleAssignment");
    assert_eq!(env_admin["scope"]["type"], "ORGANIZATION");

    let list = h
        .get(&h.apps(&format!("/{app_id}/roleAssignments")), &h.admin)
        .expect_list("roleAssignments", "RoleAssignment");
    assert_eq!(list["count"], 2);
    let ids: Vec<String> = list["_embedded"]["roleAssignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(ids, vec![id_of(&ida), id_of(&env_admin)]);
    assert_eq!(
        h.get(&self_url, &h.admin).expect(200, "RoleAssignment"),
        ida
    );

    // The grants are real: the worker's next token can act on them.
    let token = h.token_basic(&h.env(), &app_id, &h.secret_of(&app_id));
    h.get(&h.api(&format!("/environments/{}", h.env())), &token)
        .expect(200, "Environment");

    assert_eq!(h.delete(&self_url, &h.admin).status, 204);
    h.get(&self_url, &h.admin).expect_error(404, "NOT_FOUND");
    h.delete(&self_url, &h.admin).expect_error(404, "NOT_FOUND");
}

#[test]
fn an_unknown_role_is_an_invalid_role() {
    let h = Harness::start();
    let app_id = id_of(&h.create_worker("w"));
    let body = json!({ "role": { "id": uuid::Uuid::new_v4().to_string() }, "scope": { "id": h.env(), "type": "ENVIRONMENT" } });
    assert_invalid_value(
        &h.post(
            &h.apps(&format!("/{app_id}/roleAssignments")),
            &h.admin,
            &body,
        ),
        "role",
    );
}

#[test]
fn a_scope_type_the_role_does_not_apply_to_is_an_invalid_scope() {
    let h = Harness::start();
    let app_id = id_of(&h.create_worker("w"));
    let org = h.info().organization_id.clone();
    assert_invalid_value(
        &h.assign(
            &h.admin,
            &app_id,
            "Identity Data Admin",
            "ORGANIZATION",
            &org,
        ),
        "scope",
    );
    assert_invalid_value(
        &h.assign(
            &h.admin,
            &app_id,
            "Organization Admin",
            "ENVIRONMENT",
            &h.env(),
        ),
        "scope",
    );
    assert_invalid_value(
        &h.assign(&h.admin, &app_id, "Application Owner", "ORGANIZATION", &org),
        "scope",
    );
    assert_invalid_value(
        &h.assign(
            &h.admin,
            &app_id,
            "Environment Admin",
            "APPLICATION",
            &app_id,
        ),
        "scope",
    );
}

#[test]
fn missing_or_malformed_fields_are_reported_by_target() {
    let h = Harness::start();
    let url = h.apps(&format!(
        "/{}/roleAssignments",
        id_of(&h.create_worker("w"))
    ));
    let reply = h.post(&url, &h.admin, &json!({}));
    let body = reply.expect_error(400, "INVALID_DATA");
    let mut targets: Vec<&str> = body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["target"].as_str().unwrap())
        .collect();
    targets.sort_unstable();
    assert_eq!(targets, ["role.id", "scope.id", "scope.type"]);
    assert!(
        body["details"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["code"] == "REQUIRED_VALUE")
    );

    let reply = h.post(&url, &h.admin, &json!({ "role": { "id": h.role_id("Identity Data Admin") }, "scope": { "id": h.env(), "type": "GALAXY" } }));
    assert_invalid_value(&reply, "scope.type");

    let reply = h.post(&url, &h.admin, &json!({ "role": { "id": h.role_id("Identity Data Admin") }, "scope": { "id": uuid::Uuid::new_v4().to_string(), "type": "ENVIRONMENT" } }));
    assert_invalid_value(&reply, "scope.id");
}

#[test]
fn a_caller_must_hold_the_role_at_the_same_or_a_broader_scope() {
    let h = Harness::with_options(EmulatorOptions {
        environments: 2,
        ..EmulatorOptions::default()
    });
    let env1 = h.env();
    let env2 = h.info().environments[1].id.clone();
    let (_, granter) =
        h.worker_with_roles("granter", &[("Identity Data Admin", "ENVIRONMENT", &env1)]);
    let target = id_of(&h.create_worker("target"));

    assert_broader_scope_needed(&h.assign(
        &granter,
        &target,
        "Identity Data Admin",
        "ENVIRONMENT",
        &env2,
    ));
    assert_broader_scope_needed(&h.assign(
        &granter,
        &target,
        "Environment Admin",
        "ENVIRONMENT",
        &env1,
    ));
    h.assign(
        &granter,
        &target,
        "Identity Data Admin",
        "ENVIRONMENT",
        &env1,
    )
    .expect(201, "RoleAssignment");
    // The read-only variant of a held role may be granted without holding it.
    h.assign(
        &granter,
        &target,
        "Identity Data Read Only",
        "ENVIRONMENT",
        &env1,
    )
    .expect(201, "RoleAssignment");
}

#[test]
fn holding_a_role_is_not_enough_without_a_role_that_can_assign_it() {
    let h = Harness::start();
    let env = h.env();
    let (_, granter) = h.worker_with_roles(
        "granter",
        &[
            ("Identity Data Admin", "ENVIRONMENT", &env),
            ("Client Application Developer", "ENVIRONMENT", &env),
        ],
    );
    let target = id_of(&h.create_worker("target"));
    let reply = h.assign(
        &granter,
        &target,
        "Client Application Developer",
        "ENVIRONMENT",
        &env,
    );
    reply.expect_error(403, "ACCESS_FAILED");
    assert_eq!(
        reply.detail()["message"],
        "The actor attempting to perform the request is not authorized."
    );
}

#[test]
fn a_caller_without_an_assigning_role_cannot_manage_assignments_but_may_read_them() {
    let h = Harness::start();
    let env = h.env();
    let (_, developer) = h.worker_with_roles(
        "developer",
        &[("Client Application Developer", "ENVIRONMENT", &env)],
    );
    let target = id_of(&h.create_worker("target"));
    h.assign(
        &developer,
        &target,
        "Client Application Developer",
        "ENVIRONMENT",
        &env,
    )
    .expect_error(403, "ACCESS_FAILED");
    h.get(&h.apps(&format!("/{target}/roleAssignments")), &developer)
        .expect_list("roleAssignments", "RoleAssignment");
}

#[test]
fn duplicates_and_overlaps_are_uniqueness_violations() {
    let h = Harness::start();
    let app_id = id_of(&h.create_worker("w"));
    let org = h.info().organization_id.clone();
    h.assign(
        &h.admin,
        &app_id,
        "Identity Data Admin",
        "ENVIRONMENT",
        &h.env(),
    )
    .expect(201, "RoleAssignment");
    assert_duplicate(&h.assign(
        &h.admin,
        &app_id,
        "Identity Data Admin",
        "ENVIRONMENT",
        &h.env(),
    ));
    h.assign(&h.admin, &app_id, "Environment Admin", "ORGANIZATION", &org)
        .expect(201, "RoleAssignment");
    assert_duplicate(&h.assign(
        &h.admin,
        &app_id,
        "Environment Admin",
        "ENVIRONMENT",
        &h.env(),
    ));
}

#[test]
fn an_inherited_role_makes_the_recipes_explicit_grant_a_duplicate() {
    let h = Harness::start();
    let mut body = crate::kit::worker_body("inherits");
    body.as_object_mut().unwrap().remove("assignActorRoles");
    let app_id = id_of(&h.create_app(&h.admin, &body));
    assert_duplicate(&h.assign(
        &h.admin,
        &app_id,
        "Identity Data Admin",
        "ENVIRONMENT",
        &h.env(),
    ));
}

#[test]
fn the_checks_run_in_pingones_order() {
    let h = Harness::start();
    let env = h.env();
    let org = h.info().organization_id.clone();
    let (_, granter) =
        h.worker_with_roles("granter", &[("Identity Data Admin", "ENVIRONMENT", &env)]);
    let target = id_of(&h.create_worker("target"));
    h.assign(&h.admin, &target, "Environment Admin", "ORGANIZATION", &org)
        .expect(201, "RoleAssignment");

    // An unknown role with a wrong scope type: the role is checked first.
    let body = json!({ "role": { "id": uuid::Uuid::new_v4().to_string() }, "scope": { "id": org, "type": "ORGANIZATION" } });
    assert_invalid_value(
        &h.post(
            &h.apps(&format!("/{target}/roleAssignments")),
            &granter,
            &body,
        ),
        "role",
    );
    // A scope the role does not apply to, by a caller who lacks the role: the scope comes first.
    assert_invalid_value(
        &h.assign(&granter, &target, "Organization Admin", "ENVIRONMENT", &env),
        "scope",
    );
    // A duplicate by a caller who lacks the role: permission comes before uniqueness.
    assert_broader_scope_needed(&h.assign(
        &granter,
        &target,
        "Environment Admin",
        "ORGANIZATION",
        &org,
    ));
}

#[test]
fn an_assignment_the_caller_could_not_make_is_read_only_to_it() {
    let h = Harness::start();
    let env = h.env();
    let org = h.info().organization_id.clone();
    let (_, granter) =
        h.worker_with_roles("granter", &[("Identity Data Admin", "ENVIRONMENT", &env)]);
    let target = id_of(&h.create_worker("target"));
    let mighty = h
        .assign(&h.admin, &target, "Environment Admin", "ORGANIZATION", &org)
        .expect(201, "RoleAssignment");
    let modest = h
        .assign(
            &granter,
            &target,
            "Identity Data Admin",
            "ENVIRONMENT",
            &env,
        )
        .expect(201, "RoleAssignment");

    let url =
        |assignment: &Value| h.apps(&format!("/{target}/roleAssignments/{}", id_of(assignment)));
    assert_eq!(
        h.get(&url(&mighty), &granter).expect(200, "RoleAssignment")["readOnly"],
        true
    );
    assert_eq!(
        h.get(&url(&mighty), &h.admin).expect(200, "RoleAssignment")["readOnly"],
        false
    );
    let refused = h.delete(&url(&mighty), &granter);
    let body = refused.expect_error(400, "REQUEST_FAILED");
    assert_eq!(
        body["message"],
        format!(
            "Role assignment {} cannot be deleted as it is read only",
            id_of(&mighty)
        )
    );
    assert_eq!(h.delete(&url(&modest), &granter).status, 204);
}

#[test]
fn davinci_roles_cannot_be_granted_to_a_worker() {
    let h = Harness::start();
    let app_id = id_of(&h.create_worker("w"));
    assert_invalid_value(
        &h.assign(&h.admin, &app_id, "DaVinci Admin", "ENVIRONMENT", &h.env()),
        "role",
    );
}

#[test]
fn an_application_owner_sees_and_manages_only_its_application() {
    let h = Harness::start();
    let owned = id_of(&h.create_worker("owned"));
    let other = id_of(&h.create_worker("other"));
    let owner = id_of(&h.create_worker("owner"));
    h.assign(&h.admin, &owner, "Application Owner", "APPLICATION", &owned)
        .expect(201, "RoleAssignment");
    let token = h.token_basic(&h.env(), &owner, &h.secret_of(&owner));

    h.get(&h.apps(&format!("/{owned}")), &token)
        .expect(200, "ApplicationOIDC");
    h.get(&h.apps(&format!("/{other}")), &token)
        .expect_error(403, "ACCESS_FAILED");
    let list = h
        .get(&h.apps(""), &token)
        .expect_list("applications", "ApplicationOIDC");
    let ids: Vec<String> = list["_embedded"]["applications"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(ids, vec![owned.clone()]);
    h.post(&h.apps(""), &token, &crate::kit::worker_body("x"))
        .expect_error(403, "ACCESS_FAILED");

    // Deleting the application takes the roles held over it along.
    assert_eq!(
        h.delete(&h.apps(&format!("/{owned}")), &h.admin).status,
        204
    );
    let left = h
        .get(&h.apps(&format!("/{owner}/roleAssignments")), &h.admin)
        .expect_list("roleAssignments", "RoleAssignment");
    assert_eq!(left["count"], 0);
}

#[test]
fn role_assignments_page_by_cursor() {
    let h = Harness::with_options(EmulatorOptions {
        environments: 3,
        ..EmulatorOptions::default()
    });
    let bootstrap = h.info().client_id.clone();
    let mut url = h.apps(&format!("/{bootstrap}/roleAssignments?limit=3"));
    let mut seen = Vec::new();
    loop {
        let page = h
            .get(&url, &h.admin)
            .expect_list("roleAssignments", "RoleAssignment");
        assert_eq!(
            page["count"], 8,
            "Org Admin + Env Admin at the org, IDA + CAD on each of 3 environments"
        );
        seen.extend(
            page["_embedded"]["roleAssignments"]
                .as_array()
                .unwrap()
                .iter()
                .map(id_of),
        );
        match page["_links"]["next"]["href"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    let unique: std::collections::HashSet<&String> = seen.iter().collect();
    assert_eq!((seen.len(), unique.len()), (8, 8));
}
