//! One PingOne call over HTTP: the token, the request, the error format, the retries and the
//! pagination.
//!
//! Nothing here blocks or picks a runtime: it only awaits reqwest and `tokio::time::sleep`,
//! which work on both runtime flavours (docs/pingone.md, "Rhai host notes").

use super::TokenAuthMethod;
use super::connect::REQUEST_TIMEOUT;
use super::retry::{
    Failure, Retrier, Retry, is_propagation_denial, is_transient_status, parse_retry_after_header,
};
use super::token::{CachedToken, parse_token_answer, token_key};
use super::{ApiError, ClientError, Credentials, Endpoints, ErrorDetail, RetryPolicy, TokenCache};
use crate::secret::Secret;
use reqwest::header::{ACCEPT, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};
use url::Url;

/// The telemetry header PingOne accepts on every call (docs/pingone.md, "Tokens").
pub(super) const TRANSACTION_HEADER: &str = "X-Ping-External-Transaction-ID";

/// Both JSON flavours PingOne answers with (docs/pingone.md, "Tokens").
const ACCEPT_JSON: &str = "application/json, application/hal+json";

/// How much of a non-JSON error body goes into an [`ApiError`] message.
const BODY_EXCERPT: usize = 200;

/// What a client remembers of its own writes, for the propagation waits (docs/pingone.md,
/// "Propagation").
#[derive(Debug, Default)]
pub(super) struct Writes {
    /// When this client last created an application or granted a role.
    last: Option<Instant>,
    /// Applications this client created, and when.
    created_apps: HashMap<String, Instant>,
}

/// Everything a [`super::Client`] shares between its clones.
pub(super) struct Inner {
    pub(super) http: super::connect::Pools,
    pub(super) rate_budget: Option<super::RateBudget>,
    pub(super) endpoints: Endpoints,
    pub(super) credentials: Credentials,
    pub(super) retry: RetryPolicy,
    pub(super) tokens: TokenCache,
    pub(super) transaction_id: Option<HeaderValue>,
    pub(super) page_size: Option<u32>,
    pub(super) requests_sent: AtomicU64,
    pub(super) writes: Mutex<Writes>,
}

impl fmt::Debug for Inner {
    /// Leaves out the HTTP client and the token cache; the credentials print their secret as
    /// `***`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoints", &self.endpoints)
            .field("credentials", &self.credentials)
            .field("retry", &self.retry)
            .field("page_size", &self.page_size)
            .field("requests_sent", &self.requests_sent)
            .finish_non_exhaustive()
    }
}

impl Inner {
    /// `{api_url}/seg/seg/…`. Each segment is percent-encoded by `url`, so an id cannot
    /// change the path's shape.
    pub(super) fn api(&self, segments: &[&str]) -> Result<Url, ClientError> {
        for segment in segments {
            if segment.is_empty() || *segment == "." || *segment == ".." {
                return Err(ClientError::InvalidArgument(format!(
                    "{segment:?} is not a usable id in a PingOne path"
                )));
            }
        }
        with_segments(&self.endpoints.api_url, segments)
    }

    /// Records a successful application create (its id) or role grant (`None`).
    pub(super) fn record_write(&self, created_app: Option<&str>) {
        let now = Instant::now();
        let mut writes = self.writes.lock().unwrap_or_else(PoisonError::into_inner);
        writes.last = Some(now);
        if let Some(id) = created_app {
            writes.created_apps.insert(id.to_owned(), now);
        }
    }

    /// Forgets a deleted application, so that a 404 for it afterwards is final at once.
    pub(super) fn forget_app(&self, id: &str) {
        let mut writes = self.writes.lock().unwrap_or_else(PoisonError::into_inner);
        writes.created_apps.remove(id);
    }

