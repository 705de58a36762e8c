//! `/environments/{envID}/populations[/{populationID}]`
//! (<https://developer.pingidentity.com/pingone-api/platform/populations.html>): names unique per
//! environment, one default population per environment (seeded with it, never deleted), and
//! the scopes `POPULATION` role assignments point at.

use super::access::{Caller, Effective};
use super::body;
use super::clock;
use super::errors::{ApiError, ApiResult, ErrorDetail};
use super::pagination::{EnvironmentListing, list_in_environment};
use super::roles::{Scope, permission};
use super::shared::Shared;
use super::state::{self, Population, State};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as SharedState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::sync::Arc;

fn population_path(environment_id: &str, population_id: &str) -> String {
    format!("/v1/environments/{environment_id}/populations/{population_id}")
}

/// The population as the API shows it. No users are modelled, so `userCount` is 0.
fn population_json(shared: &Shared, population: &Population) -> Value {
    let mut body = population.fields.clone();
    body.entry("default").or_insert(Value::Bool(false));
    body.insert(
        "_links".to_owned(),
        json!({
            "self": shared.link(&population_path(&population.environment_id, &population.id)),
            "environment": shared.link(&format!("/v1/environments/{}", population.environment_id)),
        }),
    );
    body.insert("id".to_owned(), json!(population.id));
    body.insert(
        "environment".to_owned(),
        json!({ "id": population.environment_id }),
    );
    body.insert("userCount".to_owned(), json!(0));
    body.insert(
        "createdAt".to_owned(),
        json!(clock::format_ms(population.created_ms)),
    );
    body.insert(
        "updatedAt".to_owned(),
        json!(clock::format_ms(population.updated_ms)),
    );
    Value::Object(body)
}

/// Finds the population a request is aimed at and checks `permission` over it; like
/// applications, a missing one is 404 only for a caller that could have seen it.
fn authorize_population<'s>(
    state: &'s State,
    effective: &Effective<'_>,
    environment_id: &str,
    population_id: &str,
    permission: &str,
) -> ApiResult<&'s Population> {
    let environment = state
        .environment(environment_id)
        .ok_or_else(ApiError::not_found)?;
    match state.population(environment_id, population_id) {
        Some(population) => {
            effective.require(state, permission, &Scope::population(population_id))?;
            Ok(population)
        }
        None => {
            effective.require(state, permission, &environment.scope())?;
            Err(ApiError::not_found())
        }
    }
}

/// Validates a POST or PUT body against the spec's `Population`: `name` is required (and must
/// not be blank); read-only fields are dropped. `default` is optional and false when omitted.
fn validate(body: &Map<String, Value>) -> ApiResult<Map<String, Value>> {
    let mut details = Vec::new();
    let mut fields = Map::new();
    let present = |name: &str| body.get(name).filter(|value| !value.is_null());
    if present("name").is_none() {
        details.push(ErrorDetail::required("name"));
    }
    for (name, check) in [
        ("name", Value::is_string as fn(&Value) -> bool),
        ("description", Value::is_string),
        ("preferredLanguage", Value::is_string),
        ("default", Value::is_boolean),
        ("passwordPolicy", Value::is_object),
        ("theme", Value::is_object),
        ("alternativeIdentifiers", |value: &Value| {
            value
                .as_array()
                .is_some_and(|items| items.iter().all(Value::is_string))
        }),
    ] {
        let Some(value) = present(name) else { continue };
        if check(value) {
            fields.insert(name.to_owned(), value.clone());
        } else {
            details.push(ErrorDetail::invalid(
                name,
                format!("{name} has the wrong type"),
            ));
        }
    }
    if fields
        .get("name")
        .and_then(Value::as_str)
        .is_some_and(|name| name.trim().is_empty())
    {
        details.push(ErrorDetail::invalid("name", "name must not be blank"));
    }
    if details.is_empty() {
        Ok(fields)
    } else {
        Err(ApiError::invalid_data(details))
    }
}

/// "A string that specifies the population name, which must be provided and must be unique
/// within an environment." The comparison is exact (case sensitivity unverified).
fn check_unique_name(
    state: &State,
    environment_id: &str,
    fields: &Map<String, Value>,
    own_id: Option<&str>,
) -> ApiResult<()> {
    let name = fields
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let taken = state.populations.values().any(|population| {
        population.environment_id == environment_id
            && population.name() == name
            && Some(population.id.as_str()) != own_id
    });
    if taken {
        return Err(ApiError::not_unique(
            "name",
            format!("A population named {name} already exists in this environment"),
        ));
    }
    Ok(())
}

/// "Only one population per environment can be the default": a population made the default
/// takes the flag from the one that had it.
fn take_default_flag(state: &mut State, environment_id: &str, new_default: &str) {
    for population in state.populations.values_mut() {
        if population.environment_id == environment_id && population.id != new_default {
            population.fields.insert("default".to_owned(), json!(false));
        }
    }
}

