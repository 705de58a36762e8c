//! The config file (`p1run.toml`): named environments, each with its acting worker, and the
//! script limits.
//!
//! Secrets are never inline: a config file is the kind of thing that ends up in a repository,
//! so it names where the secret lives (an environment variable or a file) instead.

use crate::client::{Credentials, Endpoints, Region, RetryPolicy, TokenAuthMethod};
use crate::error::Error;
use crate::secret::Secret;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The name of the embedded target: an in-process emulator seeded for one run.
pub const LOCAL: &str = "local";

/// The parsed config file.
#[derive(Debug, Default, Deserialize)]
pub struct Config {
    /// Where it was read from, for messages.
    #[serde(skip)]
    pub path: PathBuf,
    /// Named environments.
    #[serde(default)]
    pub environments: BTreeMap<String, EnvironmentConfig>,
    /// Script limits.
    #[serde(default)]
    pub limits: Limits,
    /// Retry timing; unset keys keep the client's defaults.
    #[serde(default)]
    pub retry: RetrySettings,
    /// Named lists of environments, for `--group NAME`.
    #[serde(default)]
    pub groups: BTreeMap<String, Vec<String>>,
    /// Fleet settings.
    #[serde(default)]
    pub fleet: FleetSettings,
}

/// `[fleet]`: how fast a run may go.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FleetSettings {
    /// Requests per second that all environments of one license share (`license` key of an
    /// environment; environments without one share a single budget). PingOne limits per
    /// license: its documented base rate for configuration calls is 600 a minute (10/s), and
    /// which group application calls fall in is not documented, so the default stays under it.
    pub requests_per_second: u32,
}

/// The default request budget: safely under PingOne's documented 10/s configuration rate.
pub const DEFAULT_REQUESTS_PER_SECOND: u32 = 8;

impl Default for FleetSettings {
    fn default() -> Self {
        Self {
            requests_per_second: DEFAULT_REQUESTS_PER_SECOND,
        }
    }
}

/// `[retry]`: how long calls keep retrying PingOne's transient failures.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrySettings {
    /// First backoff delay.
    pub initial_delay_ms: Option<u64>,
    /// Longest single wait, `Retry-After` included.
    pub max_delay_ms: Option<u64>,
    /// Total time one call may spend retrying before the run fails.
    pub deadline_ms: Option<u64>,
    /// How long after its own writes the run waits out PingOne's permission propagation.
    pub propagation_wait_ms: Option<u64>,
}

impl RetrySettings {
    /// The client's retry policy with these overrides.
    pub fn policy(&self) -> RetryPolicy {
        let defaults = RetryPolicy::default();
        let ms =
            |value: Option<u64>, default: Duration| value.map_or(default, Duration::from_millis);
        RetryPolicy {
            initial_delay: ms(self.initial_delay_ms, defaults.initial_delay),
            max_delay: ms(self.max_delay_ms, defaults.max_delay),
            deadline: ms(self.deadline_ms, defaults.deadline),
            propagation_wait: ms(self.propagation_wait_ms, defaults.propagation_wait),
        }
    }
}

/// One `[environments.NAME]` table.
#[derive(Debug, Clone, Deserialize)]
pub struct EnvironmentConfig {
    /// The environment the recipe changes.
    pub environment_id: String,
    /// `NA`, `EU`, `CA`, `AU`, `SG` or `AP`; optional only when both URLs are given.
    pub region: Option<String>,
    /// The acting worker application.
    pub client_id: String,
    /// Name of the environment variable that holds the worker's secret.
    pub client_secret_env: Option<String>,
    /// File that holds the worker's secret.
    pub client_secret_file: Option<PathBuf>,
    /// Rejected with a clear message: secrets are never inline.
    client_secret: Option<toml::Value>,
    /// Where the worker lives, when not in the target environment.
    pub worker_environment_id: Option<String>,
    /// How the worker authenticates at the token endpoint (default `CLIENT_SECRET_BASIC`).
    pub token_auth_method: Option<String>,
    /// Management API override, e.g. a `p1run emulator`.
    pub api_url: Option<String>,
    /// Auth server override.
    pub auth_url: Option<String>,
    /// The PingOne license this environment draws on; environments of one license share
    /// one request budget. Unset: all such environments share one.
    pub license: Option<String>,
}

