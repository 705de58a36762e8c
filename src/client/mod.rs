//! The PingOne management API client: region hosts, worker tokens, retries, pagination and
//! PingOne's error format.
//!
//! Everything here must be right for the real service, not only for the emulator: it follows
//! the facts in `docs/pingone.md`, cited below by section name with their public sources.
//!
//! The client is async and runtime-agnostic: it never blocks and never starts a runtime, so the
//! Rhai host can drive it with `Handle::block_on` from a plain thread (docs/pingone.md, "Rhai
//! host notes").
//! Every call
//! * gets a worker token from the shared [`TokenCache`] (fetched once per credentials, reused
//!   until shortly before it expires, fetched again once on `401 INVALID_TOKEN`);
//! * retries 408/429/5xx and connection failures with jittered exponential backoff, honouring
//!   `Retry-After`, within [`RetryPolicy::deadline`];
//! * waits out PingOne's propagation delays, but only right after this client's own writes;
//! * turns every failure into one [`ClientError`] that says what failed, where, and what to do.
//!
//! Secrets and tokens are [`Secret`]s: they are never logged, printed or put in an error.

// `ClientError::Api(ApiError)` is part of the fixed interface and makes the error ~150 bytes;
// boxing it would change that interface, and an error per HTTP call is no hot path.
#![allow(clippy::result_large_err)]

mod budget;
mod connect;
mod custom_roles;
mod endpoints;
mod error;
mod http;
mod model;
pub mod paths;
mod populations;
mod retry;
mod token;
mod verify;
#[cfg(test)]
mod wire_tests;

pub use budget::RateBudget;
pub use connect::Connections;
pub use custom_roles::{CustomRole, CustomRoleDefinition, RoleType};
pub use error::{ApiError, ClientError, ErrorDetail};
pub use model::{
    Application, ApplicationSecret, Environment, IdRef, Permission, Role, RoleAssignment, ScopeRef,
    ScopeType, TokenAuthMethod,
};
pub use populations::Population;
pub use verify::{outcome_unknown, write_once};

use crate::secret::Secret;
use http::{Inner, TRANSACTION_HEADER};
use reqwest::Method;
use reqwest::header::HeaderValue;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use url::Url;

/// A PingOne region and the top-level domain of its hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Region {
    /// North America, `.com`.
    Na,
    /// Europe, `.eu`.
    Eu,
    /// Canada, `.ca`.
    Ca,
    /// Australia, `.com.au`.
    Au,
    /// Singapore, `.sg`.
    Sg,
    /// Asia-Pacific (legacy `.asia` organisations only).
    Ap,
}

/// Where the management API and the auth server live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Management API base, ending in `/v1`.
    pub api_url: Url,
    /// Auth server base; the token URL is `{auth_url}/{environment_id}/as/token`.
    pub auth_url: Url,
}

/// The acting worker application's credentials.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The worker application's id, which is its OAuth client id.
    pub client_id: String,
    /// Its client secret.
    pub client_secret: Secret,
    /// The environment the worker lives in (its token URL's environment).
    pub environment_id: String,
    /// How the worker authenticates at the token endpoint.
    pub auth_method: TokenAuthMethod,
}

/// Retry and propagation settings (docs/pingone.md, "Retries and rate limits", "Propagation").
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// First backoff delay.
    pub initial_delay: Duration,
    /// Longest single delay, `Retry-After` included.
    pub max_delay: Duration,
    /// Total time one call may spend retrying.
    pub deadline: Duration,
    /// How long after this client's own writes the propagation errors are waited out.
    pub propagation_wait: Duration,
}

/// Tokens shared by every [`Client`] of a run, keyed by (auth URL, environment, client id,
/// fingerprint of the secret).
///
/// Cheap to clone; clones share the tokens, across clients and threads.
#[derive(Debug, Default, Clone)]
pub struct TokenCache {
    inner: token::TokenMap,
}

/// A PingOne management API client for one acting worker. Cheap to clone: clones share the
/// connection pool, the request counter and the record of this client's own writes.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