    /// Sends one management call with retries and returns its JSON body (`None` when empty,
    /// e.g. a 204).
    pub(super) async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<Option<Value>, ClientError> {
        let path = url.path().to_owned();
        let deadline = Instant::now() + self.retry.deadline;
        let mut retrier = Retrier::new(&self.retry, method.as_str(), &path, deadline);
        // A 401 INVALID_TOKEN means "get a fresh token" (e.g. revoked or expired early;
        // docs/pingone.md, "Errors"); done once per call, as a second refusal will not be fixed
        // by a third token.
        let mut refreshed = false;
        let mut rejected: Option<Secret> = None;
        loop {
            let token = self
                .token(rejected.take().as_ref(), retrier.deadline())
                .await?;
            let attempt = retrier.attempt();
            let failure = match self
                .exchange(&method, &url, body, &token, retrier.remaining())
                .await
            {
                Ok((status, bytes)) => {
                    tracing::debug!(%method, %path, status = status.as_u16(), attempt, "PingOne call");
                    return decode_body(&method, &path, &bytes);
                }
                Err(failure) => failure,
            };
            if !refreshed
                && failure
                    .error
                    .api()
                    .is_some_and(|e| e.status == 401 && e.has_detail_code("INVALID_TOKEN"))
            {
                tracing::debug!(%method, %path, attempt, "access token refused; fetching a new one");
                refreshed = true;
                rejected = Some(token);
                continue;
            }
            let status = failure.error.status();
            let delay = retrier.wait_or_give_up(failure)?;
            tracing::debug!(%method, %path, ?status, attempt, ?delay, "retrying PingOne call");
            tokio::time::sleep(delay).await;
        }
    }

    /// One HTTP exchange of a management call. Success is any 2xx; everything else is a
    /// [`Failure`] that says whether it may be retried.
    async fn exchange(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&Value>,
        token: &Secret,
        remaining: Duration,
    ) -> Result<(StatusCode, Vec<u8>), Failure> {
        // `bearer_auth` marks the header sensitive, so it is never printed by reqwest/hyper.
        let http = self.http.for_url(url).map_err(Failure::fatal)?;
        let mut request = http
            .request(method.clone(), url.clone())
            .bearer_auth(token.expose())
            .header(ACCEPT, ACCEPT_JSON)
            .timeout(attempt_timeout(remaining));
        if let Some(id) = &self.transaction_id {
            request = request.header(TRANSACTION_HEADER, id.clone());
        }
        if let Some(body) = body {
            // Sets `Content-Type: application/json`.
            request = request.json(body);
        }
        let (status, retry_after, bytes) = self.round_trip(method, url, request).await?;
        if status.is_success() {
            return Ok((status, bytes));
        }
        let error = api_error(method, url.path(), status, &bytes);
        let retry = self.classify(method, &error, url, retry_after);
        Err(Failure {
            error: ClientError::Api(error),
            retry,
        })
    }

