//! The read-only catalog: `GET /environments/{id}`, `GET /organizations[/{id}]`,
//! `GET /roles[/{id}]`.

use super::access::Caller;
use super::clock;
use super::errors::{ApiError, ApiResult};
use super::pagination::{Collection, PageRequest, entity_array};
use super::roles::{BUILT_IN_ROLES, permission};
use super::shared::Shared;
use super::state::{Environment, State};
use axum::Json;
use axum::extract::{Path, RawQuery, State as SharedState};
use serde_json::{Value, json};
use std::sync::Arc;

fn environment_json(shared: &Shared, state: &State, environment: &Environment) -> Value {
    let created = clock::format_ms(environment.created_ms);
    json!({
        "_links": {
            "self": shared.link(&format!("/v1/environments/{}", environment.id)),
            "organization": shared.link(&format!("/v1/organizations/{}", state.organization.id)),
        },
        "id": environment.id,
        "name": environment.name,
        "description": format!("Seeded by the p1run emulator ({})", environment.name),
        "region": "NA",
        "type": "SANDBOX",
        "status": "ACTIVE",
        "license": { "id": environment.license_id, "package": "TRIAL" },
        "organization": { "id": state.organization.id },
        "createdAt": created,
        "updatedAt": created,
    })
}

fn organization_json(shared: &Shared, state: &State) -> Value {
    let organization = &state.organization;
    let created = clock::format_ms(organization.created_ms);
    json!({
        "_links": { "self": shared.link(&format!("/v1/organizations/{}", organization.id)) },
        "id": organization.id,
        "name": organization.name,
        "description": "The organization of the p1run emulator",
        "type": "INTERNAL",
        "billingConnections": [],
        "createdAt": created,
        "updatedAt": created,
    })
}

/// A permission as roles list it: `{id, classifier, description}`.
pub(crate) fn permission_json(permission: &str) -> Value {
    json!({
        "id": permission,
        "classifier": permission,
        "description": permission::describe(permission),
    })
}

/// A built-in role as `GET /roles` shows it.
pub(crate) fn role_json(shared: &Shared, state: &State, index: usize) -> Value {
    let role = &BUILT_IN_ROLES[index];
    let id = &state.role_ids[index];
    let permissions: Vec<Value> = role
        .permissions
        .iter()
        .map(|&permission| permission_json(permission))
        .collect();
    let applicable_to: Vec<&str> = role
        .applicable_to
        .iter()
        .map(|scope| scope.as_str())
        .collect();
    json!({
        "_links": { "self": shared.link(&format!("/v1/roles/{id}")) },
        "id": id,
        "name": role.name,
        "description": role.description,
        "applicableTo": applicable_to,
        "permissions": permissions,
    })
}

/// Any admin role in force lets an actor read its organization and the built-in roles
/// (inferred: every built-in role can see the organization it belongs to).
fn require_any_role(shared: &Shared, caller: &Caller) -> ApiResult<()> {
    if caller
        .effective(clock::now_ms(), shared.propagation_delay_ms())
        .is_empty()
    {
        Err(ApiError::forbidden())
    } else {
        Ok(())
    }
}

/// `GET /environments/{envID}`. An unknown id is 404 (the provider looks for exactly this to
/// tell a deleted environment from a permission problem).
pub(crate) async fn read_environment(
    SharedState(shared): SharedState<Arc<Shared>>,
    caller: Caller,
    Path(environment_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let state = shared.state();
    let environment = state
        .environment(&environment_id)
        .ok_or_else(ApiError::not_found)?;
    caller
        .effective(clock::now_ms(), shared.propagation_delay_ms())
        .require(&state, permission::READ_ENVIRONMENT, &environment.scope())?;
    Ok(Json(environment_json(&shared, &state, environment)))
}

/// `GET /organizations`.
pub(crate) async fn read_organizations(
    SharedState(shared): SharedState<Arc<Shared>>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let request = PageRequest::from_query(query.as_deref())?;
    require_any_role(&shared, &caller)?;
    let state = shared.state();
    let (items, next) = request.page(vec![(1, organization_json(&shared, &state))]);
    let collection = Collection {
        path: "/v1/organizations",
        query: query.as_deref(),
        key: "organizations",
    };
    Ok(Json(entity_array(
        &shared,
        &collection,
        &request,
        1,
        items,
        next,
    )))
}

/// `GET /organizations/{organizationID}`.
pub(crate) async fn read_organization(
    SharedState(shared): SharedState<Arc<Shared>>,
    caller: Caller,
    Path(organization_id): Path<String>,
) -> ApiResult<Json<Value>> {
    require_any_role(&shared, &caller)?;
    let state = shared.state();
    if state.organization.id != organization_id {
        return Err(ApiError::not_found());
    }
    Ok(Json(organization_json(&shared, &state)))
}

/// `GET /roles`: the built-in roles.
pub(crate) async fn read_roles(
    SharedState(shared): SharedState<Arc<Shared>>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let request = PageRequest::from_query(query.as_deref())?;
    require_any_role(&shared, &caller)?;
    let state = shared.state();
    let all: Vec<(u64, Value)> = (0..BUILT_IN_ROLES.len())
        .map(|index| (index as u64, role_json(&shared, &state, index)))
        .collect();
    let total = all.len();
    let (items, next) = request.page(all);
    let collection = Collection {
        path: "/v1/roles",
        query: query.as_deref(),
        key: "roles",
    };
    Ok(Json(entity_array(
        &shared,
        &collection,
        &request,
        total,
        items,
        next,
    )))
}

/// `GET /roles/{roleID}`.
pub(crate) async fn read_role(
    SharedState(shared): SharedState<Arc<Shared>>,
    caller: Caller,
    Path(role_id): Path<String>,
) -> ApiResult<Json<Value>> {
    require_any_role(&shared, &caller)?;
    let state = shared.state();
    let index = state
        .role_ids
        .iter()
        .position(|id| *id == role_id)
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(role_json(&shared, &state, index)))
}
