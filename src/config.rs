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

/// The parsed config file. Every table refuses keys it does not know: a mistyped key would
/// otherwise be ignored and its setting silently not applied.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// With `--shard I/N`: `split` (the default) gives each shard `1/N` of every license's
    /// budget, because shards run at once against the same licenses; `full` gives each the
    /// whole budget (shards that run one after another, or on licenses of their own).
    pub shard_budget: ShardBudget,
    /// The most of a license's budget one process sends to PingOne: PingOne limits one IP
    /// address to 35% of the license rate by default. 1.0 switches the cap off (trial
    /// licenses, or addresses allowed on PingOne's "Rate Limits and Allowed IPs" page).
    pub address_share: f64,
}

/// The default request budget: safely under PingOne's documented 10/s configuration rate.
pub const DEFAULT_REQUESTS_PER_SECOND: u32 = 8;

/// The default per-address share: PingOne's documented default per-IP limit, 35% of the
/// license rate (https://docs.pingidentity.com/pingone/settings/p1_rate_limits.html). Applied
/// to `requests_per_second`, itself under the license rate, it leaves the same margin.
pub const DEFAULT_ADDRESS_SHARE: f64 = 0.35;

/// `[fleet] shard_budget`: how `--shard I/N` shares each license's budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ShardBudget {
    /// Each shard takes `1/N`: N shards at once send what one process would.
    #[default]
    Split,
    /// Each shard takes the whole budget.
    Full,
}

