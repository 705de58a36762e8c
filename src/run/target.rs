//! Where a run goes: a configured PingOne environment, or the embedded emulator.

use crate::client::{Credentials, Endpoints, TokenAuthMethod};
use crate::config::{Config, LOCAL, Target};
use crate::emulator::Emulator;
use crate::error::Error;
use crate::secret::Secret;

/// Where a run goes.
pub enum Destination {
    /// A configured PingOne environment.
    Remote(Box<Target>),
    /// A fresh in-process emulator.
    Local,
}

/// Picks the target: `--env NAME` from the config; with neither `--env` nor a config file,
/// the embedded emulator (`local`).
pub fn destination(env: Option<&str>, config: Option<&Config>) -> Result<Destination, Error> {
    match (env, config) {
        (Some(LOCAL), _) | (None, None) => Ok(Destination::Local),
        (Some(name), Some(config)) => config
            .target(name)
            .map(|t| Destination::Remote(Box::new(t))),
        (Some(name), None) => Err(Error::Usage(format!(
            "--env {name} needs a config file: none was given with --config or $P1RUN_CONFIG, \
             and ./p1run.toml does not exist"
        ))),
        (None, Some(config)) => match config.environment_names().as_slice() {
            [only] => config
                .target(only)
                .map(|t| Destination::Remote(Box::new(t))),
            names => Err(Error::Usage(format!(
                "{} configures {} environments; pick one with --env ({})",
                config.path.display(),
                names.len(),
                names.join(", ")
            ))),
        },
    }
}

/// The target of a run against the embedded emulator.
pub fn local_target(emulator: &Emulator) -> Result<Target, Error> {
    let info = emulator.info();
    Ok(Target {
        name: LOCAL.to_owned(),
        environment_id: info.environment_id.clone(),
        endpoints: Endpoints::new(&info.api_url, &info.auth_url)?,
        credentials: Credentials {
            client_id: info.client_id.clone(),
            client_secret: Secret::new(info.client_secret.clone()),
            environment_id: info.environment_id.clone(),
            auth_method: TokenAuthMethod::ClientSecretBasic,
        },
        license: String::new(),
        vars: std::collections::BTreeMap::new(),
    })
}
