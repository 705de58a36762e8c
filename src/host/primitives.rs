//! The PingOne primitives scripts call. One primitive is one registered function with a doc
//! comment; `p1run primitives` lists them from the same table the engine is built from.
//!
//! Every write is decided from a read first, so a rerun converges and sends no write when
//! nothing differs (the primitives are idempotent by design).

use super::session::{
    AppHandle, Change, KNOWN_AFTER_APPLY, Mode, PrimitiveResult, Session, usage_failure,
};
use crate::client::{
    Application, Environment, IdRef, Role, RoleAssignment, ScopeRef, ScopeType, TokenAuthMethod,
};
use rhai::{Array, Dynamic, Engine, FuncRegistration, Map};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// A primitive's signature and doc comment, for `p1run primitives`.
#[derive(Debug, Clone)]
pub struct PrimitiveDoc {
    /// e.g. `grant_role(app: App, role: String, scope: Scope)`.
    pub signature: &'static str,
    /// What it does.
    pub doc: &'static str,
}

struct Registrar<'a> {
    engine: &'a mut Engine,
    docs: Vec<PrimitiveDoc>,
}

/// Registers one primitive and records its doc. A macro rather than a generic method because
/// Rhai's native-function traits cannot be named outside the crate.
macro_rules! primitive {
    ($registrar:expr, $signature:literal, $doc:expr, $func:expr $(,)?) => {{
        let registrar: &mut Registrar<'_> = $registrar;
        let name = $signature.split('(').next().unwrap_or($signature).trim();
        let doc: &'static str = $doc;
        let comment = doc
            .lines()
            .map(|line| format!("/// {line}"))
            .collect::<Vec<_>>()
            .join("\n");
        // Volatile: a primitive talks to PingOne, so the optimizer must never fold a call.
        FuncRegistration::new(name)
            .with_volatility(true)
            .with_comments([comment])
            .register_into_engine(registrar.engine, $func);
        registrar.docs.push(PrimitiveDoc {
            signature: $signature,
            doc,
        });
    }};
}

/// The supported token endpoint auth methods, for error messages.
fn auth_method_names() -> String {
    TokenAuthMethod::ALL.map(TokenAuthMethod::as_str).join(", ")
}

