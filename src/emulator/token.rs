//! `POST {auth_url}/{envID}/as/token` (client credentials); the tokens themselves are kept
//! by [`super::token_store`]. They live in memory only; after a restart with `--state` clients get
//! 401 `INVALID_TOKEN` and fetch a new one, as they must when a real token expires.

use super::clock;
use super::shared::{CallerId, Shared};
use super::state::RoleAssignment;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use std::collections::HashMap;
use std::sync::Arc;

/// Whether a path is a token endpoint (`/{envID}/as/token`).
pub(crate) fn is_token_path(path: &str) -> bool {
    path.strip_suffix("/as/token")
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|environment| !environment.is_empty() && !environment.contains('/'))
}

/// The `client_id` of a `Basic` header, for the request log and the rate limiter.
pub(crate) fn basic_client_id(headers: &HeaderMap) -> Option<String> {
    basic_credentials(headers).map(|(id, _)| id)
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    // RFC 6749, section 2.3.1: both parts are form-urlencoded before base64.
    let unescape = |part: &str| {
        url::form_urlencoded::parse(format!("x={part}").as_bytes())
            .next()
            .map_or_else(|| part.to_owned(), |(_, value)| value.into_owned())
    };
    Some((unescape(id), unescape(secret)))
}

/// An OAuth error body (`{error, error_description}`), not PingOne's management format.
fn oauth_error(
    status: StatusCode,
    error: &str,
    description: &str,
    caller: Option<String>,
) -> Response {
    let body = serde_json::json!({ "error": error, "error_description": description });
    let mut response = (status, axum::Json(body)).into_response();
    if let Some(caller) = caller {
        response.extensions_mut().insert(CallerId(caller));
    }
    response
}

/// Every client authentication failure answers the same: this description was captured for an
/// auth-method mismatch; that a wrong secret (or an unknown, disabled or misplaced client) gets
/// the same one is unverified, and it is what a careful server does not to reveal which part
/// was wrong (docs/pingone.md, "Tokens" and "Where the reference is silent").
fn invalid_client(caller: Option<String>) -> Response {
    let description = format!(
        "Request denied: Unsupported authentication method (Correlation ID: {})",
        uuid::Uuid::new_v4()
    );
    let mut response = oauth_error(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        &description,
        caller,
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"PingOne\""),
    );
    response
}

/// `POST /{envID}/as/token`.
pub(crate) async fn issue(
    State(shared): State<Arc<Shared>>,
    Path(environment_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The request must be application/x-www-form-urlencoded.",
            None,
        );
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let basic = basic_credentials(&headers);
    let posted = form
        .get("client_id")
        .map(|id| (id.clone(), form.get("client_secret").cloned()));
    let claimed_id = basic
        .as_ref()
        .map(|(id, _)| id.clone())
        .or_else(|| posted.as_ref().map(|(id, _)| id.clone()));
    if basic.is_none() {
        let key = claimed_id.as_deref().unwrap_or("anonymous");
        if let Err(error) = shared.check_rate_limit(key) {
            let mut response = error.into_response();
            if let Some(caller) = claimed_id {
                response.extensions_mut().insert(CallerId(caller));
            }
            return response;
        }
    }
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "The grant type is not supported.",
                claimed_id,
            );
        }
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "The request is missing grant_type.",
                claimed_id,
            );
        }
    }
    // The method actually used: Basic header, or id and secret in the form; both at once is
    // more than one method, which RFC 6749, section 2.3 forbids.
    let (method, client_id, secret) = match (basic, posted) {
        (Some((id, secret)), None) => ("CLIENT_SECRET_BASIC", id, secret),
        (None, Some((id, Some(secret)))) => ("CLIENT_SECRET_POST", id, secret),
        _ => return invalid_client(claimed_id),
    };
    let now = clock::now_ms();
    let grants: Arc<[RoleAssignment]> = {
        let mut state = shared.state();
        let Some(app) = state.application_mut(&environment_id, &client_id) else {
            return invalid_client(Some(client_id));
        };
        let acceptable = app.enabled()
            && app.has_grant_type("CLIENT_CREDENTIALS")
            && app.field_str("tokenEndpointAuthMethod") == Some(method);
        if !acceptable {
            return invalid_client(Some(client_id));
        }
        if app.secret == secret {
            app.role_assignments.clone().into()
        } else if app
            .live_previous_secret(now)
            .is_some_and(|previous| previous.secret == secret)
        {
            if let Some(previous) = app.previous_secret.as_mut() {
                previous.last_used_ms = Some(now);
            }
            let grants = app.role_assignments.clone().into();
            if let Err(error) = shared.persist(&state) {
                return error.into_response();
            }
            grants
        } else {
            return invalid_client(Some(client_id));
        }
    };
    let token = shared.tokens.issue(&client_id, grants);
    let body = serde_json::json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": shared.tokens.lifetime_seconds(),
    });
    let mut response = axum::Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.extensions_mut().insert(CallerId(client_id));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_paths_are_one_segment_then_as_token() {
        assert!(is_token_path("/0b7a4e1c/as/token"));
        assert!(!is_token_path("/as/token"));
        assert!(!is_token_path("/v1/environments/x/as/token"));
        assert!(!is_token_path("/x/as/token/more"));
    }

    #[test]
    fn basic_credentials_are_base64_of_form_encoded_parts() {
        let mut headers = HeaderMap::new();
        let encoded = base64::engine::general_purpose::STANDARD.encode("my%3Aid:s%2Bcret");
        headers.insert(
            header::AUTHORIZATION,
            format!("Basic {encoded}").parse().unwrap(),
        );
        assert_eq!(
            basic_credentials(&headers),
            Some(("my:id".to_owned(), "s+cret".to_owned()))
        );
        headers.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(basic_credentials(&headers), None);
    }
}