/// Everything needed to build a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Hosts to talk to.
    pub endpoints: Endpoints,
    /// The acting worker.
    pub credentials: Credentials,
    /// Retry behaviour.
    pub retry: RetryPolicy,
    /// Token cache, shared when several clients run at once.
    pub tokens: TokenCache,
    /// Sent as `X-Ping-External-Transaction-ID` on every management and token request, so
    /// that PingOne's logs (and support) can tie all requests of one run together
    /// (docs/pingone.md, "Tokens").
    /// Make it unique per run, e.g. a UUID; at most 100 visible ASCII characters. Empty means
    /// the header is not sent.
    pub transaction_id: String,
    /// `limit` asked of list reads; `None` (the default) sends no `limit` and lets PingOne
    /// choose. The client follows `_links.next` either way, so this only changes the number of
    /// pages. PingOne's paging guide documents `limit`, but the spec declares no query
    /// parameter for the applications list (docs/pingone.md, "Applications"), so keep `None`
    /// against the real service unless a page size is needed.
    pub page_size: Option<u32>,
    /// Requests per second this client may send, shared with the other clients of the same
    /// license; `None`: unlimited (PingOne's 429s are still honoured).
    pub rate_budget: Option<RateBudget>,
    /// A connection pool to share with other clients (a fleet run talks to few hosts);
    /// `None`: a pool of its own.
    pub connections: Option<Connections>,
}

impl ClientOptions {
    /// Options with the default [`RetryPolicy`], a fresh [`TokenCache`], a random transaction
    /// id, no page size (PingOne chooses), no request budget and a connection pool of its own.
    pub fn new(endpoints: Endpoints, credentials: Credentials) -> Self {
        Self {
            endpoints,
            credentials,
            retry: RetryPolicy::default(),
            tokens: TokenCache::default(),
            transaction_id: uuid::Uuid::new_v4().to_string(),
            page_size: None,
            rate_budget: None,
            connections: None,
        }
    }
}

impl Client {
    /// Builds a client. Fails on an unusable endpoint (plain `http://` to a non-loopback host,
    /// or an `https://` one on a machine without usable CA certificates),
    /// a token auth method other than `CLIENT_SECRET_BASIC`/`CLIENT_SECRET_POST`, or a
    /// transaction id PingOne would not accept. Needs no runtime.
    pub fn new(options: ClientOptions) -> Result<Self, ClientError> {
        let ClientOptions {
            endpoints,
            credentials,
            retry,
            tokens,
            transaction_id,
            page_size,
            rate_budget,
            connections,
        } = options;
        // The fields are public, so endpoints may not have gone through `Endpoints::new`:
        // apply the same rules here.
        let endpoints = Endpoints::new(endpoints.api_url.as_str(), endpoints.auth_url.as_str())?;
        if !matches!(
            credentials.auth_method,
            TokenAuthMethod::ClientSecretBasic | TokenAuthMethod::ClientSecretPost
        ) {
            return Err(ClientError::InvalidArgument(format!(
                "the worker's token endpoint auth method {} is not supported; use \
                 CLIENT_SECRET_BASIC or CLIENT_SECRET_POST",
                credentials.auth_method
            )));
        }
        if credentials.client_id.is_empty() || credentials.environment_id.is_empty() {
            return Err(ClientError::InvalidArgument(
                "the worker's client_id and environment_id must not be empty".into(),
            ));
        }
        let transaction_id = transaction_header(&transaction_id)?;
        Ok(Self {
            inner: Arc::new(Inner {
                http: match connections {
                    Some(shared) => shared,
                    None => Connections::new()?,
                }
                .for_urls(&[&endpoints.api_url, &endpoints.auth_url])?,
                rate_budget,
                endpoints,
                credentials,
                retry,
                tokens,
                transaction_id,
                page_size,
                requests_sent: Default::default(),
                writes: Default::default(),
            }),
        })
    }

