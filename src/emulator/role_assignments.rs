//! `/environments/{envID}/applications/{appID}/roleAssignments[/{id}]`: granting built-in and
//! custom roles to an application, with PingOne's checks in PingOne's order.

use super::access::{Caller, Effective};
use super::applications::{application_path, authorize_application};
use super::body;
use super::clock;
use super::errors::{ApiError, ApiResult, DUPLICATE_ROLE_DETAIL, ErrorDetail};
use super::pagination::{Collection, PageRequest, entity_array};
use super::roles::{self, AnyRole, Scope, ScopeType, permission, scope_covers, scopes_overlap};
use super::shared::Shared;
use super::state::{self, Application, RoleAssignment, State};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as SharedState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::sync::Arc;

fn assignment_json(
    shared: &Shared,
    state: &State,
    effective: &Effective<'_>,
    app: &Application,
    assignment: &RoleAssignment,
) -> Value {
    let path = format!(
        "{}/roleAssignments/{}",
        application_path(&app.environment_id, &app.id),
        assignment.id
    );
    json!({
        "_links": {
            "self": shared.link(&path),
            "environment": shared.link(&format!("/v1/environments/{}", app.environment_id)),
            "role": shared.link(&role_path(state, &assignment.role_id)),
        },
        "id": assignment.id,
        "role": { "id": assignment.role_id },
        "scope": { "id": assignment.scope.id, "type": assignment.scope.kind.as_str() },
        "environment": { "id": app.environment_id },
        // "Whether this role assignment can be deleted by the current actor".
        "readOnly": !effective.may_manage(state, assignment),
    })
}

/// Where a role is read: `/v1/roles/{id}` for a built-in role, under its environment for a
/// custom one.
fn role_path(state: &State, role_id: &str) -> String {
    match state.custom_roles.get(role_id) {
        Some(custom) => format!(
            "/v1/environments/{}/roles/{}",
            custom.environment_id, custom.id
        ),
        None => format!("/v1/roles/{role_id}"),
    }
}

