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
    /// `[defaults]`: what every environment inherits unless it sets the key itself.
    #[serde(default)]
    pub defaults: Defaults,
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
    /// The acting worker application (else `[defaults] client_id`).
    pub client_id: Option<String>,
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
    /// `[environments.NAME.vars]`: recipe params for runs in this environment, over
    /// `[defaults.vars]` and under `--var-file` and `--var`.
    #[serde(default)]
    pub vars: BTreeMap<String, toml::Value>,
}

/// `[defaults]`: the keys every environment inherits. An environment's own key wins; the
/// secret source (`client_secret_env` / `client_secret_file`) and the hosts (`region` /
/// `api_url` / `auth_url`) are each inherited as a whole, so that an environment naming its
/// own file or region never ends up with half of the defaults' choice as well.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Default region.
    pub region: Option<String>,
    /// Default acting worker.
    pub client_id: Option<String>,
    /// Default secret variable.
    pub client_secret_env: Option<String>,
    /// Default secret file.
    pub client_secret_file: Option<PathBuf>,
    /// Rejected with a clear message, as in an environment.
    client_secret: Option<toml::Value>,
    /// Default worker environment.
    pub worker_environment_id: Option<String>,
    /// Default token auth method.
    pub token_auth_method: Option<String>,
    /// Default management API override.
    pub api_url: Option<String>,
    /// Default auth server override.
    pub auth_url: Option<String>,
    /// Default license.
    pub license: Option<String>,
    /// `[defaults.vars]`: recipe params for every environment.
    #[serde(default)]
    pub vars: BTreeMap<String, toml::Value>,
}

/// Where a worker's secret is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// An environment variable, by name.
    Env(String),
    /// A file, resolved against the config file's directory.
    File(PathBuf),
}

