//! `/environments/{envID}/applications[/{appID}[/secret]]`: OIDC applications with PingOne's
//! validation, full-replace PUT, role inheritance on create and the secret rules.

use super::access::{Caller, Effective};
use super::body;
use super::clock;
use super::errors::{ApiError, ApiResult, ErrorDetail};
use super::pagination::{EnvironmentListing, list_in_environment};
use super::roles::{Scope, permission};
use super::shared::Shared;
use super::state::{self, Application, PreviousSecret, RoleAssignment, State};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as SharedState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::sync::Arc;

const PROTOCOLS: &[&str] = &["OPENID_CONNECT", "SAML", "WS_FED", "EXTERNAL_LINK"];
const TYPES: &[&str] = &[
    "WEB_APP",
    "NATIVE_APP",
    "SINGLE_PAGE_APP",
    "WORKER",
    "SERVICE",
    "CUSTOM_APP",
    "PING_ONE_SELF_SERVICE",
    "PING_ONE_ADMIN_CONSOLE",
    "PING_ONE_PORTAL",
    "TEMPLATE_APP",
    "PORTAL_LINK_APP",
];
const TOKEN_AUTH_METHODS: &[&str] = &[
    "NONE",
    "CLIENT_SECRET_BASIC",
    "CLIENT_SECRET_POST",
    "PRIVATE_KEY_JWT",
    "CLIENT_SECRET_JWT",
];
const GRANT_TYPES: &[&str] = &[
    "AUTHORIZATION_CODE",
    "IMPLICIT",
    "REFRESH_TOKEN",
    "CLIENT_CREDENTIALS",
    "DEVICE_CODE",
    "TOKEN_EXCHANGE",
    "CIBA",
];
const RESPONSE_TYPES: &[&str] = &["TOKEN", "ID_TOKEN", "CODE"];
const TAGS: &[&str] = &["PING_FED_CONNECTION_INTEGRATION"];
const PKCE_OPTIONS: &[&str] = &["OPTIONAL", "REQUIRED", "S256_REQUIRED"];
const PAR_REQUIREMENTS: &[&str] = &["REQUIRED", "OPTIONAL"];
const REFRESH_TOKEN_TYPES: &[&str] = &["JSON_WEB_TOKEN", "OPAQUE_TOKEN"];

/// A previous secret may be kept from one minute to 30 days (`ApplicationSecret_previous`).
const PREVIOUS_SECRET_MIN_MS: u64 = 60 * 1000;
const PREVIOUS_SECRET_MAX_MS: u64 = 30 * 24 * 60 * 60 * 1000;

/// What a writable field must hold.
enum Kind {
    Text,
    Flag,
    Integer { min: i64, max: i64 },
    OneOf(&'static [&'static str]),
    ManyOf(&'static [&'static str]),
    Texts,
    Object,
}

