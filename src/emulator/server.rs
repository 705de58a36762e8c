//! The HTTP side: the routes, and the layers every request passes
//! (request log, PingOne-shaped errors, panic catching, and the gate that adds latency, rate
//! limits, injects faults and authenticates management calls).

use super::access::Caller;
use super::errors::{self, ApiError, ErrorDetail};
use super::shared::{CallerId, Shared};
use super::{
    RequestRecord, applications, custom_roles, directory, populations, role_assignments, token,
};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::sync::{Arc, PoisonError};
use tower_http::catch_panic::CatchPanicLayer;

/// The whole application.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let management = Router::new()
        .route("/environments/{env}", get(directory::read_environment))
        .route("/organizations", get(directory::read_organizations))
        .route("/organizations/{org}", get(directory::read_organization))
        .route("/roles", get(directory::read_roles))
        .route("/roles/{role}", get(directory::read_role))
        .route(
            "/environments/{env}/applications",
            get(applications::list).post(applications::create),
        )
        .route(
            "/environments/{env}/applications/{app}",
            get(applications::read)
                .put(applications::update)
                .delete(applications::delete),
        )
        .route(
            "/environments/{env}/applications/{app}/secret",
            get(applications::read_secret)
                .post(applications::rotate_secret)
                .delete(applications::delete_previous_secret),
        )
        .route(
            "/environments/{env}/applications/{app}/roleAssignments",
            get(role_assignments::list).post(role_assignments::create),
        )
        .route(
            "/environments/{env}/applications/{app}/roleAssignments/{assignment}",
            get(role_assignments::read).delete(role_assignments::delete),
        )
        .route(
            "/environments/{env}/roles",
            get(custom_roles::list).post(custom_roles::create),
        )
        .route(
            "/environments/{env}/roles/{role}",
            get(custom_roles::read)
                .put(custom_roles::update)
                .delete(custom_roles::delete),
        )
        .route(
            "/environments/{env}/populations",
            get(populations::list).post(populations::create),
        )
        .route(
            "/environments/{env}/populations/{population}",
            get(populations::read)
                .put(populations::update)
                .delete(populations::delete),
        );
    let routes = Router::new()
        .nest("/v1", management)
        .route("/{env}/as/token", post(token::issue))
        .route("/_emulator/requests", get(read_request_log))
        .fallback(|| async { ApiError::not_found() })
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .layer(DefaultBodyLimit::max(errors::BODY_LIMIT));
    with_pingone_errors(routes)
        .layer(middleware::from_fn_with_state(shared.clone(), log_request))
        .with_state(shared)
}

/// A panicking handler answers 500 `UNEXPECTED_ERROR`, and no error leaves without a PingOne
/// body.
fn with_pingone_errors<S: Clone + Send + Sync + 'static>(routes: Router<S>) -> Router<S> {
    routes
        .layer(CatchPanicLayer::custom(errors::panic_response))
        .layer(middleware::from_fn(pingone_errors_only))
}

/// `GET /_emulator/requests`: the request log, for tests and for humans.
async fn read_request_log(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
) -> Response {
    axum::Json(shared.requests()).into_response()
}

fn is_control_path(path: &str) -> bool {
    path.starts_with("/_emulator/")
}

/// Records every request but the emulator's own control endpoints (so reading the log does
/// not change it).
async fn log_request(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let (request, body) = json_body_of(request).await;
    let response = next.run(request).await;
    if !is_control_path(&path) {
        let caller = response
            .extensions()
            .get::<CallerId>()
            .map(|caller| caller.0.clone());
        // The gate names the caller of a management request only when its token was valid;
        // without one, anybody could have sent the body, so it is not kept.
        let authenticated = caller.is_some() && response.status() != StatusCode::UNAUTHORIZED;
        let record = RequestRecord {
            method,
            path,
            body: body.filter(|_| authenticated),
            status: response.status().as_u16(),
            caller,
        };
        shared
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(record);
    }
    response
}

/// The body of a JSON management request, read and put back; `None` for anything else (the
/// token endpoint's form bodies hold secrets) and for bodies too large to be served anyway.
async fn json_body_of(request: Request) -> (Request, Option<serde_json::Value>) {
    const MAX_LOGGED: u64 = 256 * 1024;
    let is_json = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    let small = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|length| length <= MAX_LOGGED);
    if !is_json || !small || !request.uri().path().starts_with("/v1/") {
        return (request, None);
    }
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, MAX_LOGGED as usize).await {
        Ok(bytes) => {
            let logged = serde_json::from_slice(&bytes).ok();
            (
                Request::from_parts(parts, axum::body::Body::from(bytes)),
                logged,
            )
        }
        // Only a body shorter than its Content-Length gets here; the handler sees it empty.
        Err(_) => (Request::from_parts(parts, axum::body::Body::empty()), None),
    }
}

