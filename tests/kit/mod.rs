//! The test builder (after casey/just's `Test`): a temp directory with a config file and
//! scripts, the real `p1run` binary, and assertions on its exit code, stdout and stderr.
//! Plus `Admin`, an independent raw-HTTP view of an emulator's state, so that tests prove
//! what PingOne holds rather than what the tool says it did.

#![allow(dead_code)]

pub mod admin;
pub mod client;
pub mod http;
pub mod served;

use p1run::emulator::{Emulator, EmulatorInfo, EmulatorOptions};
use std::path::{Path, PathBuf};
use std::process::Command;

pub use admin::Admin;
pub use http::{Harness, Http, Reply, poll, spec, worker_body};

/// The binary under test.
pub const P1RUN: &str = env!("CARGO_BIN_EXE_p1run");

/// The environment variable the configs written here read the worker secret from.
pub const SECRET_VAR: &str = "P1RUN_TEST_SECRET";

/// One invocation of `p1run`.
#[must_use]
pub struct Test {
    dir: tempfile::TempDir,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Test {
    /// A fresh temp directory and no arguments.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    /// Its temp directory (the working directory of the run).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Appends arguments.
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable for the run.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Writes a file into the temp directory (inline fixtures are un-indented).
    pub fn file(self, name: &str, text: &str) -> Self {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("fixture dir");
        }
        std::fs::write(path, unindent(text)).expect("fixture");
        self
    }

    /// Writes `p1run.toml` pointing environment `name` (and `env-N` for the others) at the
    /// emulator, with the bootstrap worker's secret in [`SECRET_VAR`].
    pub fn config_for(self, emulator: &Emulator) -> Self {
        let info = emulator.info();
        let secret = info.client_secret.clone();
        let text = config_text(emulator);
        self.file("p1run.toml", &text).env(SECRET_VAR, &secret)
    }

    /// Runs the binary.
    pub fn run(self) -> Output {
        let mut command = Command::new(P1RUN);
        command
            .current_dir(self.dir.path())
            .args(&self.args)
            .env_remove("P1RUN_CONFIG")
            .env_remove("RUST_LOG")
            // A test run under GitHub Actions must not append to the job's own summary.
            .env_remove("GITHUB_STEP_SUMMARY");
        for (key, value) in &self.env {
            command.env(key, value);
        }
        let output = command.output().expect("run p1run");
        Output {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            dir: self.dir,
        }
    }
}

/// What a run printed and how it exited.
pub struct Output {
    /// Exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// The run's temp directory, kept alive for inspection.
    pub dir: tempfile::TempDir,
}

impl Output {
    /// Asserts exit code 0.
    #[track_caller]
    pub fn success(self) -> Self {
        self.status(0)
    }

    /// Asserts exit code 1.
    #[track_caller]
    pub fn failure(self) -> Self {
        self.status(1)
    }

    /// Asserts an exit code.
    #[track_caller]
    pub fn status(self, code: i32) -> Self {
        assert_eq!(
            self.code,
            Some(code),
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "panic:\n{}", self.stderr);
        self
    }

    /// Asserts stderr contains each fragment.
    #[track_caller]
    pub fn stderr_has(self, fragments: &[&str]) -> Self {
        for fragment in fragments {
            assert!(
                self.stderr.contains(fragment),
                "stderr lacks {fragment:?}:\n{}",
                self.stderr
            );
        }
        self
    }

    /// Asserts stdout contains each fragment.
    #[track_caller]
    pub fn stdout_has(self, fragments: &[&str]) -> Self {
        for fragment in fragments {
            assert!(
                self.stdout.contains(fragment),
                "stdout lacks {fragment:?}:\n{}",
                self.stdout
            );
        }
        self
    }

    /// Stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    /// The `action` of each change in a JSON document on stdout, in order.
    #[track_caller]
    pub fn actions(&self) -> Vec<String> {
        let document = self.json();
        document["changes"]
            .as_array()
            .unwrap_or_else(|| panic!("no changes array:\n{}", self.stdout))
            .iter()
            .map(|change| change["action"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// A path inside the run's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// Starts an emulator with `environments` environments and otherwise default options.
pub fn emulator(environments: usize) -> Emulator {
    Emulator::start(EmulatorOptions {
        environments,
        ..EmulatorOptions::default()
    })
    .expect("start emulator")
}

/// An emulator with these options.
pub fn emulator_with(options: EmulatorOptions) -> Emulator {
    Emulator::start(options).expect("start emulator")
}

/// An emulator that refuses every management write whose path contains `text` (400
/// `INVALID_DATA`): a deterministic failure that only an apply pass can meet.
pub fn emulator_refusing(text: &str) -> Emulator {
    Emulator::start(EmulatorOptions {
        refuse_writes_to: Some(text.to_owned()),
        ..EmulatorOptions::default()
    })
    .expect("start emulator")
}

/// A config naming every emulator environment `env-N`, all acted on by the bootstrap worker.
pub fn config_text(emulator: &Emulator) -> String {
    config_text_for(emulator.info())
}

/// [`config_text`] from an emulator's info line (e.g. of a `p1run emulator` process).
pub fn config_text_for(info: &EmulatorInfo) -> String {
    let mut text = String::new();
    for env in &info.environments {
        text.push_str(&format!(
            "[environments.{name}]\nenvironment_id = \"{id}\"\nregion = \"NA\"\nclient_id = \"{client}\"\n\
             client_secret_env = \"{SECRET_VAR}\"\nworker_environment_id = \"{worker_env}\"\n\
             api_url = \"{api}\"\nauth_url = \"{auth}\"\n\n",
            name = env.name,
            id = env.id,
            client = info.client_id,
            worker_env = info.environment_id,
            api = info.api_url,
            auth = info.auth_url,
        ));
    }
    text
}

/// Removes the common leading indentation of a multi-line fixture.
fn unindent(text: &str) -> String {
    let text = text.strip_prefix('\n').unwrap_or(text);
    let indent = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    text.lines()
        .map(|line| line.get(indent..).unwrap_or("").trim_end())
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}