/// Registers the script-facing types and every primitive; returns their docs.
pub fn register(engine: &mut Engine, session: &Arc<Session>) -> Vec<PrimitiveDoc> {
    register_types(engine);
    let mut r = Registrar {
        engine,
        docs: Vec::new(),
    };

    let s = session.clone();
    primitive!(
        &mut r,
        "env() -> Env",
        "The target environment: `id`, `name`, `organization_id`, `region`.",
        move || s.environment("env"),
    );

    let s = session.clone();
    primitive!(
        &mut r,
        "param(name: String, default: ?) -> ?",
        "The value of `--var name=value`, converted to the type of `default` (string, bool, int,\n\
         array: JSON or comma-separated, map: JSON); `default` when not given.",
        move |name: &str, default: Dynamic| param(&s, name, default),
    );

    let s = session.clone();
    primitive!(
        &mut r,
        "roles() -> Array",
        "The built-in admin roles: maps with `id`, `name`, `description`, `applicable_to`.",
        move || -> PrimitiveResult<Array> { Ok(s.roles("roles")?.iter().map(role_map).collect()) },
    );

    let s = session.clone();
    primitive!(
        &mut r,
        "organization() -> Scope",
        "The organization that owns the target environment, as a role scope.",
        move || -> PrimitiveResult<ScopeRef> {
            let env = s.environment("organization")?;
            Ok(ScopeRef {
                id: env.organization.id,
                kind: ScopeType::Organization,
            })
        },
    );
    let s = session.clone();
    primitive!(
        &mut r,
        "environment() -> Scope",
        "The target environment, as a role scope.",
        move || ScopeRef {
            id: s.environment_id().to_owned(),
            kind: ScopeType::Environment
        },
    );
    primitive!(
        &mut r,
        "environment(id: String) -> Scope",
        "Another environment, by id, as a role scope.",
        |id: &str| ScopeRef {
            id: id.to_owned(),
            kind: ScopeType::Environment
        },
    );
    primitive!(
        &mut r,
        "population(id: String) -> Scope",
        "A population, by id, as a role scope.",
        |id: &str| {
            ScopeRef {
                id: id.to_owned(),
                kind: ScopeType::Population,
            }
        }
    );
    primitive!(
        &mut r,
        "application(id: String) -> Scope",
        "An application, by id, as a role scope.",
        |id: &str| {
            ScopeRef {
                id: id.to_owned(),
                kind: ScopeType::Application,
            }
        }
    );
    primitive!(
        &mut r,
        "application(app: App) -> Scope",
        "An application, as a role scope.",
        |app: AppHandle| {
            ScopeRef {
                id: app.id(),
                kind: ScopeType::Application,
            }
        }
    );

    let s = session.clone();
    primitive!(
        &mut r,
        "find_app(name: String) -> App | ()",
        "The application with that name in the target environment, or `()` when there is none.\n\
         More than one is an error naming their ids.",
        move |name: &str| -> PrimitiveResult<Dynamic> {
            let found = matching_apps(&s, "find_app", |app| app.name() == name)?;
            match found.as_slice() {
                [] => Ok(Dynamic::UNIT),
                [one] => Ok(Dynamic::from(one.clone())),
                many => Err(ambiguous("find_app", name, None, many)),
            }
        },
    );

    let s = session.clone();
    primitive!(
        &mut r,
        "create_app(spec: Map) -> App",
        "Ensures an application `#{name, description, type}` exists (type defaults to `WORKER`).\n\
         Adopts the single existing one with that name and type (updating its description if it\n\
         differs); otherwise creates it disabled, with `assignActorRoles: false` so it inherits no\n\
         roles. More than one match is an error naming their ids.",
        move |spec: Map| create_app(&s, &spec),
    );

    let s = session.clone();
    primitive!(
        &mut r,
        "delete_app(app: App)",
        "Deletes the application (PingOne removes its role assignments with it).",
        move |app: AppHandle| delete_app(&s, &app),
    );

    let s = session.clone();
    primitive!(
        &mut r,
        "grant_role(app: App, role: String, scope: Scope) -> App",
        "Ensures the application holds the role (exact API name) at the scope. No-op when it\n\
         already does, or holds it at a broader scope. An unknown role, or a scope the role does\n\
         not accept, is an error naming the valid choices.",
        move |app: AppHandle, role: &str, scope: ScopeRef| grant_role(&s, app, role, &scope),
    );

    let s = session.clone();
    primitive!(
        &mut r,
        "revoke_role(app: App, role: String, scope: Scope) -> App",
        "Ensures the application does not hold the role at exactly that scope. No-op when it\n\
         does not.",
        move |app: AppHandle, role: &str, scope: ScopeRef| revoke_role(&s, app, role, &scope),
    );

    let s = session.clone();
    primitive!(
        &mut r,
        "role_assignments(app: App) -> Array",
        "The application's role assignments: maps with `id`, `role`, `role_id`, `scope_type`,\n\
         `scope_id`.",
        move |app: AppHandle| role_assignments(&s, &app),
    );

    let s = session.clone();
    primitive!(
        &mut r,
        "set_auth_method(app: App, method: String) -> App",
        "Sets the token endpoint auth method: NONE, CLIENT_SECRET_BASIC, CLIENT_SECRET_POST,\n\
         PRIVATE_KEY_JWT or CLIENT_SECRET_JWT. Full-body PUT of the current state; no-op when\n\
         already so.",
        move |app: AppHandle, method: &str| set_auth_method(&s, app, method),
    );

    let s = session.clone();
    primitive!(
        &mut r,
        "enable(app: App) -> App",
        "Enables the application (full-body PUT); no-op when already enabled.",
        move |app: AppHandle| set_enabled(&s, app, true),
    );

    let s = session.clone();
    primitive!(
        &mut r,
        "disable(app: App) -> App",
        "Disables the application (full-body PUT); no-op when already disabled.",
        move |app: AppHandle| set_enabled(&s, app, false),
    );

    r.docs
}