/// `GET …/roleAssignments`.
pub(crate) async fn list(
    SharedState(shared): SharedState<Arc<Shared>>,
    caller: Caller,
    Path((environment_id, application_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let request = PageRequest::from_query(query.as_deref())?;
    let state = shared.state();
    let effective = caller.effective(clock::now_ms(), shared.propagation_delay_ms());
    let app = authorize_application(
        &state,
        &effective,
        &environment_id,
        &application_id,
        permission::READ_APPLICATION_ROLE_ASSIGNMENTS,
    )?;
    let all: Vec<(u64, &RoleAssignment)> = app
        .role_assignments
        .iter()
        .map(|assignment| (assignment.sequence, assignment))
        .collect();
    let total = all.len();
    let (page, next) = request.page(all);
    let items = page
        .into_iter()
        .map(|assignment| assignment_json(&shared, &state, &effective, app, assignment))
        .collect();
    let path = format!(
        "{}/roleAssignments",
        application_path(&environment_id, &application_id)
    );
    let collection = Collection {
        path: &path,
        query: query.as_deref(),
        key: "roleAssignments",
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

/// `GET …/roleAssignments/{roleAssignmentID}`.
pub(crate) async fn read(
    SharedState(shared): SharedState<Arc<Shared>>,
    caller: Caller,
    Path((environment_id, application_id, assignment_id)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    let state = shared.state();
    let effective = caller.effective(clock::now_ms(), shared.propagation_delay_ms());
    let app = authorize_application(
        &state,
        &effective,
        &environment_id,
        &application_id,
        permission::READ_APPLICATION_ROLE_ASSIGNMENTS,
    )?;
    let assignment = app
        .role_assignments
        .iter()
        .find(|assignment| assignment.id == assignment_id)
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(assignment_json(
        &shared, &state, &effective, app, assignment,
    )))
}

/// The `{role: {id}, scope: {id, type}}` of a request body.
struct RequestedAssignment {
    role_id: String,
    scope: Scope,
}

fn parse_request(body: &Map<String, Value>) -> ApiResult<RequestedAssignment> {
    let text_at = |outer: &str, inner: &str| {
        body.get(outer)
            .and_then(|value| value.get(inner))
            .filter(|value| !value.is_null())
    };
    let mut details = Vec::new();
    let mut text = |outer: &str, inner: &str| {
        let target = format!("{outer}.{inner}");
        match text_at(outer, inner) {
            None => {
                details.push(ErrorDetail::required(&target));
                None
            }
            Some(Value::String(text)) if !text.is_empty() => Some(text.clone()),
            Some(_) => {
                details.push(ErrorDetail::invalid(
                    &target,
                    format!("{target} must be a non-empty string"),
                ));
                None
            }
        }
    };
    let role_id = text("role", "id");
    let scope_id = text("scope", "id");
    let scope_type = text("scope", "type");
    let kind = scope_type.as_deref().and_then(|kind| {
        let parsed = ScopeType::parse(kind);
        if parsed.is_none() {
            let allowed: Vec<&str> = ScopeType::ALL.iter().map(|scope| scope.as_str()).collect();
            details.push(ErrorDetail::not_one_of("scope.type", &allowed));
        }
        parsed
    });
    match (role_id, scope_id, kind) {
        (Some(role_id), Some(id), Some(kind)) if details.is_empty() => Ok(RequestedAssignment {
            role_id,
            scope: Scope { kind, id },
        }),
        _ => Err(ApiError::invalid_data(details)),
    }
}

/// Whether the scope names something that exists in this organization.
fn scope_exists(state: &State, scope: &Scope) -> bool {
    match scope.kind {
        ScopeType::Organization => scope.id == state.organization.id,
        ScopeType::Environment => state.environment(&scope.id).is_some(),
        ScopeType::Application => state.applications.contains_key(&scope.id),
        ScopeType::Population => state.populations.contains_key(&scope.id),
    }
}

/// The checks of a new assignment, in PingOne's order: the role exists → the scope type is
/// one the role applies to → the scope exists → a custom role stays in its environment → the
/// caller may grant the role there → it neither duplicates nor overlaps an assignment of the
/// same role.
///
/// PingOne does not document the status and text of the incompatible-scope error; 400
/// `INVALID_DATA` / `INVALID_VALUE` with `target: "scope"` is what the provider's error mapper
/// expects (unverified; docs/pingone.md, "Where the reference is silent").
fn check_new_assignment(
    state: &State,
    effective: &Effective<'_>,
    app: &Application,
    requested: &RequestedAssignment,
) -> ApiResult<()> {
    let role = state.any_role(&requested.role_id).ok_or_else(|| {
        ApiError::invalid(ErrorDetail::invalid(
            "role",
            format!("Role {} does not exist", requested.role_id),
        ))
    })?;
    if app.field_str("type") == Some("WORKER") && !roles::assignable_to_applications(role.name()) {
        return Err(ApiError::invalid(ErrorDetail::invalid(
            "role",
            format!(
                "The {} role cannot be assigned to a worker application",
                role.name()
            ),
        )));
    }
    if !role.applicable_to().contains(&requested.scope.kind) {
        let allowed: Vec<&str> = role
            .applicable_to()
            .iter()
            .map(|scope| scope.as_str())
            .collect();
        return Err(ApiError::invalid(ErrorDetail {
            inner_error: Some(json!({ "allowedValues": allowed })),
            ..ErrorDetail::invalid(
                "scope",
                format!(
                    "The {} role cannot be assigned with scope type {}",
                    role.name(),
                    requested.scope.kind.as_str()
                ),
            )
        }));
    }
    if !scope_exists(state, &requested.scope) {
        return Err(ApiError::invalid(ErrorDetail::invalid(
            "scope.id",
            format!(
                "No {} with id {} exists",
                requested.scope.kind.as_str(),
                requested.scope.id
            ),
        )));
    }
    if let AnyRole::Custom(custom) = role {
        check_custom_role_stays_home(state, app, custom, &requested.scope)?;
    }
    effective.check_may_grant(state, &requested.role_id, &requested.scope)?;
    let duplicate = app.role_assignments.iter().any(|existing| {
        existing.role_id == requested.role_id
            && scopes_overlap(state, &existing.scope, &requested.scope)
    });
    if duplicate {
        return Err(ApiError::invalid(ErrorDetail {
            code: "UNIQUENESS_VIOLATION",
            target: Some("role".to_owned()),
            message: DUPLICATE_ROLE_DETAIL.to_owned(),
            inner_error: None,
        }));
    }
    Ok(())
}

/// "Because this is not the Administrators environment, User A can't assign the role at the
/// organization level or to any environment resource outside of the CompanyA_Support
/// environment" (PingOne admin guide, custom role scenario 1:
/// <https://docs.pingidentity.com/pingone/directory/p1_custom_roles_scenario_1.html>): a custom
/// role made outside the administrators' environment is assigned only over its own environment
/// (or what is in it), and, as the scenarios have it, only to actors of that environment. The
/// status and text of the refusal are unverified: 400 `INVALID_DATA` / `INVALID_VALUE` like
/// the other unsuitable scopes.
fn check_custom_role_stays_home(
    state: &State,
    app: &Application,
    custom: &state::CustomRole,
    scope: &Scope,
) -> ApiResult<()> {
    if custom.environment_id == state.administrators_environment_id() {
        return Ok(());
    }
    let home = Scope::environment(&custom.environment_id);
    if !scope_covers(state, &home, scope) {
        return Err(ApiError::invalid(ErrorDetail::invalid(
            "scope",
            format!(
                "The custom role {} was made in environment {} and can only be assigned within it",
                custom.name, custom.environment_id
            ),
        )));
    }
    if app.environment_id != custom.environment_id {
        return Err(ApiError::invalid(ErrorDetail::invalid(
            "role",
            format!(
                "The custom role {} was made in environment {} and can only be assigned to actors of it",
                custom.name, custom.environment_id
            ),
        )));
    }
    Ok(())
}

/// `POST …/roleAssignments` → 201.
pub(crate) async fn create(
    SharedState(shared): SharedState<Arc<Shared>>,
    caller: Caller,
    Path((environment_id, application_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let now = clock::now_ms();
    let mut state = shared.state();
    let effective = caller.effective(now, shared.propagation_delay_ms());
    let app = authorize_application(
        &state,
        &effective,
        &environment_id,
        &application_id,
        permission::CREATE_APPLICATION_ROLE_ASSIGNMENTS,
    )?;
    let requested = parse_request(&body::json_object(&headers, &body)?)?;
    check_new_assignment(&state, &effective, app, &requested)?;
    let assignment = RoleAssignment {
        id: state::new_id(),
        role_id: requested.role_id,
        scope: requested.scope,
        granted_ms: now,
        sequence: state.next_sequence(),
    };
    let app = state
        .application_mut(&environment_id, &application_id)
        .ok_or_else(ApiError::not_found)?;
    app.role_assignments.push(assignment.clone());
    let state = &*state;
    let app = state
        .application(&environment_id, &application_id)
        .ok_or_else(ApiError::not_found)?;
    let body = assignment_json(&shared, state, &effective, app, &assignment);
    shared.persist(state)?;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `DELETE …/roleAssignments/{roleAssignmentID}` → 204. An assignment the caller could not
/// have made is read-only to it; PingOne's refusal text is the one the Go SDK retries as an
/// "inconsistent role state" (its status is unverified: 400 `REQUEST_FAILED` here).
pub(crate) async fn delete(
    SharedState(shared): SharedState<Arc<Shared>>,
    caller: Caller,
    Path((environment_id, application_id, assignment_id)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let mut state = shared.state();
    let effective = caller.effective(clock::now_ms(), shared.propagation_delay_ms());
    let app = authorize_application(
        &state,
        &effective,
        &environment_id,
        &application_id,
        permission::DELETE_APPLICATION_ROLE_ASSIGNMENTS,
    )?;
    let assignment = app
        .role_assignments
        .iter()
        .find(|assignment| assignment.id == assignment_id)
        .ok_or_else(ApiError::not_found)?;
    if !effective.may_manage(&state, assignment) {
        return Err(ApiError::read_only_assignment(&assignment_id));
    }
    if let Some(app) = state.application_mut(&environment_id, &application_id) {
        app.role_assignments
            .retain(|assignment| assignment.id != assignment_id);
    }
    shared.persist(&state)?;
    Ok(StatusCode::NO_CONTENT)
}
