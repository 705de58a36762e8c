//! The Rhai engine a `*.test.rhai` file runs in: the standard library, the limits of a recipe,
//! no `eval`, no `import`, and the test functions (`apply`, `plan`, `apps`, `given_app`,
//! `faults`, `assert`, `assert_eq`, `expect_error`) bound to one test's emulator.
//!
//! This is a separate engine from the recipes' on purpose: a test drives recipes from the
//! outside, so it gets no primitives, and recipes never see the test functions.

use crate::client::{Client, ClientOptions, ScopeRef, ScopeType, TokenAuthMethod};
use crate::config::{Limits, Target};
use crate::emulator::{Emulator, EmulatorOptions, Faults};
use crate::error::Error;
use crate::export;
use crate::host::Mode;
use crate::host::primitives::to_json;
use crate::report::RunOutcome;
use crate::run::{self, Destination, RunRequest, Script, Shared};
use rhai::{Array, Dynamic, Engine, EvalAltResult, FnPtr, Map, NativeCallContext};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// One test's world: a fresh emulator (one organization, one environment, the bootstrap
/// worker), a client acting as that worker, and what a run needs.
pub struct TestWorld {
    // Declared first so that it drops first: runs and reads finish before the emulator stops.
    shared: Shared,
    client: Client,
    target: Target,
    organization_id: String,
    /// The folder of the test file: recipe paths resolve from here.
    dir: PathBuf,
    limits: Limits,
    /// A folder of the test's own for files a recipe writes (`temp_path()`), removed after.
    temp: tempfile::TempDir,
    emulator: Emulator,
}

/// The signature and doc of each test function, for `p1run test --functions` and
/// docs/recipes.md.
pub const TEST_FUNCTIONS: &[(&str, &str)] = &[
    (
        "apply(recipe: String[, vars: Map]) -> ?",
        "Runs the recipe (a bundled name, or a path relative to the test file) against the \
         test's environment, plan then apply, and returns its outputs; throws the run's error \
         when it fails. `vars` are its `--var`s (arrays and maps go as JSON).",
    ),
    (
        "plan(recipe: String[, vars: Map]) -> Array",
        "The changes the recipe would make, as maps with `action`, `resource` and `detail`; \
         `[]` when nothing would change. Throws when the plan fails (pre-flight included).",
    ),
    (
        "apps() -> Array",
        "The environment's applications but the acting (bootstrap) worker, sorted by name: \
         maps with `name`, `type`, `enabled`, `auth_method` and `roles` (sorted \
         \"Role Name @ SCOPE_TYPE\" strings), read over HTTP from the emulator.",
    ),
    (
        "given_app(spec: Map) -> Map",
        "Makes a worker application directly in the emulator, not through a recipe: `name` \
         (required), `description`, `enabled` (false), `auth_method` (CLIENT_SECRET_BASIC), \
         `roles`: [\"Role Name @ organization|environment|population:<id>|application:<id>\"]. \
         Returns `#{id, name}`. Call it before `faults()`.",
    ),
    (
        "faults(knobs: Map)",
        "Turns on the emulator's fault knobs for the rest of the test: `fault_rate` and \
         `lost_answer_rate` (0..1), `propagation_delay_ms`, `seed` (default 1, so a test \
         replays the same faults).",
    ),
    (
        "temp_path(name: String) -> String",
        "A path named `name` in a folder of the test's own, removed when the test ends: where \
         a recipe under test writes files (e.g. `rotate-worker-secret`'s `out`).",
    ),
    (
        "assert(condition: bool, message: String)",
        "Fails the test with `message` unless `condition` is true.",
    ),
    (
        "assert_eq(actual: ?, expected: ?)",
        "Fails the test unless both are equal as data; the failure shows both.",
    ),
    (
        "expect_error(f: Fn, text: String)",
        "Calls `f` (e.g. `|| apply(\"x.rhai\", #{})`) and fails the test unless it throws an \
         error whose message contains `text`.",
    ),
];