fn is_default(fields: &Map<String, Value>) -> bool {
    fields.get("default").and_then(Value::as_bool) == Some(true)
}

/// `GET /environments/{envID}/populations`.
pub(crate) async fn list(
    SharedState(shared): SharedState<Arc<Shared>>,
    caller: Caller,
    Path(environment_id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let state = shared.state();
    let effective = caller.effective(clock::now_ms(), shared.propagation_delay_ms());
    let items = state
        .populations
        .values()
        .filter(|population| population.environment_id == environment_id)
        .map(|population| {
            (
                population.sequence,
                Scope::population(&population.id),
                population,
            )
        });
    let listing = EnvironmentListing {
        environment_id: &environment_id,
        query: query.as_deref(),
        key: "populations",
        permission: permission::READ_POPULATION,
    };
    list_in_environment(&shared, &state, &effective, &listing, items, |population| {
        population_json(&shared, population)
    })
    .map(Json)
}

/// `GET /environments/{envID}/populations/{populationID}`.
pub(crate) async fn read(
    SharedState(shared): SharedState<Arc<Shared>>,
    caller: Caller,
    Path((environment_id, population_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let state = shared.state();
    let effective = caller.effective(clock::now_ms(), shared.propagation_delay_ms());
    let population = authorize_population(
        &state,
        &effective,
        &environment_id,
        &population_id,
        permission::READ_POPULATION,
    )?;
    Ok(Json(population_json(&shared, population)))
}

/// `POST /environments/{envID}/populations` → 201.
pub(crate) async fn create(
    SharedState(shared): SharedState<Arc<Shared>>,
    caller: Caller,
    Path(environment_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let now = clock::now_ms();
    let mut state = shared.state();
    let environment = state
        .environment(&environment_id)
        .ok_or_else(ApiError::not_found)?;
    caller
        .effective(now, shared.propagation_delay_ms())
        .require(&state, permission::CREATE_POPULATION, &environment.scope())?;
    let fields = validate(&body::json_object(&headers, &body)?)?;
    check_unique_name(&state, &environment_id, &fields, None)?;
    let population = Population {
        id: state::new_id(),
        environment_id,
        sequence: state.next_sequence(),
        created_ms: now,
        updated_ms: now,
        fields,
    };
    if is_default(&population.fields) {
        take_default_flag(&mut state, &population.environment_id, &population.id);
    }
    let body = population_json(&shared, &population);
    state.populations.insert(population.id.clone(), population);
    shared.persist(&state)?;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `PUT /environments/{envID}/populations/{populationID}`: a full replacement, so a PUT that
/// leaves `default` out makes the population an ordinary one (the environment then has no
/// default until one is set, which PingOne allows: "New users are assigned to the default
/// population if it exists").
pub(crate) async fn update(
    SharedState(shared): SharedState<Arc<Shared>>,
    caller: Caller,
    Path((environment_id, population_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let now = clock::now_ms();
    let mut state = shared.state();
    let effective = caller.effective(now, shared.propagation_delay_ms());
    authorize_population(
        &state,
        &effective,
        &environment_id,
        &population_id,
        permission::UPDATE_POPULATION,
    )?;
    let fields = validate(&body::json_object(&headers, &body)?)?;
    check_unique_name(&state, &environment_id, &fields, Some(&population_id))?;
    if is_default(&fields) {
        take_default_flag(&mut state, &environment_id, &population_id);
    }
    let population = state
        .populations
        .get_mut(&population_id)
        .ok_or_else(ApiError::not_found)?;
    population.fields = fields;
    population.updated_ms = now.max(population.created_ms);
    let body = population_json(&shared, population);
    shared.persist(&state)?;
    Ok(Json(body))
}

/// `DELETE /environments/{envID}/populations/{populationID}` → 204. "A population can only be
/// deleted if it does not have any associated users and it is not the default population":
/// the default one answers 400 `REQUEST_FAILED` (status and text unverified). Role
/// assignments scoped to the population go with it, as those over a deleted application do.
pub(crate) async fn delete(
    SharedState(shared): SharedState<Arc<Shared>>,
    caller: Caller,
    Path((environment_id, population_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let mut state = shared.state();
    let effective = caller.effective(clock::now_ms(), shared.propagation_delay_ms());
    let population = authorize_population(
        &state,
        &effective,
        &environment_id,
        &population_id,
        permission::DELETE_POPULATION,
    )?;
    if population.is_default() {
        return Err(ApiError::request_failed(format!(
            "Population {population_id} is the default population of the environment and cannot be deleted"
        )));
    }
    state.populations.remove(&population_id);
    let scope = Scope::population(&population_id);
    for app in state.applications.values_mut() {
        app.role_assignments
            .retain(|assignment| assignment.scope != scope);
    }
    shared.persist(&state)?;
    Ok(StatusCode::NO_CONTENT)
}
