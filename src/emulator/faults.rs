//! The unreliability PingOne's clients must survive, on demand: a per-client rate limit (429
//! with `Retry-After`) and random 500/502/503 answers.

use axum::http::StatusCode;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::num::NonZeroU32;
use std::sync::{Mutex, PoisonError};

/// A token bucket per client.
pub(crate) struct RateLimiter {
    limiter: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

impl RateLimiter {
    /// `per_second` requests per second per client, with a burst of as many; `None` for 0.
    pub(crate) fn per_second(per_second: u32) -> Option<Self> {
        let quota = Quota::per_second(NonZeroU32::new(per_second)?);
        Some(Self {
            limiter: governor::RateLimiter::keyed(quota),
            clock: DefaultClock::default(),
        })
    }

    /// `Err(seconds to wait)` when the client is over its limit. `Retry-After` takes whole
    /// seconds, so the wait is rounded up and is at least 1.
    pub(crate) fn check(&self, key: &str) -> Result<(), u64> {
        self.limiter
            .check_key(&key.to_owned())
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(self.clock.now());
                (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
            })
    }
}

/// Draws random server errors from a seeded generator, so that a run can be replayed.
pub(crate) struct FaultInjector {
    rate: f64,
    rng: Mutex<StdRng>,
}

impl FaultInjector {
    pub(crate) fn new(rate: f64, seed: Option<u64>) -> Self {
        let rng = match seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_rng(&mut rand::rng()),
        };
        Self {
            rate: rate.clamp(0.0, 1.0),
            rng: Mutex::new(rng),
        }
    }

    /// The status to fail this request with, if it is to fail.
    pub(crate) fn draw(&self) -> Option<StatusCode> {
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        if !rng.random_bool(self.rate) {
            return None;
        }
        Some(match rng.random_range(0..3) {
            0 => StatusCode::INTERNAL_SERVER_ERROR,
            1 => StatusCode::BAD_GATEWAY,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_draws_the_same_faults() {
        let draws = |seed| {
            let faults = FaultInjector::new(0.5, Some(seed));
            (0..64).map(|_| faults.draw()).collect::<Vec<_>>()
        };
        assert_eq!(draws(7), draws(7));
        assert!(draws(7).iter().any(Option::is_some));
        assert!(draws(7).iter().any(Option::is_none));
    }

    #[test]
    fn rate_zero_and_one_are_never_and_always() {
        let never = FaultInjector::new(0.0, Some(1));
        let always = FaultInjector::new(1.0, Some(1));
        assert!((0..100).all(|_| never.draw().is_none()));
        assert!((0..100).all(|_| always.draw().is_some()));
    }

    #[test]
    fn a_client_over_its_limit_waits_at_least_a_second_and_others_do_not() {
        let limiter = RateLimiter::per_second(2).unwrap();
        assert!(limiter.check("a").is_ok());
        assert!(limiter.check("a").is_ok());
        assert_eq!(limiter.check("a"), Err(1));
        assert!(limiter.check("b").is_ok());
    }
}