/// One environment with `[defaults]` applied and checked, everything but the secret itself:
/// what `doctor` checks before it reads the secret, and what [`Config::target`] builds on.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The environment's config name.
    pub name: String,
    /// The environment the recipe changes.
    pub environment_id: String,
    /// Hosts.
    pub endpoints: Endpoints,
    /// The acting worker.
    pub client_id: String,
    /// Where the worker lives.
    pub worker_environment_id: String,
    /// How the worker authenticates.
    pub auth_method: TokenAuthMethod,
    /// Whose request budget it draws on.
    pub license: String,
    /// Where the secret is read from.
    pub secret_source: SecretSource,
    /// Recipe params from the config (`[defaults.vars]` under the environment's own).
    pub vars: BTreeMap<String, String>,
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
    /// Recipe params from the config file (`--var-file` and `--var` go over them).
    pub vars: BTreeMap<String, String>,
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
        let inline = config
            .defaults
            .client_secret
            .is_some()
            .then(|| "[defaults]".to_owned())
            .into_iter()
            .chain(
                config
                    .environments
                    .iter()
                    .filter(|(_, env)| env.client_secret.is_some())
                    .map(|(name, _)| format!("[environments.{name}]")),
            )
            .next();
        if let Some(table) = inline {
            return Err(config.error(format!(
                "{table} has an inline client_secret; secrets are never written into config \
                 files: use client_secret_env = \"VAR\" or client_secret_file = \"path\""
            )));
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

    /// The error for an environment name that is not configured: the nearest configured name
    /// when it looks like a typo of one, and the configured names.
    pub fn unknown_environment(&self, name: &str) -> Error {
        let mut known = self.environment_names();
        crate::suggest::natural_sort(&mut known);
        self.error(format!(
            "no environment named {name:?}{}; configured: {}",
            crate::suggest::did_you_mean(name, &known),
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        ))
    }

    /// One named environment with `[defaults]` applied and every setting checked, without
    /// reading its secret.
    pub fn resolve(&self, name: &str) -> Result<Resolved, Error> {
        let env = self
            .environments
            .get(name)
            .ok_or_else(|| self.unknown_environment(name))?;
        let defaults = &self.defaults;
        let table = format!("[environments.{name}]");
        let filled = |key: &str, value: Option<&String>| -> Result<Option<String>, Error> {
            match value {
                // `p1run init` writes `"<…>"` where only the user knows the value.
                Some(value) if value.starts_with('<') && value.ends_with('>') => {
                    Err(self.error(format!(
                        "{table} {key} is still the placeholder {value:?} written by `p1run \
                         init`; fill in the real value (PingOne console: Environment → \
                         Properties for environment ids, Applications → the worker → \
                         Overview for its client id)"
                    )))
                }
                Some(value) if value.trim().is_empty() => Err(self.error(format!(
                    "{table} {key} is empty; fill it in or remove the key"
                ))),
                other => Ok(other.cloned()),
            }
        };
        let environment_id =
            filled("environment_id", Some(&env.environment_id))?.unwrap_or_default();
        let client_id = filled(
            "client_id",
            env.client_id.as_ref().or(defaults.client_id.as_ref()),
        )?
        .ok_or_else(|| {
            self.error(format!(
                "{table} needs client_id = \"…\" (the acting worker application), here or in \
                 [defaults]"
            ))
        })?;
        let worker_environment_id = filled(
            "worker_environment_id",
            env.worker_environment_id
                .as_ref()
                .or(defaults.worker_environment_id.as_ref()),
        )?
        .unwrap_or_else(|| environment_id.clone());
        // The hosts are inherited as a whole: an environment that names its own region or URL
        // must not be sent to the defaults' emulator URL.
        let own_hosts = env.region.is_some() || env.api_url.is_some() || env.auth_url.is_some();
        let (region, api_url, auth_url) = if own_hosts {
            (&env.region, &env.api_url, &env.auth_url)
        } else {
            (&defaults.region, &defaults.api_url, &defaults.auth_url)
        };
        let endpoints = self.endpoints(name, region, api_url, auth_url)?;
        let auth_method = match env
            .token_auth_method
            .as_ref()
            .or(defaults.token_auth_method.as_ref())
        {
            Some(method) => method
                .parse::<TokenAuthMethod>()
                .map_err(|e| self.error(format!("{table} token_auth_method: {e}")))?,
            None => TokenAuthMethod::ClientSecretBasic,
        };
        // The secret source is inherited as a whole, like the hosts.
        let (secret_env, secret_file) =
            if env.client_secret_env.is_some() || env.client_secret_file.is_some() {
                (&env.client_secret_env, &env.client_secret_file)
            } else {
                (&defaults.client_secret_env, &defaults.client_secret_file)
            };
        let secret_source = match (secret_env, secret_file) {
            (Some(var), None) if !var.trim().is_empty() => SecretSource::Env(var.clone()),
            (None, Some(file)) => {
                SecretSource::File(self.path.parent().unwrap_or(Path::new(".")).join(file))
            }
            (Some(_), Some(_)) => {
                return Err(self.error(format!(
                    "{table} sets both client_secret_env and client_secret_file; keep one"
                )));
            }
            _ => {
                return Err(self.error(format!(
                    "{table} needs client_secret_env = \"VAR\" or client_secret_file = \"path\", \
                     here or in [defaults]"
                )));
            }
        };
        let mut vars = BTreeMap::new();
        for (key, value) in defaults.vars.iter().chain(&env.vars) {
            vars.insert(key.clone(), var_text(value));
        }
        Ok(Resolved {
            name: name.to_owned(),
            environment_id,
            endpoints,
            client_id,
            worker_environment_id,
            auth_method,
            license: env
                .license
                .clone()
                .or_else(|| defaults.license.clone())
                .unwrap_or_default(),
            secret_source,
            vars,
        })
    }

    /// Resolves one named environment into a [`Target`], reading its secret.
    pub fn target(&self, name: &str) -> Result<Target, Error> {
        let resolved = self.resolve(name)?;
        let client_secret = self.read_secret(name, &resolved.secret_source)?;
        Ok(Target {
            name: resolved.name,
            environment_id: resolved.environment_id,
            endpoints: resolved.endpoints,
            credentials: Credentials {
                client_id: resolved.client_id,
                client_secret,
                environment_id: resolved.worker_environment_id,
                auth_method: resolved.auth_method,
            },
            license: resolved.license,
            vars: resolved.vars,
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
        // A typo fails the command before anything runs, with the name meant.
        if let Some(unknown) = envs
            .iter()
            .find(|name| !self.environments.contains_key(*name))
        {
            return Err(self.unknown_environment(unknown));
        }
        let mut names: Vec<String> = envs.to_vec();
        for group in groups {
            let members = self.groups.get(group).ok_or_else(|| {
                let known: Vec<&str> = self.groups.keys().map(String::as_str).collect();
                self.error(format!(
                    "no group named {group:?}{}; configured: {}",
                    crate::suggest::did_you_mean(group, &known),
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

    fn endpoints(
        &self,
        name: &str,
        region: &Option<String>,
        api_url: &Option<String>,
        auth_url: &Option<String>,
    ) -> Result<Endpoints, Error> {
        let region = region
            .as_deref()
            .map(|code| {
                code.parse::<Region>()
                    .map_err(|e| self.error(format!("[environments.{name}] region: {e}")))
            })
            .transpose()?;
        let base = region.map(Endpoints::for_region);
        let (api_url, auth_url) = match (api_url, auth_url, &base) {
            (Some(api), Some(auth), _) => (api.clone(), auth.clone()),
            (api, auth, Some(base)) => (
                api.clone().unwrap_or_else(|| base.api_url.to_string()),
                auth.clone().unwrap_or_else(|| base.auth_url.to_string()),
            ),
            (_, _, None) => {
                return Err(self.error(format!(
                    "[environments.{name}] needs region = \"NA\" (or EU, CA, AU, SG, AP), or both \
                     api_url and auth_url, here or in [defaults]"
                )));
            }
        };
        Endpoints::new(&api_url, &auth_url)
            .map_err(|e| self.error(format!("[environments.{name}] {e}")))
    }

    /// Reads the secret of environment `name` from its source: a set, non-empty variable, or a
    /// readable, non-empty file (warning when others may read it).
    pub fn read_secret(&self, name: &str, source: &SecretSource) -> Result<Secret, Error> {
        let secret = self.secret_value(name, source)?;
        if let SecretSource::File(file) = source
            && let Some(warning) = others_can_read(name, file)
        {
            tracing::warn!("{warning}");
        }
        Ok(secret)
    }

    /// [`Config::read_secret`] without the file mode warning, for callers that report the
    /// mode themselves (`doctor`).
    pub fn secret_value(&self, name: &str, source: &SecretSource) -> Result<Secret, Error> {
        match source {
            SecretSource::Env(var) => match std::env::var(var) {
                Ok(value) if !value.trim().is_empty() => Ok(Secret::new(value.trim())),
                _ => Err(self.error(format!(
                    "[environments.{name}] reads the client secret from ${var}, which is not \
                     set (or empty); export {var}=<the worker's client secret>"
                ))),
            },
            SecretSource::File(file) => {
                let value = std::fs::read_to_string(file).map_err(|source| {
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
                Ok(Secret::new(value.trim()))
            }
        }
    }
}

/// Reads `--var-file FILE`: a JSON object (a `.json` file, or text starting with `{`) or
/// else a TOML table, of param name → value. Values become the text a `--var` would give.
pub fn load_var_file(path: &Path) -> Result<BTreeMap<String, String>, Error> {
    let failed = |why: String| Error::Usage(format!("--var-file {}: {why}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| failed(format!("cannot read it: {e}")))?;
    let json =
        path.extension().is_some_and(|ext| ext == "json") || text.trim_start().starts_with('{');
    let table: toml::Table = if json {
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            failed(format!(
                "line {}, column {}: not a JSON object of name → value: {e}",
                e.line(),
                e.column()
            ))
        })?;
        let serde_json::Value::Object(object) = value else {
            return Err(failed("expected a JSON object of name → value".into()));
        };
        let mut table = toml::Table::new();
        for (name, value) in object {
            let value = match value {
                serde_json::Value::String(text) => toml::Value::String(text),
                serde_json::Value::Null => {
                    return Err(failed(format!(
                        "{name} is null; give it a value or leave it out"
                    )));
                }
                // Numbers, booleans, arrays and objects keep their JSON text, which is what
                // `param()` reads for such defaults.
                other => toml::Value::String(other.to_string()),
            };
            table.insert(name, value);
        }
        table
    } else {
        // The parser's message quotes the line; say where, not what, as for the config.
        toml::from_str(&text).map_err(|e| {
            let place = e.span().map_or_else(String::new, |span| {
                format!(
                    "line {}: ",
                    text[..span.start.min(text.len())].matches('\n').count() + 1
                )
            });
            failed(format!(
                "{place}{} (expected TOML `name = value` lines, or a JSON object)",
                e.message()
            ))
        })?
    };
    Ok(table
        .iter()
        .map(|(name, value)| (name.clone(), var_text(value)))
        .collect())
}

/// A config var as the text a `--var` would give: strings as they are, other values as
/// TOML/JSON literals, which `param()` reads by the type of its default (`5`, `true`,
/// `["a", "b"]`).
fn var_text(value: &toml::Value) -> String {
    match value {
        toml::Value::String(text) => text.clone(),
        toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) => {
            value.to_string()
        }
        toml::Value::Datetime(datetime) => datetime.to_string(),
        toml::Value::Array(_) | toml::Value::Table(_) => {
            serde_json::to_string(value).unwrap_or_default()
        }
    }
}

/// The warning for a secret file readable by its group or others, if it is. Only a warning:
/// container secret mounts (Kubernetes, Docker) are often 0644 inside a single-user container.
pub fn others_can_read(name: &str, file: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(file).ok()?.permissions().mode() & 0o777;
        (mode & 0o044 != 0).then(|| {
            format!(
                "[environments.{name}] client_secret_file {} is readable by {} (mode {mode:04o}); \
                 unless only you can reach it, run: chmod 600 {}",
                file.display(),
                match (mode & 0o040 != 0, mode & 0o004 != 0) {
                    (true, true) => "its group and others",
                    (true, false) => "its group",
                    _ => "others",
                },
                file.display()
            )
        })
    }
    #[cfg(not(unix))]
    {
        let _ = (name, file);
        None
    }
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

/// The key `key` is likely a typo of (see [`crate::suggest::closest`], the one policy for
/// "did you mean").
pub fn nearest<'a>(key: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let found = crate::suggest::closest(key, candidates)?;
    candidates
        .iter()
        .copied()
        .find(|candidate| *candidate == found)
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
        let error = error_of(&format!("{ENV}colour = \"x\"\n"));
        assert!(
            error.contains("unknown key `colour` in [environments.staging]; valid: environment_id"),
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
        let error = error_of(&format!("{ENV}[environments.staging.var]\nname = \"x\"\n"));
        assert!(
            error.contains("unknown table `var` in [environments.staging]")
                && error.contains("did you mean `vars`?"),
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
    /// `text` loaded from a temp dir (kept alive with it).
    fn load(text: &str) -> (tempfile::TempDir, Config) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p1run.toml");
        std::fs::write(&path, text).unwrap();
        let config = Config::load(&path).unwrap();
        (dir, config)
    }

    const DEFAULTS: &str = "[defaults]\nregion = \"EU\"\nclient_id = \"worker\"\n\
                            client_secret_env = \"SHARED\"\nworker_environment_id = \"admin\"\n\
                            token_auth_method = \"CLIENT_SECRET_POST\"\nlicense = \"prod\"\n\
                            [defaults.vars]\nname = \"Shared\"\nenabled = true\n\n";

    #[test]
    fn environments_inherit_the_defaults_and_their_own_keys_win() {
        let (_dir, config) = load(&format!(
            "{DEFAULTS}[environments.a]\nenvironment_id = \"ea\"\n\n\
             [environments.b]\nenvironment_id = \"eb\"\nclient_id = \"own\"\n\
             license = \"dev\"\nregion = \"CA\"\nclient_secret_file = \"b.secret\"\n\
             [environments.b.vars]\nname = \"B\"\nroles = [\"x@environment\"]\ncount = 3\n"
        ));
        let a = config.resolve("a").unwrap();
        assert_eq!(a.client_id, "worker");
        assert_eq!(a.worker_environment_id, "admin");
        assert_eq!(a.auth_method, TokenAuthMethod::ClientSecretPost);
        assert_eq!(a.license, "prod");
        assert_eq!(a.endpoints.api_url.as_str(), "https://api.pingone.eu/v1");
        assert_eq!(a.secret_source, SecretSource::Env("SHARED".into()));
        assert_eq!(a.vars["name"], "Shared");
        assert_eq!(a.vars["enabled"], "true");

        let b = config.resolve("b").unwrap();
        assert_eq!(b.client_id, "own");
        assert_eq!(b.license, "dev");
        assert_eq!(b.endpoints.api_url.as_str(), "https://api.pingone.ca/v1");
        // The environment's own secret source replaces the defaults' as a whole: no "both
        // set" error from mixing its file with the defaults' variable.
        assert!(
            matches!(&b.secret_source, SecretSource::File(path) if path.ends_with("b.secret")),
            "{:?}",
            b.secret_source
        );
        assert_eq!(b.vars["name"], "B");
        assert_eq!(b.vars["enabled"], "true");
        assert_eq!(b.vars["roles"], "[\"x@environment\"]");
        assert_eq!(b.vars["count"], "3");
    }

    #[test]
    fn an_environment_with_its_own_hosts_takes_none_of_the_defaults_hosts() {
        let (_dir, config) = load(
            "[defaults]\napi_url = \"http://127.0.0.1:1/v1\"\nauth_url = \"http://127.0.0.1:1\"\n\
             client_id = \"c\"\nclient_secret_env = \"S\"\n\
             [environments.emu]\nenvironment_id = \"e\"\n\
             [environments.real]\nenvironment_id = \"e\"\nregion = \"AU\"\n",
        );
        assert_eq!(
            config.resolve("emu").unwrap().endpoints.api_url.as_str(),
            "http://127.0.0.1:1/v1"
        );
        assert_eq!(
            config.resolve("real").unwrap().endpoints.auth_url.as_str(),
            "https://auth.pingone.com.au/"
        );
    }

    #[test]
    fn a_typo_in_defaults_is_named_with_the_key_meant() {
        let error = error_of("[defaults]\nregoin = \"NA\"\n");
        assert!(
            error.contains(
                "line 2, column 1: unknown key `regoin` in [defaults]; did you mean `region`?"
            ),
            "{error}"
        );
        let error = error_of("[default]\nregion = \"NA\"\n");
        assert!(error.contains("did you mean `defaults`?"), "{error}");
        let error = error_of("[defaults]\nclient_secret = \"hunter2\"\n");
        assert!(
            error.contains("[defaults] has an inline client_secret"),
            "{error}"
        );
        assert!(!error.contains("hunter2"), "{error}");
    }

    #[test]
    fn what_is_missing_after_the_defaults_is_named() {
        let (_dir, config) = load("[environments.a]\nenvironment_id = \"e\"\nregion = \"NA\"\n");
        let error = config.resolve("a").unwrap_err().to_string();
        assert!(
            error.contains("[environments.a] needs client_id"),
            "{error}"
        );
        assert!(error.contains("[defaults]"), "{error}");
        let (_dir, config) = load(&format!(
            "{DEFAULTS}[environments.a]\nenvironment_id = \"<environment id>\"\n"
        ));
        let error = config.resolve("a").unwrap_err().to_string();
        assert!(
            error.contains("environment_id is still the placeholder \"<environment id>\""),
            "{error}"
        );
    }

    #[test]
    fn a_mistyped_environment_or_group_name_gets_the_name_meant() {
        let (_dir, config) = load(&format!(
            "{DEFAULTS}[environments.staging]\nenvironment_id = \"e\"\n\
             [environments.production]\nenvironment_id = \"p\"\n[groups]\nprod = [\"production\"]\n"
        ));
        let error = config.resolve("stagng").unwrap_err().to_string();
        assert!(
            error.contains(
                "no environment named \"stagng\" (did you mean \"staging\"?); configured: production, staging"
            ),
            "{error}"
        );
        let error = config
            .select(&["prodution".into()], &[], false)
            .unwrap_err()
            .to_string();
        assert!(error.contains("(did you mean \"production\"?)"), "{error}");
        let error = config
            .select(&[], &["prd".into()], false)
            .unwrap_err()
            .to_string();
        assert!(error.contains("(did you mean \"prod\"?)"), "{error}");
        let error = config.resolve("qa").unwrap_err().to_string();
        assert!(!error.contains("did you mean"), "{error}");
    }

    #[test]
    fn var_files_are_toml_or_json_and_their_values_read_like_vars() {
        let dir = tempfile::tempdir().unwrap();
        let toml_file = dir.path().join("vars.toml");
        std::fs::write(
            &toml_file,
            "name = \"X\"\nenabled = false\nroles = [\"a\", \"b\"]\n",
        )
        .unwrap();
        let vars = load_var_file(&toml_file).unwrap();
        assert_eq!(vars["name"], "X");
        assert_eq!(vars["enabled"], "false");
        assert_eq!(vars["roles"], "[\"a\",\"b\"]");
        let json_file = dir.path().join("vars.json");
        std::fs::write(
            &json_file,
            r#"{"name": "Y", "previous_expires_minutes": 5}"#,
        )
        .unwrap();
        let vars = load_var_file(&json_file).unwrap();
        assert_eq!(vars["name"], "Y");
        assert_eq!(vars["previous_expires_minutes"], "5");
        std::fs::write(&json_file, "[1]").unwrap();
        let error = load_var_file(&json_file).unwrap_err().to_string();
        assert!(
            error.contains("vars.json") && error.contains("JSON object"),
            "{error}"
        );
        std::fs::write(&toml_file, "name = \n").unwrap();
        let error = load_var_file(&toml_file).unwrap_err().to_string();
        assert!(error.contains("vars.toml: line 1"), "{error}");
    }
}
