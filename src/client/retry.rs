//! When to retry, and how long to wait (docs/pingone.md, "Retries and rate limits" and
//! "Propagation").
//!
//! The delays come from backon's exponential backoff with jitter; this module adds what backon
//! does not know about: PingOne's `Retry-After`, one total deadline per call, and the bounded
//! propagation waits.

use super::{ApiError, ClientError, RetryPolicy};
use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use reqwest::header::HeaderValue;
use std::time::{Duration, Instant, SystemTime};

impl Default for RetryPolicy {
    /// * `initial_delay` 250 ms: a 5xx from PingOne is usually a single bad node; a quick
    ///   second try mostly succeeds, and doubling (with jitter) spreads concurrent clients.
    /// * `max_delay` 30 s: the cap both official Go clients use, `Retry-After` included.
    /// * `deadline` 60 s: long enough to ride out a 429 window (limits are per minute) and a
    ///   few 30 s-capped waits, short enough that a recipe run fails visibly rather than hanging
    ///   like the provider's 10-minute wrapper (all three: docs/pingone.md, "Retries and rate
    ///   limits").
    /// * `propagation_wait` 30 s: role grants and new applications take seconds to propagate
    ///   (docs/pingone.md, "Propagation"); the provider waits them out with the same kind of
    ///   retry.
    fn default() -> Self {
        Self {
            initial_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            deadline: Duration::from_secs(60),
            propagation_wait: Duration::from_secs(30),
        }
    }
}

/// How often a connection that could not even be made is tried again. Connection refused or
/// DNS failures rarely heal within a call, so a few tries are enough to ride out a blip.
const MAX_CONNECT_RETRIES: u32 = 3;

/// Whether, and how, a failed attempt may be retried.
#[derive(Debug)]
pub(super) enum Retry {
    /// Give up and return the error.
    Never,
    /// 408, 429, 500, 502, 503, 504 or a transport failure of an idempotent request:
    /// back off, or wait `retry_after` when PingOne said so.
    Transient {
        /// The `Retry-After` header, when present and readable.
        retry_after: Option<Duration>,
    },
    /// The connection could not be made, so nothing was sent: safe even for a POST.
    Connect,
    /// A propagation error right after this client's own write (docs/pingone.md,
    /// "Propagation"): retry until `until`.
    Propagation {
        /// End of the bounded wait.
        until: Instant,
    },
}

/// A failed attempt: the error to report and whether to retry.
#[derive(Debug)]
pub(super) struct Failure {
    pub(super) error: ClientError,
    pub(super) retry: Retry,
}

impl Failure {
    /// A failure that is final.
    pub(super) fn fatal(error: ClientError) -> Self {
        Self {
            error,
            retry: Retry::Never,
        }
    }
}

/// The retry state of one call: attempts, backoff and the deadline.
pub(super) struct Retrier<'a> {
    policy: &'a RetryPolicy,
    method: &'a str,
    path: &'a str,
    started: Instant,
    deadline: Instant,
    backoff: ExponentialBackoff,
    attempts: u32,
    connect_failures: u32,
}

impl<'a> Retrier<'a> {
    /// Starts the clock for one call that must be done by `deadline`.
    pub(super) fn new(
        policy: &'a RetryPolicy,
        method: &'a str,
        path: &'a str,
        deadline: Instant,
    ) -> Self {
        let backoff = ExponentialBuilder::new()
            .with_jitter()
            .with_factor(2.0)
            .with_min_delay(policy.initial_delay)
            .with_max_delay(policy.max_delay)
            .without_max_times()
            .build();
        Self {
            policy,
            method,
            path,
            started: Instant::now(),
            deadline,
            backoff,
            attempts: 0,
            connect_failures: 0,
        }
    }

    /// When the call must be done.
    pub(super) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Time left before the deadline.
    pub(super) fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Counts one request sent; returns its number (1-based).
    pub(super) fn attempt(&mut self) -> u32 {
        self.attempts += 1;
        self.attempts
    }

    /// After a failed attempt: how long to wait before the next one, or the error to return.
    pub(super) fn wait_or_give_up(&mut self, failure: Failure) -> Result<Duration, ClientError> {
        let now = Instant::now();
        // `without_max_times` makes the iterator endless; the fallback is for form's sake.
        let backoff = self.backoff.next().unwrap_or(self.policy.max_delay);
        let delay = match failure.retry {
            Retry::Never => return Err(failure.error),
            Retry::Connect => {
                self.connect_failures += 1;
                if self.connect_failures > MAX_CONNECT_RETRIES {
                    return Err(failure.error);
                }
                backoff
            }
            // Both Go clients wait what `Retry-After` says instead of their own backoff;
            // never less than `initial_delay`, so that `Retry-After: 0` cannot spin.
            Retry::Transient {
                retry_after: Some(after),
            } => after.max(self.policy.initial_delay),
            Retry::Transient { retry_after: None } => backoff,
            // The window is over: the error is genuine, report it as PingOne gave it. Inside
            // the window, try once more at its very end rather than overshooting it.
            Retry::Propagation { until } if now >= until => return Err(failure.error),
            Retry::Propagation { until } => backoff.min(until - now),
        }
        .min(self.policy.max_delay);
        if now + delay > self.deadline {
            return Err(ClientError::DeadlineExceeded {
                method: self.method.to_owned(),
                path: self.path.to_owned(),
                attempts: self.attempts,
                elapsed: now - self.started,
                last: Box::new(failure.error),
            });
        }
        Ok(delay)
    }
}

