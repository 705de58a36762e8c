//! The PingOne primitives scripts call. One primitive is one registered function with a doc
//! comment; `p1run primitives` lists them from the same table the engine is built from.
//!
//! Every write is decided from a read first, so a rerun converges and sends no write when
//! nothing differs (the primitives are idempotent by design).

use super::session::{
    AppHandle, Mode, PENDING, PrimitiveResult, Session, field_change, usage_failure,
};
use crate::client::{
    Application, Environment, IdRef, Role, RoleAssignment, ScopeRef, ScopeType, TokenAuthMethod,
};
use crate::writes::batch::CallSite;
use crate::writes::{Applied, FieldChange, KNOWN_AFTER_APPLY, RoleRef, Write, apply_fields};
use rhai::{Array, Dynamic, Engine, FuncRegistration, Map, NativeCallContext};
use serde_json::{Value, json};
use std::sync::Arc;

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
/// the bound a generic one needs (`rhai::Variant` on the return type) is public only under
/// Rhai's `internals` feature, which would also open up the engine's internals to this crate.
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
            .with_params_info(params_info($signature))
            .with_comments([comment])
            .register_into_engine(registrar.engine, $func);
        registrar.docs.push(PrimitiveDoc {
            signature: $signature,
            doc,
        });
    }};
}