fn register_types(engine: &mut Engine) {
    engine
        .register_type_with_name::<AppHandle>("App")
        .register_get("id", |app: &mut AppHandle| app.id())
        .register_get("name", |app: &mut AppHandle| app.name())
        .register_get("type", |app: &mut AppHandle| {
            app.snapshot().kind().to_owned()
        })
        .register_get("description", |app: &mut AppHandle| {
            app.snapshot().description().to_owned()
        })
        .register_get("enabled", |app: &mut AppHandle| app.snapshot().enabled())
        .register_get("auth_method", |app: &mut AppHandle| {
            app.snapshot().token_endpoint_auth_method().to_owned()
        })
        .register_fn("to_string", |app: &mut AppHandle| {
            format!("App({:?} {})", app.name(), app.id())
        })
        .register_fn("to_debug", |app: &mut AppHandle| {
            format!("App({:?} {})", app.name(), app.id())
        });
    engine
        .register_type_with_name::<ScopeRef>("Scope")
        .register_get("type", |scope: &mut ScopeRef| {
            scope.kind.as_str().to_owned()
        })
        .register_get("id", |scope: &mut ScopeRef| scope.id.clone())
        .register_fn("to_string", |scope: &mut ScopeRef| {
            format!("{} {}", scope.kind, scope.id)
        })
        .register_fn("to_debug", |scope: &mut ScopeRef| {
            format!("{} {}", scope.kind, scope.id)
        });
    engine
        .register_type_with_name::<Environment>("Env")
        .register_get("id", |env: &mut Environment| env.id.clone())
        .register_get("name", |env: &mut Environment| env.name.clone())
        .register_get("organization_id", |env: &mut Environment| {
            env.organization.id.clone()
        })
        .register_get("region", |env: &mut Environment| {
            env.region.clone().unwrap_or_default()
        })
        .register_fn("to_string", |env: &mut Environment| {
            format!("Env({:?} {})", env.name, env.id)
        })
        .register_fn("to_debug", |env: &mut Environment| {
            format!("Env({:?} {})", env.name, env.id)
        });
}

fn role_map(role: &Role) -> Dynamic {
    let mut map = Map::new();
    map.insert("id".into(), role.id.clone().into());
    map.insert("name".into(), role.name.clone().into());
    map.insert(
        "description".into(),
        role.description.clone().unwrap_or_default().into(),
    );
    let applicable: Array = role
        .applicable_to
        .iter()
        .map(|kind| Dynamic::from(kind.as_str().to_owned()))
        .collect();
    map.insert("applicable_to".into(), applicable.into());
    map.into()
}

fn param(session: &Session, name: &str, default: Dynamic) -> PrimitiveResult<Dynamic> {
    let Some(raw) = session.var(name) else {
        return Ok(default);
    };
    let bad = |expected: &str| {
        usage_failure(
            "param",
            format!("--var {name}={raw:?} is not {expected} (the default is {default})"),
        )
    };
    if default.is_bool() {
        return match raw.as_str() {
            "true" | "yes" | "1" => Ok(true.into()),
            "false" | "no" | "0" => Ok(false.into()),
            _ => Err(bad("a boolean (true/false)")),
        };
    }
    if default.is_int() {
        return raw
            .parse::<i64>()
            .map(Dynamic::from_int)
            .map_err(|_| bad("an integer"));
    }
    if default.is_array() || default.is_map() {
        if raw.trim_start().starts_with(['[', '{']) {
            let value: Value = serde_json::from_str(&raw).map_err(|_| bad("valid JSON"))?;
            return rhai::serde::to_dynamic(value);
        }
        if default.is_array() {
            let items: Array = raw
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| Dynamic::from(item.to_owned()))
                .collect();
            return Ok(items.into());
        }
        return Err(bad("a JSON object"));
    }
    Ok(raw.into())
}

fn matching_apps(
    session: &Session,
    primitive: &str,
    keep: impl Fn(&Application) -> bool,
) -> PrimitiveResult<Vec<AppHandle>> {
    Ok(session
        .applications(primitive)?
        .into_iter()
        .filter(|handle| keep(&handle.snapshot()))
        .collect())
}

