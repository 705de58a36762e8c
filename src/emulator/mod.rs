//! A faithful, stateful PingOne emulator served over real HTTP: the embedded default target of
//! `p1run` and what every test runs against.
//!
//! STUB: the public API below is fixed (the runner and the tests use it); the bodies are to be
//! filled in.

pub mod cli;

use serde::Serialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How to start an emulator; the `p1run emulator` flags map onto this one to one.
#[derive(Debug, Clone)]
pub struct EmulatorOptions {
    /// Address to bind; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Environments to seed, named `env-1` … `env-N`.
    pub environments: usize,
    /// File the state is loaded from and saved to (atomically) after every write.
    pub state_file: Option<PathBuf>,
    /// Added to every request.
    pub latency: Duration,
    /// Requests per second per client before 429 `REQUEST_LIMITED`.
    pub rate_limit: Option<u32>,
    /// Probability of a random 500/502/503 on a management request.
    pub fault_rate: f64,
    /// Seed for the fault generator.
    pub seed: Option<u64>,
    /// How long a new role grant (and a new application) takes to become visible.
    pub propagation_delay: Duration,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            environments: 1,
            state_file: None,
            latency: Duration::ZERO,
            rate_limit: None,
            fault_rate: 0.0,
            seed: None,
            propagation_delay: Duration::ZERO,
        }
    }
}

/// What a started emulator tells its users: the one JSON line `p1run emulator` prints.
#[derive(Debug, Clone, Serialize)]
pub struct EmulatorInfo {
    /// Management API base, `http://127.0.0.1:PORT/v1`.
    pub api_url: String,
    /// Auth base, `http://127.0.0.1:PORT`.
    pub auth_url: String,
    /// The first environment, where the bootstrap admin worker lives.
    pub environment_id: String,
    /// The one organization.
    pub organization_id: String,
    /// The bootstrap admin worker's client id.
    pub client_id: String,
    /// The bootstrap admin worker's secret (printed on purpose: it is the emulator's own).
    pub client_secret: String,
    /// Every seeded environment.
    pub environments: Vec<EnvironmentInfo>,
}

/// One seeded environment.
#[derive(Debug, Clone, Serialize)]
pub struct EnvironmentInfo {
    /// `env-1` …
    pub name: String,
    /// Its id.
    pub id: String,
}

/// One line of the request log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RequestRecord {
    /// HTTP method.
    pub method: String,
    /// Path without query, e.g. `/v1/environments/…/applications`.
    pub path: String,
    /// Status answered.
    pub status: u16,
    /// Client id of the caller, when known.
    pub caller: Option<String>,
}

/// A running emulator on its own thread and runtime; stops when dropped.
pub struct Emulator {
    info: EmulatorInfo,
}

impl Emulator {
    /// Starts an emulator and returns once it accepts connections.
    pub fn start(_options: EmulatorOptions) -> std::io::Result<Self> {
        unimplemented!()
    }

    /// URLs, ids and the bootstrap credentials.
    pub fn info(&self) -> &EmulatorInfo {
        &self.info
    }

    /// Every request served so far, oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        unimplemented!()
    }
}

/// `p1run emulator`: start, print the info line on stdout, serve until Ctrl-C.
pub fn serve_until_interrupted(_options: EmulatorOptions) -> std::io::Result<()> {
    unimplemented!()
}
