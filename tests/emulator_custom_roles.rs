//! `/environments/{envID}/roles[/{customRoleID}]`: custom admin roles, their validation, who
//! may write them, and how assigning and holding them works (PingOne: "Custom Admin Roles",
//! https://developer.pingidentity.com/pingone-api/platform/roles/custom-roles.html).

use crate::kit::{Harness, Reply, worker_body};
use p1run::emulator::EmulatorOptions;
use serde_json::{Value, json};

fn id_of(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

fn roles_url(h: &Harness, environment_id: &str) -> String {
    h.api(&format!("/environments/{environment_id}/roles"))
}

fn two_environments() -> (Harness, String) {
    let h = Harness::with_options(EmulatorOptions {
        environments: 2,
        ..EmulatorOptions::default()
    });
    let second = h.info().environments[1].id.clone();
    (h, second)
}

/// A `CustomAdminRole` body.
fn role_body(
    name: &str,
    permissions: &[String],
    applicable_to: &[&str],
    assigners: &[String],
) -> Value {
    json!({
        "name": name,
        "description": format!("{name}, made by a test"),
        "applicableTo": applicable_to,
        "permissions": permissions.iter().map(|id| json!({ "id": id })).collect::<Vec<_>>(),
        "canBeAssignedBy": assigners.iter().map(|id| json!({ "id": id })).collect::<Vec<_>>(),
    })
}

/// The environment's role list, validated item by item as `CustomAdminRole`s.
#[track_caller]
fn list_roles(h: &Harness, environment_id: &str, token: &str) -> Vec<Value> {
    h.get(&roles_url(h, environment_id), token)
        .expect_list("roles", "CustomAdminRole")["_embedded"]["roles"]
        .as_array()
        .unwrap()
        .clone()
}

/// The permission ids of a role as the environment's list shows them.
#[track_caller]
fn permissions_of(h: &Harness, role_name: &str) -> Vec<String> {
    let roles = list_roles(h, &h.env(), &h.admin);
    let role = roles
        .iter()
        .find(|role| role["name"] == role_name)
        .unwrap_or_else(|| panic!("no role {role_name}"));
    role["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|permission| permission["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Environment Admin's and Identity Data Admin's permissions together: the Authorize worker's
/// "custom role with equivalent permissions".
fn authorize_worker_permissions(h: &Harness) -> Vec<String> {
    let mut permissions = permissions_of(h, "Environment Admin");
    for permission in permissions_of(h, "Identity Data Admin") {
        if !permissions.contains(&permission) {
            permissions.push(permission);
        }
    }
    permissions
}

#[track_caller]
fn create_role(h: &Harness, environment_id: &str, token: &str, body: &Value) -> Value {
    h.post(&roles_url(h, environment_id), token, body)
        .expect(201, "CustomAdminRole")
}

/// Grants `role_id` over a scope to an application of `environment_id`.
fn grant(
    h: &Harness,
    token: &str,
    environment_id: &str,
    app_id: &str,
    role_id: &str,
    scope: (&str, &str),
) -> Reply {
    h.post(
        &h.api(&format!(
            "/environments/{environment_id}/applications/{app_id}/roleAssignments"
        )),
        token,
        &json!({ "role": { "id": role_id }, "scope": { "type": scope.0, "id": scope.1 } }),
    )
}

/// A worker of `environment_id` with no roles, and the way to get its token later.
#[track_caller]
fn worker_in(h: &Harness, environment_id: &str, name: &str) -> (String, String) {
    let apps = h.api(&format!("/environments/{environment_id}/applications"));
    let app = h
        .post(&apps, &h.admin, &worker_body(name))
        .expect(201, "ApplicationOIDC");
    let id = id_of(&app);
    let secret = h
        .get(&format!("{apps}/{id}/secret"), &h.admin)
        .expect(200, "ApplicationSecret")["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    (id, secret)
}

#[track_caller]
fn token_of(h: &Harness, environment_id: &str, worker: &(String, String)) -> String {
    h.token_basic(environment_id, &worker.0, &worker.1)
}

#[track_caller]
fn assert_invalid(reply: &Reply, code: &str, target: &str) -> Value {
    reply.expect_error(400, "INVALID_DATA");
    let detail = reply.detail();
    assert_eq!(detail["code"], code, "{detail}");
    assert_eq!(detail["target"], target, "{detail}");
    detail
}

#[track_caller]
fn assert_broader_scope_needed(reply: &Reply) {
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

#[test]
fn a_custom_role_is_created_read_listed_after_the_built_in_roles_replaced_and_deleted() {
    let h = Harness::start();
    let env = h.env();
    let permissions = authorize_worker_permissions(&h);
    let env_admin = h.role_id("Environment Admin");
    let body = role_body(
        "Authorize Worker",
        &permissions,
        &["ENVIRONMENT"],
        std::slice::from_ref(&env_admin),
    );
    let role = create_role(&h, &env, &h.admin, &body);
    let role_id = id_of(&role);
    assert_eq!(role["type"], "CUSTOM");
    assert_eq!(role["name"], "Authorize Worker");
    assert_eq!(role["environment"]["id"], env.as_str());
    assert_eq!(role["applicableTo"], json!(["ENVIRONMENT"]));
    assert_eq!(role["canBeAssignedBy"], json!([{ "id": env_admin }]));
    let got: Vec<&str> = role["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|permission| permission["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, permissions);
    let self_url = format!("{}/{role_id}", roles_url(&h, &env));
    assert_eq!(role["_links"]["self"]["href"], self_url.as_str());
    assert_eq!(
        h.get(&self_url, &h.admin).expect(200, "CustomAdminRole"),
        role
    );

    // The list: the 19 built-in roles (with their permissions), then the custom one.
    let roles = list_roles(&h, &env, &h.admin);
    assert_eq!(roles.len(), 20);
    assert!(
        roles[..19].iter().all(|role| role["type"] == "PLATFORM"
            && !role["permissions"].as_array().unwrap().is_empty())
    );
    assert_eq!(roles[19], role);
    let built_in = h
        .get(&h.api(&format!("/roles/{env_admin}")), &h.admin)
        .expect(200, "Role");
    let listed = roles
        .iter()
        .find(|role| role["id"] == env_admin.as_str())
        .unwrap();
    assert_eq!(listed["permissions"], built_in["permissions"]);
    // Environment Admin's holders may assign the new role: it is in its `canAssign`.
    assert!(
        listed["canAssign"]
            .as_array()
            .unwrap()
            .contains(&json!({ "id": role_id }))
    );

    // PUT replaces the whole role.
    let mut changed = role_body(
        "Authorize Worker v2",
        &permissions[..3],
        &["ENVIRONMENT", "POPULATION"],
        &[],
    );
    changed["description"] = json!("narrower");
    let updated = h
        .put(&self_url, &h.admin, &changed)
        .expect(200, "CustomAdminRole");
    assert_eq!(updated["id"], role_id.as_str());
    assert_eq!(updated["name"], "Authorize Worker v2");
    assert_eq!(updated["description"], "narrower");
    assert_eq!(updated["permissions"].as_array().unwrap().len(), 3);
    assert_eq!(updated["canBeAssignedBy"], json!([]));
    assert_eq!(
        h.get(&self_url, &h.admin).expect(200, "CustomAdminRole"),
        updated
    );

    assert_eq!(h.delete(&self_url, &h.admin).status, 204);
    h.get(&self_url, &h.admin).expect_error(404, "NOT_FOUND");
    h.delete(&self_url, &h.admin).expect_error(404, "NOT_FOUND");
    assert_eq!(list_roles(&h, &env, &h.admin).len(), 19);
}

#[test]
fn a_custom_role_belongs_to_its_environment() {
    let (h, second) = two_environments();
    let permissions = permissions_of(&h, "Identity Data Admin");
    let role = create_role(
        &h,
        &second,
        &h.admin,
        &role_body("Env Two Role", &permissions, &["ENVIRONMENT"], &[]),
    );
    assert_eq!(role["environment"]["id"], second.as_str());
    let elsewhere = format!("{}/{}", roles_url(&h, &h.env()), id_of(&role));
    h.get(&elsewhere, &h.admin).expect_error(404, "NOT_FOUND");
    assert_eq!(list_roles(&h, &h.env(), &h.admin).len(), 19);
    // The same name may be used in another environment.
    create_role(
        &h,
        &h.env(),
        &h.admin,
        &role_body("Env Two Role", &permissions, &["ENVIRONMENT"], &[]),
    );
    h.get(&roles_url(&h, "no-such-environment"), &h.admin)
        .expect_error(404, "NOT_FOUND");
}

#[test]
fn invalid_custom_roles_are_refused_with_the_field_at_fault() {
    let h = Harness::start();
    let env = h.env();
    let url = roles_url(&h, &env);
    let permissions = permissions_of(&h, "Identity Data Admin");
    let env_admin = h.role_id("Environment Admin");

    // An unknown permission.
    let mut unknown = permissions.clone();
    unknown.push("made:up:permission".to_owned());
    let detail = assert_invalid(
        &h.post(
            &url,
            &h.admin,
            &role_body("R", &unknown, &["ENVIRONMENT"], &[]),
        ),
        "INVALID_VALUE",
        "permissions",
    );
    assert!(
        detail["message"]
            .as_str()
            .unwrap()
            .contains("made:up:permission")
    );
    // No permissions at all, and the field left out.
    assert_invalid(
        &h.post(&url, &h.admin, &role_body("R", &[], &["ENVIRONMENT"], &[])),
        "INVALID_VALUE",
        "permissions",
    );
    let mut missing = role_body("R", &permissions, &["ENVIRONMENT"], &[]);
    missing.as_object_mut().unwrap().remove("permissions");
    assert_invalid(
        &h.post(&url, &h.admin, &missing),
        "REQUIRED_VALUE",
        "permissions",
    );
    // A scope type that does not exist, and none.
    assert_invalid(
        &h.post(
            &url,
            &h.admin,
            &role_body("R", &permissions, &["GALAXY"], &[]),
        ),
        "INVALID_VALUE",
        "applicableTo",
    );
    assert_invalid(
        &h.post(&url, &h.admin, &role_body("R", &permissions, &[], &[])),
        "INVALID_VALUE",
        "applicableTo",
    );
    // An assigner role that does not exist.
    assert_invalid(
        &h.post(
            &url,
            &h.admin,
            &role_body(
                "R",
                &permissions,
                &["ENVIRONMENT"],
                &["no-such-role".to_owned()],
            ),
        ),
        "INVALID_VALUE",
        "canBeAssignedBy",
    );
    // No name.
    let mut nameless = role_body("R", &permissions, &["ENVIRONMENT"], &[]);
    nameless.as_object_mut().unwrap().remove("name");
    assert_invalid(&h.post(&url, &h.admin, &nameless), "REQUIRED_VALUE", "name");

    // Names are unique in the environment, built-in names included.
    create_role(
        &h,
        &env,
        &h.admin,
        &role_body(
            "Taken",
            &permissions,
            &["ENVIRONMENT"],
            std::slice::from_ref(&env_admin),
        ),
    );
    let detail = assert_invalid(
        &h.post(
            &url,
            &h.admin,
            &role_body("Taken", &permissions, &["ENVIRONMENT"], &[]),
        ),
        "UNIQUENESS_VIOLATION",
        "name",
    );
    assert!(
        detail["message"].as_str().unwrap().contains("Taken"),
        "{detail}"
    );
    assert_invalid(
        &h.post(
            &url,
            &h.admin,
            &role_body("Environment Admin", &permissions, &["ENVIRONMENT"], &[]),
        ),
        "UNIQUENESS_VIOLATION",
        "name",
    );
    // Renaming another role onto a taken name is refused too.
    let other = create_role(
        &h,
        &env,
        &h.admin,
        &role_body("Other", &permissions, &["ENVIRONMENT"], &[]),
    );
    assert_invalid(
        &h.put(
            &format!("{url}/{}", id_of(&other)),
            &h.admin,
            &role_body("Taken", &permissions, &["ENVIRONMENT"], &[]),
        ),
        "UNIQUENESS_VIOLATION",
        "name",
    );
    // Only the two valid roles were made.
    assert_eq!(list_roles(&h, &env, &h.admin).len(), 21);
}

#[test]
fn built_in_roles_cannot_be_changed_through_the_environment() {
    let h = Harness::start();
    let env_admin = h.role_id("Environment Admin");
    let url = format!("{}/{env_admin}", roles_url(&h, &h.env()));
    let shown = h.get(&url, &h.admin).expect(200, "CustomAdminRole");
    assert_eq!(shown["type"], "PLATFORM");
    assert_eq!(shown["name"], "Environment Admin");
    let permissions = permissions_of(&h, "Environment Admin");
    h.put(
        &url,
        &h.admin,
        &role_body("Environment Admin", &permissions, &["ENVIRONMENT"], &[]),
    )
    .expect_error(400, "REQUEST_FAILED");
    h.delete(&url, &h.admin).expect_error(400, "REQUEST_FAILED");
}

#[test]
fn writing_custom_roles_needs_the_custom_roles_permissions() {
    let h = Harness::start();
    let env = h.env();
    let permissions = permissions_of(&h, "Identity Data Admin");
    let body = role_body("Made by a worker", &permissions, &["ENVIRONMENT"], &[]);
    // Environment Admin reads custom roles but may not write them.
    let (_, env_admin) =
        h.worker_with_roles("env-admin", &[("Environment Admin", "ENVIRONMENT", &env)]);
    assert_eq!(list_roles(&h, &env, &env_admin).len(), 19);
    let denied = h.post(&roles_url(&h, &env), &env_admin, &body);
    denied.expect_error(403, "ACCESS_FAILED");
    // A role without custom-roles permissions may not even read them.
    let (_, developer) = h.worker_with_roles(
        "developer",
        &[("Client Application Developer", "ENVIRONMENT", &env)],
    );
    h.get(&roles_url(&h, &env), &developer)
        .expect_error(403, "ACCESS_FAILED");
    // Custom Roles Admin may create, update and delete.
    let (_, custom_admin) = h.worker_with_roles(
        "custom-roles-admin",
        &[("Custom Roles Admin", "ENVIRONMENT", &env)],
    );
    let role = create_role(&h, &env, &custom_admin, &body);
    let url = format!("{}/{}", roles_url(&h, &env), id_of(&role));
    h.put(&url, &env_admin, &body)
        .expect_error(403, "ACCESS_FAILED");
    h.delete(&url, &env_admin)
        .expect_error(403, "ACCESS_FAILED");
    h.put(&url, &custom_admin, &body)
        .expect(200, "CustomAdminRole");
    assert_eq!(h.delete(&url, &custom_admin).status, 204);
}

#[test]
fn a_worker_holding_a_custom_role_may_do_what_its_permissions_allow_within_the_scope() {
    let (h, second) = two_environments();
    let env = h.env();
    let role = create_role(
        &h,
        &env,
        &h.admin,
        &role_body(
            "Authorize Worker",
            &authorize_worker_permissions(&h),
            &["ENVIRONMENT"],
            &[h.role_id("Environment Admin")],
        ),
    );
    let worker = worker_in(&h, &env, "custom-role-holder");
    let assignment = grant(
        &h,
        &h.admin,
        &env,
        &worker.0,
        &id_of(&role),
        ("ENVIRONMENT", &env),
    )
    .expect(201, "RoleAssignment");
    assert_eq!(
        assignment["_links"]["role"]["href"],
        format!("{}/{}", roles_url(&h, &env), id_of(&role)).as_str()
    );
    let token = token_of(&h, &env, &worker);
    // Environment Admin's permissions: read the environment, create and read applications.
    h.get(&h.api(&format!("/environments/{env}")), &token)
        .expect(200, "Environment");
    let app = h.create_app(&token, &worker_body("made-by-custom-role"));
    h.get(&h.apps(&format!("/{}", id_of(&app))), &token)
        .expect(200, "ApplicationOIDC");
    // Identity Data Admin's: populations.
    h.get(&h.api(&format!("/environments/{env}/populations")), &token)
        .expect_list("populations", "Population");
    // Only within the scope: the other environment is out of reach.
    h.get(&h.api(&format!("/environments/{second}")), &token)
        .expect_error(403, "ACCESS_FAILED");
    h.post(
        &h.api(&format!("/environments/{second}/applications")),
        &token,
        &worker_body("elsewhere"),
    )
    .expect_error(403, "ACCESS_FAILED");
    // Nor may it write custom roles: those permissions are not in it.
    h.post(
        &roles_url(&h, &env),
        &token,
        &role_body(
            "Escalated",
            &permissions_of(&h, "Organization Admin"),
            &["ENVIRONMENT"],
            &[],
        ),
    )
    .expect_error(403, "ACCESS_FAILED");
}

#[test]
fn a_custom_role_is_assigned_by_its_own_holders_or_by_the_roles_named_in_can_be_assigned_by() {
    let (h, second) = two_environments();
    let env = h.env();
    let org = h.info().organization_id.clone();
    let ida = h.role_id("Identity Data Admin");
    // Reading identities, and granting roles to applications (so that a holder can assign).
    let mut permissions = permissions_of(&h, "Identity Data Read Only");
    permissions.push("permissions:read:applicationRoleAssignments".to_owned());
    permissions.push("permissions:create:applicationRoleAssignments".to_owned());
    let support = create_role(
        &h,
        &env,
        &h.admin,
        &role_body(
            "Support",
            &permissions,
            &["ORGANIZATION", "ENVIRONMENT"],
            std::slice::from_ref(&ida),
        ),
    );
    let support_id = id_of(&support);

    // The bootstrap admin holds Identity Data Admin over the environment: it may assign.
    let holder = worker_in(&h, &env, "holder");
    grant(
        &h,
        &h.admin,
        &env,
        &holder.0,
        &support_id,
        ("ENVIRONMENT", &env),
    )
    .expect(201, "RoleAssignment");
    // ... but not over the organization, where it holds no Identity Data Admin.
    let target = worker_in(&h, &env, "target");
    assert_broader_scope_needed(&grant(
        &h,
        &h.admin,
        &env,
        &target.0,
        &support_id,
        ("ORGANIZATION", &org),
    ));

    // A holder of the same role (and of nothing else) may assign it at the same scope, not at
    // a broader one.
    let holder_token = token_of(&h, &env, &holder);
    assert_broader_scope_needed(&grant(
        &h,
        &holder_token,
        &env,
        &target.0,
        &support_id,
        ("ORGANIZATION", &org),
    ));
    grant(
        &h,
        &holder_token,
        &env,
        &target.0,
        &support_id,
        ("ENVIRONMENT", &env),
    )
    .expect(201, "RoleAssignment");

    // A role neither held nor named in canBeAssignedBy does not entitle, even with more
    // permissions: Environment Admin over the organization cannot assign a role that names
    // only Identity Data Admin.
    let strict = create_role(
        &h,
        &env,
        &h.admin,
        &role_body("Strict", &permissions, &["ENVIRONMENT"], &[]),
    );
    let (_, env_admin) = h.worker_with_roles(
        "org-env-admin",
        &[("Environment Admin", "ORGANIZATION", &org)],
    );
    let other = worker_in(&h, &env, "other");
    assert_broader_scope_needed(&grant(
        &h,
        &env_admin,
        &env,
        &other.0,
        &id_of(&strict),
        ("ENVIRONMENT", &env),
    ));
    assert_broader_scope_needed(&grant(
        &h,
        &env_admin,
        &env,
        &other.0,
        &support_id,
        ("ENVIRONMENT", &env),
    ));

    // Holding a named role over another environment does not reach this one.
    let ida_elsewhere = {
        let worker = worker_in(&h, &env, "ida-elsewhere");
        grant(
            &h,
            &h.admin,
            &env,
            &worker.0,
            &ida,
            ("ENVIRONMENT", &second),
        )
        .expect(201, "RoleAssignment");
        token_of(&h, &env, &worker)
    };
    let over_there = worker_in(&h, &second, "over-there");
    assert_broader_scope_needed(&grant(
        &h,
        &ida_elsewhere,
        &second,
        &over_there.0,
        &support_id,
        ("ENVIRONMENT", &env),
    ));
    grant(
        &h,
        &ida_elsewhere,
        &second,
        &over_there.0,
        &support_id,
        ("ENVIRONMENT", &second),
    )
    .expect(201, "RoleAssignment");

    // The same grant twice is a duplicate, as for built-in roles.
    let duplicate = grant(
        &h,
        &h.admin,
        &env,
        &holder.0,
        &support_id,
        ("ENVIRONMENT", &env),
    );
    assert_invalid(&duplicate, "UNIQUENESS_VIOLATION", "role");
}

#[test]
fn a_custom_role_is_assigned_only_at_the_scope_types_it_applies_to() {
    let h = Harness::start();
    let env = h.env();
    let org = h.info().organization_id.clone();
    let role = create_role(
        &h,
        &env,
        &h.admin,
        &role_body(
            "Environment Only",
            &permissions_of(&h, "Identity Data Read Only"),
            &["ENVIRONMENT"],
            &[h.role_id("Environment Admin")],
        ),
    );
    let worker = worker_in(&h, &env, "w");
    let detail = assert_invalid(
        &grant(
            &h,
            &h.admin,
            &env,
            &worker.0,
            &id_of(&role),
            ("ORGANIZATION", &org),
        ),
        "INVALID_VALUE",
        "scope",
    );
    assert_eq!(
        detail["innerError"]["allowedValues"],
        json!(["ENVIRONMENT"])
    );
    let default_population = h
        .get(
            &h.api(&format!("/environments/{env}/populations")),
            &h.admin,
        )
        .expect_list("populations", "Population")["_embedded"]["populations"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_invalid(
        &grant(
            &h,
            &h.admin,
            &env,
            &worker.0,
            &id_of(&role),
            ("POPULATION", &default_population),
        ),
        "INVALID_VALUE",
        "scope",
    );
    // An unknown role id is refused as before.
    assert_invalid(
        &grant(
            &h,
            &h.admin,
            &env,
            &worker.0,
            "no-such-role",
            ("ENVIRONMENT", &env),
        ),
        "INVALID_VALUE",
        "role",
    );
}

#[test]
fn a_custom_role_made_outside_the_administrators_environment_stays_in_its_environment() {
    let (h, second) = two_environments();
    let env = h.env();
    let org = h.info().organization_id.clone();
    let env_admin = h.role_id("Environment Admin");
    let role = create_role(
        &h,
        &second,
        &h.admin,
        &role_body(
            "Local Support",
            &permissions_of(&h, "Identity Data Read Only"),
            &["ORGANIZATION", "ENVIRONMENT"],
            std::slice::from_ref(&env_admin),
        ),
    );
    let role_id = id_of(&role);
    let local = worker_in(&h, &second, "local");
    // Not over the organization, not over another environment.
    assert_invalid(
        &grant(
            &h,
            &h.admin,
            &second,
            &local.0,
            &role_id,
            ("ORGANIZATION", &org),
        ),
        "INVALID_VALUE",
        "scope",
    );
    assert_invalid(
        &grant(
            &h,
            &h.admin,
            &second,
            &local.0,
            &role_id,
            ("ENVIRONMENT", &env),
        ),
        "INVALID_VALUE",
        "scope",
    );
    // Not to an actor of another environment, even over its own environment.
    let stranger = worker_in(&h, &env, "stranger");
    assert_invalid(
        &grant(
            &h,
            &h.admin,
            &env,
            &stranger.0,
            &role_id,
            ("ENVIRONMENT", &second),
        ),
        "INVALID_VALUE",
        "role",
    );
    // Within it, yes.
    grant(
        &h,
        &h.admin,
        &second,
        &local.0,
        &role_id,
        ("ENVIRONMENT", &second),
    )
    .expect(201, "RoleAssignment");

    // A role of the administrators' environment reaches every environment and the organization.
    let global = create_role(
        &h,
        &env,
        &h.admin,
        &role_body(
            "Global Support",
            &permissions_of(&h, "Identity Data Read Only"),
            &["ORGANIZATION", "ENVIRONMENT"],
            &[env_admin],
        ),
    );
    grant(
        &h,
        &h.admin,
        &second,
        &local.0,
        &id_of(&global),
        ("ENVIRONMENT", &second),
    )
    .expect(201, "RoleAssignment");
    grant(
        &h,
        &h.admin,
        &env,
        &stranger.0,
        &id_of(&global),
        ("ORGANIZATION", &org),
    )
    .expect(201, "RoleAssignment");
}

#[test]
fn a_custom_role_still_assigned_cannot_be_deleted() {
    let h = Harness::start();
    let env = h.env();
    let role = create_role(
        &h,
        &env,
        &h.admin,
        &role_body(
            "In Use",
            &permissions_of(&h, "Identity Data Read Only"),
            &["ENVIRONMENT"],
            &[h.role_id("Environment Admin")],
        ),
    );
    let role_url = format!("{}/{}", roles_url(&h, &env), id_of(&role));
    let worker = worker_in(&h, &env, "w");
    let assignment = grant(
        &h,
        &h.admin,
        &env,
        &worker.0,
        &id_of(&role),
        ("ENVIRONMENT", &env),
    )
    .expect(201, "RoleAssignment");
    let refusal = h.delete(&role_url, &h.admin);
    let body = refusal.expect_error(400, "REQUEST_FAILED");
    assert!(
        body["message"].as_str().unwrap().contains("assigned"),
        "{body}"
    );
    h.get(&role_url, &h.admin).expect(200, "CustomAdminRole");

    let assignment_url = h.apps(&format!(
        "/{}/roleAssignments/{}",
        worker.0,
        id_of(&assignment)
    ));
    assert_eq!(h.delete(&assignment_url, &h.admin).status, 204);
    assert_eq!(h.delete(&role_url, &h.admin).status, 204);
}

#[test]
fn updated_permissions_count_for_the_holders_at_once() {
    let h = Harness::start();
    let env = h.env();
    let reader = permissions_of(&h, "Identity Data Read Only");
    let role = create_role(
        &h,
        &env,
        &h.admin,
        &role_body(
            "Growing",
            &reader,
            &["ENVIRONMENT"],
            &[h.role_id("Environment Admin")],
        ),
    );
    let worker = worker_in(&h, &env, "w");
    grant(
        &h,
        &h.admin,
        &env,
        &worker.0,
        &id_of(&role),
        ("ENVIRONMENT", &env),
    )
    .expect(201, "RoleAssignment");
    let token = token_of(&h, &env, &worker);
    h.get(&h.apps(""), &token)
        .expect_error(403, "ACCESS_FAILED");
    let mut more = reader.clone();
    more.push("applications:read:application".to_owned());
    h.put(
        &format!("{}/{}", roles_url(&h, &env), id_of(&role)),
        &h.admin,
        &role_body(
            "Growing",
            &more,
            &["ENVIRONMENT"],
            &[h.role_id("Environment Admin")],
        ),
    )
    .expect(200, "CustomAdminRole");
    h.get(&h.apps(""), &token)
        .expect_list("applications", "readOneApplication_200_response");
}

#[test]
fn custom_roles_and_populations_survive_a_restart_with_state() {
    let dir = tempfile::tempdir().unwrap();
    let options = EmulatorOptions {
        state_file: Some(dir.path().join("emulator.json")),
        ..EmulatorOptions::default()
    };
    let (role, population) = {
        let h = Harness::with_options(options.clone());
        let role = create_role(
            &h,
            &h.env(),
            &h.admin,
            &role_body(
                "Kept",
                &permissions_of(&h, "Identity Data Read Only"),
                &["ENVIRONMENT"],
                &[],
            ),
        );
        let population = h
            .post(
                &h.api(&format!("/environments/{}/populations", h.env())),
                &h.admin,
                &json!({ "name": "Kept Population" }),
            )
            .expect(201, "Population");
        (role, population)
    };
    let h = Harness::with_options(options);
    let env = h.env();
    // The port changes with the restart, and with it the links.
    let without_links = |mut role: Value| {
        role.as_object_mut().unwrap().remove("_links");
        role
    };
    let reread = h
        .get(
            &format!("{}/{}", roles_url(&h, &env), id_of(&role)),
            &h.admin,
        )
        .expect(200, "CustomAdminRole");
    assert_eq!(without_links(reread), without_links(role));
    let populations = h
        .get(
            &h.api(&format!("/environments/{env}/populations")),
            &h.admin,
        )
        .expect_list("populations", "Population");
    let names: Vec<&str> = populations["_embedded"]["populations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|population| population["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Default", "Kept Population"]);
    assert_eq!(
        populations["_embedded"]["populations"][1]["id"],
        population["id"]
    );
}