    /// `GET /environments/{id}`.
    pub async fn environment(&self, environment_id: &str) -> Result<Environment, ClientError> {
        let url = self.inner.api(&["environments", environment_id])?;
        self.get(url).await
    }

    /// `GET /roles`, all pages.
    pub async fn roles(&self) -> Result<Vec<Role>, ClientError> {
        let url = self.inner.api(&["roles"])?;
        self.list(url, "roles").await
    }

    /// `GET /environments/{env}/applications`, all pages.
    pub async fn applications(
        &self,
        environment_id: &str,
    ) -> Result<Vec<Application>, ClientError> {
        let url = self
            .inner
            .api(&["environments", environment_id, "applications"])?;
        self.list(url, "applications").await
    }

    /// `GET /environments/{env}/applications/{id}`.
    pub async fn application(
        &self,
        environment_id: &str,
        application_id: &str,
    ) -> Result<Application, ClientError> {
        let url = self.app_url(environment_id, application_id, &[])?;
        self.get(url).await
    }

    /// `POST /environments/{env}/applications`.
    ///
    /// `body` goes as given. Send `"assignActorRoles": false` for a worker unless it should
    /// inherit this worker's roles (docs/pingone.md, "Applications").
    pub async fn create_application(
        &self,
        environment_id: &str,
        body: &serde_json::Value,
    ) -> Result<Application, ClientError> {
        let url = self
            .inner
            .api(&paths::applications(environment_id).segments())?;
        let path = url.path().to_owned();
        let answer = self.inner.send(Method::POST, url, Some(body)).await?;
        let application: Application = decode("POST", &path, answer)?;
        if application.id().is_empty() {
            return Err(decode_error(
                "POST",
                &path,
                "the new application has no id".into(),
            ));
        }
        self.inner.record_write(Some(application.id()));
        Ok(application)
    }

    /// `PUT /environments/{env}/applications/{id}` with the full body of `application`
    /// (read-only fields stripped).
    pub async fn update_application(
        &self,
        environment_id: &str,
        application: &Application,
    ) -> Result<Application, ClientError> {
        let url = self
            .inner
            .api(&paths::application(environment_id, application.id()).segments())?;
        let path = url.path().to_owned();
        let answer = self
            .inner
            .send(Method::PUT, url, Some(&application.update_body()))
            .await?;
        decode("PUT", &path, answer)
    }

    /// `DELETE /environments/{env}/applications/{id}`.
    pub async fn delete_application(
        &self,
        environment_id: &str,
        application_id: &str,
    ) -> Result<(), ClientError> {
        let url = self
            .inner
            .api(&paths::application(environment_id, application_id).segments())?;
        self.inner.send(Method::DELETE, url, None).await?;
        self.inner.forget_app(application_id);
        Ok(())
    }

    /// `GET …/applications/{id}/roleAssignments`, all pages.
    pub async fn role_assignments(
        &self,
        environment_id: &str,
        application_id: &str,
    ) -> Result<Vec<RoleAssignment>, ClientError> {
        let url = self.app_url(environment_id, application_id, &["roleAssignments"])?;
        self.list(url, "roleAssignments").await
    }

    /// `POST …/applications/{id}/roleAssignments`.
    pub async fn create_role_assignment(
        &self,
        environment_id: &str,
        application_id: &str,
        role_id: &str,
        scope: &ScopeRef,
    ) -> Result<RoleAssignment, ClientError> {
        let url = self
            .inner
            .api(&paths::role_assignments(environment_id, application_id).segments())?;
        let path = url.path().to_owned();
        // The body is exactly `{role:{id}, scope:{id,type}}` (docs/pingone.md, "Role
        // assignments").
        let body = json!({ "role": { "id": role_id }, "scope": scope });
        let answer = self.inner.send(Method::POST, url, Some(&body)).await?;
        let assignment = decode("POST", &path, answer)?;
        self.inner.record_write(None);
        Ok(assignment)
    }