    /// Sends a request and reads its whole answer; a transport failure becomes a
    /// [`ClientError::Transport`] failure.
    async fn round_trip(
        &self,
        method: &Method,
        url: &Url,
        request: reqwest::RequestBuilder,
    ) -> Result<(StatusCode, Option<Duration>, Vec<u8>), Failure> {
        if let Some(message) = self.http.refusal(url) {
            return Err(Failure::fatal(certificate_error(method, url, message)));
        }
        if let Some(budget) = &self.rate_budget {
            budget.acquire().await;
        }
        self.requests_sent.fetch_add(1, Ordering::Relaxed);
        let response = request.send().await.map_err(|e| {
            let failure = transport_failure(method, url, &e);
            if let ClientError::Certificate { message, .. } = &failure.error {
                self.http.remember_refusal(url, message);
            }
            failure
        })?;
        let status = response.status();
        let retry_after = parse_retry_after_header(response.headers().get(RETRY_AFTER));
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport_failure(method, url, &e))?;
        Ok((status, retry_after, bytes.to_vec()))
    }

    /// Whether a management error may be retried (docs/pingone.md, "Retries and rate limits",
    /// "Propagation").
    fn classify(
        &self,
        method: &Method,
        error: &ApiError,
        url: &Url,
        retry_after: Option<Duration>,
    ) -> Retry {
        // The official clients retry these for every method, POST included. But a POST
        // is not idempotent, and after a 500/502/504 or a timeout PingOne may have acted:
        // re-sending could create a second application of the same name (names are not
        // unique) or rotate a secret twice. So a POST is retried here only when the answer
        // says the request was not served (429, 503); the caller, which can check what
        // exists, decides about the rest (see `Client::create_application` and the grants).
        let unserved = matches!(error.status, 429 | 503);
        if is_transient_status(error.status) && (*method != Method::POST || unserved) {
            return Retry::Transient { retry_after };
        }
        let window = self.retry.propagation_wait;
        let writes = self.writes.lock().unwrap_or_else(PoisonError::into_inner);
        // Right after this client granted a role (or created an app), PingOne may still deny
        // what the grant allows. Only then is the denial waited out, so that a genuine
        // permission error fails fast.
        if is_propagation_denial(error) {
            if let Some(last) = writes.last {
                let until = last + window;
                if Instant::now() < until {
                    return Retry::Propagation { until };
                }
            }
        }
        // An application this client has just created may not be visible yet, to itself or to
        // its sub-resources (secret, role assignments).
        if error.status == 404 {
            if let Some(created) = application_id(url).and_then(|id| writes.created_apps.get(id)) {
                let until = *created + window;
                if Instant::now() < until {
                    return Retry::Propagation { until };
                }
            }
        }
        Retry::Never
    }

    /// A usable access token: the cached one unless it is stale or is `rejected` (PingOne
    /// refused it), else a fresh one from the token endpoint.
    pub(super) async fn token(
        &self,
        rejected: Option<&Secret>,
        deadline: Instant,
    ) -> Result<Secret, ClientError> {
        let slot = self
            .tokens
            .slot(token_key(&self.endpoints, &self.credentials));
        // Held across the fetch: concurrent callers wait for this one fetch (no stampede).
        let mut cached = slot.lock().await;
        if let Some(current) = cached.as_ref() {
            // If another caller already replaced the rejected token, use its replacement.
            if current.is_fresh() && rejected != Some(&current.token) {
                return Ok(current.token.clone());
            }
        }
        let fresh = self.fetch_token(deadline).await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// `POST {auth_url}/{environment}/as/token` with client credentials (docs/pingone.md,
    /// "Tokens"), retried like management calls.
    async fn fetch_token(&self, deadline: Instant) -> Result<CachedToken, ClientError> {
        let environment = self.credentials.environment_id.as_str();
        let url = with_segments(&self.endpoints.auth_url, &[environment, "as", "token"])?;
        let method = Method::POST;
        let path = url.path().to_owned();
        let mut retrier = Retrier::new(&self.retry, method.as_str(), &path, deadline);
        loop {
            let attempt = retrier.attempt();
            let failure = match self.token_exchange(&url, retrier.remaining()).await {
                Ok(token) => {
                    tracing::debug!(%path, attempt, "worker token issued");
                    return Ok(token);
                }
                Err(failure) => failure,
            };
            let status = failure.error.status();
            let delay = retrier.wait_or_give_up(failure)?;
            tracing::debug!(%path, ?status, attempt, ?delay, "retrying token request");
            tokio::time::sleep(delay).await;
        }
    }

    /// One token request.
    async fn token_exchange(&self, url: &Url, remaining: Duration) -> Result<CachedToken, Failure> {
        let credentials = &self.credentials;
        let secret = credentials.client_secret.expose();
        let mut form = vec![("grant_type", "client_credentials")];
        let http = self.http.for_url(url).map_err(Failure::fatal)?;
        let mut request = http
            .post(url.clone())
            .header(ACCEPT, "application/json")
            .timeout(attempt_timeout(remaining));
        match credentials.auth_method {
            TokenAuthMethod::ClientSecretBasic => {
                // Id and secret are form-encoded before the Basic encoding (RFC 6749, section
                // 2.3.1), as Go's oauth2 (used by PingOne's SDK) does; a no-op for plain
                // characters.
                let encode = |value: &str| {
                    url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>()
                };
                request = request.basic_auth(encode(&credentials.client_id), Some(encode(secret)));
            }
            TokenAuthMethod::ClientSecretPost => {
                form.push(("client_id", &credentials.client_id));
                form.push(("client_secret", secret));
            }
            // Refused in `Client::new`; kept total rather than panicking.
            other => {
                return Err(Failure::fatal(ClientError::InvalidArgument(format!(
                    "token endpoint auth method {other} is not supported"
                ))));
            }
        }
        if let Some(id) = &self.transaction_id {
            request = request.header(TRANSACTION_HEADER, id.clone());
        }
        // Sets `Content-Type: application/x-www-form-urlencoded`.
        let request = request.form(&form);
        let method = Method::POST;
        let (status, retry_after, bytes) = self.round_trip(&method, url, request).await?;
        if status.is_success() {
            return parse_token_answer(&bytes).map_err(|message| {
                Failure::fatal(ClientError::Decode {
                    method: method.to_string(),
                    path: url.path().to_owned(),
                    message,
                })
            });
        }
        if is_transient_status(status.as_u16()) {
            return Err(Failure {
                error: ClientError::Api(api_error(&method, url.path(), status, &bytes)),
                retry: Retry::Transient { retry_after },
            });
        }
        let (error, description) = token_refusal(status, &bytes);
        Err(Failure::fatal(ClientError::Token {
            method: method.to_string(),
            path: url.path().to_owned(),
            status: status.as_u16(),
            error,
            description,
        }))
    }

    /// Every item of a list, following `_links.next.href` verbatim until it is absent
    /// (docs/pingone.md, "Applications"). Items come from `_embedded.<key>`; a page without
    /// `_embedded` has none.
    pub(super) async fn list(&self, mut url: Url, key: &str) -> Result<Vec<Value>, ClientError> {
        if let Some(limit) = self.page_size {
            url.query_pairs_mut()
                .append_pair("limit", &limit.to_string());
        }
        let path = url.path().to_owned();
        let decode = |message: String| ClientError::Decode {
            method: "GET".into(),
            path: path.clone(),
            message,
        };
        let mut items = Vec::new();
        let mut seen = HashSet::new();
        loop {
            seen.insert(url.clone());
            let page = self.send(Method::GET, url.clone(), None).await?;
            let Some(Value::Object(mut page)) = page else {
                return Err(decode("a list page is not a JSON object".into()));
            };
            if let Some(mut embedded) = page.remove("_embedded") {
                match embedded.get_mut(key).map(Value::take) {
                    Some(Value::Array(page_items)) => items.extend(page_items),
                    None | Some(Value::Null) => {}
                    Some(_) => return Err(decode(format!("_embedded.{key} is not an array"))),
                }
            }
            let next = page
                .get("_links")
                .and_then(|links| links.get("next"))
                .and_then(|next| next.get("href"))
                .and_then(Value::as_str)
                .filter(|href| !href.is_empty());
            let Some(href) = next else {
                return Ok(items);
            };
            let next = url
                .join(href)
                .map_err(|e| decode(format!("_links.next.href {href:?}: {e}")))?;
            // The bearer token goes with the next request: never to another host.
            if next.origin() != self.endpoints.api_url.origin() {
                return Err(decode(format!(
                    "_links.next.href points to another host ({}); not following it",
                    next.origin().ascii_serialization()
                )));
            }
            if seen.contains(&next) {
                return Err(decode("_links.next.href repeats an earlier page".into()));
            }
            url = next;
        }
    }
}