/// Rhai limits; on by default because scripts are untrusted-ish input.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Rhai operations per run (stops endless loops).
    pub max_operations: u64,
    /// Function call depth; set explicitly because Rhai's default differs between debug and
    /// release builds (8 vs 64).
    pub max_call_levels: usize,
    /// Longest string, in bytes.
    pub max_string_size: usize,
    /// Longest array.
    pub max_array_size: usize,
    /// Largest object map.
    pub max_map_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_operations: 10_000_000,
            max_call_levels: 64,
            max_string_size: 1 << 20,
            max_array_size: 100_000,
            max_map_size: 10_000,
        }
    }
}

/// A resolved target: where to send requests and as whom.
#[derive(Debug, Clone)]
pub struct Target {
    /// The name given on the command line (or `local`).
    pub name: String,
    /// The environment the recipe changes.
    pub environment_id: String,
    /// Hosts.
    pub endpoints: Endpoints,
    /// The acting worker.
    pub credentials: Credentials,
    /// Whose request budget it draws on.
    pub license: String,
}

impl Config {
    /// Reads `--config FILE`, else `$P1RUN_CONFIG`, else `./p1run.toml`. Returns `None` when
    /// none was named and `./p1run.toml` does not exist.
    pub fn discover(explicit: Option<&Path>) -> Result<Option<Self>, Error> {
        let named = explicit
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("P1RUN_CONFIG").map(PathBuf::from));
        match named {
            Some(path) => Self::load(&path).map(Some),
            None => {
                let default = PathBuf::from("p1run.toml");
                if default.exists() {
                    Self::load(&default).map(Some)
                } else {
                    Ok(None)
                }
            }
        }
    }

    /// Reads and parses one config file.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Config {
            path: path.to_owned(),
            message: format!("cannot read it: {source}"),
        })?;
        // The parser's own message quotes the offending line, which could be a mistyped secret:
        // say where and what, without the text.
        let mut config: Config = toml::from_str(&text).map_err(|error| {
            let place = error.span().map_or_else(String::new, |span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |at| at + 1) + 1;
                format!("line {line}, column {column}: ")
            });
            Error::Config {
                path: path.to_owned(),
                message: format!("{place}{}", error.message()),
            }
        })?;
        config.path = path.to_owned();
        // Zero would switch a limit off; a limit is switched off by raising it, visibly.
        let limits = &config.limits;
        for (key, value) in [
            ("[limits] max_operations", limits.max_operations),
            ("[limits] max_call_levels", limits.max_call_levels as u64),
            ("[limits] max_string_size", limits.max_string_size as u64),
            ("[limits] max_array_size", limits.max_array_size as u64),
            ("[limits] max_map_size", limits.max_map_size as u64),
            (
                "[fleet] requests_per_second",
                u64::from(config.fleet.requests_per_second),
            ),
        ] {
            if value == 0 {
                return Err(config.error(format!("{key} must be at least 1")));
            }
        }
        for (name, env) in &config.environments {
            if env.client_secret.is_some() {
                return Err(config.error(format!(
                    "[environments.{name}] has an inline client_secret; secrets are never \
                     written into config files: use client_secret_env = \"VAR\" or \
                     client_secret_file = \"path\""
                )));
            }
        }
        Ok(config)
    }

    fn error(&self, message: String) -> Error {
        Error::Config {
            path: self.path.clone(),
            message,
        }
    }

    /// The names of the configured environments.
    pub fn environment_names(&self) -> Vec<String> {
        self.environments.keys().cloned().collect()
    }

    /// Resolves one named environment into a [`Target`], reading its secret.
    pub fn target(&self, name: &str) -> Result<Target, Error> {
        let env = self.environments.get(name).ok_or_else(|| {
            let known = self.environment_names();
            self.error(format!(
                "no environment named {name:?}; configured: {}",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ))
        })?;
        let endpoints = self.endpoints(name, env)?;
        let client_secret = self.secret(name, env)?;
        let auth_method = match &env.token_auth_method {
            Some(method) => method
                .parse::<TokenAuthMethod>()
                .map_err(|e| self.error(format!("[environments.{name}] token_auth_method: {e}")))?,
            None => TokenAuthMethod::ClientSecretBasic,
        };
        Ok(Target {
            name: name.to_owned(),
            environment_id: env.environment_id.clone(),
            endpoints,
            credentials: Credentials {
                client_id: env.client_id.clone(),
                client_secret,
                environment_id: env
                    .worker_environment_id
                    .clone()
                    .unwrap_or_else(|| env.environment_id.clone()),
                auth_method,
            },
            license: env.license.clone().unwrap_or_default(),
        })
    }

    /// The environment names a fleet selection means: `--env` names, `--group` members and,
    /// with `--all`, every configured environment; sorted and without repeats, so that
    /// `--shard` splits the same way on every CI job.
    pub fn select(
        &self,
        envs: &[String],
        groups: &[String],
        all: bool,
    ) -> Result<Vec<String>, Error> {
        let mut names: Vec<String> = envs.to_vec();
        for group in groups {
            let members = self.groups.get(group).ok_or_else(|| {
                let known: Vec<&str> = self.groups.keys().map(String::as_str).collect();
                self.error(format!(
                    "no group named {group:?}; configured: {}",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ))
            })?;
            for member in members {
                if !self.environments.contains_key(member) {
                    return Err(self.error(format!(
                        "[groups] {group} names {member:?}, which is not an environment"
                    )));
                }
            }
            names.extend(members.iter().cloned());
        }
        if all {
            names.extend(self.environments.keys().cloned());
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn endpoints(&self, name: &str, env: &EnvironmentConfig) -> Result<Endpoints, Error> {
        let region = env
            .region
            .as_deref()
            .map(|code| {
                code.parse::<Region>()
                    .map_err(|e| self.error(format!("[environments.{name}] region: {e}")))
            })
            .transpose()?;
        let base = region.map(Endpoints::for_region);
        let (api_url, auth_url) = match (&env.api_url, &env.auth_url, &base) {
            (Some(api), Some(auth), _) => (api.clone(), auth.clone()),
            (api, auth, Some(base)) => (
                api.clone().unwrap_or_else(|| base.api_url.to_string()),
                auth.clone().unwrap_or_else(|| base.auth_url.to_string()),
            ),
            (_, _, None) => {
                return Err(self.error(format!(
                    "[environments.{name}] needs region = \"NA\" (or EU, CA, AU, SG, AP), or both \
                     api_url and auth_url"
                )));
            }
        };
        Endpoints::new(&api_url, &auth_url)
            .map_err(|e| self.error(format!("[environments.{name}] {e}")))
    }

    fn secret(&self, name: &str, env: &EnvironmentConfig) -> Result<Secret, Error> {
        match (&env.client_secret_env, &env.client_secret_file) {
            (Some(var), None) => match std::env::var(var) {
                Ok(value) if !value.trim().is_empty() => Ok(Secret::new(value.trim())),
                _ => Err(self.error(format!(
                    "[environments.{name}] reads the client secret from ${var}, which is not \
                     set (or empty); export {var}=<the worker's client secret>"
                ))),
            },
            (None, Some(file)) => {
                let file = self.path.parent().unwrap_or(Path::new(".")).join(file);
                let value = std::fs::read_to_string(&file).map_err(|source| {
                    self.error(format!(
                        "[environments.{name}] client_secret_file {}: {source}",
                        file.display()
                    ))
                })?;
                Ok(Secret::new(value.trim()))
            }
            (Some(_), Some(_)) => Err(self.error(format!(
                "[environments.{name}] sets both client_secret_env and client_secret_file; keep one"
            ))),
            (None, None) => Err(self.error(format!(
                "[environments.{name}] needs client_secret_env = \"VAR\" or client_secret_file = \"path\""
            ))),
        }
    }
}
