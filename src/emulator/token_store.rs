//! The tokens the token endpoint issues. They are opaque random strings that map to a
//! snapshot of the application's role assignments at issue time: a role granted later counts
//! only in the next token, as with PingOne's signed JWTs.

use super::access::Caller;
use super::state::{self, RoleAssignment};
use axum::http::{HeaderMap, header};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// What a token stands for.
struct IssuedToken {
    client_id: String,
    grants: Arc<[RoleAssignment]>,
    expires_at: Instant,
}

/// Every live token.
pub(crate) struct TokenStore {
    tokens: Mutex<HashMap<String, IssuedToken>>,
    lifetime: Duration,
}

impl TokenStore {
    pub(crate) fn new(lifetime: Duration) -> Self {
        Self {
            tokens: Mutex::new(HashMap::new()),
            lifetime,
        }
    }

    pub(crate) fn issue(&self, client_id: &str, grants: Arc<[RoleAssignment]>) -> String {
        let token = state::random_string(48);
        let now = Instant::now();
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        // Expired tokens are dropped now and then rather than on every issue, so the hot path
        // stays O(1) while memory stays bounded.
        if tokens.len() >= 10_000 && tokens.len().is_power_of_two() {
            tokens.retain(|_, issued| issued.expires_at > now);
        }
        let expires_at = now + self.lifetime;
        tokens.insert(
            token.clone(),
            IssuedToken {
                client_id: client_id.to_owned(),
                grants,
                expires_at,
            },
        );
        token
    }

    /// The caller a `Bearer` header stands for, if the token is live.
    pub(crate) fn caller(&self, headers: &HeaderMap) -> Option<Caller> {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        let issued = tokens.get(token.trim())?;
        (issued.expires_at > Instant::now()).then(|| Caller {
            client_id: issued.client_id.clone(),
            grants: issued.grants.clone(),
        })
    }

    /// A deleted application's tokens stop working (PingOne no longer knows the actor).
    pub(crate) fn revoke_client(&self, client_id: &str) {
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, issued| issued.client_id != client_id);
    }

    /// Every live token, for tests that prove no token leaks into a tool's output.
    pub(crate) fn issued(&self) -> Vec<String> {
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
    }

    pub(crate) fn lifetime_seconds(&self) -> u64 {
        self.lifetime.as_secs()
    }
}