/// A primitive's documented signature as Rhai's metadata wants it (`name: type` each, then
/// the return type), in the type names Rhai's definitions use, so that `p1run definitions`
/// shows `grant_role(app: App, role: string, scope: Scope) -> App` rather than the Rust
/// return type.
fn params_info(signature: &str) -> Vec<String> {
    let rhai_type = |name: &str| -> String {
        match name.trim() {
            "String" => "string".into(),
            "Map" => "map".into(),
            "Array" => "array".into(),
            "" => "()".into(),
            other if other.contains('|') => "?".into(),
            other => other.into(),
        }
    };
    let (call, returns) = signature.split_once("->").unwrap_or((signature, ""));
    let inner = call
        .split_once('(')
        .map_or("", |(_, rest)| rest.trim_end().trim_end_matches(')'));
    inner
        .split(',')
        .map(str::trim)
        .filter(|param| !param.is_empty())
        .map(|param| match param.split_once(':') {
            Some((name, kind)) => format!("{}: {}", name.trim(), rhai_type(kind)),
            None => param.to_owned(),
        })
        .chain(std::iter::once(rhai_type(returns)))
        .collect()
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
            Ok(ScopeRef {
                id: s.organization_id("organization")?,
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
        move |ctx: NativeCallContext, spec: Map| create_app(&s, call_site(&ctx), &spec),
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
        move |ctx: NativeCallContext, app: AppHandle, role: &str, scope: ScopeRef| {
            grant_role(&s, call_site(&ctx), app, role, &scope)
        },
    );

    let s = session.clone();
    primitive!(
        &mut r,
        "revoke_role(app: App, role: String, scope: Scope) -> App",
        "Ensures the application does not hold the role at exactly that scope. No-op when it\n\
         does not.",
        move |ctx: NativeCallContext, app: AppHandle, role: &str, scope: ScopeRef| {
            revoke_role(&s, call_site(&ctx), app, role, &scope)
        },
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
        move |ctx: NativeCallContext, app: AppHandle, method: &str| {
            set_auth_method(&s, call_site(&ctx), app, method)
        },
    );

    let s = session.clone();
    primitive!(
        &mut r,
        "enable(app: App) -> App",
        "Enables the application (full-body PUT); no-op when already enabled.",
        move |ctx: NativeCallContext, app: AppHandle| set_enabled(&s, call_site(&ctx), app, true),
    );

    let s = session.clone();
    primitive!(
        &mut r,
        "disable(app: App) -> App",
        "Disables the application (full-body PUT); no-op when already disabled.",
        move |ctx: NativeCallContext, app: AppHandle| set_enabled(&s, call_site(&ctx), app, false),
    );

    let s = session.clone();
    primitive!(
        &mut r,
        "app_secret(app: App) -> Secret",
        "The application's client secret, as an opaque Secret: scripts can pass it on (to\n\
         `write_secret`) but never see it; it prints, logs and serialises as `***`. Plans never\n\
         read secrets.",
        move |app: AppHandle| app_secret(&s, &app),
    );

    let s = session.clone();
    primitive!(
        &mut r,
        "rotate_secret(app: App, previous_expires_minutes: int) -> Secret",
        "Rotates the application's client secret and returns the new one (opaque). The previous\n\
         secret stays valid for `previous_expires_minutes` (0: not at all; at most 43200 = 30 days),\n\
         so running services can switch over. Refuses, changing nothing, while an earlier previous\n\
         secret is still valid (rotating would end it at once), so that a rerun never breaks the\n\
         services it promised to spare.",
        move |app: AppHandle, minutes: i64| rotate_secret(&s, &app, minutes, &Map::new()),
    );

    let s = session.clone();
    primitive!(
        &mut r,
        "rotate_secret(app: App, previous_expires_minutes: int, options: Map) -> Secret",
        "As `rotate_secret(app, previous_expires_minutes)`; `#{force: true}` rotates even while the\n\
         previous secret is still valid, ending it at once.",
        move |app: AppHandle, minutes: i64, options: Map| rotate_secret(
            &s, &app, minutes, &options
        ),
    );

    let s = session.clone();
    primitive!(
        &mut r,
        "write_secret(secret: Secret, path: String)",
        "Writes the secret to a new file with mode 0600; refuses to overwrite an existing file.",
        move |secret: ScriptSecret, path: &str| write_secret(&s, &secret, path, &Map::new()),
    );

    let s = session.clone();
    primitive!(
        &mut r,
        "write_secret(secret: Secret, path: String, options: Map)",
        "As `write_secret(secret, path)`; `#{overwrite: true}` replaces an existing file.",
        move |secret: ScriptSecret, path: &str, options: Map| write_secret(
            &s, &secret, path, &options
        ),
    );

    r.docs
}

fn app_secret(session: &Session, app: &AppHandle) -> PrimitiveResult<ScriptSecret> {
    let application = app.name();
    if session.mode() == Mode::Plan || app.is_planned() {
        return Ok(ScriptSecret {
            value: None,
            application,
        });
    }
    // A secret read comes after every write the script asked for before it.
    session.flush_for_script()?;
    let secret = session.call(
        "app_secret",
        session
            .client()
            .application_secret(&app.environment_id, &app.id()),
    )?;
    Ok(ScriptSecret {
        value: Some(secret.secret),
        application,
    })
}

fn rotate_secret(
    session: &Session,
    app: &AppHandle,
    minutes: i64,
    options: &Map,
) -> PrimitiveResult<ScriptSecret> {
    if let Some(unknown) = options.keys().find(|key| key.as_str() != "force") {
        return Err(usage_failure(
            "rotate_secret",
            format!("unknown option `{unknown}`; the only option is `force`"),
        ));
    }
    let force = flag(options, "rotate_secret", "force")?;
    // PingOne accepts a previous-secret expiry between 1 minute and 30 days (see
    // docs/pingone.md, "Application secrets").
    let previous_expires_minutes = u32::try_from(minutes)
        .ok()
        .filter(|m| *m <= 43_200)
        .ok_or_else(|| {
            usage_failure(
                "rotate_secret",
                format!("previous_expires_minutes must be 0 to 43200 (30 days), not {minutes}"),
            )
        })?;
    let application = app.name();
    if !app.is_planned() && !force {
        // A rotation while the previous secret is still valid ends that one at once, and
        // services that have not switched yet break: a rerun must never do that unasked.
        // Read in the plan pass too, so that `plan` says so before anything changes.
        let current = session.call(
            "rotate_secret",
            session
                .client()
                .application_secret(&app.environment_id, &app.id()),
        )?;
        if let Some(until) = current
            .previous_expires_at
            .as_deref()
            .filter(|at| still_valid(at))
        {
            return Err(usage_failure(
                "rotate_secret",
                format!(
                    "refusing to rotate the secret of {application:?}: its previous secret is still \
                     valid until {until}, and rotating now would end it at once, breaking services \
                     that still use it; nothing was changed. Wait until then, or pass \
                     #{{force: true}} to end it anyway"
                ),
            ));
        }
    }
    let write = Write::RotateSecret {
        environment_id: app.environment_id.clone(),
        application: app.app_ref(),
        previous_expires_minutes,
    };
    let value = match session.write("rotate_secret", write)? {
        Some(Applied::Rotated(rotated)) => Some(rotated.secret),
        _ => None,
    };
    Ok(ScriptSecret { value, application })
}

/// Whether an RFC 3339 `expiresAt` lies in the future (an unreadable one counts as valid: the
/// safe reading when the question is whether a secret may still be in use).
fn still_valid(expires_at: &str) -> bool {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(expires_at, &Rfc3339)
        .map_or(true, |at| at > time::OffsetDateTime::now_utc())
}

/// A boolean option of a primitive's options map (false when absent).
fn flag(options: &Map, primitive: &str, key: &str) -> PrimitiveResult<bool> {
    match options.get(key) {
        None => Ok(false),
        Some(flag) => flag
            .as_bool()
            .map_err(|_| usage_failure(primitive, format!("`{key}` must be true or false"))),
    }
}

fn write_secret(
    session: &Session,
    secret: &ScriptSecret,
    path: &str,
    options: &Map,
) -> PrimitiveResult<()> {
    if let Some(unknown) = options.keys().find(|key| key.as_str() != "overwrite") {
        return Err(usage_failure(
            "write_secret",
            format!("unknown option `{unknown}`; the only option is `overwrite`"),
        ));
    }
    let overwrite = flag(options, "write_secret", "overwrite")?;
    let path = std::path::PathBuf::from(path);
    // Checked in the plan pass as in the apply pass, so that a run never rotates a secret it
    // then cannot save.
    check_secret_path(&path, overwrite).map_err(|why| usage_failure("write_secret", why))?;
    let write = Write::WriteSecretFile {
        path,
        application: secret.application.clone(),
        overwrite,
        secret: secret.value.clone(),
    };
    session.write("write_secret", write)?;
    Ok(())
}

/// Whether a secret file can be written at `path`: its folder exists and takes new files, and
/// the file does not exist unless it may be replaced.
fn check_secret_path(path: &std::path::Path, overwrite: bool) -> Result<(), String> {
    if path.exists() && !overwrite {
        return Err(format!(
            "refusing to overwrite {}; pass #{{overwrite: true}} to replace it",
            path.display()
        ));
    }
    if path.is_dir() {
        return Err(format!("{} is a folder, not a file", path.display()));
    }
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    if !dir.is_dir() {
        return Err(format!(
            "cannot write {}: the folder {} does not exist; create it first",
            path.display(),
            dir.display()
        ));
    }
    // The one reliable test of "may create a file here" is creating one; it is removed at once.
    tempfile::NamedTempFile::new_in(dir)
        .map(drop)
        .map_err(|error| {
            format!(
                "cannot write {}: the folder {} does not take new files ({error})",
                path.display(),
                dir.display()
            )
        })
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
        .register_type_with_name::<ScriptSecret>("Secret")
        .register_fn("to_string", |_: &mut ScriptSecret| "***".to_owned())
        .register_fn("to_debug", |_: &mut ScriptSecret| "***".to_owned());
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
    parse_param(&raw, &default).map_err(|expected| {
        usage_failure(
            "param",
            format!("--var {name}={raw:?} is not {expected} (the default is {default})"),
        )
    })
}

/// A `--var` value converted to the type of the param's default; `Err` says what it should
/// have been.
fn parse_param(raw: &str, default: &Dynamic) -> Result<Dynamic, &'static str> {
    if default.is_bool() {
        return match raw {
            "true" | "yes" | "1" => Ok(true.into()),
            "false" | "no" | "0" => Ok(false.into()),
            _ => Err("a boolean (true/false)"),
        };
    }
    if default.is_int() {
        return raw
            .parse::<i64>()
            .map(Dynamic::from_int)
            .map_err(|_| "an integer");
    }
    if default.is_array() || default.is_map() {
        if raw.trim_start().starts_with(['[', '{']) {
            let value: Value = serde_json::from_str(raw).map_err(|_| "valid JSON")?;
            return rhai::serde::to_dynamic(value).map_err(|_| "valid JSON");
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
        return Err("a JSON object");
    }
    Ok(raw.into())
}

/// The ids of the applications this run knows in the target environment.
fn found_ids(session: &Session) -> PrimitiveResult<Vec<String>> {
    Ok(session
        .applications("create_app")?
        .iter()
        .map(AppHandle::id)
        .collect())
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

fn create_app(session: &Session, site: CallSite, spec: &Map) -> PrimitiveResult<AppHandle> {
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
            let change = field_change(
                &existing.snapshot(),
                "description",
                Value::String(description.clone()),
            );
            update_app(session, "create_app", site, existing, change)?;
            return Ok(existing.clone());
        }
        many => return Err(ambiguous("create_app", &name, Some(&kind), many)),
    }
    let env = session.environment_id().to_owned();
    let index = session.next_index();
    let write = Write::CreateApplication {
        environment_id: env.clone(),
        name: name.clone(),
        description: description.clone(),
        app_type: kind.clone(),
        folded: Vec::new(),
        known: found_ids(session)?,
    };
    let application = match session.write("create_app", write)? {
        Some(Applied::Application { application, .. }) => application,
        _ => {
            // What the plan knows of the application it would create.
            let Value::Object(fields) = json!({
                "id": KNOWN_AFTER_APPLY,
                "name": name,
                "description": description,
                "enabled": false,
                "type": kind,
                "protocol": "OPENID_CONNECT",
                "grantTypes": ["CLIENT_CREDENTIALS"],
                "tokenEndpointAuthMethod": TokenAuthMethod::ClientSecretBasic.as_str(),
            }) else {
                unreachable!("json! object")
            };
            Application(fields)
        }
    };
    let handle = AppHandle::created(&env, application, index);
    session.remember_application(handle.clone());
    Ok(handle)
}