/// `base` with `segments` appended, each percent-encoded.
fn with_segments(base: &Url, segments: &[&str]) -> Result<Url, ClientError> {
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|()| ClientError::InvalidEndpoint(format!("{base} cannot take a path")))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

/// The timeout of one exchange: the usual one, shortened to what is left of the call's
/// deadline (but at least one second, so that the first attempt of a short deadline can
/// still succeed).
fn attempt_timeout(remaining: Duration) -> Duration {
    REQUEST_TIMEOUT.min(remaining.max(Duration::from_secs(1)))
}

/// A success body as JSON, `None` when empty.
fn decode_body(method: &Method, path: &str, bytes: &[u8]) -> Result<Option<Value>, ClientError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    // Only the position goes into the message: the body may hold a secret.
    serde_json::from_slice(bytes)
        .map(Some)
        .map_err(|e| ClientError::Decode {
            method: method.to_string(),
            path: path.to_owned(),
            message: format!(
                "the answer is not JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        })
}

/// A transport error as a failure: connection failures are retried for every method (nothing
/// was sent); other failures (timeouts, resets mid-exchange) only for idempotent methods, as a
/// POST may have been carried out. A refused certificate is final: retrying cannot make it
/// trusted.
fn transport_failure(method: &Method, url: &Url, error: &reqwest::Error) -> Failure {
    if let Some(message) = super::connect::certificate_problem(error) {
        return Failure::fatal(certificate_error(method, url, message));
    }
    let retry = if error.is_connect() {
        Retry::Connect
    } else if method == Method::GET || method == Method::PUT || method == Method::DELETE {
        Retry::Transient { retry_after: None }
    } else {
        Retry::Never
    };
    Failure {
        error: ClientError::Transport {
            method: method.to_string(),
            path: url.path().to_owned(),
            origin: url.origin().ascii_serialization(),
            message: transport_message(error),
        },
        retry,
    }
}

/// A [`ClientError::Certificate`] for a call to `url`.
fn certificate_error(method: &Method, url: &Url, message: String) -> ClientError {
    ClientError::Certificate {
        method: method.to_string(),
        path: url.path().to_owned(),
        origin: url.origin().ascii_serialization(),
        message,
    }
}

/// The root cause of a reqwest error, e.g. `connection refused`, without the URL reqwest
/// adds (the caller names it).
fn transport_message(error: &reqwest::Error) -> String {
    let cause = super::connect::root_cause(error);
    if error.is_timeout() {
        format!("no answer in time ({cause})")
    } else if error.is_connect() {
        format!("connection failed: {cause}")
    } else {
        cause
    }
}

/// A PingOne error body (docs/pingone.md, "Errors") as an [`ApiError`]; a body that is not
/// PingOne's JSON still gives one, with the status text and an excerpt of the body as its
/// message.
pub(super) fn api_error(method: &Method, path: &str, status: StatusCode, body: &[u8]) -> ApiError {
    #[derive(serde::Deserialize)]
    struct P1Error {
        id: Option<String>,
        code: Option<String>,
        message: Option<String>,
        #[serde(default)]
        details: Vec<ErrorDetail>,
    }
    let parsed = serde_json::from_slice::<P1Error>(body)
        .ok()
        .filter(|e| e.code.is_some() || e.message.is_some());
    let (id, code, message, details) = match parsed {
        Some(e) => (
            e.id,
            e.code,
            e.message.unwrap_or_else(|| status_text(status)),
            e.details,
        ),
        None => (None, None, status_and_excerpt(status, body), Vec::new()),
    };
    ApiError {
        method: method.to_string(),
        path: path.to_owned(),
        status: status.as_u16(),
        id,
        code,
        message,
        details,
    }
}

/// The OAuth error of a refused token request (RFC 6749, section 5.2: `error`,
/// `error_description`), or PingOne's own format, or the raw body.
fn token_refusal(status: StatusCode, body: &[u8]) -> (String, String) {
    let value: Option<Value> = serde_json::from_slice(body).ok();
    let text = |key: &str| {
        value
            .as_ref()
            .and_then(|v| v.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    if let Some(error) = text("error") {
        return (error, text("error_description").unwrap_or_default());
    }
    if let Some(code) = text("code") {
        return (code, text("message").unwrap_or_default());
    }
    (status_text(status), excerpt(body))
}

/// `401 Unauthorized`.
fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

/// `502 Bad Gateway: <start of the body>`.
fn status_and_excerpt(status: StatusCode, body: &[u8]) -> String {
    let excerpt = excerpt(body);
    if excerpt.is_empty() {
        status_text(status)
    } else {
        format!("{}: {excerpt}", status_text(status))
    }
}

/// The first characters of a body, on one line.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match text.char_indices().nth(BODY_EXCERPT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// The application id in `/v1/environments/{env}/applications/{id}[/…]`.
fn application_id(url: &Url) -> Option<&str> {
    let mut segments = url.path_segments()?;
    segments.find(|s| *s == "applications")?;
    segments.next().filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denial(status: StatusCode, message: &str, url: &Url) -> ApiError {
        let body = json_body(message);
        api_error(&Method::POST, url.path(), status, body.as_bytes())
    }

    fn json_body(message: &str) -> String {
        serde_json::json!({"id": "x", "code": "ACCESS_FAILED", "message": message}).to_string()
    }

    #[test]
    fn propagation_errors_are_only_waited_out_after_own_writes() {
        use crate::client::{Client, ClientOptions, Credentials, Region, TokenAuthMethod};
        let client = Client::new(ClientOptions::new(
            Endpoints::for_region(Region::Na),
            Credentials {
                client_id: "c".into(),
                client_secret: Secret::new("s"),
                environment_id: "e".into(),
                auth_method: TokenAuthMethod::ClientSecretBasic,
            },
        ))
        .unwrap();
        let inner = &client.inner;
        let url = inner.api(&["environments", "e", "applications", "a1", "roleAssignments"]);
        let url = url.unwrap();
        let actor = "The actor attempting to perform the request is not authorized.";
        let forbidden = denial(StatusCode::FORBIDDEN, actor, &url);
        let missing = denial(StatusCode::NOT_FOUND, "not found", &url);
        let waits = |error: &ApiError| {
            matches!(
                inner.classify(&Method::POST, error, &url, None),
                Retry::Propagation { .. }
            )
        };

        assert!(
            !waits(&forbidden) && !waits(&missing),
            "no writes yet: fail fast"
        );
        inner.record_write(None);
        assert!(waits(&forbidden), "a role was just granted");
        assert!(!waits(&missing), "but a1 is not this client's application");
        inner.record_write(Some("a1"));
        assert!(waits(&missing));
        inner.forget_app("a1");
        assert!(!waits(&missing), "a deleted application's 404 is final");

        let busy = denial(StatusCode::SERVICE_UNAVAILABLE, "busy", &url);
        let after = Some(Duration::from_secs(2));
        assert!(matches!(
            inner.classify(&Method::POST, &busy, &url, after),
            Retry::Transient { retry_after } if retry_after == after
        ));
        let invalid = denial(StatusCode::BAD_REQUEST, "bad", &url);
        assert!(matches!(
            inner.classify(&Method::GET, &invalid, &url, None),
            Retry::Never
        ));
        // A POST that failed with a 500 may have been carried out: the caller checks first.
        let failed = denial(StatusCode::INTERNAL_SERVER_ERROR, "oops", &url);
        assert!(matches!(
            inner.classify(&Method::POST, &failed, &url, None),
            Retry::Never
        ));
        assert!(matches!(
            inner.classify(&Method::GET, &failed, &url, None),
            Retry::Transient { .. }
        ));
    }

    #[test]
    fn pingone_error_bodies_become_api_errors() {
        let body = br#"{"id":"e1","code":"ACCESS_FAILED","message":"You do not have access to this resource.","details":[{"code":"INVALID_TOKEN","target":"Authentication Credentials","message":"expired"}]}"#;
        let error = api_error(&Method::GET, "/v1/roles", StatusCode::UNAUTHORIZED, body);
        assert_eq!(error.id.as_deref(), Some("e1"));
        assert_eq!(error.code.as_deref(), Some("ACCESS_FAILED"));
        assert!(error.has_detail_code("INVALID_TOKEN"));
        assert_eq!(
            error.details[0].target.as_deref(),
            Some("Authentication Credentials")
        );
    }

    #[test]
    fn other_error_bodies_keep_status_text_and_an_excerpt() {
        let body = format!("<html><body>{}</body></html>", "x".repeat(500));
        let error = api_error(
            &Method::GET,
            "/v1/roles",
            StatusCode::BAD_GATEWAY,
            body.as_bytes(),
        );
        assert!(
            error
                .message
                .starts_with("502 Bad Gateway: <html><body>xxx"),
            "{}",
            error.message
        );
        assert!(error.message.chars().count() < 230);
        assert_eq!(error.code, None);
        let empty = api_error(
            &Method::GET,
            "/v1/roles",
            StatusCode::SERVICE_UNAVAILABLE,
            b"",
        );
        assert_eq!(empty.message, "503 Service Unavailable");
    }

    #[test]
    fn token_refusals_read_oauth_and_pingone_formats() {
        let oauth = br#"{"error":"invalid_client","error_description":"Request denied"}"#;
        assert_eq!(
            token_refusal(StatusCode::UNAUTHORIZED, oauth),
            ("invalid_client".into(), "Request denied".into())
        );
        let p1 = br#"{"code":"INVALID_REQUEST","message":"bad"}"#;
        assert_eq!(
            token_refusal(StatusCode::BAD_REQUEST, p1),
            ("INVALID_REQUEST".into(), "bad".into())
        );
        assert_eq!(
            token_refusal(StatusCode::FORBIDDEN, b"nope"),
            ("403 Forbidden".into(), "nope".into())
        );
    }

    #[test]
    fn application_ids_are_found_in_sub_resource_paths() {
        let url = |p: &str| Url::parse(&format!("https://api.test{p}")).unwrap();
        let id = |p: &str| application_id(&url(p)).map(str::to_owned);
        assert_eq!(id("/v1/environments/e/applications/a1"), Some("a1".into()));
        assert_eq!(
            id("/v1/environments/e/applications/a1/roleAssignments"),
            Some("a1".into())
        );
        assert_eq!(id("/v1/environments/e/applications"), None);
        assert_eq!(id("/v1/roles"), None);
    }

    #[test]
    fn empty_bodies_are_none_and_bad_json_does_not_echo_the_body() {
        assert_eq!(decode_body(&Method::DELETE, "/p", b"").unwrap(), None);
        let error = decode_body(&Method::GET, "/p", b"{\"secret\": hunter2}").unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }
}