/// Whatever answered below (an axum rejection, a 405, a body over the limit), an error leaves
/// the emulator in PingOne's JSON format.
async fn pingone_errors_only(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || errors::is_json(&response) {
        return response;
    }
    let caller = response.extensions().get::<CallerId>().cloned();
    let allow = response.headers().get(header::ALLOW).cloned();
    let mut replacement = ApiError::for_bare_status(status).into_response();
    if let Some(caller) = caller {
        replacement.extensions_mut().insert(caller);
    }
    if let Some(allow) = allow {
        replacement.headers_mut().insert(header::ALLOW, allow);
    }
    replacement
}

/// Latency, rate limit, fault injection and bearer authentication, in that order, so that a
/// fault is injected before the handler could apply a write.
async fn gate(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if is_control_path(path) {
        return next.run(request).await;
    }
    let is_management = path == "/v1" || path.starts_with("/v1/");
    if !shared.latency.is_zero() {
        tokio::time::sleep(shared.latency).await;
    }
    let caller = if is_management {
        shared.tokens.caller(request.headers())
    } else {
        None
    };
    let caller_id = caller
        .as_ref()
        .map(|caller| caller.client_id.clone())
        .or_else(|| token::basic_client_id(request.headers()));
    // A token request with its client id in the form is limited by the token endpoint, once
    // it has read the form and so knows the client.
    let limited_later = caller_id.is_none() && token::is_token_path(path);
    if !limited_later {
        let key = rate_limit_key(caller_id.as_deref(), request.headers());
        if let Err(error) = shared.check_rate_limit(&key) {
            return with_caller(error.into_response(), caller_id);
        }
    }
    if is_management {
        if let Some(status) = shared.draw_fault() {
            return with_caller(ApiError::injected_fault(status).into_response(), caller_id);
        }
        if request.method() != axum::http::Method::GET
            && shared
                .refuse_writes_to
                .as_deref()
                .is_some_and(|text| path.contains(text))
        {
            let refusal = ApiError::invalid(ErrorDetail::invalid(
                "request",
                "refused by the emulator's refuse_writes_to fault",
            ));
            return with_caller(refusal.into_response(), caller_id);
        }
        match caller {
            Some(caller) => {
                request.extensions_mut().insert::<Caller>(caller);
            }
            None => return ApiError::invalid_token().into_response(),
        }
    }
    let is_post = request.method() == axum::http::Method::POST;
    let response = next.run(request).await;
    if is_management && is_post && response.status().is_success() && shared.draw_lost_answer() {
        return with_caller(
            ApiError::injected_fault(axum::http::StatusCode::BAD_GATEWAY).into_response(),
            caller_id,
        );
    }
    match caller_id {
        Some(id) if response.extensions().get::<CallerId>().is_none() => {
            with_caller(response, Some(id))
        }
        _ => response,
    }
}

/// The client a request counts against: its client id when known, else its credentials, else
/// one shared anonymous bucket.
fn rate_limit_key(caller_id: Option<&str>, headers: &HeaderMap) -> String {
    match caller_id {
        Some(id) => id.to_owned(),
        None => headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .map_or_else(|| "anonymous".to_owned(), str::to_owned),
    }
}

fn with_caller(mut response: Response, caller_id: Option<String>) -> Response {
    if let Some(id) = caller_id {
        response.extensions_mut().insert(CallerId(id));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::StatusCode;
    use tower::ServiceExt;

    async fn answer(router: Router, uri: &str) -> (StatusCode, serde_json::Value) {
        let request = axum::http::Request::get(uri).body(Body::empty()).unwrap();
        let response = router.oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_500_unexpected_error() {
        let router = with_pingone_errors(Router::new().route(
            "/boom",
            get(|| async {
                if true {
                    panic!("a handler bug");
                }
                "unreachable"
            }),
        ));
        let (status, body) = answer(router, "/boom").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["code"], "UNEXPECTED_ERROR");
    }

    #[tokio::test]
    async fn a_bare_error_status_gets_a_pingone_body() {
        let router = with_pingone_errors(Router::new().route(
            "/teapot",
            get(|| async { (StatusCode::NOT_FOUND, "plain text") }),
        ));
        let (status, body) = answer(router, "/teapot").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["code"], "NOT_FOUND");
    }
}