fn ambiguous(
    primitive: &str,
    name: &str,
    kind: Option<&str>,
    many: &[AppHandle],
) -> Box<rhai::EvalAltResult> {
    let ids: Vec<String> = many.iter().map(AppHandle::id).collect();
    let kind = kind.map(|k| format!(" ({k})")).unwrap_or_default();
    usage_failure(
        primitive,
        format!(
            "{} applications are named {name:?}{kind}: {}; rename or delete the extra ones so \
             the name picks exactly one",
            many.len(),
            ids.join(", ")
        ),
    )
}

fn spec_string(spec: &Map, key: &str) -> PrimitiveResult<Option<String>> {
    match spec.get(key) {
        None => Ok(None),
        Some(value) if value.is_unit() => Ok(None),
        Some(value) => value.clone().into_string().map(Some).map_err(|found| {
            usage_failure(
                "create_app",
                format!("`{key}` must be a string, not {found}"),
            )
        }),
    }
}

fn create_app(session: &Session, spec: &Map) -> PrimitiveResult<AppHandle> {
    const KEYS: [&str; 3] = ["name", "description", "type"];
    if let Some(unknown) = spec.keys().find(|key| !KEYS.contains(&key.as_str())) {
        return Err(usage_failure(
            "create_app",
            format!(
                "unknown key `{unknown}`; the spec takes {}",
                KEYS.join(", ")
            ),
        ));
    }
    let name = spec_string(spec, "name")?
        .filter(|name| !name.trim().is_empty())
        .ok_or_else(|| usage_failure("create_app", "the spec needs a non-empty `name`"))?;
    let description = spec_string(spec, "description")?.unwrap_or_default();
    let kind = spec_string(spec, "type")?.unwrap_or_else(|| "WORKER".to_owned());
    if kind != "WORKER" {
        return Err(usage_failure(
            "create_app",
            format!("type {kind:?} is not supported; create_app makes WORKER applications"),
        ));
    }
    let found = matching_apps(session, "create_app", |app| {
        app.name() == name && app.kind() == kind
    })?;
    match found.as_slice() {
        [] => {}
        [existing] => {
            tracing::info!("adopting application {name:?} ({})", existing.id());
            if existing.snapshot().description() != description {
                let from = existing.snapshot().description().to_owned();
                update_app(session, "create_app", existing, "description", |app| {
                    app.set("description", Value::String(description.clone()));
                    format!("description {from:?} -> {description:?} on {name:?}")
                })?;
            }
            return Ok(existing.clone());
        }
        many => return Err(ambiguous("create_app", &name, Some(&kind), many)),
    }
    let body = json!({
        "name": name,
        "description": description,
        "enabled": false,
        "type": kind,
        "protocol": "OPENID_CONNECT",
        "grantTypes": ["CLIENT_CREDENTIALS"],
        "tokenEndpointAuthMethod": TokenAuthMethod::ClientSecretBasic.as_str(),
        // Without this PingOne gives the new worker every role of the actor (API-REFERENCE §2.1).
        "assignActorRoles": false,
    });
    let created = match session.mode() {
        Mode::Plan => {
            let Value::Object(mut fields) = body else {
                unreachable!("json! object")
            };
            fields.remove("assignActorRoles");
            fields.insert("id".into(), Value::String(KNOWN_AFTER_APPLY.into()));
            Application(fields)
        }
        Mode::Apply => session.call(
            "create_app",
            session
                .client()
                .create_application(session.environment_id(), &body),
        )?,
    };
    let handle = AppHandle {
        environment_id: session.environment_id().to_owned(),
        state: Arc::new(Mutex::new(created)),
    };
    session.record(Change {
        action: "create",
        resource: "application",
        id: handle.id(),
        detail: format!("create application {name:?} ({kind})"),
    });
    session.remember_application(handle.clone(), true);
    Ok(handle)
}