/// Changes an application by a full-body PUT (PingOne has no PATCH and clears whatever a PUT
/// omits), sent with the next flush; nothing when `change` is `None`.
fn update_app(
    session: &Session,
    primitive: &'static str,
    site: CallSite,
    app: &AppHandle,
    change: Option<FieldChange>,
) -> PrimitiveResult<()> {
    let Some(change) = change else {
        return Ok(());
    };
    let write = Write::UpdateApplication {
        environment_id: app.environment_id.clone(),
        application: app.app_ref(),
        fields: vec![change.clone()],
    };
    // The state changes here in both passes; the apply pass sends it with the next flush.
    let mut next = app.snapshot();
    apply_fields(&mut next, std::slice::from_ref(&change));
    app.replace(next);
    session.defer(primitive, site, write)?;
    Ok(())
}

fn delete_app(session: &Session, app: &AppHandle) -> PrimitiveResult<()> {
    let write = Write::DeleteApplication {
        environment_id: app.environment_id.clone(),
        application: app.app_ref(),
    };
    session.write("delete_app", write)?;
    session.forget_application(&app.key());
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
                format!(
                    "unknown role {name:?}{}; valid roles: {}",
                    crate::suggest::did_you_mean(name, &names),
                    names.join(", ")
                ),
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
    site: CallSite,
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
        if held.scope == *scope {
            tracing::info!(
                "{:?} already holds {role_name:?} at {} {}",
                app.name(),
                scope.kind,
                scope.id
            );
        } else {
            // Not narrowed silently: the recipe asked for less than the app holds.
            tracing::warn!(
                "{:?} holds {role_name:?} at {} {}, broader than the requested {} {}; left as is \
                 (revoke_role the broader grant to narrow it)",
                app.name(),
                held.scope.kind,
                held.scope.id,
                scope.kind,
                scope.id
            );
        }
        return Ok(app);
    }
    // PingOne treats the same role at an organization and at one of its environments as a
    // duplicate in either order (API-REFERENCE §7.3 item 4); say so before writing anything.
    if let Some(narrower) = assignments
        .iter()
        .find(|a| a.role.id == role.id && covers(scope, &a.scope))
    {
        return Err(usage_failure(
            "grant_role",
            format!(
                "{:?} already holds {role_name:?} at {} {}, which PingOne counts as a duplicate of {} {}; \
                 revoke_role the narrower one first",
                app.name(),
                narrower.scope.kind,
                narrower.scope.id,
                scope.kind,
                scope.id
            ),
        ));
    }
    let write = Write::Grant {
        environment_id: app.environment_id.clone(),
        application: app.app_ref(),
        role: RoleRef {
            id: role.id.clone(),
            name: role.name.clone(),
        },
        scope: scope.clone(),
    };
    let queued = session.defer("grant_role", site, write)?;
    assignments.push(RoleAssignment {
        id: if queued { PENDING } else { KNOWN_AFTER_APPLY }.into(),
        role: IdRef {
            id: role.id.clone(),
        },
        scope: scope.clone(),
        read_only: false,
    });
    session.set_assignments(&app, assignments);
    Ok(app)
}