impl TestWorld {
    /// Starts the emulator and a client for a test of the file in `dir`.
    pub fn start(dir: PathBuf) -> Result<Self, Error> {
        let emulator = Emulator::start(EmulatorOptions::default()).map_err(|source| Error::Io {
            context: "starting the test's emulator".into(),
            source,
        })?;
        // One `Shared` per test: its caches are keyed by API URL, and a port freed by a
        // finished test's emulator may be reused by the next one.
        let shared = Shared::new(None)?;
        let target = run::target::local_target(&emulator)?;
        let client = Client::new(ClientOptions::new(
            target.endpoints.clone(),
            target.credentials.clone(),
        ))?;
        Ok(Self {
            shared,
            client,
            organization_id: emulator.info().organization_id.clone(),
            target,
            dir,
            limits: Limits::default(),
            temp: tempfile::tempdir().map_err(|source| Error::Io {
                context: "making the test's temporary folder".into(),
                source,
            })?,
            emulator,
        })
    }

    fn recipe(&self, recipe: &str) -> Result<Script, Box<EvalAltResult>> {
        let beside = self.dir.join(recipe);
        let found = if beside.is_file() {
            Script::resolve(&beside.display().to_string())
        } else {
            Script::resolve(recipe)
        };
        found.map_err(|error| {
            fail(format!(
                "{error} (paths are relative to the test file's folder, {})",
                self.dir.display()
            ))
        })
    }

    fn run_recipe(
        &self,
        recipe: &str,
        vars: &Map,
        mode: Mode,
    ) -> Result<RunOutcome, Box<EvalAltResult>> {
        let what = if mode == Mode::Plan { "plan" } else { "apply" };
        let script = self.recipe(recipe)?;
        let vars = to_vars(vars)?;
        script
            .check_vars(&vars)
            .map_err(|error| fail(format!("{what}({recipe:?}): {error}")))?;
        let request = RunRequest {
            script: &script,
            vars,
            mode,
            limits: &self.limits,
            retry: crate::client::RetryPolicy::default(),
            saved_plan: None,
            rollback_on_failure: false,
            quiet: false,
            label_prints: false,
        };
        let result = run::run(
            &request,
            Destination::Remote(Box::new(self.target.clone())),
            &self.shared,
        )
        .map_err(|error| fail(format!("{what}({recipe:?}) could not run: {error}")))?;
        if let Some(error) = result.error {
            return Err(fail(format!("{what}({recipe:?}) failed: {error}")));
        }
        Ok(result.outcome)
    }

    fn apply(&self, recipe: &str, vars: &Map) -> Result<Dynamic, Box<EvalAltResult>> {
        let outcome = self.run_recipe(recipe, vars, Mode::Apply)?;
        rhai::serde::to_dynamic(&outcome.outputs)
    }

    fn plan(&self, recipe: &str, vars: &Map) -> Result<Array, Box<EvalAltResult>> {
        let outcome = self.run_recipe(recipe, vars, Mode::Plan)?;
        Ok(outcome
            .changes
            .iter()
            .map(|change| {
                let mut map = Map::new();
                map.insert("action".into(), change.action.clone().into());
                map.insert("resource".into(), change.resource.clone().into());
                map.insert("detail".into(), change.detail.clone().into());
                Dynamic::from_map(map)
            })
            .collect())
    }

    fn apps(&self) -> Result<Array, Box<EvalAltResult>> {
        let apps = self
            .shared
            .runtime()
            .block_on(export::read_apps(
                &self.client,
                &self.target.environment_id,
                Some(&self.target.credentials.client_id),
            ))
            .map_err(|error| fail(format!("apps(): reading the applications failed: {error}")))?;
        Ok(apps
            .into_iter()
            .map(|app| {
                let mut roles: Vec<String> = app.grants.iter().map(export::Grant::label).collect();
                roles.sort();
                let mut map = Map::new();
                map.insert("name".into(), app.name.into());
                map.insert("type".into(), app.kind.into());
                map.insert("enabled".into(), app.enabled.into());
                map.insert("auth_method".into(), app.auth_method.into());
                map.insert(
                    "roles".into(),
                    roles
                        .into_iter()
                        .map(Dynamic::from)
                        .collect::<Array>()
                        .into(),
                );
                Dynamic::from_map(map)
            })
            .collect())
    }

