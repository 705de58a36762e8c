//! `p1run export`: an environment's workers back as a recipe, round trip through the real
//! binary (plan against the source changes nothing, apply elsewhere makes the same, export of
//! that gives the same text).

use crate::kit::{Admin, Test, emulator};
use p1run::emulator::Emulator;
use serde_json::Value;

/// What the round trip must keep, per worker: name, type, enabled, auth method and the roles
/// by name and scope type (the ids differ between environments).
fn workers(
    admin: &Admin,
    env: &str,
    actor: &str,
) -> Vec<(String, String, bool, String, Vec<String>)> {
    let mut apps: Vec<_> = admin
        .applications(env)
        .into_iter()
        .filter(|app| app["id"] != actor)
        .map(|app: Value| {
            let id = app["id"].as_str().unwrap_or_default().to_owned();
            // The environment's role list names custom roles too (`grants` knows built-ins).
            let roles_here = admin.get(&format!("/environments/{env}/roles"));
            let role_name = |role_id: &Value| {
                roles_here["_embedded"]["roles"]
                    .as_array()
                    .and_then(|all| all.iter().find(|role| &role["id"] == role_id))
                    .and_then(|role| role["name"].as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            let assignments = admin.get(&format!(
                "/environments/{env}/applications/{id}/roleAssignments"
            ));
            let mut roles: Vec<String> = assignments["_embedded"]["roleAssignments"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|a| {
                    format!(
                        "{} @ {}",
                        role_name(&a["role"]["id"]),
                        a["scope"]["type"].as_str().unwrap_or_default()
                    )
                })
                .collect();
            roles.sort();
            (
                app["name"].as_str().unwrap_or_default().to_owned(),
                app["type"].as_str().unwrap_or_default().to_owned(),
                app["enabled"].as_bool().unwrap_or_default(),
                app["tokenEndpointAuthMethod"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                roles,
            )
        })
        .collect();
    apps.sort();
    apps
}

fn apply(emulator: &Emulator, env: &str, recipe: &str, vars: &[&str]) {
    let mut args = vec!["apply", recipe, "--env", env];
    for var in vars {
        args.extend(["--var", var]);
    }
    Test::new().config_for(emulator).args(args).run().success();
}

fn export(emulator: &Emulator, args: &[&str]) -> crate::kit::Output {
    Test::new()
        .config_for(emulator)
        .args(["export"])
        .args(args.iter().copied())
        .run()
        .success()
}

#[test]
fn round_trip_plans_nothing_rebuilds_the_same_and_exports_the_same_text() {
    let emulator = emulator(2);
    let info = emulator.info().clone();
    let (env1, env2) = (&info.environments[0].id, &info.environments[1].id);
    apply(
        &emulator,
        "env-1",
        "authorize-worker",
        &["auth_method=CLIENT_SECRET_POST"],
    );
    apply(
        &emulator,
        "env-1",
        "authorize-worker-custom-role",
        &["name=Custom Worker"],
    );
    apply(
        &emulator,
        "env-1",
        "worker-app",
        &[
            "name=Reporting \"Read\" Worker",
            "roles=Identity Data Read Only@environment",
            "enabled=false",
            "description=Reads, never writes",
        ],
    );

    let exported = export(&emulator, &["--env", "env-1", "--out", "exported.rhai"]);
    let recipe = std::fs::read_to_string(exported.path("exported.rhai")).expect("exported recipe");
    assert!(
        exported.stdout.is_empty(),
        "the recipe goes to the file: {}",
        exported.stdout
    );
    assert!(
        recipe.contains("    [\"Environment Admin\", organization()],"),
        "{recipe}"
    );
    assert!(
        recipe.contains("    [\"Identity Data Admin\", environment()],"),
        "{recipe}"
    );
    assert!(
        recipe.contains("custom_role(#{\n    name: \"PingOne Authorize Worker Role\","),
        "{recipe}"
    );
    assert!(
        !recipe.contains(env1.as_str()),
        "no id of the exported environment: {recipe}"
    );
    assert!(
        !recipe.contains(&info.organization_id),
        "no organization id: {recipe}"
    );
    assert!(
        !recipe.contains(&info.client_id),
        "the acting worker is left out: {recipe}"
    );
    assert!(!recipe.contains(&info.client_secret), "no secret: {recipe}");

    // Against the source: nothing to change (exit 0, not 2).
    let plan = Test::new()
        .config_for(&emulator)
        .file("exported.rhai", &recipe)
        .args(["plan", "exported.rhai", "--env", "env-1"])
        .run()
        .success();
    assert!(plan.stdout.contains("no changes"), "{}", plan.stdout);

    // Into the empty environment: the same workers.
    Test::new()
        .config_for(&emulator)
        .file("exported.rhai", &recipe)
        .args(["apply", "exported.rhai", "--env", "env-2"])
        .run()
        .success();
    let admin = Admin::new(&emulator);
    let source = workers(&admin, env1, &info.client_id);
    assert_eq!(source.len(), 3, "{source:?}");
    assert!(
        source
            .iter()
            .any(|app| app.4 == ["PingOne Authorize Worker Role @ ENVIRONMENT"]),
        "{source:?}"
    );
    // env-2's own bootstrap worker does not live there: every app is the recipe's.
    assert_eq!(workers(&admin, env2, &info.client_id), source);

    // Exporting the copy gives the same text.
    let again = export(&emulator, &["--env", "env-2"]);
    assert_eq!(again.stdout, recipe);
}

#[test]
fn apps_glob_selects_and_the_actor_is_exported_only_when_named() {
    let emulator = emulator(1);
    apply(&emulator, "env-1", "worker-app", &["name=team-red"]);
    apply(&emulator, "env-1", "worker-app", &["name=team-blue"]);
    apply(&emulator, "env-1", "worker-app", &["name=other"]);
    let teams = export(&emulator, &["--env", "env-1", "--apps", "team-*"]).stdout;
    assert!(
        teams.contains("name: \"team-red\"") && teams.contains("name: \"team-blue\""),
        "{teams}"
    );
    assert!(!teams.contains("name: \"other\""), "{teams}");
    assert!(teams.starts_with("//! 2 worker applications"), "{teams}");

    let admin = Admin::new(&emulator);
    let actor = admin.get(&format!(
        "/environments/{}/applications/{}",
        admin.environment_id,
        emulator.info().client_id
    ));
    let actor_name = actor["name"].as_str().unwrap_or_default().to_owned();
    let everything = export(&emulator, &["--env", "env-1", "--apps", "*"]).stdout;
    assert!(
        !everything.contains(&actor_name),
        "a wildcard does not name the actor: {everything}"
    );
    let named = export(&emulator, &["--env", "env-1", "--apps", &actor_name]);
    assert!(
        named.stdout.contains(&format!("name: \"{actor_name}\"")),
        "{}",
        named.stdout
    );
    assert!(
        !named.stdout.contains(&emulator.info().client_secret),
        "no secret"
    );
}

#[test]
fn outside_scopes_become_named_params_and_still_plan_nothing() {
    let emulator = emulator(2);
    let env2 = emulator.info().environments[1].id.clone();
    let admin = Admin::new(&emulator);
    let env = admin.environment_id.clone();
    let populations = admin.get(&format!("/environments/{env}/populations"));
    let population = populations["_embedded"]["populations"][0]["id"]
        .as_str()
        .expect("default population")
        .to_owned();
    apply(
        &emulator,
        "env-1",
        "worker-app",
        &[
            "name=Helpdesk",
            &format!("roles=Identity Data Admin@population:{population}"),
        ],
    );
    apply(
        &emulator,
        "env-1",
        "worker-app",
        &[
            "name=Env Two Admin",
            &format!("roles=Environment Admin@environment:{env2}"),
        ],
    );
    let recipe = export(&emulator, &["--env", "env-1"]).stdout;
    assert!(
        recipe.contains(&format!(
            "let environment_env_2 = param(\"environment_env_2\", \"{env2}\"); // environment \"env-2\""
        )),
        "{recipe}"
    );
    assert!(
        recipe.contains("    [\"Environment Admin\", environment(environment_env_2)],"),
        "{recipe}"
    );
    assert!(
        recipe.contains(&format!(
            "let population_default = param(\"population_default\", \"{population}\"); // population \"Default\""
        )),
        "{recipe}"
    );
    assert!(
        recipe.contains("    [\"Identity Data Admin\", population(population_default)],"),
        "{recipe}"
    );
    Test::new()
        .config_for(&emulator)
        .file("exported.rhai", &recipe)
        .args(["plan", "exported.rhai", "--env", "env-1"])
        .run()
        .success();
}

#[test]
fn two_workers_with_one_name_are_refused_with_a_hint() {
    let emulator = emulator(1);
    let admin = Admin::new(&emulator);
    let env = admin.environment_id.clone();
    for _ in 0..2 {
        let body = serde_json::json!({"name": "twin", "type": "WORKER", "protocol": "OPENID_CONNECT",
            "grantTypes": ["CLIENT_CREDENTIALS"], "tokenEndpointAuthMethod": "CLIENT_SECRET_BASIC",
            "assignActorRoles": false});
        let (status, _) = admin.call(
            "POST",
            &format!("/environments/{env}/applications"),
            Some(body),
        );
        assert_eq!(status, 201);
    }
    Test::new()
        .config_for(&emulator)
        .args(["export", "--env", "env-1"])
        .run()
        .failure()
        .stderr_has(&["two applications are named \"twin\"", "--apps"]);
}