fn revoke_role(
    session: &Session,
    site: CallSite,
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
    let write = Write::Revoke {
        environment_id: app.environment_id.clone(),
        application: app.app_ref(),
        assignment_id: assignment.id,
        role: RoleRef {
            id: role.id.clone(),
            name: role.name.clone(),
        },
        scope: scope.clone(),
    };
    session.defer("revoke_role", site, write)?;
    session.set_assignments(&app, assignments);
    Ok(app)
}

fn role_assignments(session: &Session, app: &AppHandle) -> PrimitiveResult<Array> {
    let roles = session.roles("role_assignments")?;
    let assignments = session.assignments("role_assignments", app)?;
    let mut named: Vec<(String, &RoleAssignment)> = assignments
        .iter()
        .map(|a| {
            let role = roles
                .iter()
                .find(|role| role.id == a.role.id)
                .map(|role| role.name.clone());
            (role.unwrap_or_default(), a)
        })
        .collect();
    // Sorted, so that scripts (and plans) do not depend on the order PingOne lists them in.
    named.sort_by(|(x, a), (y, b)| {
        (x, a.scope.kind, &a.scope.id).cmp(&(y, b.scope.kind, &b.scope.id))
    });
    Ok(named
        .into_iter()
        .map(|(role, a)| {
            let mut map = Map::new();
            map.insert("id".into(), a.id.clone().into());
            map.insert("role".into(), role.into());
            map.insert("role_id".into(), a.role.id.clone().into());
            map.insert("scope_type".into(), a.scope.kind.as_str().to_owned().into());
            map.insert("scope_id".into(), a.scope.id.clone().into());
            Dynamic::from(map)
        })
        .collect())
}