/// Changes one field by a full-body PUT of the state this run knows (PingOne has no PATCH and
/// clears whatever a PUT omits, API-REFERENCE §2.2).
fn update_app(
    session: &Session,
    primitive: &str,
    app: &AppHandle,
    field: &str,
    change: impl FnOnce(&mut Application) -> String,
) -> PrimitiveResult<()> {
    let mut next = app.snapshot();
    let detail = change(&mut next);
    if session.mode() == Mode::Apply {
        let updated = session.call(
            primitive,
            session
                .client()
                .update_application(&app.environment_id, &next),
        )?;
        app.replace(updated);
    } else {
        app.replace(next);
    }
    tracing::debug!("updated {field} of {}", app.id());
    session.record(Change {
        action: "update",
        resource: "application",
        id: app.id(),
        detail,
    });
    Ok(())
}

fn delete_app(session: &Session, app: &AppHandle) -> PrimitiveResult<()> {
    let id = app.id();
    if session.mode() == Mode::Apply {
        session.call(
            "delete_app",
            session
                .client()
                .delete_application(&app.environment_id, &id),
        )?;
    }
    session.record(Change {
        action: "delete",
        resource: "application",
        id: id.clone(),
        detail: format!("delete application {:?}", app.name()),
    });
    session.forget_application(&id);
    Ok(())
}

fn find_role(session: &Session, primitive: &str, name: &str) -> PrimitiveResult<Role> {
    let roles = session.roles(primitive)?;
    roles
        .iter()
        .find(|role| role.name == name)
        .cloned()
        .ok_or_else(|| {
            let mut names: Vec<&str> = roles.iter().map(|role| role.name.as_str()).collect();
            names.sort_unstable();
            usage_failure(
                primitive,
                format!("unknown role {name:?}; valid roles: {}", names.join(", ")),
            )
        })
}

/// Organization scope covers every environment in it; PingOne rejects the narrower grant as
/// a duplicate (API-REFERENCE §4.1), so it counts as already held.
fn covers(held: &ScopeRef, wanted: &ScopeRef) -> bool {
    held == wanted
        || (held.kind == ScopeType::Organization && wanted.kind != ScopeType::Organization)
}

fn grant_role(
    session: &Session,
    app: AppHandle,
    role_name: &str,
    scope: &ScopeRef,
) -> PrimitiveResult<AppHandle> {
    let role = find_role(session, "grant_role", role_name)?;
    if !role.applicable_to.contains(&scope.kind) {
        let accepted: Vec<&str> = role
            .applicable_to
            .iter()
            .map(|kind| kind.as_str())
            .collect();
        return Err(usage_failure(
            "grant_role",
            format!(
                "{role_name:?} cannot be granted at {} scope; it accepts {}",
                scope.kind,
                accepted.join(", ")
            ),
        ));
    }
    let mut assignments = session.assignments("grant_role", &app)?;
    if let Some(held) = assignments
        .iter()
        .find(|a| a.role.id == role.id && covers(&a.scope, scope))
    {
        tracing::info!(
            "{:?} already holds {role_name:?} at {} {}",
            app.name(),
            held.scope.kind,
            held.scope.id
        );
        return Ok(app);
    }
    let assignment = match session.mode() {
        Mode::Plan => RoleAssignment {
            id: KNOWN_AFTER_APPLY.into(),
            role: IdRef {
                id: role.id.clone(),
            },
            scope: scope.clone(),
            read_only: false,
        },
        Mode::Apply => session.call(
            "grant_role",
            session.client().create_role_assignment(
                &app.environment_id,
                &app.id(),
                &role.id,
                scope,
            ),
        )?,
    };
    session.record(Change {
        action: "grant",
        resource: "role_assignment",
        id: assignment.id.clone(),
        detail: format!(
            "grant {role_name:?} on {} {} to {:?}",
            scope.kind,
            scope.id,
            app.name()
        ),
    });
    assignments.push(assignment);
    session.set_assignments(&app.id(), assignments);
    Ok(app)
}

