//! A client-side request budget: requests per second that every client drawing on the same
//! PingOne license shares, so that a fleet run stays inside PingOne's rate limits without
//! waiting to be told (429) — PingOne limits per license, not per client (docs/pingone.md,
//! "Retries and rate limits").

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// Requests per second shared by clones. Cheap to clone.
#[derive(Clone)]
pub struct RateBudget {
    limiter: Arc<DefaultDirectRateLimiter>,
    per_second: f64,
}

impl RateBudget {
    /// A budget of `per_second` requests a second (fractions allowed: a shard's share of a
    /// license is rarely whole). Its burst is half a second's worth, at least one request: a
    /// server enforcing the same rate with a full second of burst then always has room for
    /// the jitter between our sending and its receiving, so the budget never earns a 429 by
    /// itself. `None` for a rate that is not a positive number, or one so high that no
    /// interval between requests is left (unlimited).
    pub fn per_second(per_second: f64) -> Option<Self> {
        if !per_second.is_finite() || per_second <= 0.0 {
            return None;
        }
        let period = Duration::from_secs_f64(1.0 / per_second);
        // `as` saturates: a huge rate gets the largest burst, which is what it asks for.
        let burst = NonZeroU32::new((per_second / 2.0).ceil() as u32).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(period)?.allow_burst(burst);
        Some(Self {
            limiter: Arc::new(RateLimiter::direct(quota)),
            per_second,
        })
    }

    /// Requests a second.
    pub fn rate(&self) -> f64 {
        self.per_second
    }

    /// Waits until one more request fits.
    pub(crate) async fn acquire(&self) {
        self.limiter.until_ready().await;
    }
}

impl fmt::Debug for RateBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RateBudget({:.2}/s)", self.per_second)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractional_rates_are_budgets_and_nonsense_is_none() {
        assert_eq!(RateBudget::per_second(8.0 / 3.0).unwrap().rate(), 8.0 / 3.0);
        assert!(RateBudget::per_second(0.0).is_none());
        assert!(RateBudget::per_second(-1.0).is_none());
        assert!(RateBudget::per_second(f64::NAN).is_none());
        assert!(RateBudget::per_second(f64::INFINITY).is_none());
        // The bench's lifted budget still builds.
        assert!(RateBudget::per_second(350_000.0).is_some());
    }
}
