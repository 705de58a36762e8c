//! `/environments/{envID}/roles[/{customRoleID}]`: custom admin roles
//! (<https://developer.pingidentity.com/pingone-api/platform/roles/custom-roles.html>). The list
//! returns the built-in roles (`type: PLATFORM`) with the environment's custom ones
//! (`type: CUSTOM`), as "Read All Custom Admin Roles" does, so that a client can find
//! permission ids there.

use super::access::{Caller, Effective};
use super::body;
use super::clock;
use super::directory::{permission_json, role_json};
use super::errors::{ApiError, ApiResult, ErrorDetail};
use super::pagination::{Collection, PageRequest, entity_array};
use super::roles::{self, BUILT_IN_ROLES, ScopeType, permission};
use super::shared::Shared;
use super::state::{self, CustomRole, Environment, State};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as SharedState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::sync::Arc;

fn roles_path(environment_id: &str) -> String {
    format!("/v1/environments/{environment_id}/roles")
}

fn id_refs<'a>(ids: impl IntoIterator<Item = &'a str>) -> Vec<Value> {
    ids.into_iter().map(|id| json!({ "id": id })).collect()
}

/// The custom roles of `environment_id` that name `role_id` in `canBeAssignedBy`: what a
/// holder of `role_id` may hand out (the spec's `canAssign`, "derived from the
/// canBeAssignedBy property").
fn assignable_by<'s>(state: &'s State, environment_id: &str, role_id: &str) -> Vec<&'s str> {
    let mut roles: Vec<&CustomRole> = state
        .custom_roles
        .values()
        .filter(|custom| {
            custom.environment_id == environment_id
                && custom.can_be_assigned_by.iter().any(|id| id == role_id)
        })
        .collect();
    roles.sort_by_key(|custom| custom.sequence);
    roles.into_iter().map(|custom| custom.id.as_str()).collect()
}

/// A custom role as the API shows it.
fn custom_role_json(shared: &Shared, state: &State, custom: &CustomRole) -> Value {
    let path = format!("{}/{}", roles_path(&custom.environment_id), custom.id);
    let applicable_to: Vec<&str> = custom
        .applicable_to
        .iter()
        .map(|scope| scope.as_str())
        .collect();
    let mut body = json!({
        "_links": {
            "self": shared.link(&path),
            "environment": shared.link(&format!("/v1/environments/{}", custom.environment_id)),
        },
        "id": custom.id,
        "name": custom.name,
        "applicableTo": applicable_to,
        "permissions": custom.permissions.iter().map(|id| permission_json(id)).collect::<Vec<_>>(),
        "canBeAssignedBy": id_refs(custom.can_be_assigned_by.iter().map(String::as_str)),
        "canAssign": id_refs(assignable_by(state, &custom.environment_id, &custom.id)),
        "type": "CUSTOM",
        "environment": { "id": custom.environment_id },
    });
    if let Some(description) = &custom.description {
        body["description"] = json!(description);
    }
    body
}

/// A built-in role as the environment's role list shows it: `GET /roles`'s object plus the
/// `type` and the assignment relations of the custom role model.
fn built_in_json(shared: &Shared, state: &State, environment_id: &str, index: usize) -> Value {
    let role = &BUILT_IN_ROLES[index];
    let id = &state.role_ids[index];
    let mut can_assign: Vec<&str> = BUILT_IN_ROLES
        .iter()
        .zip(&state.role_ids)
        .filter(|(other, _)| role.can_assign.allows(other.name))
        .map(|(_, other_id)| other_id.as_str())
        .collect();
    can_assign.extend(assignable_by(state, environment_id, id));
    let assigned_by = BUILT_IN_ROLES
        .iter()
        .zip(&state.role_ids)
        .filter(|(other, _)| other.can_assign.allows(role.name))
        .map(|(_, other_id)| other_id.as_str());
    let mut body = role_json(shared, state, index);
    body["type"] = json!("PLATFORM");
    body["canAssign"] = json!(id_refs(can_assign));
    body["canBeAssignedBy"] = json!(id_refs(assigned_by));
    body
}

/// The environment a request is aimed at, once the caller is allowed `permission` over it.
fn authorize_environment<'s>(
    state: &'s State,
    effective: &Effective<'_>,
    environment_id: &str,
    permission: &str,
) -> ApiResult<&'s Environment> {
    let environment = state
        .environment(environment_id)
        .ok_or_else(ApiError::not_found)?;
    effective.require(state, permission, &environment.scope())?;
    Ok(environment)
}

