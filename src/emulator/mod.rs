//! A faithful, stateful PingOne emulator served over real HTTP: the embedded default target of
//! `p1run` and what every test runs against.
//!
//! The modules split by concern: [`state`] holds the data (and [`persist`] saves it),
//! [`roles`] the built-in roles and scope containment, [`access`] the permission checks,
//! [`token`] the token endpoint, [`applications`], [`role_assignments`], [`custom_roles`],
//! [`populations`] and [`directory`] the management API, [`errors`] PingOne's error format,
//! [`faults`] rate limits and injected failures, and [`server`] the routes and layers that tie
//! them together.

mod access;
mod applications;
mod body;
pub mod cli;
mod clock;
mod custom_roles;
mod directory;
mod errors;
mod faults;
mod pagination;
mod persist;
mod populations;
mod role_assignments;
mod roles;
mod server;
mod shared;
mod state;
mod token;
mod token_store;

pub use roles::built_in_can_assign;

use std::io::Write;
use std::net::IpAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

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
    /// Probability that a management POST which succeeded answers 502 anyway, as if the
    /// answer was lost on the way: the write happened, the client cannot know. Tests that
    /// clients check before re-sending non-idempotent writes.
    pub lost_answer_rate: f64,
    /// Seed for the fault generator.
    pub seed: Option<u64>,
    /// How long a new role grant (and a new application) takes to become visible.
    pub propagation_delay: Duration,
    /// How long an access token lives (`expires_in`); PingOne's is one hour.
    pub token_lifetime: Duration,
    /// A management write (any method but GET) whose path contains this text is refused with
    /// 400 `INVALID_DATA`, before it takes effect: what a client does when PingOne refuses a
    /// write halfway through a run, made deterministic.
    pub refuse_writes_to: Option<String>,
    /// Most bytes the request log keeps (each entry counted as it is served by
    /// `GET /_emulator/requests`); past it, and past 200 000 entries, the oldest go.
    pub request_log_bytes: usize,
}

/// The default [`EmulatorOptions::request_log_bytes`]: far more than any test reads, small
/// enough that a flood of large bodies cannot grow the emulator without end.
pub const REQUEST_LOG_BYTES: usize = 16 * 1024 * 1024;

impl Default for EmulatorOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            environments: 1,
            state_file: None,
            latency: Duration::ZERO,
            rate_limit: None,
            fault_rate: 0.0,
            lost_answer_rate: 0.0,
            seed: None,
            propagation_delay: Duration::ZERO,
            token_lifetime: Duration::from_secs(3600),
            refuse_writes_to: None,
            request_log_bytes: REQUEST_LOG_BYTES,
        }
    }
}

/// The fault knobs that can be changed while an emulator runs ([`Emulator::set_faults`]); the
/// same meaning as the [`EmulatorOptions`] fields of the same names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Probability of a random 500/502/503 on a management request.
    pub fault_rate: f64,
    /// Probability that a management POST which succeeded answers 502 anyway.
    pub lost_answer_rate: f64,
    /// How long a new role grant (and a new application) takes to become visible.
    pub propagation_delay: Duration,
    /// Seed for the fault generators; `None` draws a random one.
    pub seed: Option<u64>,
}

/// What a started emulator tells its users: the one JSON line `p1run emulator` prints.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
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
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
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
    /// The JSON body of an authenticated management request, so that tests can check what
    /// clients send against the spec. Token requests (form bodies holding secrets) and
    /// requests without a valid token are never recorded: anyone can send those, and their
    /// bodies would let anyone grow the emulator's memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
}

/// A running emulator on its own thread and runtime; stops when dropped.
pub struct Emulator {
    info: EmulatorInfo,
    shared: Arc<shared::Shared>,
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
}

/// How long a stopping emulator waits for requests in flight before it drops them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