    fn given_app(&self, spec: &Map) -> Result<Map, Box<EvalAltResult>> {
        const KEYS: [&str; 5] = ["name", "description", "roles", "enabled", "auth_method"];
        if let Some(unknown) = spec.keys().find(|key| !KEYS.contains(&key.as_str())) {
            return Err(fail(format!(
                "given_app: unknown key `{unknown}`; the spec takes {}",
                KEYS.join(", ")
            )));
        }
        let text = |key: &str, default: &str| -> Result<String, Box<EvalAltResult>> {
            match spec.get(key) {
                None => Ok(default.to_owned()),
                Some(value) => value.clone().into_string().map_err(|found| {
                    fail(format!("given_app: `{key}` must be a string, not {found}"))
                }),
            }
        };
        let name = text("name", "")?;
        if name.trim().is_empty() {
            return Err(fail("given_app: the spec needs a non-empty `name`"));
        }
        let description = text("description", "")?;
        let auth_method: TokenAuthMethod = text("auth_method", "CLIENT_SECRET_BASIC")?
            .parse()
            .map_err(|error| fail(format!("given_app: {error}")))?;
        let enabled = match spec.get("enabled") {
            None => false,
            Some(value) => value.as_bool().map_err(|found| {
                fail(format!("given_app: `enabled` must be a bool, not {found}"))
            })?,
        };
        let grants: Vec<String> = match spec.get("roles") {
            None => Vec::new(),
            Some(value) => value
                .clone()
                .into_typed_array::<String>()
                .map_err(|_| fail("given_app: `roles` must be an array of strings"))?,
        };
        let environment_id = self.target.environment_id.clone();
        let scopes = grants
            .iter()
            .map(|grant| self.grant_spec(grant))
            .collect::<Result<Vec<_>, _>>()?;
        let body = json!({
            "name": name,
            "description": description,
            "enabled": enabled,
            "type": "WORKER",
            "protocol": "OPENID_CONNECT",
            "grantTypes": ["CLIENT_CREDENTIALS"],
            "tokenEndpointAuthMethod": auth_method.as_str(),
            "assignActorRoles": false,
        });
        let client = &self.client;
        let runtime = self.shared.runtime();
        let roles = runtime.block_on(client.roles()).map_err(|error| {
            fail(format!(
                "given_app({name:?}): reading the roles failed: {error}"
            ))
        })?;
        let grants = scopes
            .into_iter()
            .map(|(role_name, scope)| {
                let role = roles
                    .iter()
                    .find(|role| role.name == role_name)
                    .ok_or_else(|| {
                        let mut names: Vec<&str> =
                            roles.iter().map(|role| role.name.as_str()).collect();
                        names.sort_unstable();
                        fail(format!(
                            "given_app({name:?}): unknown role {role_name:?}; valid roles: {}",
                            names.join(", ")
                        ))
                    })?;
                Ok((role.id.clone(), scope))
            })
            .collect::<Result<Vec<_>, Box<EvalAltResult>>>()?;
        let id = runtime
            .block_on(async {
                let app = client.create_application(&environment_id, &body).await?;
                for (role_id, scope) in &grants {
                    client
                        .create_role_assignment(&environment_id, app.id(), role_id, scope)
                        .await?;
                }
                Ok::<_, crate::client::ClientError>(app.id().to_owned())
            })
            .map_err(|error| fail(format!("given_app({name:?}): {error}")))?;
        let mut map = Map::new();
        map.insert("id".into(), id.into());
        map.insert("name".into(), name.into());
        Ok(map)
    }