/// The writable fields of `Application` ∪ `ApplicationOIDC`. Anything else in a body is
/// dropped, like the read-only fields (`id`, `environment`, `createdAt`, `updatedAt`,
/// `_links`), so that answers only ever carry what the spec declares.
const WRITABLE_FIELDS: &[(&str, Kind)] = &[
    ("name", Kind::Text),
    ("description", Kind::Text),
    ("enabled", Kind::Flag),
    ("type", Kind::OneOf(TYPES)),
    ("protocol", Kind::OneOf(PROTOCOLS)),
    ("tokenEndpointAuthMethod", Kind::OneOf(TOKEN_AUTH_METHODS)),
    ("grantTypes", Kind::ManyOf(GRANT_TYPES)),
    ("responseTypes", Kind::ManyOf(RESPONSE_TYPES)),
    ("tags", Kind::ManyOf(TAGS)),
    ("redirectUris", Kind::Texts),
    ("postLogoutRedirectUris", Kind::Texts),
    ("homePageUrl", Kind::Text),
    ("loginPageUrl", Kind::Text),
    ("initiateLoginUri", Kind::Text),
    ("targetLinkUri", Kind::Text),
    ("hiddenFromAppPortal", Kind::Flag),
    ("pkceEnforcement", Kind::OneOf(PKCE_OPTIONS)),
    ("parRequirement", Kind::OneOf(PAR_REQUIREMENTS)),
    ("parTimeout", Kind::Integer { min: 1, max: 600 }),
    ("refreshTokenType", Kind::OneOf(REFRESH_TOKEN_TYPES)),
    (
        "refreshTokenDuration",
        Kind::Integer {
            min: 60,
            max: 2_147_483_647,
        },
    ),
    (
        "refreshTokenRollingDuration",
        Kind::Integer {
            min: 60,
            max: 2_147_483_647,
        },
    ),
    (
        "refreshTokenRollingGracePeriodDuration",
        Kind::Integer {
            min: 0,
            max: 86_400,
        },
    ),
    ("additionalRefreshTokenReplayProtectionEnabled", Kind::Flag),
    ("allowWildcardInRedirectUris", Kind::Flag),
    ("idpSignoff", Kind::Flag),
    ("includeX5t", Kind::Flag),
    ("opSessionCheckEnabled", Kind::Flag),
    ("requireSignedRequestObject", Kind::Flag),
    ("supportUnsignedRequestObject", Kind::Flag),
    ("requestScopesForMultipleResourcesEnabled", Kind::Flag),
    ("jwks", Kind::Text),
    ("jwksUrl", Kind::Text),
    ("devicePathId", Kind::Text),
    ("deviceCustomVerificationUri", Kind::Text),
    ("deviceTimeout", Kind::Integer { min: 1, max: 3600 }),
    ("devicePollingInterval", Kind::Integer { min: 1, max: 60 }),
    ("accessControl", Kind::Object),
    ("icon", Kind::Object),
    ("corsSettings", Kind::Object),
    ("mobile", Kind::Object),
    ("kerberos", Kind::Object),
    ("signing", Kind::Object),
];

fn check_kind(target: &str, kind: &Kind, value: &Value) -> Option<ErrorDetail> {
    let ok = match kind {
        Kind::Text => value.is_string(),
        Kind::Flag => value.is_boolean(),
        Kind::Integer { min, max } => {
            return match value.as_i64() {
                Some(number) if (*min..=*max).contains(&number) => None,
                Some(_) => Some(ErrorDetail {
                    code: "OUT_OF_RANGE",
                    inner_error: Some(
                        json!({ "rangeMinimumValue": min, "rangeMaximumValue": max }),
                    ),
                    ..ErrorDetail::invalid(
                        target,
                        format!("{target} must be between {min} and {max}"),
                    )
                }),
                None => Some(ErrorDetail::invalid(
                    target,
                    format!("{target} must be an integer"),
                )),
            };
        }
        Kind::OneOf(allowed) => {
            return match value.as_str() {
                Some(text) if allowed.contains(&text) => None,
                _ => Some(ErrorDetail::not_one_of(target, allowed)),
            };
        }
        Kind::ManyOf(allowed) => {
            return match value.as_array() {
                Some(items)
                    if items
                        .iter()
                        .all(|item| item.as_str().is_some_and(|text| allowed.contains(&text))) =>
                {
                    None
                }
                _ => Some(ErrorDetail::not_one_of(target, allowed)),
            };
        }
        Kind::Texts => value
            .as_array()
            .is_some_and(|items| items.iter().all(Value::is_string)),
        Kind::Object => value.is_object(),
    };
    (!ok).then(|| ErrorDetail::invalid(target, format!("{target} has the wrong type")))
}

/// A validated application body.
struct ApplicationBody {
    fields: Map<String, Value>,
    assign_actor_roles: bool,
}

