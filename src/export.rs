//! `p1run export`: reads an environment's worker applications back (roles, auth method,
//! enabled state) and writes one Rhai recipe that makes exactly that state with the public
//! primitives. Also the reader behind `p1run test`'s `apps()`.
//!
//! The recipe text depends only on what it makes, never on the ids of the environment it was
//! read from (scopes at that environment and its organization are `environment()` and
//! `organization()`), so exporting an environment the recipe was applied to gives the same
//! text again. Ids that point elsewhere become `param()`s. No secret is ever read.

use crate::client::{
    Application, Client, ClientError, ClientOptions, CustomRole, ScopeRef, ScopeType,
};
use crate::config::Config;
use crate::error::Error;
use crate::run::{self, Destination};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;

/// `p1run export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Environment name from the config file to read.
    #[arg(long, value_name = "NAME")]
    pub env: String,

    /// Only the worker applications whose name matches this glob (`*`, `?`). The acting worker
    /// is exported only when this names it exactly.
    #[arg(long, value_name = "GLOB")]
    pub apps: Option<String>,

    /// Write the recipe to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Config file [default: $P1RUN_CONFIG, else ./p1run.toml].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Runs `p1run export`; the `Ok` value is the exit code.
pub fn execute(args: &ExportArgs) -> Result<i32, Error> {
    let config = Config::discover(args.config.as_deref())?;
    let target = match run::destination(Some(&args.env), config.as_ref())? {
        Destination::Remote(target) => *target,
        Destination::Local => {
            return Err(Error::Usage(
                "export reads an existing environment: name one of the config file with --env                  (`local` would be a fresh, empty emulator)"
                    .into(),
            ));
        }
    };
    let mut options = ClientOptions::new(target.endpoints.clone(), target.credentials.clone());
    if let Some(config) = &config {
        options.retry = config.retry.policy();
    }
    let client = Client::new(options)?;
    let runtime = run::runtime()?;
    let environment_id = target.environment_id.as_str();
    let actor = target.credentials.client_id.as_str();
    let (environment, apps) = runtime.block_on(async {
        tokio::join!(
            client.environment(environment_id),
            read_apps(&client, environment_id, None)
        )
    });
    let reading = |error: ClientError| -> Error {
        Error::Usage(format!(
            "export of {} ({environment_id}): {error}\nhint: the acting worker needs to read \
             the environment, its roles, applications and role assignments (Environment Admin \
             or Configuration Read Only over it)",
            target.name
        ))
    };
    let environment = environment.map_err(reading)?;
    let apps: Vec<AppState> = apps
        .map_err(reading)?
        .into_iter()
        .filter(|app| app.kind == "WORKER")
        .filter(|app| match &args.apps {
            // The acting worker only when named outright, never through a wildcard.
            _ if app.id == actor => args.apps.as_deref() == Some(app.name.as_str()),
            Some(glob) => glob_matches(glob, &app.name),
            None => true,
        })
        .collect();
    let names = runtime.block_on(scope_names(&client, environment_id, &apps));
    // Only needed to define custom roles; a worker that may not read them exports the rest.
    let roles = if apps.iter().any(|app| app.grants.iter().any(|g| g.custom)) {
        runtime
            .block_on(client.custom_roles(environment_id))
            .map_err(reading)?
    } else {
        Vec::new()
    };
    let export = render(
        &apps,
        environment_id,
        &environment.organization.id,
        &names,
        &roles,
    )
    .map_err(Error::Usage)?;
    for skipped in &export.skipped {
        eprintln!("warning: {skipped}");
    }
    match &args.out {
        Some(path) => {
            std::fs::write(path, &export.recipe).map_err(|source| Error::Io {
                context: format!("writing the exported recipe to {}", path.display()),
                source,
            })?;
            eprintln!(
                "exported {} worker application(s) of {} to {}",
                export.applications,
                target.name,
                path.display()
            );
        }
        None => {
            use std::io::Write as _;
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(export.recipe.as_bytes())
                .and_then(|()| stdout.flush())
                .map_err(|source| Error::Io {
                    context: "writing to stdout".into(),
                    source,
                })?;
        }
    }
    Ok(0)
}