    /// `"Role Name @ scope"`: the role name and the scope, where scope is `organization`,
    /// `environment`, `population:<id>` or `application:<id>` (any case, so the
    /// `apps()` form `"... @ ENVIRONMENT"` works too).
    fn grant_spec(&self, grant: &str) -> Result<(String, ScopeRef), Box<EvalAltResult>> {
        let bad = || {
            fail(format!(
                "given_app: role {grant:?} must read \"Role Name @ scope\", scope one of \
                 organization, environment, environment:<id>, population:<id>, application:<id>"
            ))
        };
        let (role, scope) = grant.rsplit_once('@').ok_or_else(bad)?;
        let scope = scope.trim();
        let (kind, id) = match scope.split_once(':') {
            Some((kind, id)) => (kind.trim().to_ascii_lowercase(), Some(id.trim().to_owned())),
            None => (scope.to_ascii_lowercase(), None),
        };
        let scope = match (kind.as_str(), id) {
            ("organization", None) => ScopeRef {
                id: self.organization_id.clone(),
                kind: ScopeType::Organization,
            },
            ("environment", None) => ScopeRef {
                id: self.target.environment_id.clone(),
                kind: ScopeType::Environment,
            },
            ("environment", Some(id)) => ScopeRef {
                id,
                kind: ScopeType::Environment,
            },
            ("population", Some(id)) => ScopeRef {
                id,
                kind: ScopeType::Population,
            },
            ("application", Some(id)) => ScopeRef {
                id,
                kind: ScopeType::Application,
            },
            _ => return Err(bad()),
        };
        Ok((role.trim().to_owned(), scope))
    }

    fn faults(&self, knobs: &Map) -> Result<(), Box<EvalAltResult>> {
        const KEYS: [&str; 4] = [
            "fault_rate",
            "lost_answer_rate",
            "propagation_delay_ms",
            "seed",
        ];
        if let Some(unknown) = knobs.keys().find(|key| !KEYS.contains(&key.as_str())) {
            return Err(fail(format!(
                "faults: unknown knob `{unknown}`; the knobs are {}",
                KEYS.join(", ")
            )));
        }
        let rate = |key: &str| -> Result<f64, Box<EvalAltResult>> {
            let Some(value) = knobs.get(key) else {
                return Ok(0.0);
            };
            let rate = value
                .as_float()
                .or_else(|_| value.as_int().map(|n| n as f64))
                .map_err(|found| fail(format!("faults: `{key}` must be a number, not {found}")))?;
            if !(0.0..=1.0).contains(&rate) {
                return Err(fail(format!(
                    "faults: `{key}` must be between 0 and 1, not {rate}"
                )));
            }
            Ok(rate)
        };
        let whole = |key: &str, default: i64| -> Result<u64, Box<EvalAltResult>> {
            let value = knobs.get(key).map_or(Ok(default), |value| {
                value.as_int().map_err(|found| {
                    fail(format!("faults: `{key}` must be an integer, not {found}"))
                })
            })?;
            u64::try_from(value)
                .map_err(|_| fail(format!("faults: `{key}` must not be negative, not {value}")))
        };
        self.emulator.set_faults(&Faults {
            fault_rate: rate("fault_rate")?,
            lost_answer_rate: rate("lost_answer_rate")?,
            propagation_delay: Duration::from_millis(whole("propagation_delay_ms", 0)?),
            // A fixed default seed: a test that passed once passes again.
            seed: Some(whole("seed", 1)?),
        });
        Ok(())
    }
}

/// A test failure or a misused test function, as Rhai raises it: a map with the `message`,
/// which the error renderer shows as is, at the line of the call.
pub fn fail(message: impl Into<String>) -> Box<EvalAltResult> {
    let mut map = Map::new();
    map.insert("message".into(), message.into().into());
    EvalAltResult::ErrorRuntime(map.into(), rhai::Position::NONE).into()
}

/// A test's vars map as `--var` values: strings as they are, arrays and maps as JSON (which
/// `param()` reads for array and map defaults), everything else as printed.
fn to_vars(vars: &Map) -> Result<BTreeMap<String, String>, Box<EvalAltResult>> {
    vars.iter()
        .map(|(name, value)| {
            let text = if value.is_string() {
                value.clone().into_string().unwrap_or_default()
            } else if value.is_array() || value.is_map() {
                to_json(value).to_string()
            } else if value.is_unit() {
                return Err(fail(format!("var `{name}` is () (unset)")));
            } else {
                value.to_string()
            };
            Ok((name.to_string(), text))
        })
        .collect()
}

