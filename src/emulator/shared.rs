//! What every handler shares: the state, the token store, the request log and the fault
//! knobs of one emulator.

use super::errors::ApiError;
use super::faults::{FaultInjector, RateLimiter};
use super::state::State;
use super::token_store::TokenStore;
use super::{EmulatorOptions, RequestRecord, persist};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

/// Which client made a request, for the request log; set by the gate or the token endpoint.
#[derive(Debug, Clone)]
pub(crate) struct CallerId(pub(crate) String);

/// Everything the handlers share.
pub(crate) struct Shared {
    pub(super) state: Mutex<State>,
    pub(crate) tokens: TokenStore,
    pub(super) log: Mutex<RequestLog>,
    /// `http://127.0.0.1:PORT`, the root of every `_links` href.
    pub(crate) base_url: String,
    pub(super) state_file: Option<PathBuf>,
    pub(super) latency: Duration,
    // The three fault knobs below sit behind an atomic and locks, not plain fields, only so
    // that `Emulator::set_faults` can turn them on in a running emulator (`p1run test`'s
    // `faults()`); everything else reads them once per request, as before.
    pub(super) propagation_delay_ms: AtomicU64,
    pub(super) rate_limiter: Option<RateLimiter>,
    pub(super) faults: RwLock<Option<FaultInjector>>,
    pub(super) lost_answers: RwLock<Option<FaultInjector>>,
    pub(super) refuse_writes_to: Option<String>,
}

impl Shared {
    pub(crate) fn new(state: State, options: &EmulatorOptions, base_url: String) -> Self {
        Self {
            state: Mutex::new(state),
            tokens: TokenStore::new(options.token_lifetime),
            log: Mutex::new(RequestLog::new(options.request_log_bytes)),
            base_url,
            state_file: options.state_file.clone(),
            latency: options.latency,
            propagation_delay_ms: AtomicU64::new(
                u64::try_from(options.propagation_delay.as_millis()).unwrap_or(u64::MAX),
            ),
            rate_limiter: options.rate_limit.and_then(RateLimiter::per_second),
            faults: RwLock::new(fault_injector(options.fault_rate, options.seed)),
            refuse_writes_to: options.refuse_writes_to.clone(),
            lost_answers: RwLock::new(lost_answer_injector(options.lost_answer_rate, options.seed)),
        }
    }

    /// How long a new grant or application takes to count (`--propagation-delay`).
    pub(crate) fn propagation_delay_ms(&self) -> u64 {
        self.propagation_delay_ms.load(Ordering::Relaxed)
    }

    /// Replaces the fault knobs of a running emulator (see [`super::Emulator::set_faults`]).
    pub(crate) fn set_faults(&self, faults: &super::Faults) {
        self.propagation_delay_ms.store(
            u64::try_from(faults.propagation_delay.as_millis()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        *self.faults.write().unwrap_or_else(PoisonError::into_inner) =
            fault_injector(faults.fault_rate, faults.seed);
        *self
            .lost_answers
            .write()
            .unwrap_or_else(PoisonError::into_inner) =
            lost_answer_injector(faults.lost_answer_rate, faults.seed);
    }

    pub(super) fn draw_fault(&self) -> Option<axum::http::StatusCode> {
        let faults = self.faults.read().unwrap_or_else(PoisonError::into_inner);
        faults.as_ref().and_then(FaultInjector::draw)
    }

    pub(super) fn draw_lost_answer(&self) -> bool {
        let lost = self
            .lost_answers
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        lost.as_ref().and_then(FaultInjector::draw).is_some()
    }

    /// The state; a handler that panicked while holding it must not take the emulator down.
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Saves the state after a write when `--state` is set. Called with the lock held so that
    /// saves land in the order the writes happened.
    pub(crate) fn persist(&self, state: &State) -> Result<(), ApiError> {
        match &self.state_file {
            Some(path) => persist::save(path, state).map_err(|error| {
                tracing::error!(%error, path = %path.display(), "cannot save the emulator state");
                ApiError::unexpected()
            }),
            None => Ok(()),
        }
    }

    /// 429 `REQUEST_LIMITED` when the client `key` is over `--rate-limit`.
    pub(crate) fn check_rate_limit(&self, key: &str) -> Result<(), ApiError> {
        match &self.rate_limiter {
            Some(limiter) => limiter.check(key).map_err(ApiError::rate_limited),
            None => Ok(()),
        }
    }

    /// An absolute URL on this emulator.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// A HAL link object.
    pub(crate) fn link(&self, path: &str) -> serde_json::Value {
        serde_json::json!({ "href": self.url(path) })
    }

    pub(crate) fn requests(&self) -> Vec<RequestRecord> {
        let log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        log.entries
            .iter()
            .map(|(record, _)| record.clone())
            .collect()
    }
}

/// The request log, bounded in entries and in bytes so that a long-running or flooded
/// `p1run emulator` does not grow without end.
pub(super) struct RequestLog {
    /// Each record with its size as served.
    entries: VecDeque<(RequestRecord, usize)>,
    bytes: usize,
    max_bytes: usize,
}

impl RequestLog {
    fn new(max_bytes: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            bytes: 0,
            max_bytes,
        }
    }

    /// Appends a record, dropping the oldest ones past either bound.
    pub(super) fn push(&mut self, record: RequestRecord) {
        // The size it adds to `GET /_emulator/requests`, its separating comma included.
        let size = serde_json::to_vec(&record).map_or(0, |json| json.len()) + 1;
        self.bytes += size;
        self.entries.push_back((record, size));
        while self.entries.len() > REQUEST_LOG_CAP || self.bytes > self.max_bytes {
            match self.entries.pop_front() {
                Some((_, dropped)) => self.bytes -= dropped,
                None => break,
            }
        }
    }
}

/// Random server errors at `rate`, none at 0.
fn fault_injector(rate: f64, seed: Option<u64>) -> Option<FaultInjector> {
    (rate > 0.0).then(|| FaultInjector::new(rate, seed))
}

/// Lost answers at `rate`, drawn from a generator of their own (seeded apart from the faults').
fn lost_answer_injector(rate: f64, seed: Option<u64>) -> Option<FaultInjector> {
    (rate > 0.0).then(|| FaultInjector::new(rate, seed.map(|seed| seed ^ 0x5eed)))
}

/// The most requests the log keeps.
const REQUEST_LOG_CAP: usize = 200_000;