impl Emulator {
    /// Starts an emulator and returns once it accepts connections.
    ///
    /// The socket is bound here, on the caller's thread, so that a taken port or a bad state
    /// file is an error of this call; the server then runs on a thread of its own with a
    /// runtime of its own, so plain `#[test]` functions can use it.
    pub fn start(options: EmulatorOptions) -> std::io::Result<Self> {
        let state = match &options.state_file {
            Some(path) => match persist::load(path)? {
                Some(state) => state,
                None => {
                    let state = state::State::seed(options.environments);
                    persist::save(path, &state)?;
                    state
                }
            },
            None => state::State::seed(options.environments),
        };
        let listener = std::net::TcpListener::bind(options.listen)?;
        listener.set_nonblocking(true)?;
        let local = listener.local_addr()?;
        // Links must be followable: a wildcard bind is reached through loopback.
        let host = match local.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::from([127, 0, 0, 1]),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let base_url = format!("http://{}", SocketAddr::new(host, local.port()));
        let info = info_of(&state, &base_url);
        let shared = Arc::new(shared::Shared::new(state, &options, base_url));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("p1run-emulator")
            .enable_all()
            .build()?;
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let (shutdown, mut stop_requested) = tokio::sync::watch::channel(false);
        let mut grace_started = stop_requested.clone();
        let app = server::router(shared.clone());
        let thread = std::thread::Builder::new()
            .name("p1run-emulator".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    let graceful = async move {
                        let _ = stop_requested.wait_for(|stop| *stop).await;
                    };
                    let grace_over = async move {
                        let _ = grace_started.wait_for(|stop| *stop).await;
                        tokio::time::sleep(SHUTDOWN_GRACE).await;
                    };
                    tokio::select! {
                        result = axum::serve(listener, app).with_graceful_shutdown(graceful) => {
                            if let Err(error) = result {
                                tracing::error!(%error, "the emulator stopped serving");
                            }
                        }
                        () = grace_over => {}
                    }
                });
                runtime.shutdown_timeout(Duration::from_secs(1));
            })?;
        Ok(Self {
            info,
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// URLs, ids and the bootstrap credentials.
    pub fn info(&self) -> &EmulatorInfo {
        &self.info
    }

    /// Turns the fault knobs to `faults` from the next request on, replacing what
    /// [`EmulatorOptions`] set: `p1run test`'s `faults()` makes a test's emulator unreliable
    /// after its setup. A propagation delay counts for grants and applications made from now.
    pub fn set_faults(&self, faults: &Faults) {
        self.shared.set_faults(faults);
    }

    /// Every request served so far, oldest first (the emulator's own `/_emulator/*` calls
    /// excepted).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.requests()
    }

    /// Every access token issued and still live, so that tests can search a tool's output
    /// for them.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.shared.tokens.issued()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(true);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn info_of(state: &state::State, base_url: &str) -> EmulatorInfo {
    let secret = state
        .applications
        .get(&state.bootstrap_client_id)
        .map(|app| app.secret.clone())
        .unwrap_or_default();
    EmulatorInfo {
        api_url: format!("{base_url}/v1"),
        auth_url: base_url.to_owned(),
        environment_id: state.environments[0].id.clone(),
        organization_id: state.organization.id.clone(),
        client_id: state.bootstrap_client_id.clone(),
        client_secret: secret,
        environments: state
            .environments
            .iter()
            .map(|environment| EnvironmentInfo {
                name: environment.name.clone(),
                id: environment.id.clone(),
            })
            .collect(),
    }
}

/// `p1run emulator`: start, print the info line on stdout, serve until Ctrl-C.
pub fn serve_until_interrupted(options: EmulatorOptions) -> std::io::Result<()> {
    let emulator = Emulator::start(options)?;
    let line = serde_json::to_string(emulator.info()).map_err(std::io::Error::other)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;
    drop(stdout);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(tokio::signal::ctrl_c())?;
    drop(emulator);
    Ok(())
}