/// The message of a thrown error, without the wrapping of function calls.
pub fn error_message(error: &EvalAltResult) -> String {
    match error {
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _)
        | EvalAltResult::ErrorInModule(_, inner, _) => error_message(inner),
        EvalAltResult::ErrorRuntime(value, _) => match value.read_lock::<Map>() {
            Some(map) => map
                .get("message")
                .map_or_else(|| value.to_string(), ToString::to_string),
            None => value.to_string(),
        },
        other => other.to_string(),
    }
}

fn shown(value: &Dynamic) -> String {
    let json: Value = to_json(value);
    serde_json::to_string(&json).unwrap_or_else(|_| value.to_string())
}

/// A fresh engine for one test of a file in `world.dir`.
pub fn build(world: &Arc<TestWorld>) -> Engine {
    let limits = &world.limits;
    let mut engine = Engine::new();
    crate::host::engine::with_limits(&mut engine, limits);
    // Tests drive recipes by name or path; they import nothing themselves.
    engine.set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new());
    engine.on_progress(|_| crate::interrupt::requested().then(|| Dynamic::from("interrupted")));
    engine.on_print(|text| tracing::info!(target: "test", "{text}"));
    engine.on_debug(|text, _, pos| tracing::debug!(target: "test", %pos, "{text}"));

    let w = world.clone();
    engine.register_fn("apply", move |recipe: &str| w.apply(recipe, &Map::new()));
    let w = world.clone();
    engine.register_fn("apply", move |recipe: &str, vars: Map| {
        w.apply(recipe, &vars)
    });
    let w = world.clone();
    engine.register_fn("plan", move |recipe: &str| w.plan(recipe, &Map::new()));
    let w = world.clone();
    engine.register_fn("plan", move |recipe: &str, vars: Map| w.plan(recipe, &vars));
    let w = world.clone();
    engine.register_fn("apps", move || w.apps());
    let w = world.clone();
    engine.register_fn("given_app", move |spec: Map| w.given_app(&spec));
    let w = world.clone();
    engine.register_fn("faults", move |knobs: Map| w.faults(&knobs));

    let w = world.clone();
    engine.register_fn(
        "temp_path",
        move |name: &str| -> Result<String, Box<EvalAltResult>> {
            let plain = std::path::Path::new(name)
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
            if !plain || name.is_empty() {
                return Err(fail(format!(
                    "temp_path: {name:?} must be a relative path without `..`"
                )));
            }
            Ok(w.temp.path().join(name).display().to_string())
        },
    );
    engine.register_fn(
        "assert",
        |condition: bool, message: &str| -> Result<(), Box<EvalAltResult>> {
            if condition {
                Ok(())
            } else {
                Err(fail(format!("assertion failed: {message}")))
            }
        },
    );
    engine.register_fn(
        "assert_eq",
        |actual: Dynamic, expected: Dynamic| -> Result<(), Box<EvalAltResult>> {
            if to_json(&actual) == to_json(&expected) {
                Ok(())
            } else {
                Err(fail(format!(
                    "assert_eq failed\n  actual:   {}\n  expected: {}",
                    shown(&actual),
                    shown(&expected)
                )))
            }
        },
    );
    engine.register_fn(
        "expect_error",
        |context: NativeCallContext, f: FnPtr, text: &str| -> Result<(), Box<EvalAltResult>> {
            match f.call_within_context::<Dynamic>(&context, ()) {
                Ok(value) => Err(fail(format!(
                    "expect_error: expected an error containing {text:?}, but the call \
                     succeeded with {}",
                    shown(&value)
                ))),
                Err(error) => {
                    let message = error_message(&error);
                    if message.contains(text) {
                        Ok(())
                    } else {
                        Err(fail(format!(
                            "expect_error: the error does not contain {text:?}; it was:\n{message}"
                        )))
                    }
                }
            }
        },
    );
    engine
}