/// Validates a POST or PUT body the way the spec's `ApplicationOIDC` reads: `name`,
/// `protocol`, `type` and (for OIDC) `tokenEndpointAuthMethod` are required, `enabled`
/// defaults to false when omitted (docs), enums are checked. A `null` counts as omitted.
fn validate(body: &Map<String, Value>, is_create: bool) -> ApiResult<ApplicationBody> {
    let present = |name: &str| body.get(name).filter(|value| !value.is_null());
    let mut details = Vec::new();
    for required in ["name", "protocol", "type"] {
        if present(required).is_none() {
            details.push(ErrorDetail::required(required));
        }
    }
    let mut fields = Map::new();
    for (name, kind) in WRITABLE_FIELDS {
        let Some(value) = present(name) else { continue };
        match check_kind(name, kind, value) {
            Some(detail) => details.push(detail),
            None => {
                fields.insert((*name).to_owned(), value.clone());
            }
        }
    }
    if fields
        .get("name")
        .and_then(Value::as_str)
        .is_some_and(|name| name.trim().is_empty())
    {
        details.push(ErrorDetail::invalid("name", "name must not be blank"));
    }
    match fields.get("protocol").and_then(Value::as_str) {
        Some("OPENID_CONNECT") if present("tokenEndpointAuthMethod").is_none() => {
            details.push(ErrorDetail::required("tokenEndpointAuthMethod"));
        }
        // The emulator models OIDC applications only (the recipe's worker apps); a SAML or
        // WS-Fed app would need fields it does not keep.
        Some(protocol) if protocol != "OPENID_CONNECT" => details.push(ErrorDetail {
            inner_error: Some(json!({ "allowedValues": ["OPENID_CONNECT"] })),
            ..ErrorDetail::invalid(
                "protocol",
                "The emulator supports OPENID_CONNECT applications only",
            )
        }),
        _ => {}
    }
    // `assignActorRoles` is honoured on POST and ignored on PUT (spec).
    let mut assign_actor_roles = true;
    if is_create {
        match present("assignActorRoles") {
            None => {}
            Some(Value::Bool(assign)) => assign_actor_roles = *assign,
            Some(_) => details.push(ErrorDetail::invalid(
                "assignActorRoles",
                "assignActorRoles must be a boolean",
            )),
        }
    }
    if !details.is_empty() {
        return Err(ApiError::invalid_data(details));
    }
    fields.entry("enabled").or_insert(Value::Bool(false));
    Ok(ApplicationBody {
        fields,
        assign_actor_roles,
    })
}

/// The application as the API shows it.
pub(crate) fn application_json(shared: &Shared, app: &Application) -> Value {
    let path = application_path(&app.environment_id, &app.id);
    let mut body = app.fields.clone();
    body.insert(
        "_links".to_owned(),
        json!({
            "self": shared.link(&path),
            "environment": shared.link(&format!("/v1/environments/{}", app.environment_id)),
            "secret": shared.link(&format!("{path}/secret")),
            "roleAssignments": shared.link(&format!("{path}/roleAssignments")),
        }),
    );
    body.insert("id".to_owned(), json!(app.id));
    body.insert(
        "environment".to_owned(),
        json!({ "id": app.environment_id }),
    );
    body.insert(
        "createdAt".to_owned(),
        json!(clock::format_ms(app.created_ms)),
    );
    body.insert(
        "updatedAt".to_owned(),
        json!(clock::format_ms(app.updated_ms)),
    );
    Value::Object(body)
}

pub(crate) fn application_path(environment_id: &str, application_id: &str) -> String {
    format!("/v1/environments/{environment_id}/applications/{application_id}")
}

/// Finds the application a request is aimed at and checks `permission` over it.
///
/// A missing application is 404 only for a caller that could have seen it (otherwise 403, as
/// PingOne does not reveal what exists to those without access). An application created less
/// than `--propagation-delay` ago is missing too: by id it is not readable yet.
pub(crate) fn authorize_application<'s>(
    state: &'s State,
    effective: &Effective<'_>,
    environment_id: &str,
    application_id: &str,
    permission: &str,
) -> ApiResult<&'s Application> {
    let environment = state
        .environment(environment_id)
        .ok_or_else(ApiError::not_found)?;
    let now = clock::now_ms();
    match state.application(environment_id, application_id) {
        Some(app) if app.visible_from_ms <= now => {
            effective.require(state, permission, &Scope::application(application_id))?;
            Ok(app)
        }
        _ => {
            effective.require(state, permission, &environment.scope())?;
            Err(ApiError::not_found())
        }
    }
}

