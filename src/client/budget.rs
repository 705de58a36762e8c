//! A client-side request budget: requests per second that every client drawing on the same
//! PingOne license shares, so that a fleet run stays inside PingOne's rate limits without
//! waiting to be told (429) — PingOne limits per license, not per client (docs/pingone.md,
//! "Retries and rate limits").

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;

/// Requests per second shared by clones. Cheap to clone.
#[derive(Clone)]
pub struct RateBudget {
    limiter: Arc<DefaultDirectRateLimiter>,
    per_second: NonZeroU32,
}

impl RateBudget {
    /// A budget of `per_second` requests a second. Its burst is half a second's worth: a server
    /// enforcing the same rate with a full second of burst then always has room for the jitter
    /// between our sending and its receiving, so the budget never earns a 429 by itself.
    pub fn per_second(per_second: NonZeroU32) -> Self {
        let burst = NonZeroU32::new(per_second.get().div_ceil(2)).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_second(per_second).allow_burst(burst);
        Self {
            limiter: Arc::new(RateLimiter::direct(quota)),
            per_second,
        }
    }

    /// Waits until one more request fits.
    pub(crate) async fn acquire(&self) {
        self.limiter.until_ready().await;
    }
}

impl fmt::Debug for RateBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RateBudget({}/s)", self.per_second)
    }
}