/// The names of the environments, populations and applications that grants point at outside
/// the exported environment itself, for the params' names; a name that cannot be read is left
/// out (the param is then named by its kind alone).
async fn scope_names(
    client: &Client,
    environment_id: &str,
    apps: &[AppState],
) -> HashMap<(ScopeType, String), ScopeName> {
    let mut names = HashMap::new();
    for scope in apps
        .iter()
        .flat_map(|app| app.grants.iter().map(|g| &g.scope))
    {
        let key = (scope.kind, scope.id.clone());
        if names.contains_key(&key) || scope.id == environment_id {
            continue;
        }
        let name = match scope.kind {
            ScopeType::Environment => client.environment(&scope.id).await.ok().map(|e| e.name),
            ScopeType::Population => client
                .population(environment_id, &scope.id)
                .await
                .ok()
                .map(|p| p.name),
            ScopeType::Application => client
                .application(environment_id, &scope.id)
                .await
                .ok()
                .map(|a| a.name().to_owned()),
            ScopeType::Organization | ScopeType::Unknown => continue,
        };
        names.insert(key, ScopeName { name });
    }
    names
}

/// One application as [`read_apps`] found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppState {
    /// Application id (never written into a recipe).
    pub id: String,
    /// Display name.
    pub name: String,
    /// `type`, e.g. `WORKER`.
    pub kind: String,
    /// Description, empty when it has none.
    pub description: String,
    /// `enabled`.
    pub enabled: bool,
    /// `tokenEndpointAuthMethod`.
    pub auth_method: String,
    /// Its role assignments, sorted by scope type, then role name.
    pub grants: Vec<Grant>,
}

/// One role assignment, with the role's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The role's name (`role <id>` when the role could not be read).
    pub role: String,
    /// Whether it is a custom role (made in an environment) rather than a built-in one.
    pub custom: bool,
    /// Where it applies.
    pub scope: ScopeRef,
}

impl Grant {
    /// `"Role Name @ SCOPE_TYPE"`, the form `apps()` shows.
    pub fn label(&self) -> String {
        format!("{} @ {}", self.role, self.scope.kind)
    }
}

fn scope_rank(kind: ScopeType) -> u8 {
    match kind {
        ScopeType::Organization => 0,
        ScopeType::Environment => 1,
        ScopeType::Population => 2,
        ScopeType::Application => 3,
        ScopeType::Unknown => 4,
    }
}

/// Every application of the environment with its role assignments, sorted by name (then id),
/// leaving out the one whose id is `skip` (the acting worker). Reads only: the role list,
/// the applications and one assignment list per application; never a secret.
pub async fn read_apps(
    client: &Client,
    environment_id: &str,
    skip: Option<&str>,
) -> Result<Vec<AppState>, ClientError> {
    let (roles, applications) = tokio::join!(
        client.custom_roles(environment_id),
        client.applications(environment_id)
    );
    // `GET /environments/{env}/roles` lists the built-in roles and the environment's custom
    // ones; a worker that may not read it still gets the built-in names from `GET /roles`.
    let names: HashMap<String, (String, bool)> = match roles {
        Ok(roles) => roles
            .into_iter()
            .map(|role| {
                let custom = role.is_custom();
                (role.id, (role.name, custom))
            })
            .collect(),
        Err(_) => client
            .roles()
            .await?
            .into_iter()
            .map(|role| (role.id, (role.name, false)))
            .collect(),
    };
    let applications: Vec<Application> = applications?
        .into_iter()
        .filter(|app| Some(app.id()) != skip)
        .collect();
    let assignments = futures_util::future::try_join_all(
        applications
            .iter()
            .map(|app| client.role_assignments(environment_id, app.id())),
    )
    .await?;
    let mut apps: Vec<AppState> = applications
        .iter()
        .zip(assignments)
        .map(|(app, assignments)| {
            let mut grants: Vec<Grant> = assignments
                .into_iter()
                .map(|assignment| {
                    let (role, custom) = names
                        .get(&assignment.role.id)
                        .cloned()
                        .unwrap_or_else(|| (format!("role {}", assignment.role.id), true));
                    Grant {
                        role,
                        custom,
                        scope: assignment.scope,
                    }
                })
                .collect();
            grants.sort_by(|a, b| {
                (scope_rank(a.scope.kind), &a.role, &a.scope.id).cmp(&(
                    scope_rank(b.scope.kind),
                    &b.role,
                    &b.scope.id,
                ))
            });
            AppState {
                id: app.id().to_owned(),
                name: app.name().to_owned(),
                kind: app.kind().to_owned(),
                description: app.description().to_owned(),
                enabled: app.enabled(),
                auth_method: app.token_endpoint_auth_method().to_owned(),
                grants,
            }
        })
        .collect();
    apps.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
    Ok(apps)
}