fn set_auth_method(
    session: &Session,
    site: CallSite,
    app: AppHandle,
    method: &str,
) -> PrimitiveResult<AppHandle> {
    let method: TokenAuthMethod = method.parse().map_err(|_| {
        usage_failure(
            "set_auth_method",
            format!(
                "unknown token endpoint auth method {method:?}; valid methods: {}",
                auth_method_names()
            ),
        )
    })?;
    let change = field_change(
        &app.snapshot(),
        "tokenEndpointAuthMethod",
        Value::String(method.as_str().into()),
    );
    update_app(session, "set_auth_method", site, &app, change)?;
    Ok(app)
}

fn set_enabled(
    session: &Session,
    site: CallSite,
    app: AppHandle,
    enabled: bool,
) -> PrimitiveResult<AppHandle> {
    let primitive = if enabled { "enable" } else { "disable" };
    let current = app.snapshot();
    // An application without the field is disabled.
    let change = (current.enabled() != enabled).then(|| FieldChange {
        field: "enabled".into(),
        from: Value::Bool(current.enabled()),
        to: Value::Bool(enabled),
    });
    update_app(session, primitive, site, &app, change)?;
    Ok(app)
}

/// Where in the script a primitive was called, for errors about writes sent later.
fn call_site(context: &NativeCallContext<'_>) -> CallSite {
    let position = context.call_position();
    CallSite {
        source: context.call_source().map(str::to_owned),
        line: position.line().unwrap_or(0),
        column: position.position().unwrap_or(0),
    }
}

/// The primitives' docs, for `p1run primitives`: read from a real engine registration, so the
/// list cannot drift from what scripts get. Nothing is sent anywhere.
pub fn docs() -> Result<Vec<PrimitiveDoc>, crate::error::Error> {
    Ok(offline_engine()?.1)
}

/// An engine with the standard library and every primitive registered, as a run builds it,
/// but bound to no environment: for what needs the functions' signatures and docs and never
/// calls one (`primitives`, `check`, `definitions`). Its session's client points nowhere and
/// its runtime is a bare current-thread one that never runs a task: nothing is sent.
pub fn offline_engine() -> Result<(Engine, Vec<PrimitiveDoc>), crate::error::Error> {
    use crate::client::{Client, ClientOptions, Credentials, Endpoints, Region};
    use rhai::packages::Package as _;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|source| crate::error::Error::Io {
            context: "starting a runtime".into(),
            source,
        })?;
    let client = Client::new(ClientOptions::new(
        Endpoints::for_region(Region::Na),
        Credentials {
            client_id: "listing-only".into(),
            client_secret: crate::secret::Secret::new("listing-only"),
            environment_id: "listing-only".into(),
            auth_method: TokenAuthMethod::ClientSecretBasic,
        },
    ))?;
    let session = Arc::new(Session::new(
        runtime.handle().clone(),
        client,
        String::new(),
        Mode::Plan,
        Default::default(),
        Default::default(),
        None,
    ));
    let mut engine = Engine::new_raw();
    engine.register_global_module(rhai::packages::StandardPackage::new().as_shared_module());
    // As `engine::build` sets them, so that what compiles here compiles in a run.
    engine.set_max_expr_depths(64, 32);
    engine.disable_symbol("eval");
    let docs = register(&mut engine, &session);
    Ok((engine, docs))
}