/// `POST /environments/{envID}/applications` → 201.
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
        .require(&state, permission::CREATE_APPLICATION, &environment.scope())?;
    let request = validate(&body::json_object(&headers, &body)?, true)?;
    // "By default the application inherits the same role assignments as the actor that
    // created the application": those of the caller's token, granted anew.
    let role_assignments = if request.assign_actor_roles {
        caller
            .grants
            .iter()
            .map(|grant| RoleAssignment {
                id: state::new_id(),
                role_id: grant.role_id.clone(),
                scope: grant.scope.clone(),
                granted_ms: now,
                sequence: state.next_sequence(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let app = Application {
        id: state::new_id(),
        environment_id,
        sequence: state.next_sequence(),
        created_ms: now,
        updated_ms: now,
        fields: request.fields,
        secret: state::new_secret(),
        previous_secret: None,
        role_assignments,
        visible_from_ms: now.saturating_add(shared.propagation_delay_ms()),
    };
    let body = application_json(&shared, &app);
    state.applications.insert(app.id.clone(), app);
    shared.persist(&state)?;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `GET /environments/{envID}/applications`. Unlike a read by id, the list shows a new
/// application at once (the eventual consistency the provider retries around is on reads by
/// id).
pub(crate) async fn list(
    SharedState(shared): SharedState<Arc<Shared>>,
    caller: Caller,
    Path(environment_id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let state = shared.state();
    let effective = caller.effective(clock::now_ms(), shared.propagation_delay_ms());
    let items = state
        .applications
        .values()
        .filter(|app| app.environment_id == environment_id)
        .map(|app| (app.sequence, Scope::application(&app.id), app));
    let listing = EnvironmentListing {
        environment_id: &environment_id,
        query: query.as_deref(),
        key: "applications",
        permission: permission::READ_APPLICATION,
    };
    list_in_environment(&shared, &state, &effective, &listing, items, |app| {
        application_json(&shared, app)
    })
    .map(Json)
}

/// `GET /environments/{envID}/applications/{appID}`.
pub(crate) async fn read(
    SharedState(shared): SharedState<Arc<Shared>>,
    caller: Caller,
    Path((environment_id, application_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let state = shared.state();
    let effective = caller.effective(clock::now_ms(), shared.propagation_delay_ms());
    let app = authorize_application(
        &state,
        &effective,
        &environment_id,
        &application_id,
        permission::READ_APPLICATION,
    )?;
    Ok(Json(application_json(&shared, app)))
}

/// `PUT /environments/{envID}/applications/{appID}`: a full replacement; optional fields left
/// out are cleared, read-only ones ignored.
pub(crate) async fn update(
    SharedState(shared): SharedState<Arc<Shared>>,
    caller: Caller,
    Path((environment_id, application_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let now = clock::now_ms();
    let mut state = shared.state();
    let effective = caller.effective(now, shared.propagation_delay_ms());
    authorize_application(
        &state,
        &effective,
        &environment_id,
        &application_id,
        permission::UPDATE_APPLICATION,
    )?;
    let request = validate(&body::json_object(&headers, &body)?, false)?;
    let app = state
        .application_mut(&environment_id, &application_id)
        .ok_or_else(ApiError::not_found)?;
    app.fields = request.fields;
    app.updated_ms = now.max(app.created_ms);
    let body = application_json(&shared, app);
    shared.persist(&state)?;
    Ok(Json(body))
}

/// `DELETE /environments/{envID}/applications/{appID}` → 204; its role assignments, the roles
/// held over it and its tokens go with it.
pub(crate) async fn delete(
    SharedState(shared): SharedState<Arc<Shared>>,
    caller: Caller,
    Path((environment_id, application_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    {
        let mut state = shared.state();
        let effective = caller.effective(clock::now_ms(), shared.propagation_delay_ms());
        authorize_application(
            &state,
            &effective,
            &environment_id,
            &application_id,
            permission::DELETE_APPLICATION,
        )?;
        state.applications.remove(&application_id);
        // Roles held over the application (Application Owner) go with it.
        let scope = Scope::application(&application_id);
        for app in state.applications.values_mut() {
            app.role_assignments
                .retain(|assignment| assignment.scope != scope);
        }
        shared.persist(&state)?;
    }
    shared.tokens.revoke_client(&application_id);
    Ok(StatusCode::NO_CONTENT)
}

fn secret_json(shared: &Shared, app: &Application, now: u64) -> Value {
    let mut body = json!({
        "_links": { "self": shared.link(&format!("{}/secret", application_path(&app.environment_id, &app.id))) },
        "environment": { "id": app.environment_id },
        "secret": app.secret,
    });
    if let Some(previous) = app.live_previous_secret(now) {
        let mut previous_json = json!({
            "secret": previous.secret,
            "expiresAt": clock::format_ms(previous.expires_ms),
        });
        if let Some(last_used) = previous.last_used_ms {
            previous_json["lastUsed"] = json!(clock::format_ms(last_used));
        }
        body["previous"] = previous_json;
    }
    body
}

/// "Due to potential security issues, a worker app cannot read its own application secret",
/// and another application's secret is readable only with a superset of its role assignments.
/// Rotating answers the new secret, so the same rule guards it (inferred).
fn check_secret_access(
    caller: &Caller,
    effective: &Effective<'_>,
    state: &State,
    app: &Application,
) -> ApiResult<()> {
    if app.id == caller.client_id || !effective.holds_superset_of(state, &app.role_assignments) {
        return Err(ApiError::forbidden());
    }
    Ok(())
}

/// `GET …/applications/{appID}/secret`.
pub(crate) async fn read_secret(
    SharedState(shared): SharedState<Arc<Shared>>,
    caller: Caller,
    Path((environment_id, application_id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let now = clock::now_ms();
    let state = shared.state();
    let effective = caller.effective(now, shared.propagation_delay_ms());
    let app = authorize_application(
        &state,
        &effective,
        &environment_id,
        &application_id,
        permission::READ_SECRET,
    )?;
    check_secret_access(&caller, &effective, &state, app)?;
    Ok(Json(secret_json(&shared, app, now)))
}

/// `POST …/applications/{appID}/secret`: a new secret; with `{"previous":{"expiresAt":…}}`
/// the old one stays valid until then (one minute to 30 days ahead), else it stops at once.
pub(crate) async fn rotate_secret(
    SharedState(shared): SharedState<Arc<Shared>>,
    caller: Caller,
    Path((environment_id, application_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let now = clock::now_ms();
    let mut state = shared.state();
    let effective = caller.effective(now, shared.propagation_delay_ms());
    let app = authorize_application(
        &state,
        &effective,
        &environment_id,
        &application_id,
        permission::UPDATE_SECRET,
    )?;
    check_secret_access(&caller, &effective, &state, app)?;
    let keep_previous_until = match body::optional_json_object(&headers, &body)? {
        Some(request) => previous_expiry(&request, now)?,
        None => None,
    };
    let app = state
        .application_mut(&environment_id, &application_id)
        .ok_or_else(ApiError::not_found)?;
    let old_secret = std::mem::replace(&mut app.secret, state::new_secret());
    app.previous_secret = keep_previous_until.map(|expires_ms| PreviousSecret {
        secret: old_secret,
        expires_ms,
        last_used_ms: None,
    });
    let body = secret_json(&shared, app, now);
    shared.persist(&state)?;
    Ok(Json(body))
}

fn previous_expiry(request: &Map<String, Value>, now: u64) -> ApiResult<Option<u64>> {
    const TARGET: &str = "previous.expiresAt";
    let Some(previous) = request.get("previous").filter(|value| !value.is_null()) else {
        return Ok(None);
    };
    let expires_at = previous
        .get("expiresAt")
        .filter(|value| !value.is_null())
        .ok_or_else(|| ApiError::invalid(ErrorDetail::required(TARGET)))?;
    let expires_ms = expires_at
        .as_str()
        .and_then(clock::parse_rfc3339_ms)
        .ok_or_else(|| {
            ApiError::invalid(ErrorDetail::invalid(
                TARGET,
                "expiresAt must be an RFC 3339 date-time",
            ))
        })?;
    let ahead = expires_ms.saturating_sub(now);
    if expires_ms <= now || !(PREVIOUS_SECRET_MIN_MS..=PREVIOUS_SECRET_MAX_MS).contains(&ahead) {
        return Err(ApiError::invalid(ErrorDetail {
            code: "OUT_OF_RANGE",
            ..ErrorDetail::invalid(
                TARGET,
                "expiresAt must be between 1 minute and 30 days from now",
            )
        }));
    }
    Ok(Some(expires_ms))
}

/// `DELETE …/applications/{appID}/secret` → 204: the previous secret stops working now.
pub(crate) async fn delete_previous_secret(
    SharedState(shared): SharedState<Arc<Shared>>,
    caller: Caller,
    Path((environment_id, application_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let mut state = shared.state();
    let effective = caller.effective(clock::now_ms(), shared.propagation_delay_ms());
    authorize_application(
        &state,
        &effective,
        &environment_id,
        &application_id,
        permission::DELETE_SECRET,
    )?;
    if let Some(app) = state.application_mut(&environment_id, &application_id) {
        app.previous_secret = None;
    }
    shared.persist(&state)?;
    Ok(StatusCode::NO_CONTENT)
}
