//! The PingOne primitives scripts call. One primitive is one registered function with a doc
//! comment; `p1run primitives` lists them from the same table the engine is built from.
//!
//! Every write is decided from a read first, so a rerun converges and sends no write when
//! nothing differs (the primitives are idempotent by design).

use super::session::{
    AppHandle, Mode, PENDING, PrimitiveResult, Session, field_change, usage_failure,
};
use crate::client::{
    Application, CustomRole, CustomRoleDefinition, Environment, IdRef, Role, RoleAssignment,
    ScopeRef, ScopeType, TokenAuthMethod,
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
/// a generic one would need Rhai's internal `Variant` and `RhaiNativeFunc` bounds in this
/// crate's signatures; the `internals` feature is on only so that `p1run check` can walk a
/// script's syntax tree, and nothing else here should lean on Rhai's internals.
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
        "role_permissions(role: String) -> Array",
        "The permission ids (sorted) of a built-in or custom role, by name, as the environment's\n\
         role list gives them.",
        move |role: &str| role_permissions(&s, role),
    );

    let s = session.clone();
    primitive!(
        &mut r,
        "custom_role(spec: Map) -> String",
        "Ensures a custom admin role `#{name, description, permissions, applicable_to,\n\
         can_be_assigned_by}` in the target environment. `permissions` takes permission ids\n\
         and/or role names (a role name stands for all its permissions); `applicable_to` scope\n\
         types (default ENVIRONMENT); `can_be_assigned_by` role names. Creates it, or adopts the\n\
         one with that name and updates it only when it differs. Returns its name, usable\n\
         wherever a role name is (grant_role, revoke_role, set_roles).",
        move |spec: Map| custom_role(&s, &spec),
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
    let s = session.clone();
    primitive!(
        &mut r,
        "population(id_or_name: String) -> Scope",
        "A population of the target environment, by id or else by name, as a role scope. None\n\
         with that id or name is an error naming the populations there.",
        move |id_or_name: &str| population(&s, id_or_name),
    );

    let s = session.clone();
    primitive!(
        &mut r,
        "create_population(spec: Map) -> Scope",
        "Ensures a population `#{name, description}` exists in the target environment: adopts the\n\
         one with that name (names are unique there; its description is left as is), else\n\
         creates it. Returns it as a role scope.",
        move |spec: Map| create_population(&s, &spec),
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
        "list_apps() -> Array",
        "The applications of the target environment (App handles, sorted by name then id),\n\
         including those this run created.",
        move || list_apps(&s, &Map::new()),
    );

    let s = session.clone();
    primitive!(
        &mut r,
        "list_apps(filter: Map) -> Array",
        "As `list_apps()`, keeping those matching `#{type, name_prefix}` (both optional): `type`\n\
         is the exact application type (e.g. `WORKER`), `name_prefix` the start of the name.",
        move |filter: Map| list_apps(&s, &filter),
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
        "set_roles(app: App, grants: Array) -> App",
        "Makes the application's role assignments exactly `grants`: `[role, scope]` pairs (scope a\n\
         Scope or a scope string) or \"Role Name@scope\" strings, where a scope string is\n\
         organization, environment, environment:<id>, population:<id or name> or\n\
         application:<id>. Revokes what it holds beyond them (first), then grants what is\n\
         missing as grant_role does. Read-only assignments are left (PingOne does not let them\n\
         be revoked). A rerun changes nothing.",
        move |ctx: NativeCallContext, app: AppHandle, grants: Array| {
            set_roles(&s, call_site(&ctx), app, &grants)
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
    // A second rotation in one run would end the previous secret the first one kept valid;
    // the plan pass sees it here as the apply pass would see it in PingOne's answer.
    let rotated_in_this_run = session.writes().iter().any(|write| {
        matches!(write, Write::RotateSecret { application, previous_expires_minutes, .. }
            if application.id == app.id() && *previous_expires_minutes > 0)
    });
    if rotated_in_this_run && !force {
        return Err(usage_failure(
            "rotate_secret",
            format!(
                "refusing to rotate the secret of {application:?} twice in one run: the first \
                 rotation keeps the previous secret valid, and a second would end it at once; \
                 nothing was changed by this call. Pass #{{force: true}} to do it anyway"
            ),
        ));
    }
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

fn population(session: &Session, id_or_name: &str) -> PrimitiveResult<ScopeRef> {
    let populations = session.populations("population")?;
    let found = populations
        .iter()
        .find(|p| p.id == id_or_name)
        .or_else(|| populations.iter().find(|p| p.name == id_or_name));
    match found {
        Some(population) => Ok(ScopeRef {
            id: population.id.clone(),
            kind: ScopeType::Population,
        }),
        None => {
            let mut names: Vec<String> = populations
                .iter()
                .map(|p| format!("{:?} ({})", p.name, p.id))
                .collect();
            names.sort();
            Err(usage_failure(
                "population",
                format!(
                    "no population with id or name {id_or_name:?} in environment {}; it has {}. \
                     Create it with create_population(#{{ name: {id_or_name:?} }}) or fix the name",
                    session.environment_id(),
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    }
                ),
            ))
        }
    }
}

fn create_population(session: &Session, spec: &Map) -> PrimitiveResult<ScopeRef> {
    const KEYS: [&str; 2] = ["name", "description"];
    if let Some(unknown) = spec.keys().find(|key| !KEYS.contains(&key.as_str())) {
        return Err(usage_failure(
            "create_population",
            format!(
                "unknown key `{unknown}`; the spec takes {}",
                KEYS.join(", ")
            ),
        ));
    }
    let name = map_string(spec, "create_population", "name")?
        .filter(|name| !name.trim().is_empty())
        .ok_or_else(|| usage_failure("create_population", "the spec needs a non-empty `name`"))?;
    let description = map_string(spec, "create_population", "description")?;
    let scope = |id: &str| ScopeRef {
        id: id.to_owned(),
        kind: ScopeType::Population,
    };
    if let Some(existing) = session
        .populations("create_population")?
        .into_iter()
        .find(|p| p.name == name)
    {
        tracing::info!("adopting population {name:?} ({})", existing.id);
        return Ok(scope(&existing.id));
    }
    let write = Write::CreatePopulation {
        environment_id: session.environment_id().to_owned(),
        name: name.clone(),
        description: description.clone(),
    };
    let population = match session.write("create_population", write)? {
        Some(Applied::Population(population)) => population,
        _ => crate::client::Population {
            id: KNOWN_AFTER_APPLY.into(),
            name,
            description,
            default: false,
            environment: None,
        },
    };
    let id = population.id.clone();
    session.remember_population(population);
    Ok(scope(&id))
}

/// An optional string of a primitive's spec map.
fn map_string(spec: &Map, primitive: &str, key: &str) -> PrimitiveResult<Option<String>> {
    match spec.get(key) {
        None => Ok(None),
        Some(value) if value.is_unit() => Ok(None),
        Some(value) => value.clone().into_string().map(Some).map_err(|found| {
            usage_failure(primitive, format!("`{key}` must be a string, not {found}"))
        }),
    }
}

fn list_apps(session: &Session, filter: &Map) -> PrimitiveResult<Array> {
    const KEYS: [&str; 2] = ["type", "name_prefix"];
    if let Some(unknown) = filter.keys().find(|key| !KEYS.contains(&key.as_str())) {
        return Err(usage_failure(
            "list_apps",
            format!(
                "unknown filter key `{unknown}`; the filter takes {}",
                KEYS.join(", ")
            ),
        ));
    }
    let text = |key: &str| -> PrimitiveResult<Option<String>> {
        match filter.get(key) {
            None => Ok(None),
            Some(value) if value.is_unit() => Ok(None),
            Some(value) => value.clone().into_string().map(Some).map_err(|found| {
                usage_failure(
                    "list_apps",
                    format!("`{key}` must be a string, not {found}"),
                )
            }),
        }
    };
    let kind = text("type")?;
    let prefix = text("name_prefix")?.unwrap_or_default();
    let mut apps = matching_apps(session, "list_apps", |app| {
        app.name().starts_with(&prefix) && kind.as_deref().is_none_or(|k| app.kind() == k)
    })?;
    // Sorted, so that scripts (and plans) do not depend on the order PingOne lists them in.
    apps.sort_by_key(|app| (app.name(), app.key()));
    Ok(apps.into_iter().map(Dynamic::from).collect())
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

/// The role of that name: a built-in role, else a custom role of the target environment
/// (read once per pass, including those this pass creates). An unknown name is an error
/// naming the valid ones.
fn find_role(session: &Session, primitive: &str, name: &str) -> PrimitiveResult<Role> {
    let roles = session.roles(primitive)?;
    if let Some(role) = roles.iter().find(|role| role.name == name) {
        return Ok(role.clone());
    }
    let custom = session.custom_roles(primitive)?;
    if let Some(role) = custom
        .iter()
        .find(|role| role.is_custom() && role.name == name)
    {
        return Ok(as_role(role));
    }
    let mut names: Vec<&str> = roles
        .iter()
        .map(|role| role.name.as_str())
        .chain(
            custom
                .iter()
                .filter(|role| role.is_custom())
                .map(|role| role.name.as_str()),
        )
        .collect();
    names.sort_unstable();
    names.dedup();
    Err(usage_failure(
        primitive,
        format!(
            "unknown role {name:?}{}; valid roles (built-in and this environment's custom roles): {}",
            crate::suggest::did_you_mean(name, &names),
            names.join(", ")
        ),
    ))
}

/// A custom role as the built-in roles are modelled, so grants treat both alike.
fn as_role(custom: &CustomRole) -> Role {
    Role {
        id: custom.id.clone(),
        name: custom.name.clone(),
        description: custom.description.clone(),
        applicable_to: custom.applicable_to.clone(),
        permissions: custom.permissions.clone(),
    }
}

/// The name of the role with that id (built-in or custom); empty when unknown.
fn role_name(session: &Session, primitive: &str, id: &str) -> PrimitiveResult<String> {
    if let Some(role) = session.roles(primitive)?.iter().find(|role| role.id == id) {
        return Ok(role.name.clone());
    }
    Ok(session
        .custom_roles(primitive)?
        .into_iter()
        .find(|role| role.id == id)
        .map(|role| role.name)
        .unwrap_or_default())
}

/// The permission ids of the role of that name, built-in or custom, as the environment's
/// role list gives them.
fn permissions_of(session: &Session, primitive: &str, name: &str) -> PrimitiveResult<Vec<String>> {
    let listed = session.custom_roles(primitive)?;
    let ids = |role: &CustomRole| -> Vec<String> {
        role.permissions.iter().map(|p| p.id.clone()).collect()
    };
    if let Some(role) = listed
        .iter()
        .find(|role| role.is_custom() && role.name == name)
        .or_else(|| listed.iter().find(|role| role.name == name))
    {
        return Ok(ids(role));
    }
    let role = find_role(session, primitive, name)?;
    Ok(role.permissions.iter().map(|p| p.id.clone()).collect())
}

fn role_permissions(session: &Session, role: &str) -> PrimitiveResult<Array> {
    let mut ids = permissions_of(session, "role_permissions", role)?;
    ids.sort();
    ids.dedup();
    Ok(ids.into_iter().map(Dynamic::from).collect())
}

/// A list of strings of a spec: an array of strings, or one string.
fn string_list(spec: &Map, primitive: &str, key: &str) -> PrimitiveResult<Option<Vec<String>>> {
    let Some(value) = spec.get(key).filter(|value| !value.is_unit()) else {
        return Ok(None);
    };
    let bad = || usage_failure(primitive, format!("`{key}` must be an array of strings"));
    if value.is_string() {
        return Ok(Some(vec![value.to_string()]));
    }
    let array = value.read_lock::<Array>().ok_or_else(bad)?;
    array
        .iter()
        .map(|item| item.clone().into_string().map_err(|_| bad()))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn custom_role(session: &Session, spec: &Map) -> PrimitiveResult<String> {
    const P: &str = "custom_role";
    const KEYS: [&str; 5] = [
        "name",
        "description",
        "permissions",
        "applicable_to",
        "can_be_assigned_by",
    ];
    if let Some(unknown) = spec.keys().find(|key| !KEYS.contains(&key.as_str())) {
        return Err(usage_failure(
            P,
            format!(
                "unknown key `{unknown}`; the spec takes {}",
                KEYS.join(", ")
            ),
        ));
    }
    let name = map_string(spec, P, "name")?
        .filter(|name| !name.trim().is_empty())
        .ok_or_else(|| usage_failure(P, "the spec needs a non-empty `name`"))?;
    if session.roles(P)?.iter().any(|role| role.name == name) {
        return Err(usage_failure(
            P,
            format!("{name:?} is a built-in role; give the custom role another name"),
        ));
    }
    let description = map_string(spec, P, "description")?;
    let listed = session.custom_roles(P)?;
    // Every permission PingOne knows, as the roles of the environment's list carry them.
    let known: std::collections::BTreeSet<String> = listed
        .iter()
        .flat_map(|role| role.permissions.iter().map(|p| p.id.clone()))
        .collect();
    let mut permissions: Vec<String> = Vec::new();
    let asked = string_list(spec, P, "permissions")?.unwrap_or_default();
    if asked.is_empty() {
        return Err(usage_failure(
            P,
            "`permissions` needs at least one permission id or role name",
        ));
    }
    for entry in asked {
        if listed
            .iter()
            .any(|role| role.name == entry && role.name != name)
        {
            permissions.extend(permissions_of(session, P, &entry)?);
        } else if known.contains(&entry) {
            permissions.push(entry);
        } else {
            let near: Vec<&str> = known
                .iter()
                .filter(|id| {
                    let stem = entry.split(':').next().unwrap_or(&entry);
                    id.starts_with(stem) || id.contains(&entry)
                })
                .map(String::as_str)
                .take(8)
                .collect();
            return Err(usage_failure(
                P,
                format!(
                    "unknown permission or role {entry:?} in `permissions`{}; use permission ids \
                     as role_permissions(role) lists them, or role names",
                    if near.is_empty() {
                        String::new()
                    } else {
                        format!(" (near: {})", near.join(", "))
                    }
                ),
            ));
        }
    }
    permissions.sort();
    permissions.dedup();
    let kinds =
        string_list(spec, P, "applicable_to")?.unwrap_or_else(|| vec!["ENVIRONMENT".to_owned()]);
    let mut applicable_to = Vec::new();
    for kind in kinds {
        let parsed = match kind.to_ascii_uppercase().as_str() {
            "ORGANIZATION" => ScopeType::Organization,
            "ENVIRONMENT" => ScopeType::Environment,
            "POPULATION" => ScopeType::Population,
            "APPLICATION" => ScopeType::Application,
            _ => {
                return Err(usage_failure(
                    P,
                    format!(
                        "unknown scope type {kind:?} in `applicable_to`; valid: ORGANIZATION, \
                         ENVIRONMENT, POPULATION, APPLICATION"
                    ),
                ));
            }
        };
        if !applicable_to.contains(&parsed) {
            applicable_to.push(parsed);
        }
    }
    let mut can_be_assigned_by = Vec::new();
    for role in string_list(spec, P, "can_be_assigned_by")?.unwrap_or_default() {
        can_be_assigned_by.push(find_role(session, P, &role)?.id);
    }
    let definition = CustomRoleDefinition {
        name: name.clone(),
        description,
        applicable_to,
        permissions,
        can_be_assigned_by,
    };
    let existing = listed
        .iter()
        .find(|role| role.is_custom() && role.name == name);
    let write = match existing {
        Some(role) if definition.matches(role) => {
            tracing::info!("custom role {name:?} ({}) is already as defined", role.id);
            return Ok(name);
        }
        Some(role) => Write::UpdateCustomRole {
            environment_id: session.environment_id().to_owned(),
            role: RoleRef {
                id: role.id.clone(),
                name: name.clone(),
            },
            before: role.definition(),
            after: definition.clone(),
        },
        None => Write::CreateCustomRole {
            environment_id: session.environment_id().to_owned(),
            definition: definition.clone(),
        },
    };
    let id = existing.map_or_else(|| KNOWN_AFTER_APPLY.to_owned(), |role| role.id.clone());
    let role = match session.write(P, write)? {
        Some(Applied::CustomRole(role)) => role,
        _ => planned_custom_role(&id, &definition),
    };
    session.remember_custom_role(role);
    Ok(name)
}

/// What a plan knows of a custom role it creates or updates.
fn planned_custom_role(id: &str, definition: &CustomRoleDefinition) -> CustomRole {
    CustomRole {
        id: id.to_owned(),
        name: definition.name.clone(),
        description: definition.description.clone(),
        applicable_to: definition.applicable_to.clone(),
        permissions: definition
            .permissions
            .iter()
            .map(|id| crate::client::Permission {
                id: id.clone(),
                classifier: None,
                description: None,
            })
            .collect(),
        can_be_assigned_by: definition
            .can_be_assigned_by
            .iter()
            .map(|id| IdRef { id: id.clone() })
            .collect(),
        can_assign: Vec::new(),
        kind: Some(crate::client::RoleType::Custom),
        environment: None,
    }
}

/// Organization scope covers every environment in it; PingOne rejects the narrower grant as
/// a duplicate (docs/pingone.md, "Role assignments"), so it counts as already held.
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
    // duplicate in either order (docs/pingone.md, "Role assignments"); say so before writing
    // anything.
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

/// The role scope a scope string names (as `worker-app`'s `roles` entries write it).
fn parse_scope(session: &Session, primitive: &str, spec: &str) -> PrimitiveResult<ScopeRef> {
    let (kind, id) = match spec.split_once(':') {
        Some((kind, id)) => (kind.trim(), Some(id.trim())),
        None => (spec.trim(), None),
    };
    let scope = |kind, id: &str| ScopeRef {
        id: id.to_owned(),
        kind,
    };
    match (kind, id) {
        ("organization", None) => Ok(scope(
            ScopeType::Organization,
            &session.organization_id(primitive)?,
        )),
        ("environment", None) => Ok(scope(ScopeType::Environment, session.environment_id())),
        ("environment", Some(id)) => Ok(scope(ScopeType::Environment, id)),
        ("population", Some(id)) => population(session, id),
        ("application", Some(id)) => Ok(scope(ScopeType::Application, id)),
        _ => Err(usage_failure(
            primitive,
            format!(
                "unknown scope {spec:?}: expected organization, environment, environment:<id>, \
                 population:<id or name> or application:<id>"
            ),
        )),
    }
}

/// One entry of `set_roles`' grants: `[role, scope]` or `"Role Name@scope"`.
fn parse_grant(session: &Session, entry: &Dynamic) -> PrimitiveResult<(String, ScopeRef)> {
    const P: &str = "set_roles";
    if let Some(text) = entry.read_lock::<rhai::ImmutableString>() {
        let Some((role, scope)) = text.split_once('@') else {
            return Err(usage_failure(
                P,
                format!(
                    "role grant {:?} must read \"Role Name@scope\", e.g. \"Identity Data Admin@environment\"",
                    text.as_str()
                ),
            ));
        };
        return Ok((role.trim().to_owned(), parse_scope(session, P, scope)?));
    }
    if let Some(pair) = entry.read_lock::<Array>()
        && let [role, scope] = pair.as_slice()
        && let Ok(role) = role.clone().into_string()
    {
        if let Some(scope) = scope.read_lock::<ScopeRef>() {
            return Ok((role, scope.clone()));
        }
        if let Ok(text) = scope.clone().into_string() {
            return Ok((role, parse_scope(session, P, &text)?));
        }
    }
    Err(usage_failure(
        P,
        format!(
            "each grant must be [role, scope] or \"Role Name@scope\", not {}",
            entry.type_name()
        ),
    ))
}

fn set_roles(
    session: &Session,
    site: CallSite,
    app: AppHandle,
    grants: &Array,
) -> PrimitiveResult<AppHandle> {
    const P: &str = "set_roles";
    let mut wanted: Vec<(Role, ScopeRef)> = Vec::new();
    for entry in grants {
        let (name, scope) = parse_grant(session, entry)?;
        let role = find_role(session, P, &name)?;
        if !wanted.iter().any(|(r, s)| r.id == role.id && *s == scope) {
            wanted.push((role, scope));
        }
    }
    let assignments = session.assignments(P, &app)?;
    let mut kept = Vec::new();
    for assignment in assignments {
        let is_wanted = wanted
            .iter()
            .any(|(role, scope)| role.id == assignment.role.id && *scope == assignment.scope);
        if is_wanted {
            kept.push(assignment);
            continue;
        }
        let name = role_name(session, P, &assignment.role.id)?;
        if assignment.read_only {
            tracing::warn!(
                "{:?} holds the read-only assignment {name:?} at {} {}; PingOne does not let it \
                 be revoked, so set_roles leaves it",
                app.name(),
                assignment.scope.kind,
                assignment.scope.id
            );
            kept.push(assignment);
            continue;
        }
        let write = Write::Revoke {
            environment_id: app.environment_id.clone(),
            application: app.app_ref(),
            assignment_id: assignment.id.clone(),
            role: RoleRef {
                id: assignment.role.id.clone(),
                name,
            },
            scope: assignment.scope.clone(),
        };
        session.defer(P, site.clone(), write)?;
    }
    session.set_assignments(&app, kept);
    let mut app = app;
    for (role, scope) in &wanted {
        app = grant_role(session, site.clone(), app, &role.name, scope)?;
    }
    Ok(app)
}

fn role_assignments(session: &Session, app: &AppHandle) -> PrimitiveResult<Array> {
    let assignments = session.assignments("role_assignments", app)?;
    let mut named: Vec<(String, &RoleAssignment)> = assignments
        .iter()
        .map(|a| Ok((role_name(session, "role_assignments", &a.role.id)?, a)))
        .collect::<PrimitiveResult<_>>()?;
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