/// `GET /environments/{envID}/roles`: the built-in roles, then the environment's custom roles
/// in creation order. The `filter` parameter is not supported (ignored, so every role comes).
pub(crate) async fn list(
    SharedState(shared): SharedState<Arc<Shared>>,
    caller: Caller,
    Path(environment_id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let request = PageRequest::from_query(query.as_deref())?;
    let state = shared.state();
    let effective = caller.effective(clock::now_ms(), shared.propagation_delay_ms());
    authorize_environment(
        &state,
        &effective,
        &environment_id,
        permission::READ_CUSTOM_ROLES,
    )?;
    let built_ins = BUILT_IN_ROLES.len() as u64;
    let mut all: Vec<(u64, Value)> = (0..BUILT_IN_ROLES.len())
        .map(|index| {
            (
                index as u64,
                built_in_json(&shared, &state, &environment_id, index),
            )
        })
        .collect();
    all.extend(
        state
            .custom_roles
            .values()
            .filter(|custom| custom.environment_id == environment_id)
            .map(|custom| {
                (
                    built_ins + custom.sequence,
                    custom_role_json(&shared, &state, custom),
                )
            }),
    );
    let total = all.len();
    let (items, next) = request.page(all);
    let path = roles_path(&environment_id);
    let collection = Collection {
        path: &path,
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

/// `GET /environments/{envID}/roles/{roleID}`: a custom role of that environment, or a
/// built-in role (shown as in the list).
pub(crate) async fn read(
    SharedState(shared): SharedState<Arc<Shared>>,
    caller: Caller,
    Path((environment_id, role_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let state = shared.state();
    let effective = caller.effective(clock::now_ms(), shared.propagation_delay_ms());
    authorize_environment(
        &state,
        &effective,
        &environment_id,
        permission::READ_CUSTOM_ROLES,
    )?;
    if let Some(custom) = custom_role_of(&state, &environment_id, &role_id) {
        return Ok(Json(custom_role_json(&shared, &state, custom)));
    }
    let index = state
        .role_ids
        .iter()
        .position(|id| *id == role_id)
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(built_in_json(&shared, &state, &environment_id, index)))
}

fn custom_role_of<'s>(
    state: &'s State,
    environment_id: &str,
    role_id: &str,
) -> Option<&'s CustomRole> {
    state
        .custom_roles
        .get(role_id)
        .filter(|custom| custom.environment_id == environment_id)
}

/// A validated `CustomAdminRole` body.
struct RoleBody {
    name: String,
    description: Option<String>,
    applicable_to: Vec<ScopeType>,
    permissions: Vec<String>,
    can_be_assigned_by: Vec<String>,
}

/// The ids of a `[{id}]` field; `None` (with a detail) when it is missing or malformed.
fn id_list(
    body: &Map<String, Value>,
    field: &str,
    details: &mut Vec<ErrorDetail>,
) -> Option<Vec<String>> {
    let Some(value) = body.get(field).filter(|value| !value.is_null()) else {
        details.push(ErrorDetail::required(field));
        return None;
    };
    let ids: Option<Vec<String>> = value.as_array().and_then(|items| {
        items
            .iter()
            .map(|item| {
                item.get("id")
                    .and_then(Value::as_str)
                    .filter(|id| !id.is_empty())
                    .map(str::to_owned)
            })
            .collect()
    });
    if ids.is_none() {
        details.push(ErrorDetail::invalid(
            field,
            format!("{field} must be an array of {{\"id\": \"…\"}} objects"),
        ));
    }
    // The same id twice means it once.
    ids.map(|mut ids| {
        let mut seen = std::collections::HashSet::new();
        ids.retain(|id| seen.insert(id.clone()));
        ids
    })
}

/// Validates a POST or PUT body (both carry the whole role). Read-only fields (`id`, `type`,
/// `canAssign`, `environment`, `_links`) are ignored. `applicableTo` is not marked required
/// by the spec, but PingOne's console and the Terraform provider always set it; a role that
/// applies nowhere cannot be assigned, so the emulator requires at least one scope type
/// (unverified). `canBeAssignedBy` is required by the spec and may be empty (then only the
/// role's own holders may assign it).
fn validate(state: &State, environment_id: &str, body: &Map<String, Value>) -> ApiResult<RoleBody> {
    let mut details = Vec::new();
    let name = match body.get("name").filter(|value| !value.is_null()) {
        None => {
            details.push(ErrorDetail::required("name"));
            None
        }
        Some(Value::String(name)) if !name.trim().is_empty() => Some(name.clone()),
        Some(_) => {
            details.push(ErrorDetail::invalid(
                "name",
                "name must be a non-blank string",
            ));
            None
        }
    };
    let description = match body.get("description").filter(|value| !value.is_null()) {
        None => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(_) => {
            details.push(ErrorDetail::invalid(
                "description",
                "description must be a string",
            ));
            None
        }
    };
    let allowed: Vec<&str> = ScopeType::ALL.iter().map(|scope| scope.as_str()).collect();
    let mut applicable_to = Vec::new();
    match body.get("applicableTo").filter(|value| !value.is_null()) {
        None => details.push(ErrorDetail::required("applicableTo")),
        Some(Value::Array(items)) if !items.is_empty() => {
            for item in items {
                match item.as_str().and_then(ScopeType::parse) {
                    Some(scope) if !applicable_to.contains(&scope) => applicable_to.push(scope),
                    Some(_) => {}
                    None => {
                        details.push(ErrorDetail::not_one_of("applicableTo", &allowed));
                        break;
                    }
                }
            }
        }
        Some(_) => details.push(ErrorDetail::not_one_of("applicableTo", &allowed)),
    }
    let permissions = id_list(body, "permissions", &mut details).unwrap_or_default();
    if body.get("permissions").is_some_and(Value::is_array) && permissions.is_empty() {
        // "This request requires at least one permission ID in the permissions property list."
        details.push(ErrorDetail::invalid(
            "permissions",
            "A custom role needs at least one permission",
        ));
    }
    for unknown in permissions
        .iter()
        .filter(|id| !roles::is_known_permission(id))
    {
        details.push(ErrorDetail::invalid(
            "permissions",
            format!("Permission {unknown} does not exist"),
        ));
    }
    let can_be_assigned_by = id_list(body, "canBeAssignedBy", &mut details).unwrap_or_default();
    for unknown in can_be_assigned_by
        .iter()
        .filter(|id| !may_name_as_assigner(state, environment_id, id))
    {
        details.push(ErrorDetail::invalid(
            "canBeAssignedBy",
            format!("Role {unknown} does not exist"),
        ));
    }
    match name {
        Some(name) if details.is_empty() => Ok(RoleBody {
            name,
            description,
            applicable_to,
            permissions,
            can_be_assigned_by,
        }),
        _ => Err(ApiError::invalid_data(details)),
    }
}

/// A role that `canBeAssignedBy` may name: a built-in role, or a custom role that can be held
/// over this environment (one of its own, or one of the administrators' environment).
fn may_name_as_assigner(state: &State, environment_id: &str, role_id: &str) -> bool {
    state.role(role_id).is_some()
        || state.custom_roles.get(role_id).is_some_and(|custom| {
            custom.environment_id == environment_id
                || custom.environment_id == state.administrators_environment_id()
        })
}

/// Role names are unique in an environment, built-in names included: the list shows both and
/// clients find roles by name (the exact rule is unverified; the comparison is exact).
fn check_unique_name(
    state: &State,
    environment_id: &str,
    name: &str,
    own_id: Option<&str>,
) -> ApiResult<()> {
    let taken = roles::index_of(name).is_some()
        || state.custom_roles.values().any(|custom| {
            custom.environment_id == environment_id
                && custom.name == name
                && Some(custom.id.as_str()) != own_id
        });
    if taken {
        return Err(ApiError::not_unique(
            "name",
            format!("A role named {name} already exists in this environment"),
        ));
    }
    Ok(())
}

/// `POST /environments/{envID}/roles` → 201.
pub(crate) async fn create(
    SharedState(shared): SharedState<Arc<Shared>>,
    caller: Caller,
    Path(environment_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let mut state = shared.state();
    let effective = caller.effective(clock::now_ms(), shared.propagation_delay_ms());
    authorize_environment(
        &state,
        &effective,
        &environment_id,
        permission::CREATE_CUSTOM_ROLES,
    )?;
    let request = validate(
        &state,
        &environment_id,
        &body::json_object(&headers, &body)?,
    )?;
    check_unique_name(&state, &environment_id, &request.name, None)?;
    let custom = CustomRole {
        id: state::new_id(),
        environment_id,
        name: request.name,
        description: request.description,
        applicable_to: request.applicable_to,
        permissions: request.permissions,
        can_be_assigned_by: request.can_be_assigned_by,
        sequence: state.next_sequence(),
    };
    state.custom_roles.insert(custom.id.clone(), custom.clone());
    let body = custom_role_json(&shared, &state, &custom);
    shared.persist(&state)?;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// The custom role a PUT or DELETE is aimed at: 404 when it is not one of the environment's,
/// 400 `REQUEST_FAILED` for a built-in role, which cannot be changed (status unverified).
fn writable_role<'s>(
    state: &'s State,
    environment_id: &str,
    role_id: &str,
) -> ApiResult<&'s CustomRole> {
    if state.role(role_id).is_some() {
        return Err(ApiError::request_failed(format!(
            "Role {role_id} is a built-in role and cannot be changed"
        )));
    }
    custom_role_of(state, environment_id, role_id).ok_or_else(ApiError::not_found)
}

/// `PUT /environments/{envID}/roles/{roleID}`: a full replacement. The new permissions count
/// at once for every holder of the role. Existing assignments whose scope type the new
/// `applicableTo` leaves out are kept (what PingOne does then is unverified).
pub(crate) async fn update(
    SharedState(shared): SharedState<Arc<Shared>>,
    caller: Caller,
    Path((environment_id, role_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let mut state = shared.state();
    let effective = caller.effective(clock::now_ms(), shared.propagation_delay_ms());
    authorize_environment(
        &state,
        &effective,
        &environment_id,
        permission::UPDATE_CUSTOM_ROLES,
    )?;
    writable_role(&state, &environment_id, &role_id)?;
    let request = validate(
        &state,
        &environment_id,
        &body::json_object(&headers, &body)?,
    )?;
    check_unique_name(&state, &environment_id, &request.name, Some(&role_id))?;
    let custom = state
        .custom_roles
        .get_mut(&role_id)
        .ok_or_else(ApiError::not_found)?;
    custom.name = request.name;
    custom.description = request.description;
    custom.applicable_to = request.applicable_to;
    custom.permissions = request.permissions;
    custom.can_be_assigned_by = request.can_be_assigned_by;
    let custom = custom.clone();
    let body = custom_role_json(&shared, &state, &custom);
    shared.persist(&state)?;
    Ok(Json(body))
}

/// `DELETE /environments/{envID}/roles/{roleID}` → 204.
///
/// A role still assigned is refused with 400 `REQUEST_FAILED` naming the assignments. PingOne
/// does not document what it does; refusing is the most plausible, because silently
/// dropping grants would take rights away from actors nobody looked at, and PingOne refuses
/// the same way for a population that still holds users ("A population can only be deleted if
/// it does not have any associated users"). Other custom roles that name the deleted one in
/// `canBeAssignedBy` just lose that entry.
pub(crate) async fn delete(
    SharedState(shared): SharedState<Arc<Shared>>,
    caller: Caller,
    Path((environment_id, role_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let mut state = shared.state();
    let effective = caller.effective(clock::now_ms(), shared.propagation_delay_ms());
    authorize_environment(
        &state,
        &effective,
        &environment_id,
        permission::DELETE_CUSTOM_ROLES,
    )?;
    let custom = writable_role(&state, &environment_id, &role_id)?;
    let assignments = state
        .applications
        .values()
        .flat_map(|app| &app.role_assignments)
        .filter(|assignment| assignment.role_id == role_id)
        .count();
    if assignments > 0 {
        return Err(ApiError::request_failed(format!(
            "Custom role {} ({role_id}) cannot be deleted while it is assigned: remove its {assignments} role assignment(s) first",
            custom.name
        )));
    }
    state.custom_roles.remove(&role_id);
    for other in state.custom_roles.values_mut() {
        other.can_be_assigned_by.retain(|id| *id != role_id);
    }
    shared.persist(&state)?;
    Ok(StatusCode::NO_CONTENT)
}