    /// `DELETE …/applications/{id}/roleAssignments/{assignment}`.
    pub async fn delete_role_assignment(
        &self,
        environment_id: &str,
        application_id: &str,
        role_assignment_id: &str,
    ) -> Result<(), ClientError> {
        let url = self.inner.api(
            &paths::role_assignment(environment_id, application_id, role_assignment_id).segments(),
        )?;
        self.inner.send(Method::DELETE, url, None).await?;
        Ok(())
    }

    /// `GET …/applications/{id}/secret`.
    pub async fn application_secret(
        &self,
        environment_id: &str,
        application_id: &str,
    ) -> Result<ApplicationSecret, ClientError> {
        let url = self.app_url(environment_id, application_id, &["secret"])?;
        self.get(url).await
    }

    /// `POST …/applications/{id}/secret`: a new secret; the previous one stays valid for
    /// `previous_expires_in` when given.
    pub async fn rotate_application_secret(
        &self,
        environment_id: &str,
        application_id: &str,
        previous_expires_in: Option<Duration>,
    ) -> Result<ApplicationSecret, ClientError> {
        let url = self
            .inner
            .api(&paths::secret(environment_id, application_id).segments())?;
        let path = url.path().to_owned();
        // The body is an `ApplicationSecret`; `previous.expiresAt` keeps the old secret usable
        // until then (1 minute to 30 days; docs/pingone.md, "Application secrets").
        let body = match previous_expires_in {
            None => json!({}),
            Some(valid_for) => json!({ "previous": { "expiresAt": expires_at(valid_for)? } }),
        };
        let answer = self.inner.send(Method::POST, url, Some(&body)).await?;
        decode("POST", &path, answer)
    }