/// True for the statuses PingOne's retry guidance lists as transient (docs/pingone.md,
/// "Retries and rate limits"): 408, 429, 500, 502, 503, 504.
pub(super) fn is_transient_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// The texts the Terraform provider retries as "permissions may not have propagated"
/// (`DefaultCreateReadRetryable`, `RoleAssignmentRetryable`; docs/pingone.md, "Propagation"),
/// matched on the top-level message or the first detail's message, as both placements occur.
pub(super) fn is_propagation_denial(error: &ApiError) -> bool {
    const PREFIXES: [&str; 2] = [
        "The actor attempting to perform the request is not authorized.",
        "Must have role at the same or broader scope",
    ];
    // The status of the scope error is not documented (403 or 400), so both count
    // (docs/pingone.md, "Where the reference is silent").
    if !matches!(error.status, 400 | 403) {
        return false;
    }
    let messages = [Some(error.message.as_str()), error.first_detail_message()];
    messages
        .into_iter()
        .flatten()
        .any(|m| PREFIXES.iter().any(|p| m.starts_with(p)))
}

/// The `Retry-After` header of an answer, when present and readable.
pub(super) fn parse_retry_after_header(value: Option<&HeaderValue>) -> Option<Duration> {
    parse_retry_after(value?.to_str().ok()?, SystemTime::now())
}

/// `Retry-After` as integer seconds or an HTTP-date (docs/pingone.md, "Retries and rate
/// limits"), relative to `now`.
pub(super) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ErrorDetail;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            deadline: Duration::from_secs(10),
            propagation_wait: Duration::from_secs(5),
        }
    }

    fn failure(retry: Retry) -> Failure {
        Failure {
            error: ClientError::InvalidArgument("x".into()),
            retry,
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn delays_grow_with_jitter_and_stay_under_the_cap() {
        let policy = policy();
        let mut retrier = Retrier::new(&policy, "GET", "/p", Instant::now() + policy.deadline);
        let delays: Vec<_> = (0..6)
            .map(|_| {
                retrier
                    .wait_or_give_up(failure(Retry::Transient { retry_after: None }))
                    .unwrap()
            })
            .collect();
        assert!(delays[0] >= Duration::from_millis(100) && delays[0] < Duration::from_millis(200));
        assert!(delays[1] >= Duration::from_millis(200), "{delays:?}");
        assert!(delays.iter().all(|d| *d <= policy.max_delay), "{delays:?}");
    }

    #[test]
    fn retry_after_wins_but_is_capped() {
        let policy = policy();
        let mut retrier = Retrier::new(&policy, "GET", "/p", Instant::now() + policy.deadline);
        let wait = |s| {
            failure(Retry::Transient {
                retry_after: Some(Duration::from_secs(s)),
            })
        };
        assert_eq!(
            retrier.wait_or_give_up(wait(0)).unwrap(),
            policy.initial_delay
        );
        assert_eq!(retrier.wait_or_give_up(wait(60)).unwrap(), policy.max_delay);
    }

    #[test]
    fn never_and_exhausted_connect_retries_return_the_error_itself() {
        let policy = policy();
        let mut retrier = Retrier::new(&policy, "GET", "/p", Instant::now() + policy.deadline);
        assert!(matches!(
            retrier.wait_or_give_up(failure(Retry::Never)),
            Err(ClientError::InvalidArgument(_))
        ));
        for _ in 0..MAX_CONNECT_RETRIES {
            retrier.wait_or_give_up(failure(Retry::Connect)).unwrap();
        }
        assert!(matches!(
            retrier.wait_or_give_up(failure(Retry::Connect)),
            Err(ClientError::InvalidArgument(_))
        ));
    }

    #[test]
    fn a_wait_past_the_deadline_gives_up_with_the_last_error() {
        let policy = policy();
        let mut retrier = Retrier::new(&policy, "GET", "/p", Instant::now());
        retrier.attempt();
        let error = retrier
            .wait_or_give_up(failure(Retry::Transient { retry_after: None }))
            .unwrap_err();
        match error {
            ClientError::DeadlineExceeded { attempts, last, .. } => {
                assert_eq!(attempts, 1);
                assert!(matches!(*last, ClientError::InvalidArgument(_)));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn propagation_waits_end_with_their_window() {
        let policy = policy();
        let mut retrier = Retrier::new(&policy, "GET", "/p", Instant::now() + policy.deadline);
        let until = Instant::now() + Duration::from_millis(50);
        let delay = retrier
            .wait_or_give_up(failure(Retry::Propagation { until }))
            .unwrap();
        assert!(delay <= Duration::from_millis(50));
        let over = Instant::now() - Duration::from_millis(1);
        assert!(matches!(
            retrier.wait_or_give_up(failure(Retry::Propagation { until: over })),
            Err(ClientError::InvalidArgument(_))
        ));
    }

    #[test]
    fn propagation_denials_match_top_level_or_first_detail() {
        let error = |status, message: &str, detail: Option<&str>| ApiError {
            method: "POST".into(),
            path: "/p".into(),
            status,
            id: None,
            code: Some("ACCESS_FAILED".into()),
            message: message.into(),
            details: detail
                .map(|m| ErrorDetail {
                    code: Some("INSUFFICIENT_PERMISSIONS".into()),
                    target: None,
                    message: Some(m.into()),
                    inner_error: None,
                })
                .into_iter()
                .collect(),
        };
        let actor = "The actor attempting to perform the request is not authorized.";
        let scope = "Must have role at the same or broader scope to assign";
        assert!(is_propagation_denial(&error(403, actor, None)));
        assert!(is_propagation_denial(&error(
            403,
            "The request could not be completed.",
            Some(actor)
        )));
        assert!(is_propagation_denial(&error(400, "x", Some(scope))));
        assert!(!is_propagation_denial(&error(
            403,
            "You do not have access.",
            None
        )));
        assert!(!is_propagation_denial(&error(404, actor, None)));
    }
}
