//! The PingOne management API client: region hosts, worker tokens, retries, pagination and
//! PingOne's error format.
//!
//! Everything here must be right for the real service, not only for the emulator: follow
//! `../shared/pingone/API-REFERENCE.md`.
//!
//! STUB: signatures are fixed (the Rhai host is written against them); bodies are to be filled.

mod error;
mod model;

pub use error::{ApiError, ClientError, ErrorDetail};
pub use model::{
    Application, ApplicationSecret, Environment, IdRef, Role, RoleAssignment, ScopeRef, ScopeType,
    TokenAuthMethod,
};

use crate::secret::Secret;
use std::sync::Arc;
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

/// Retry and propagation settings (API-REFERENCE §7).
#[derive(Debug, Clone, Default)]
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

/// Tokens shared by every [`Client`] of a run, keyed by (auth URL, environment, client id).
#[derive(Debug, Default, Clone)]
pub struct TokenCache {
    inner: Arc<std::sync::Mutex<std::collections::HashMap<(String, String, String), ()>>>,
}

/// A PingOne management API client for one acting worker. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    _private: (),
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
    /// Sent as `X-Ping-External-Transaction-ID`.
    pub transaction_id: String,
}

impl Client {
    /// Builds a client. Fails on an unusable endpoint (plain `http://` to a non-loopback host).
    pub fn new(_options: ClientOptions) -> Result<Self, ClientError> {
        unimplemented!()
    }

    /// `GET /environments/{id}`.
    pub async fn environment(&self, _environment_id: &str) -> Result<Environment, ClientError> {
        unimplemented!()
    }

    /// `GET /roles`, all pages.
    pub async fn roles(&self) -> Result<Vec<Role>, ClientError> {
        unimplemented!()
    }

    /// `GET /environments/{env}/applications`, all pages.
    pub async fn applications(
        &self,
        _environment_id: &str,
    ) -> Result<Vec<Application>, ClientError> {
        unimplemented!()
    }

    /// `GET /environments/{env}/applications/{id}`.
    pub async fn application(
        &self,
        _environment_id: &str,
        _application_id: &str,
    ) -> Result<Application, ClientError> {
        unimplemented!()
    }

    /// `POST /environments/{env}/applications`.
    pub async fn create_application(
        &self,
        _environment_id: &str,
        _body: &serde_json::Value,
    ) -> Result<Application, ClientError> {
        unimplemented!()
    }

    /// `PUT /environments/{env}/applications/{id}` with the full body of `application`
    /// (read-only fields stripped).
    pub async fn update_application(
        &self,
        _environment_id: &str,
        _application: &Application,
    ) -> Result<Application, ClientError> {
        unimplemented!()
    }

    /// `DELETE /environments/{env}/applications/{id}`.
    pub async fn delete_application(
        &self,
        _environment_id: &str,
        _application_id: &str,
    ) -> Result<(), ClientError> {
        unimplemented!()
    }

    /// `GET …/applications/{id}/roleAssignments`, all pages.
    pub async fn role_assignments(
        &self,
        _environment_id: &str,
        _application_id: &str,
    ) -> Result<Vec<RoleAssignment>, ClientError> {
        unimplemented!()
    }

    /// `POST …/applications/{id}/roleAssignments`.
    pub async fn create_role_assignment(
        &self,
        _environment_id: &str,
        _application_id: &str,
        _role_id: &str,
        _scope: &ScopeRef,
    ) -> Result<RoleAssignment, ClientError> {
        unimplemented!()
    }

    /// `DELETE …/applications/{id}/roleAssignments/{assignment}`.
    pub async fn delete_role_assignment(
        &self,
        _environment_id: &str,
        _application_id: &str,
        _role_assignment_id: &str,
    ) -> Result<(), ClientError> {
        unimplemented!()
    }

    /// `GET …/applications/{id}/secret`.
    pub async fn application_secret(
        &self,
        _environment_id: &str,
        _application_id: &str,
    ) -> Result<ApplicationSecret, ClientError> {
        unimplemented!()
    }

    /// `POST …/applications/{id}/secret`: a new secret; the previous one stays valid for
    /// `previous_expires_in` when given.
    pub async fn rotate_application_secret(
        &self,
        _environment_id: &str,
        _application_id: &str,
        _previous_expires_in: Option<Duration>,
    ) -> Result<ApplicationSecret, ClientError> {
        unimplemented!()
    }

    /// How many HTTP requests this client has sent (token requests included), for reports.
    pub fn requests_sent(&self) -> u64 {
        unimplemented!()
    }
}

// TEMPORARY (main only, replaced by the client branch).
impl std::str::FromStr for Region {
    type Err = ClientError;
    fn from_str(_s: &str) -> Result<Self, Self::Err> {
        unimplemented!()
    }
}
impl Endpoints {
    /// Region hosts.
    pub fn for_region(_region: Region) -> Self {
        unimplemented!()
    }
    /// Overrides.
    pub fn new(_api_url: Url, _auth_url: Url) -> Result<Self, ClientError> {
        unimplemented!()
    }
}
impl ClientError {
    /// TEMP.
    pub fn api(&self) -> Option<&ApiError> {
        unimplemented!()
    }
}