    /// Whether the resource at `path` exists: `GET` answers 200, or 404.
    pub async fn exists(&self, path: &paths::ApiPath) -> Result<bool, ClientError> {
        let url = self.inner.api(&path.segments())?;
        match self.get::<Value>(url).await {
            Ok(_) => Ok(true),
            Err(ClientError::Api(error)) if error.status == 404 => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Counts a write this client found had landed (after an answer that left it unknown) as
    /// its own, so that the propagation waits cover it like a write it saw answered.
    pub fn note_own_write(&self, created_application: Option<&str>) {
        self.inner.record_write(created_application);
    }

    /// Gets a worker token (the cached one while it is fresh): the token request alone, so
    /// that `p1run doctor` can tell a refused secret or an unreachable auth host apart from
    /// what the management API says.
    pub async fn check_token(&self) -> Result<(), ClientError> {
        let deadline = std::time::Instant::now() + self.inner.retry.deadline;
        self.inner.token(None, deadline).await.map(drop)
    }

    /// How many HTTP requests this client has sent (token requests included), for reports.
    pub fn requests_sent(&self) -> u64 {
        self.inner.requests_sent.load(Ordering::Relaxed)
    }

    /// `…/environments/{env}/applications/{id}/{rest…}`.
    fn app_url(
        &self,
        environment_id: &str,
        application_id: &str,
        rest: &[&str],
    ) -> Result<Url, ClientError> {
        let mut segments = vec![
            "environments",
            environment_id,
            "applications",
            application_id,
        ];
        segments.extend_from_slice(rest);
        self.inner.api(&segments)
    }

    /// A GET of one resource, decoded.
    async fn get<T: serde::de::DeserializeOwned>(&self, url: Url) -> Result<T, ClientError> {
        let path = url.path().to_owned();
        let answer = self.inner.send(Method::GET, url, None).await?;
        decode("GET", &path, answer)
    }

    /// Every item of a list, decoded.
    async fn list<T: serde::de::DeserializeOwned>(
        &self,
        url: Url,
        key: &str,
    ) -> Result<Vec<T>, ClientError> {
        let path = url.path().to_owned();
        let items = self.inner.list(url, key).await?;
        items
            .into_iter()
            .map(|item| decode("GET", &path, Some(item)))
            .collect()
    }
}

/// A JSON answer as `T`; a missing body is a decode error.
fn decode<T: serde::de::DeserializeOwned>(
    method: &str,
    path: &str,
    answer: Option<Value>,
) -> Result<T, ClientError> {
    let value = answer.ok_or_else(|| decode_error(method, path, "the answer is empty".into()))?;
    serde_json::from_value(value).map_err(|e| decode_error(method, path, e.to_string()))
}

/// A [`ClientError::Decode`].
fn decode_error(method: &str, path: &str, message: String) -> ClientError {
    ClientError::Decode {
        method: method.to_owned(),
        path: path.to_owned(),
        message,
    }
}

/// `now + valid_for` as RFC 3339, whole seconds.
fn expires_at(valid_for: Duration) -> Result<String, ClientError> {
    let invalid = || ClientError::InvalidArgument(format!("{valid_for:?} is not a usable expiry"));
    let at = time::OffsetDateTime::now_utc()
        .checked_add(time::Duration::try_from(valid_for).map_err(|_| invalid())?)
        .ok_or_else(invalid)?
        .replace_nanosecond(0)
        .map_err(|_| invalid())?;
    at.format(&time::format_description::well_known::Rfc3339)
        .map_err(|_| invalid())
}

/// The transaction id as a header value; `None` when empty.
fn transaction_header(id: &str) -> Result<Option<HeaderValue>, ClientError> {
    if id.is_empty() {
        return Ok(None);
    }
    // PingOne takes at most 100 characters (docs/pingone.md, "Tokens").
    if id.len() > 100 || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ClientError::InvalidArgument(format!(
            "transaction_id {id:?} must be 1 to 100 visible ASCII characters ({TRANSACTION_HEADER})"
        )));
    }
    HeaderValue::from_str(id)
        .map(Some)
        .map_err(|e| ClientError::InvalidArgument(format!("transaction_id {id:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> ClientOptions {
        ClientOptions::new(
            Endpoints::for_region(Region::Eu),
            Credentials {
                client_id: "c".into(),
                client_secret: Secret::new("hunter2"),
                environment_id: "e".into(),
                auth_method: TokenAuthMethod::ClientSecretBasic,
            },
        )
    }

    #[test]
    fn clients_are_send_sync_and_cheap_to_clone() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        assert_send_sync::<Client>();
        assert_send_sync::<TokenCache>();
        let client = Client::new(options()).unwrap();
        let clone = client.clone();
        assert!(Arc::ptr_eq(&client.inner, &clone.inner));
        assert_eq!(client.requests_sent(), 0);
        assert!(!format!("{client:?}").contains("hunter2"));
    }

    #[test]
    fn unusable_options_are_refused_up_front() {
        let mut bad = options();
        bad.endpoints.auth_url = Url::parse("http://10.1.1.1").unwrap();
        assert!(matches!(
            Client::new(bad),
            Err(ClientError::InvalidEndpoint(_))
        ));
        let mut bad = options();
        bad.credentials.auth_method = TokenAuthMethod::PrivateKeyJwt;
        assert!(matches!(
            Client::new(bad),
            Err(ClientError::InvalidArgument(_))
        ));
        let mut bad = options();
        bad.transaction_id = "x".repeat(101);
        assert!(matches!(
            Client::new(bad),
            Err(ClientError::InvalidArgument(_))
        ));
        let mut none = options();
        none.transaction_id = String::new();
        assert!(Client::new(none).is_ok());
    }

    #[test]
    fn ids_cannot_reshape_paths() {
        let client = Client::new(options()).unwrap();
        let url = client.app_url("e/../x", "a?b", &["secret"]).unwrap();
        assert_eq!(
            url.path(),
            "/v1/environments/e%2F..%2Fx/applications/a%3Fb/secret"
        );
        assert_eq!(url.query(), None);
        assert!(client.app_url("", "a", &[]).is_err());
        assert!(client.app_url("..", "a", &[]).is_err());
    }

    #[test]
    fn secret_expiry_is_rfc3339_in_whole_seconds() {
        let at = expires_at(Duration::from_secs(3600)).unwrap();
        assert!(at.ends_with('Z') && !at.contains('.'), "{at}");
    }
}