/// A script's value as JSON for the run's `outputs`. Host types become plain data; a
/// [`ScriptSecret`] becomes `***`, so a secret returned by a script never reaches a report.
pub fn to_json(value: &Dynamic) -> Value {
    if value.is_unit() {
        return Value::Null;
    }
    if let Some(app) = value.read_lock::<AppHandle>() {
        let snapshot = app.snapshot();
        return json!({ "id": snapshot.id(), "name": snapshot.name(), "type": snapshot.kind(),
                       "enabled": snapshot.enabled(), "auth_method": snapshot.token_endpoint_auth_method() });
    }
    if let Some(scope) = value.read_lock::<ScopeRef>() {
        return json!({ "type": scope.kind.as_str(), "id": scope.id });
    }
    if let Some(env) = value.read_lock::<Environment>() {
        return json!({ "id": env.id, "name": env.name, "organization_id": env.organization.id, "region": env.region });
    }
    if value.is::<ScriptSecret>() {
        return Value::String("***".into());
    }
    if let Some(array) = value.read_lock::<Array>() {
        return Value::Array(array.iter().map(to_json).collect());
    }
    if let Some(map) = value.read_lock::<Map>() {
        return Value::Object(
            map.iter()
                .map(|(key, item)| (key.to_string(), to_json(item)))
                .collect(),
        );
    }
    rhai::serde::from_dynamic(value).unwrap_or_else(|_| Value::String(value.to_string()))
}

/// An application secret as scripts hold it: opaque, printed and serialised as `***`. In a
/// plan it holds nothing, because plans never read secrets.
#[derive(Clone)]
pub struct ScriptSecret {
    /// The value; `None` in a plan.
    pub value: Option<crate::secret::Secret>,
    /// Whose secret, for messages.
    pub application: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(raw: &str, default: Dynamic) -> Result<String, &'static str> {
        parse_param(raw, &default).map(|value| value.to_string())
    }

    #[test]
    fn signatures_become_rhai_params_info() {
        assert_eq!(
            params_info("grant_role(app: App, role: String, scope: Scope) -> App"),
            ["app: App", "role: string", "scope: Scope", "App"]
        );
        assert_eq!(params_info("env() -> Env"), ["Env"]);
        assert_eq!(params_info("delete_app(app: App)"), ["app: App", "()"]);
        assert_eq!(
            params_info("find_app(name: String) -> App | ()"),
            ["name: string", "?"]
        );
    }

    #[test]
    fn params_take_the_type_of_their_default() {
        assert_eq!(parsed("yes", true.into()), Ok("true".into()));
        assert_eq!(parsed("0", true.into()), Ok("false".into()));
        assert_eq!(parsed("maybe", true.into()), Err("a boolean (true/false)"));
        assert_eq!(parsed("60", Dynamic::from_int(1)), Ok("60".into()));
        assert_eq!(parsed("6o", Dynamic::from_int(1)), Err("an integer"));
        assert_eq!(parsed("x", "default".into()), Ok("x".into()));
    }

    #[test]
    fn list_params_take_commas_or_json() {
        let list = Dynamic::from_array(Array::new());
        assert_eq!(
            parsed(" a, b ,,c", list.clone()),
            Ok("[\"a\", \"b\", \"c\"]".into())
        );
        assert_eq!(parsed("[\"a,b\"]", list.clone()), Ok("[\"a,b\"]".into()));
        assert_eq!(parsed("[oops", list), Err("valid JSON"));
        assert_eq!(
            parsed("a=b", Dynamic::from_map(Map::new())),
            Err("a JSON object")
        );
    }
}