impl Default for FleetSettings {
    fn default() -> Self {
        Self {
            requests_per_second: DEFAULT_REQUESTS_PER_SECOND,
            shard_budget: ShardBudget::Split,
            address_share: DEFAULT_ADDRESS_SHARE,
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
#[serde(deny_unknown_fields)]
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
            let start = error.span().map(|span| span.start.min(text.len()));
            let place = start.map_or_else(String::new, |start| {
                let before = &text[..start];
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |at| at + 1) + 1;
                format!("line {line}, column {column}: ")
            });
            let message = unknown_key_message(error.message(), start.map(|at| &text[..at]))
                .unwrap_or_else(|| error.message().to_owned());
            Error::Config {
                path: path.to_owned(),
                message: format!("{place}{message}"),
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
        let share = config.fleet.address_share;
        if !(share > 0.0 && share <= 1.0) {
            return Err(config.error(format!(
                "[fleet] address_share must be more than 0 and at most 1 (a fraction of the \
                 license's requests_per_second; 1 switches the per-address cap off); got {share}"
            )));
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
                // Sent as it is, an empty secret only comes back as a generic invalid_client.
                if value.trim().is_empty() {
                    return Err(self.error(format!(
                        "[environments.{name}] reads the client secret from {}, which is empty; \
                         write the worker's client secret into it",
                        file.display()
                    )));
                }
                warn_if_others_can_read(name, &file);
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

/// Warns when a secret file is readable by its group or others. Only a warning: container
/// secret mounts (Kubernetes, Docker) are often 0644 inside a single-user container.
fn warn_if_others_can_read(name: &str, file: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(metadata) = std::fs::metadata(file) {
            let mode = metadata.permissions().mode() & 0o777;
            if mode & 0o044 != 0 {
                tracing::warn!(
                    "[environments.{name}] client_secret_file {} is readable by {} (mode {mode:04o}); \
                     unless only you can reach it, run: chmod 600 {}",
                    file.display(),
                    match (mode & 0o040 != 0, mode & 0o004 != 0) {
                        (true, true) => "its group and others",
                        (true, false) => "its group",
                        _ => "others",
                    },
                    file.display()
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (name, file);
}

/// serde's "unknown field `x`, expected one of `a`, `b`" as a config error: the key, the table
/// it is in (the nearest `[header]` above it), and the valid key nearest to it, or the valid
/// keys when none is near. `None` for any other message.
fn unknown_key_message(message: &str, before: Option<&str>) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let (key, expected) = rest.split_once('`')?;
    // Backticked names follow "expected": `a`, "`a` or `b`" or "one of `a`, `b`, …".
    let valid: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    // Where the key stands: in a `[header]` itself (`[limit]`), or under the nearest header
    // above its line.
    let before = before.unwrap_or_default();
    let (earlier, line) = before.rsplit_once('\n').unwrap_or(("", before));
    let (what, table) = match line.trim_start().strip_prefix('[') {
        Some(header) => (
            "table",
            header
                .trim_start_matches('[')
                .trim_end_matches('.')
                .trim()
                .to_owned(),
        ),
        None => (
            "key",
            earlier
                .lines()
                .rev()
                .map(str::trim)
                .find(|line| line.starts_with('['))
                .map(|header| {
                    header
                        .trim_matches(|c| c == '[' || c == ']')
                        .trim()
                        .to_owned()
                })
                .unwrap_or_default(),
        ),
    };
    let table = if table.is_empty() {
        "at the top level".to_owned()
    } else {
        format!("in [{table}]")
    };
    let advice = match nearest(key, &valid) {
        Some(near) => format!("did you mean `{near}`?"),
        None if valid.is_empty() => "this table takes no keys".to_owned(),
        None => format!("valid: {}", valid.join(", ")),
    };
    Some(format!("unknown {what} `{key}` {table}; {advice}"))
}

/// The candidate closest to `key` in edit distance (a transposition counts as one edit), when
/// it is close enough to be a typo of it: at most one edit in three characters.
fn nearest<'a>(key: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|candidate| (strsim::damerau_levenshtein(key, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= (key.len().max(candidate.len()) / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message `Config::load` gives for `text`.
    fn error_of(text: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p1run.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(&path).unwrap_err().to_string()
    }

    const ENV: &str = "[environments.staging]\nenvironment_id = \"e\"\nregion = \"NA\"\n\
                       client_id = \"c\"\nclient_secret_env = \"S\"\n";

    #[test]
    fn a_mistyped_environment_key_is_named_with_its_line_and_the_key_meant() {
        let error = error_of(&format!("{ENV}token_auth_metod = \"CLIENT_SECRET_POST\"\n"));
        assert!(error.contains("p1run.toml"), "{error}");
        assert!(
            error.contains(
                "line 6, column 1: unknown key `token_auth_metod` in [environments.staging]; \
                 did you mean `token_auth_method`?"
            ),
            "{error}"
        );
        let error = error_of(&format!("{ENV}licence = \"prod\"\n"));
        assert!(error.contains("did you mean `license`?"), "{error}");
    }

    #[test]
    fn a_key_with_no_near_match_lists_the_valid_ones() {
        let error = error_of(&format!("{ENV}vars = {{ name = \"x\" }}\n"));
        assert!(
            error.contains("unknown key `vars` in [environments.staging]; valid: environment_id"),
            "{error}"
        );
        assert!(error.contains("token_auth_method"), "{error}");
    }

    #[test]
    fn mistyped_tables_are_named_with_the_table_meant() {
        let error = error_of(&format!("{ENV}\n[limit]\nmax_operations = 5\n"));
        assert!(
            error.contains(
                "line 7, column 2: unknown table `limit` at the top level; did you mean `limits`?"
            ),
            "{error}"
        );
        let error = error_of(&format!("[group]\nprod = [\"staging\"]\n\n{ENV}"));
        assert!(
            error.contains("unknown table `group`") && error.contains("did you mean `groups`?"),
            "{error}"
        );
        let error = error_of(&format!("{ENV}[environments.staging.vars]\nname = \"x\"\n"));
        assert!(
            error.contains("unknown table `vars` in [environments.staging]"),
            "{error}"
        );
        let error = error_of("[retry]\ndeadline = 5\n");
        assert!(error.contains("did you mean `deadline_ms`?"), "{error}");
        let error = error_of("[retry]\nbackoff = 5\n");
        assert!(
            error.contains("unknown key `backoff` in [retry]; valid: initial_delay_ms"),
            "{error}"
        );
    }

    #[test]
    fn nearest_suggests_only_plausible_typos() {
        let keys = ["limits", "groups", "environments", "retry", "fleet"];
        assert_eq!(nearest("limit", &keys), Some("limits"));
        assert_eq!(nearest("enviroments", &keys), Some("environments"));
        assert_eq!(nearest("retyr", &keys), Some("retry"));
        assert_eq!(nearest("vars", &keys), None);
        assert_eq!(nearest("x", &keys), None);
    }
}
