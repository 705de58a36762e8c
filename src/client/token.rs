//! Worker access tokens (docs/pingone.md, "Tokens"): the shared cache and the token answer.
//!
//! A token is cached per (auth URL, environment, client id, secret fingerprint), so it is never
//! used for other credentials or another auth server: a client configured with a wrong secret
//! must fail even when another client of the same worker already holds a token. Each key has
//! its own async mutex: the first caller that needs a token fetches it while holding the lock,
//! and concurrent callers wait for that one fetch instead of stampeding the token endpoint.

use super::{Credentials, Endpoints, TokenCache};
use crate::secret::Secret;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// (auth URL, environment id, client id, secret fingerprint).
pub(super) type TokenKey = (String, String, String, u64);

/// One key's cached token; `None` until fetched.
pub(super) type TokenSlot = Arc<tokio::sync::Mutex<Option<CachedToken>>>;

/// The map behind [`TokenCache`].
pub(super) type TokenMap = Arc<Mutex<HashMap<TokenKey, TokenSlot>>>;

/// A token and when to stop using it.
#[derive(Debug)]
pub(super) struct CachedToken {
    /// The bearer token.
    pub(super) token: Secret,
    /// After this instant the token is fetched again.
    pub(super) refresh_at: Instant,
}

impl CachedToken {
    /// A token valid for `valid_for`, to be replaced shortly before it expires: 60 s early,
    /// or at half its life for short-lived tokens, so that a call never starts with a token
    /// about to lapse in flight.
    pub(super) fn new(token: Secret, valid_for: Duration) -> Self {
        let margin = Duration::from_secs(60).min(valid_for / 2);
        Self {
            token,
            refresh_at: Instant::now() + (valid_for - margin),
        }
    }

    /// Still good to use.
    pub(super) fn is_fresh(&self) -> bool {
        Instant::now() < self.refresh_at
    }
}

/// The cache key of `credentials` at `endpoints`.
pub(super) fn token_key(endpoints: &Endpoints, credentials: &Credentials) -> TokenKey {
    (
        endpoints.auth_url.as_str().trim_end_matches('/').to_owned(),
        credentials.environment_id.clone(),
        credentials.client_id.clone(),
        fingerprint(&credentials.client_secret),
    )
}

/// A one-way, per-process fingerprint of a secret: keyed SipHash with a random key, so the
/// cache can tell secrets apart without keeping a second copy of any of them.
fn fingerprint(secret: &Secret) -> u64 {
    use std::hash::BuildHasher;
    static KEY: std::sync::OnceLock<std::collections::hash_map::RandomState> =
        std::sync::OnceLock::new();
    KEY.get_or_init(Default::default).hash_one(secret.expose())
}

impl TokenCache {
    /// The slot for `key`, created empty on first use.
    pub(super) fn slot(&self, key: TokenKey) -> TokenSlot {
        // A poisoned lock only means another thread panicked mid-insert; the map is still valid.
        let mut map = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        map.entry(key).or_default().clone()
    }

    /// Puts a token obtained elsewhere into the cache for `credentials` at `endpoints`, valid
    /// for `valid_for`. Meant for tests and for handing a token over between processes; a
    /// token PingOne rejects as `INVALID_TOKEN` is replaced by a fresh one on first use.
    pub fn insert(
        &self,
        endpoints: &Endpoints,
        credentials: &Credentials,
        token: Secret,
        valid_for: Duration,
    ) {
        let slot = self.slot(token_key(endpoints, credentials));
        // Uncontended unless a fetch for the same key is in flight, in which case the fetched
        // token is as good as this one and this insert is skipped.
        if let Ok(mut cached) = slot.try_lock() {
            *cached = Some(CachedToken::new(token, valid_for));
        }
    }
}

/// Lifetime assumed when a token answer has no `expires_in`: PingOne documents one hour
/// (docs/pingone.md, "Tokens"), and an early `INVALID_TOKEN` is handled by refetching anyway.
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// Reads `{access_token, token_type, expires_in}`. The error text never contains the body,
/// which holds the token.
pub(super) fn parse_token_answer(body: &[u8]) -> Result<CachedToken, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|_| "the token answer is not JSON".to_owned())?;
    let token = value
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or("the token answer has no access_token string")?;
    match value.get("token_type").and_then(Value::as_str) {
        Some(kind) if !kind.eq_ignore_ascii_case("bearer") => {
            return Err(format!("token_type is {kind:?}, expected Bearer"));
        }
        _ => {}
    }
    let valid_for = value
        .get("expires_in")
        .and_then(Value::as_u64)
        // Capped: a day is far beyond PingOne's hour, and an absurd value must not overflow
        // the refresh instant.
        .map_or(DEFAULT_TOKEN_LIFETIME, |seconds| {
            Duration::from_secs(seconds.min(86_400))
        });
    Ok(CachedToken::new(Secret::new(token), valid_for))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_answer_is_read_without_echoing_it() {
        let cached = parse_token_answer(
            br#"{"access_token":"abc","token_type":"Bearer","expires_in":3600}"#,
        )
        .unwrap();
        assert_eq!(cached.token.expose(), "abc");
        assert!(cached.is_fresh());
        let error = parse_token_answer(br#"{"access_token":7,"secret":"abc"}"#).unwrap_err();
        assert!(!error.contains("abc"), "{error}");
        assert!(parse_token_answer(b"<html>").is_err());
        assert!(parse_token_answer(br#"{"access_token":"a","token_type":"mac"}"#).is_err());
    }

    #[test]
    fn short_lived_tokens_are_refreshed_at_half_life_and_expired_ones_are_stale() {
        let cached = CachedToken::new(Secret::new("t"), Duration::from_secs(10));
        assert!(cached.refresh_at <= Instant::now() + Duration::from_secs(5));
        assert!(!CachedToken::new(Secret::new("t"), Duration::ZERO).is_fresh());
    }

    #[test]
    fn keys_separate_credentials_and_servers() {
        let cache = TokenCache::default();
        let a = cache.slot(("https://auth.test".into(), "e".into(), "c1".into(), 1));
        let b = cache.slot(("https://auth.test".into(), "e".into(), "c2".into(), 1));
        let a2 = cache.slot(("https://auth.test".into(), "e".into(), "c1".into(), 1));
        let other_secret = cache.slot(("https://auth.test".into(), "e".into(), "c1".into(), 2));
        assert!(Arc::ptr_eq(&a, &a2));
        assert!(!Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &other_secret));
        assert_ne!(
            fingerprint(&Secret::new("x")),
            fingerprint(&Secret::new("y"))
        );
    }
}