fn revoke_role(
    session: &Session,
    app: AppHandle,
    role_name: &str,
    scope: &ScopeRef,
) -> PrimitiveResult<AppHandle> {
    let role = find_role(session, "revoke_role", role_name)?;
    let mut assignments = session.assignments("revoke_role", &app)?;
    let Some(index) = assignments
        .iter()
        .position(|a| a.role.id == role.id && a.scope == *scope)
    else {
        return Ok(app);
    };
    let assignment = assignments.remove(index);
    if session.mode() == Mode::Apply {
        session.call(
            "revoke_role",
            session
                .client()
                .delete_role_assignment(&app.environment_id, &app.id(), &assignment.id),
        )?;
    }
    session.record(Change {
        action: "revoke",
        resource: "role_assignment",
        id: assignment.id,
        detail: format!(
            "revoke {role_name:?} on {} {} from {:?}",
            scope.kind,
            scope.id,
            app.name()
        ),
    });
    session.set_assignments(&app.id(), assignments);
    Ok(app)
}

fn role_assignments(session: &Session, app: &AppHandle) -> PrimitiveResult<Array> {
    let roles = session.roles("role_assignments")?;
    let assignments = session.assignments("role_assignments", app)?;
    Ok(assignments
        .iter()
        .map(|a| {
            let role = roles
                .iter()
                .find(|role| role.id == a.role.id)
                .map(|role| role.name.clone());
            let mut map = Map::new();
            map.insert("id".into(), a.id.clone().into());
            map.insert("role".into(), role.unwrap_or_default().into());
            map.insert("role_id".into(), a.role.id.clone().into());
            map.insert("scope_type".into(), a.scope.kind.as_str().to_owned().into());
            map.insert("scope_id".into(), a.scope.id.clone().into());
            Dynamic::from(map)
        })
        .collect())
}

fn set_auth_method(session: &Session, app: AppHandle, method: &str) -> PrimitiveResult<AppHandle> {
    let method: TokenAuthMethod = method.parse().map_err(|_| {
        usage_failure(
            "set_auth_method",
            format!(
                "unknown token endpoint auth method {method:?}; valid methods: {}",
                auth_method_names()
            ),
        )
    })?;
    let current = app.snapshot().token_endpoint_auth_method().to_owned();
    if current == method.as_str() {
        return Ok(app);
    }
    let name = app.name();
    update_app(
        session,
        "set_auth_method",
        &app,
        "tokenEndpointAuthMethod",
        |next| {
            next.set(
                "tokenEndpointAuthMethod",
                Value::String(method.as_str().into()),
            );
            format!("tokenEndpointAuthMethod {current} -> {method} on {name:?}")
        },
    )?;
    Ok(app)
}

fn set_enabled(session: &Session, app: AppHandle, enabled: bool) -> PrimitiveResult<AppHandle> {
    if app.snapshot().enabled() == enabled {
        return Ok(app);
    }
    let primitive = if enabled { "enable" } else { "disable" };
    let name = app.name();
    update_app(session, primitive, &app, "enabled", |next| {
        next.set("enabled", Value::Bool(enabled));
        format!("{primitive} {name:?}")
    })?;
    Ok(app)
}

/// The primitives' docs, for `p1run primitives`: read from a real engine registration, so the
/// list cannot drift from what scripts get. Nothing is sent anywhere.
pub fn docs() -> Result<Vec<PrimitiveDoc>, crate::error::Error> {
    use crate::client::{
        Client, ClientOptions, Credentials, Endpoints, Region, RetryPolicy, TokenCache,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|source| crate::error::Error::Io {
            context: "starting a runtime".into(),
            source,
        })?;
    let client = Client::new(ClientOptions {
        endpoints: Endpoints::for_region(Region::Na),
        credentials: Credentials {
            client_id: String::new(),
            client_secret: crate::secret::Secret::new(""),
            environment_id: String::new(),
            auth_method: TokenAuthMethod::ClientSecretBasic,
        },
        retry: RetryPolicy::default(),
        tokens: TokenCache::default(),
        transaction_id: String::new(),
    })?;
    let session = Arc::new(Session::new(
        runtime.handle().clone(),
        client,
        String::new(),
        Mode::Plan,
        Default::default(),
    ));
    let mut engine = Engine::new_raw();
    Ok(register(&mut engine, &session))
}
