//! Running a recipe against one environment: resolve the script and the target, start the
//! embedded emulator when the target is `local`, build the client, session and engine, run.

use crate::client::Credentials;
use crate::client::{Client, ClientOptions, Endpoints, RetryPolicy, TokenAuthMethod, TokenCache};
use crate::config::{Config, LOCAL, Limits, Target};
use crate::emulator::{Emulator, EmulatorOptions};
use crate::error::{Error, ScriptError};
use crate::host::engine::{self, Sources};
use crate::host::{Mode, Session, render};
use crate::recipes;
use crate::report::{RunOutcome, Status};
use crate::secret::Secret;
use rhai::{Dynamic, Scope};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// A script to run: bundled or from a file.
#[derive(Debug, Clone)]
pub struct Script {
    /// The name errors and reports use: the recipe name or the file path.
    pub name: String,
    /// Its text.
    pub source: String,
    /// The directory `import "x"` resolves in (files only).
    pub dir: Option<PathBuf>,
}

impl Script {
    /// A bundled recipe by name, or a `.rhai` file by path.
    pub fn resolve(recipe: &str) -> Result<Self, Error> {
        if let Some(bundled) = recipes::find(recipe) {
            return Ok(Self {
                name: recipe.to_owned(),
                source: bundled.source.to_owned(),
                dir: None,
            });
        }
        let path = Path::new(recipe);
        match std::fs::read_to_string(path) {
            Ok(source) => Ok(Self {
                name: recipe.to_owned(),
                source,
                dir: Some(path.parent().map(Path::to_path_buf).unwrap_or_default()),
            }),
            Err(_) => Err(Error::UnknownRecipe {
                name: recipe.to_owned(),
                known: recipes::RECIPES
                    .iter()
                    .map(|r| r.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// Rejects `--var`s the script never reads, before anything runs.
    pub fn check_vars(&self, vars: &BTreeMap<String, String>) -> Result<(), Error> {
        let params = recipes::params(&self.source);
        for name in vars.keys() {
            if !params.iter().any(|param| &param.name == name) {
                let known: Vec<_> = params.iter().map(|param| param.name.as_str()).collect();
                return Err(Error::Usage(format!(
                    "--var {name}: {} has no param {name:?}; its params are: {}",
                    self.name,
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                )));
            }
        }
        Ok(())
    }
}

/// Where a run goes.
pub enum Destination {
    /// A configured PingOne environment.
    Remote(Target),
    /// A fresh in-process emulator.
    Local,
}

/// Picks the target: `--env NAME` from the config; with neither `--env` nor a config file,
/// the embedded emulator (`local`).
pub fn destination(env: Option<&str>, config: Option<&Config>) -> Result<Destination, Error> {
    match (env, config) {
        (Some(LOCAL), _) | (None, None) => Ok(Destination::Local),
        (Some(name), Some(config)) => config.target(name).map(Destination::Remote),
        (Some(name), None) => Err(Error::Usage(format!(
            "--env {name} needs a config file: none was given with --config or $P1RUN_CONFIG, \
             and ./p1run.toml does not exist"
        ))),
        (None, Some(config)) => match config.environment_names().as_slice() {
            [only] => config.target(only).map(Destination::Remote),
            names => Err(Error::Usage(format!(
                "{} configures {} environments; pick one with --env ({})",
                config.path.display(),
                names.len(),
                names.join(", ")
            ))),
        },
    }
}

/// Everything one run needs.
pub struct RunRequest<'a> {
    /// The script.
    pub script: &'a Script,
    /// `--var` values.
    pub vars: BTreeMap<String, String>,
    /// Apply or plan.
    pub mode: Mode,
    /// Script limits.
    pub limits: &'a Limits,
    /// Retry timing.
    pub retry: RetryPolicy,
}

/// Runs the script against the destination. An `Err` means the run could not start; a
/// failure of the script itself is an `Ok` outcome with status `failed` and its error, so
/// that what was changed before the failure is still reported.
pub fn run(
    request: &RunRequest<'_>,
    destination: Destination,
    runtime: &tokio::runtime::Runtime,
) -> Result<(RunOutcome, Option<ScriptError>), Error> {
    let started = Instant::now();
    // Kept alive for the whole run when the target is local.
    let mut _emulator = None;
    let target = match destination {
        Destination::Remote(target) => target,
        Destination::Local => {
            let emulator =
                Emulator::start(EmulatorOptions::default()).map_err(|source| Error::Io {
                    context: "starting the embedded emulator".into(),
                    source,
                })?;
            let target = local_target(&emulator)?;
            _emulator = Some(emulator);
            target
        }
    };
    let client = Client::new(ClientOptions {
        endpoints: target.endpoints.clone(),
        credentials: target.credentials.clone(),
        retry: request.retry.clone(),
        tokens: TokenCache::default(),
        transaction_id: uuid::Uuid::new_v4().to_string(),
    })?;
    let session = Arc::new(Session::new(
        runtime.handle().clone(),
        client.clone(),
        target.environment_id.clone(),
        request.mode,
        request.vars.clone(),
    ));
    let sources = Sources::default();
    sources.insert(&request.script.name, &request.script.source);
    let (engine, _) = engine::build(
        &session,
        request.limits,
        request.script.dir.clone(),
        &sources,
    );
    let result = engine
        .compile(&request.script.source)
        .map_err(|error| Box::new(error.into()))
        .and_then(|mut ast| {
            ast.set_source(request.script.name.as_str());
            engine.eval_ast_with_scope::<Dynamic>(&mut Scope::new(), &ast)
        });
    let (status, outputs, error) = match result {
        Ok(value) => (
            Status::Succeeded,
            rhai::serde::from_dynamic(&value).unwrap_or_default(),
            None,
        ),
        Err(error) => {
            let rendered = render::render(
                *error,
                &request.script.name,
                &sources,
                request.limits.max_operations,
            );
            (Status::Failed, serde_json::Value::Null, Some(rendered))
        }
    };
    let outcome = RunOutcome {
        recipe: request.script.name.clone(),
        environment: target.name.clone(),
        status,
        changes: session.changes(),
        outputs,
        requests: client.requests_sent(),
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        error: error.as_ref().map(ToString::to_string),
    };
    Ok((outcome, error))
}

fn local_target(emulator: &Emulator) -> Result<Target, Error> {
    let info = emulator.info();
    let url = |value: &str| {
        url::Url::parse(value)
            .map_err(|error| Error::Usage(format!("emulator URL {value}: {error}")))
    };
    Ok(Target {
        name: LOCAL.to_owned(),
        environment_id: info.environment_id.clone(),
        endpoints: Endpoints::new(url(&info.api_url)?, url(&info.auth_url)?)?,
        credentials: Credentials {
            client_id: info.client_id.clone(),
            client_secret: Secret::new(info.client_secret.clone()),
            environment_id: info.environment_id.clone(),
            auth_method: TokenAuthMethod::ClientSecretBasic,
        },
    })
}

/// The multi-thread runtime all API calls run on. The Rhai engine itself runs on the calling
/// thread, outside the runtime, and blocks on it per call (RHAI-HOST-NOTES §A1).
pub fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            context: "starting the async runtime".into(),
            source,
        })
}