/// Whether `name` matches the glob `pattern` (`*`: any run of characters, `?`: one).
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    // Classic two-pointer wildcard match with backtracking to the last `*`.
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == '?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((star_p, star_n)) => {
                    p = star_p + 1;
                    n = star_n + 1;
                    star = Some((star_p, star_n + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// What an id outside the exported environment and its organization points at, so that its
/// param gets a name a reader understands.
#[derive(Debug, Clone)]
pub struct ScopeName {
    /// The thing's name, when it could be read.
    pub name: Option<String>,
}

/// The exported recipe, and what it could not express.
#[derive(Debug, Clone)]
pub struct Export {
    /// The recipe text.
    pub recipe: String,
    /// How many applications it makes.
    pub applications: usize,
    /// Grants the recipe leaves out, as warnings for stderr.
    pub skipped: Vec<String>,
}

/// Writes the recipe for `apps` (already selected): `environment_id` and `organization_id`
/// are the exported environment's, written `environment()` / `organization()`; `names` tells
/// what other scope ids point at. Fails when two applications share a name, since the recipe
/// finds applications by name and could not tell them apart.
pub fn render(
    apps: &[AppState],
    environment_id: &str,
    organization_id: &str,
    names: &HashMap<(ScopeType, String), ScopeName>,
    roles: &[CustomRole],
) -> Result<Export, String> {
    for pair in apps.windows(2) {
        if pair[0].name == pair[1].name {
            return Err(format!(
                "two applications are named {:?} ({} and {}): the recipe finds applications by \
                 name and could not tell them apart; rename one, or leave one out with --apps",
                pair[0].name, pair[0].id, pair[1].id
            ));
        }
    }
    let mut params = Params::default();
    let mut skipped = Vec::new();
    let mut body = String::new();
    // The custom roles the applications hold, defined before any application needs them.
    let mut definitions: BTreeMap<String, String> = BTreeMap::new();
    for app in apps {
        let _ = writeln!(body, "\n// {}", app.name);
        let _ = writeln!(
            body,
            "let app = create_app(#{{ name: {}, description: {}, type: {} }});",
            quote(&app.name),
            quote(&app.description),
            quote(&app.kind)
        );
        // set_roles, not grant_role: the recipe makes exactly these roles, revoking others.
        let mut pairs = Vec::new();
        for grant in &app.grants {
            if grant.custom {
                match roles
                    .iter()
                    .find(|role| role.is_custom() && role.name == grant.role)
                {
                    Some(role) => {
                        definitions
                            .entry(role.name.clone())
                            .or_insert_with(|| custom_role_call(role, roles));
                    }
                    None => {
                        skipped.push(format!(
                            "{:?}: {} at {} {} left out: not a custom role of this environment, \
                             so the recipe cannot define it",
                            app.name, grant.role, grant.scope.kind, grant.scope.id
                        ));
                        let _ = writeln!(
                            body,
                            "// not exported: {} at {} (not a custom role of this environment)",
                            quote(&grant.role),
                            grant.scope.kind
                        );
                        continue;
                    }
                }
            }
            let scope = match grant.scope.kind {
                ScopeType::Organization if grant.scope.id == organization_id => {
                    "organization()".to_owned()
                }
                ScopeType::Environment if grant.scope.id == environment_id => {
                    "environment()".to_owned()
                }
                ScopeType::Environment | ScopeType::Population | ScopeType::Application => {
                    let name = names
                        .get(&(grant.scope.kind, grant.scope.id.clone()))
                        .and_then(|scope| scope.name.clone());
                    let variable = params.variable(&grant.scope, name.as_deref());
                    let function = match grant.scope.kind {
                        ScopeType::Environment => "environment",
                        ScopeType::Population => "population",
                        _ => "application",
                    };
                    format!("{function}({variable})")
                }
                ScopeType::Organization | ScopeType::Unknown => {
                    skipped.push(format!(
                        "{:?}: {:?} at {} {} left out: not this environment's organization, \
                         and no primitive names another",
                        app.name, grant.role, grant.scope.kind, grant.scope.id
                    ));
                    let _ = writeln!(
                        body,
                        "// not exported: {} at {} {}",
                        quote(&grant.role),
                        grant.scope.kind,
                        grant.scope.id
                    );
                    continue;
                }
            };
            pairs.push(format!("    [{}, {scope}],", quote(&grant.role)));
        }
        if pairs.is_empty() {
            let _ = writeln!(body, "set_roles(app, []);");
        } else {
            let _ = writeln!(body, "set_roles(app, [\n{}\n]);", pairs.join("\n"));
        }
        let _ = writeln!(body, "set_auth_method(app, {});", quote(&app.auth_method));
        let _ = writeln!(
            body,
            "{}(app);",
            if app.enabled { "enable" } else { "disable" }
        );
    }
    let mut recipe = String::new();
    let count = match apps.len() {
        1 => "1 worker application".to_owned(),
        n => format!("{n} worker applications"),
    };
    let _ = writeln!(
        recipe,
        "//! {count} with their roles, token auth method and enabled state, as exported by\n\
         //! `p1run export`. Scopes at the environment it runs against and its organization are\n\
         //! environment() and organization(); other scopes are params. set_roles makes each\n\
         //! application's roles exactly these. No secrets."
    );
    if !params.declared.is_empty() {
        let _ = writeln!(
            recipe,
            "\n// Scopes outside the exported environment and its organization: the defaults are \
             the\n// exported ids; pass another environment's with --var NAME=ID."
        );
        for line in &params.declared {
            let _ = writeln!(recipe, "{line}");
        }
    }
    if !definitions.is_empty() {
        let _ = writeln!(recipe, "\n// Custom roles the applications hold.");
        for definition in definitions.values() {
            recipe.push_str(definition);
        }
    }
    recipe.push_str(&body);
    Ok(Export {
        recipe,
        applications: apps.len(),
        skipped,
    })
}

/// `custom_role(#{...});` making `role` as it is: permission ids sorted, the roles that may
/// assign it by name (from `roles`, the environment's built-in and custom roles).
fn custom_role_call(role: &CustomRole, roles: &[CustomRole]) -> String {
    let list = |items: Vec<String>| {
        let quoted: Vec<String> = items.iter().map(|item| quote(item)).collect();
        format!("[{}]", quoted.join(", "))
    };
    let mut permissions: Vec<String> = role
        .permission_ids()
        .into_iter()
        .map(str::to_owned)
        .collect();
    permissions.sort();
    permissions.dedup();
    let mut applicable: Vec<ScopeType> = role.applicable_to.clone();
    applicable.sort_by_key(|kind| scope_rank(*kind));
    let mut assigners: Vec<String> = role
        .can_be_assigned_by
        .iter()
        .map(|by| {
            roles
                .iter()
                .find(|other| other.id == by.id)
                .map_or_else(|| by.id.clone(), |other| other.name.clone())
        })
        .collect();
    assigners.sort();
    format!(
        "custom_role(#{{\n    name: {},\n    description: {},\n    permissions: {},\n    \
         applicable_to: {},\n    can_be_assigned_by: {},\n}});\n",
        quote(&role.name),
        quote(role.description.as_deref().unwrap_or_default()),
        list(permissions),
        list(
            applicable
                .iter()
                .map(|kind| kind.as_str().to_owned())
                .collect()
        ),
        list(assigners)
    )
}

/// The params the recipe declares for outside scopes, one per id.
#[derive(Default)]
struct Params {
    by_id: BTreeMap<(ScopeType, String), String>,
    declared: Vec<String>,
}

impl Params {
    /// The variable holding this scope's id, declared on first use as
    /// `let population_default = param("population_default", "<id>"); // population "Default"`.
    fn variable(&mut self, scope: &ScopeRef, name: Option<&str>) -> String {
        if let Some(variable) = self.by_id.get(&(scope.kind, scope.id.clone())) {
            return variable.clone();
        }
        let kind = scope.kind.as_str().to_ascii_lowercase();
        let stem = match name.map(slug).filter(|slug| !slug.is_empty()) {
            Some(slug) => format!("{kind}_{slug}"),
            None => format!("{kind}_id"),
        };
        let mut variable = stem.clone();
        let mut n = 2;
        while self.by_id.values().any(|taken| *taken == variable) {
            variable = format!("{stem}_{n}");
            n += 1;
        }
        let what = match name {
            Some(name) => format!("{kind} {}", quote(name)),
            None => format!("{kind} (its name could not be read)"),
        };
        self.declared.push(format!(
            "let {variable} = param({}, {}); // {what}",
            quote(&variable),
            quote(&scope.id)
        ));
        self.by_id
            .insert((scope.kind, scope.id.clone()), variable.clone());
        variable
    }
}

/// `Payments Team` → `payments_team`: a name as part of a Rhai variable and `--var` name.
fn slug(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('_') && !slug.is_empty() {
            slug.push('_');
        }
    }
    slug.trim_end_matches('_').to_owned()
}

/// A Rhai double-quoted string literal (no interpolation in double quotes).
pub fn quote(text: &str) -> String {
    let mut quoted = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(quoted, "\\u{:04x}", u32::from(c));
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_stars_and_question_marks() {
        assert!(glob_matches("*", "anything"));
        assert!(glob_matches("team-*", "team-red"));
        assert!(!glob_matches("team-*", "my-team-red"));
        assert!(glob_matches(
            "*worker*",
            "PingOne Authorize Worker".to_lowercase().as_str()
        ));
        assert!(glob_matches("a?c", "abc"));
        assert!(!glob_matches("a?c", "ac"));
        assert!(glob_matches("a*b*c", "aXXbYYc"));
        assert!(!glob_matches("a*b*c", "aXXbYY"));
    }

    #[test]
    fn quotes_escape_what_rhai_reads_specially() {
        assert_eq!(quote(r#"a "b" \c"#), r#""a \"b\" \\c""#);
        assert_eq!(quote("x\ny"), r#""x\ny""#);
        assert_eq!(quote("${not interpolated}"), "\"${not interpolated}\"");
    }

    #[test]
    fn outside_scopes_become_named_params_once() {
        let scope = |kind, id: &str| ScopeRef {
            id: id.into(),
            kind,
        };
        let grant = |role: &str, scope| Grant {
            role: role.into(),
            custom: false,
            scope,
        };
        let app = AppState {
            id: "a1".into(),
            name: "w".into(),
            kind: "WORKER".into(),
            description: String::new(),
            enabled: true,
            auth_method: "CLIENT_SECRET_BASIC".into(),
            grants: vec![
                grant("Environment Admin", scope(ScopeType::Organization, "org")),
                grant("Identity Data Admin", scope(ScopeType::Population, "p1")),
                grant(
                    "Identity Data Read Only",
                    scope(ScopeType::Population, "p1"),
                ),
            ],
        };
        let mut names = HashMap::new();
        names.insert(
            (ScopeType::Population, "p1".to_owned()),
            ScopeName {
                name: Some("Default".into()),
            },
        );
        let export = render(&[app], "env", "org", &names, &[]).unwrap();
        let text = &export.recipe;
        assert_eq!(
            text.matches("param(\"population_default\"").count(),
            1,
            "{text}"
        );
        assert!(
            text.contains("    [\"Environment Admin\", organization()],"),
            "{text}"
        );
        assert!(
            text.contains("    [\"Identity Data Admin\", population(population_default)],"),
            "{text}"
        );
        assert!(!text.contains("\"env\""), "{text}");
    }
}
