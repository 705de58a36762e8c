//! The custom role, population and exact-role-set primitives, and the
//! `authorize-worker-custom-role` recipe, over real HTTP against the emulator. State is read
//! back with `Admin`, independently of p1run's own client.

use crate::kit::{Admin, Test, emulator, emulator_refusing};
use p1run::emulator::Emulator;
use serde_json::{Value, json};

/// Runs `script` with `apply --output json`; its JSON document.
fn apply(emulator: &Emulator, script: &str) -> Value {
    Test::new()
        .config_for(emulator)
        .file("recipe.rhai", script)
        .args(["apply", "recipe.rhai", "--output", "json"])
        .run()
        .success()
        .json()
}

#[test]
fn list_apps_lists_and_filters_the_environments_applications() {
    let emulator = emulator(1);
    let report = apply(
        &emulator,
        r#"
        create_app(#{ name: "team-a worker" });
        create_app(#{ name: "team-b worker" });
        create_app(#{ name: "other" });
        #{
            all: list_apps().map(|a| a.name),
            teams: list_apps(#{ type: "WORKER", name_prefix: "team-" }).map(|a| a.name),
            none: list_apps(#{ type: "SINGLE_PAGE_APP" }).len(),
        }
        "#,
    );
    let outputs = &report["outputs"];
    assert_eq!(
        outputs["all"],
        json!([
            "Bootstrap Admin Worker",
            "other",
            "team-a worker",
            "team-b worker"
        ])
    );
    assert_eq!(outputs["teams"], json!(["team-a worker", "team-b worker"]));
    assert_eq!(outputs["none"], 0);
}

/// The non-token writes the emulator received.
fn writes(emulator: &Emulator) -> Vec<String> {
    emulator
        .requests()
        .into_iter()
        .filter(|r| {
            matches!(r.method.as_str(), "POST" | "PUT" | "DELETE") && !r.path.ends_with("/as/token")
        })
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// Applies `script` twice: the second run must change nothing and send no write.
fn converges(emulator: &Emulator, script: &str) -> Value {
    let first = apply(emulator, script);
    let before = writes(emulator).len();
    let second = apply(emulator, script);
    assert_eq!(second["changes"], json!([]), "{second}");
    assert_eq!(writes(emulator)[before..], [] as [String; 0]);
    first
}

const POPULATION_SCRIPT: &str = r#"
    let app = create_app(#{ name: "Helpdesk" });
    let pop = create_population(#{ name: "Contractors", description: "External staff" });
    grant_role(app, "Identity Data Admin", pop);
    #{ created: pop.id, by_name: population("Contractors").id, by_id: population(pop.id).id }
"#;

#[test]
fn create_population_creates_or_adopts_by_name_and_population_resolves_it() {
    let emulator = emulator(1);
    let report = converges(&emulator, POPULATION_SCRIPT);
    let admin = Admin::new(&emulator);
    let env = admin.environment_id.clone();
    let populations = admin.get(&format!("/environments/{env}/populations"));
    let contractors: Vec<&Value> = populations["_embedded"]["populations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] == "Contractors")
        .collect();
    assert_eq!(contractors.len(), 1, "{populations}");
    let id = contractors[0]["id"].clone();
    assert_eq!(contractors[0]["description"], "External staff");
    let outputs = &report["outputs"];
    assert_eq!(outputs["created"], id);
    assert_eq!(outputs["by_name"], id);
    assert_eq!(outputs["by_id"], id);
    let app = admin.application_named(&env, "Helpdesk").unwrap();
    assert_eq!(
        admin.grants(&env, app["id"].as_str().unwrap()),
        vec![(
            "Identity Data Admin".into(),
            "POPULATION".into(),
            id.as_str().unwrap().to_owned()
        )]
    );
}

#[test]
fn a_population_that_does_not_exist_is_refused_naming_those_that_do() {
    let emulator = emulator(1);
    Test::new()
        .config_for(&emulator)
        .file(
            "recipe.rhai",
            r#"let app = create_app(#{ name: "X" }); grant_role(app, "Identity Data Admin", population("Nope"));"#,
        )
        .args(["apply", "recipe.rhai"])
        .run()
        .failure()
        .stderr_has(&[
            "population: no population with id or name \"Nope\"",
            "create_population",
        ]);
    let admin = Admin::new(&emulator);
    assert!(
        admin
            .application_named(&admin.environment_id.clone(), "X")
            .is_none(),
        "a refused plan wrote"
    );
}

/// The environment's custom role of that name, as PingOne holds it.
fn custom_role_named(admin: &Admin, name: &str) -> Option<Value> {
    let env = admin.environment_id.clone();
    admin.get(&format!("/environments/{env}/roles"))["_embedded"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|role| role["name"] == name && role["type"] == "CUSTOM")
        .cloned()
}

/// An application's grants with custom role names resolved too: (role, scope type, scope id).
fn grants(admin: &Admin, app_name: &str) -> Vec<(String, String, String)> {
    let env = admin.environment_id.clone();
    let roles = admin.get(&format!("/environments/{env}/roles"));
    let app = admin.application_named(&env, app_name).expect("app exists");
    let id = app["id"].as_str().unwrap();
    let body = admin.get(&format!(
        "/environments/{env}/applications/{id}/roleAssignments"
    ));
    let mut grants: Vec<_> = body["_embedded"]["roleAssignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let name = roles["_embedded"]["roles"]
                .as_array()
                .unwrap()
                .iter()
                .find(|role| role["id"] == a["role"]["id"])
                .map(|role| role["name"].as_str().unwrap().to_owned())
                .unwrap_or_default();
            (
                name,
                a["scope"]["type"].as_str().unwrap().to_owned(),
                a["scope"]["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    grants.sort();
    grants
}

const CUSTOM_ROLE_SCRIPT: &str = r#"
    let role = custom_role(#{
        name: "Reader Role",
        description: "Reads users",
        permissions: ["Identity Data Read Only"],
        applicable_to: ["ENVIRONMENT"],
        can_be_assigned_by: ["Organization Admin"],
    });
    let app = create_app(#{ name: "Reader" });
    grant_role(app, role, environment());
    #{
        role: role,
        same: role_permissions(role) == role_permissions("Identity Data Read Only"),
        held: role_assignments(app).map(|a| a.role),
    }
"#;

#[test]
fn custom_role_is_created_granted_by_name_and_a_rerun_changes_nothing() {
    let emulator = emulator(1);
    let report = converges(&emulator, CUSTOM_ROLE_SCRIPT);
    assert_eq!(report["outputs"]["role"], "Reader Role");
    assert_eq!(report["outputs"]["same"], true);
    assert_eq!(report["outputs"]["held"], json!(["Reader Role"]));
    let admin = Admin::new(&emulator);
    let role = custom_role_named(&admin, "Reader Role").expect("role created");
    assert_eq!(role["description"], "Reads users");
    assert_eq!(role["applicableTo"], json!(["ENVIRONMENT"]));
    let env = admin.environment_id.clone();
    assert_eq!(
        grants(&admin, "Reader"),
        vec![("Reader Role".into(), "ENVIRONMENT".into(), env)]
    );
}

#[test]
fn custom_role_updates_an_adopted_role_only_where_it_differs() {
    let emulator = emulator(1);
    apply(&emulator, CUSTOM_ROLE_SCRIPT);
    let admin = Admin::new(&emulator);
    let id = custom_role_named(&admin, "Reader Role").unwrap()["id"].clone();
    let changed = CUSTOM_ROLE_SCRIPT.replace("\"Reads users\"", "\"Reads users, v2\"");
    let report = apply(&emulator, &changed);
    let changes = report["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{report}");
    assert_eq!(changes[0]["action"], "update");
    assert_eq!(changes[0]["resource"], "custom_role");
    let role = custom_role_named(&admin, "Reader Role").unwrap();
    assert_eq!(role["id"], id, "the role was adopted, not replaced");
    assert_eq!(role["description"], "Reads users, v2");
}

#[test]
fn custom_role_refuses_an_unknown_permission_before_writing() {
    let emulator = emulator(1);
    Test::new()
        .config_for(&emulator)
        .file(
            "recipe.rhai",
            r#"create_app(#{ name: "X" }); custom_role(#{ name: "Bad", permissions: ["users:read:nonsense"] });"#,
        )
        .args(["apply", "recipe.rhai"])
        .run()
        .failure()
        .stderr_has(&[
            "custom_role: unknown permission or role \"users:read:nonsense\"",
            "role_permissions",
        ]);
    let admin = Admin::new(&emulator);
    assert!(custom_role_named(&admin, "Bad").is_none());
    assert!(
        admin
            .application_named(&admin.environment_id.clone(), "X")
            .is_none()
    );
}

/// The id of a built-in role.
fn built_in_role_id(admin: &Admin, name: &str) -> String {
    admin.get("/roles")["_embedded"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|role| role["name"] == name)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

const SET_ROLES_SCRIPT: &str = r#"
    let app = create_app(#{ name: "Exact" });
    set_roles(app, ["Identity Data Admin@environment", ["Configuration Read Only", environment()]]);
    role_assignments(app).map(|a| a.role)
"#;

#[test]
fn set_roles_removes_a_stray_grant_made_by_hand_and_then_changes_nothing() {
    let emulator = emulator(1);
    apply(&emulator, SET_ROLES_SCRIPT);
    let admin = Admin::new(&emulator);
    let env = admin.environment_id.clone();
    let app_id = admin.application_named(&env, "Exact").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = admin.call(
        "POST",
        &format!("/environments/{env}/applications/{app_id}/roleAssignments"),
        Some(json!({
            "role": { "id": built_in_role_id(&admin, "Environment Admin") },
            "scope": { "type": "ENVIRONMENT", "id": env },
        })),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(grants(&admin, "Exact").len(), 3);

    let report = converges(&emulator, SET_ROLES_SCRIPT);
    let changes = report["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{report}");
    assert_eq!(changes[0]["action"], "revoke");
    assert!(
        changes[0]["detail"]
            .as_str()
            .unwrap()
            .contains("Environment Admin")
    );
    assert_eq!(
        report["outputs"],
        json!(["Configuration Read Only", "Identity Data Admin"])
    );
    assert_eq!(
        grants(&admin, "Exact"),
        vec![
            (
                "Configuration Read Only".into(),
                "ENVIRONMENT".into(),
                env.clone()
            ),
            ("Identity Data Admin".into(), "ENVIRONMENT".into(), env),
        ]
    );
}

fn run_recipe(emulator: &Emulator, command: &str, args: &[&str]) -> crate::kit::Output {
    Test::new()
        .config_for(emulator)
        .args([command, "authorize-worker-custom-role"])
        .args(args.iter().copied())
        .run()
}

#[test]
fn authorize_worker_custom_role_plans_applies_and_reruns_with_no_writes() {
    let emulator = emulator(1);
    let plan = run_recipe(&emulator, "plan", &[]).status(2);
    assert!(
        plan.stdout
            .contains("create custom role \"PingOne Authorize Worker Role\""),
        "{}",
        plan.stdout
    );
    let before = emulator.requests().len();
    run_recipe(
        &emulator,
        "apply",
        &["--var", "auth_method=CLIENT_SECRET_POST"],
    )
    .success();
    // The apply pass reuses the plan pass's reads: the role list is asked for once.
    let role_lists = emulator.requests()[before..]
        .iter()
        .filter(|r| {
            r.method == "GET" && r.path.ends_with("/roles") && r.path.contains("/environments/")
        })
        .count();
    assert_eq!(role_lists, 1);
    let admin = Admin::new(&emulator);
    let env = admin.environment_id.clone();
    let role = custom_role_named(&admin, "PingOne Authorize Worker Role").expect("custom role");
    assert_eq!(role["applicableTo"], json!(["ENVIRONMENT"]));
    // Every permission of the two built-in roles, as the role list gives them.
    let listed = admin.get(&format!("/environments/{env}/roles"));
    let mut expected: Vec<String> = listed["_embedded"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["name"] == "Identity Data Admin" || r["name"] == "Environment Admin")
        .flat_map(|r| r["permissions"].as_array().unwrap().clone())
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    expected.sort();
    expected.dedup();
    let mut held: Vec<String> = role["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    held.sort();
    assert_eq!(held, expected);
    let app = admin
        .application_named(&env, "PingOne Authorize Worker")
        .unwrap();
    assert_eq!(app["enabled"], true);
    assert_eq!(app["tokenEndpointAuthMethod"], "CLIENT_SECRET_POST");
    assert_eq!(
        grants(&admin, "PingOne Authorize Worker"),
        vec![(
            "PingOne Authorize Worker Role".into(),
            "ENVIRONMENT".into(),
            env
        )]
    );
    let before = writes(&emulator).len();
    run_recipe(
        &emulator,
        "plan",
        &["--var", "auth_method=CLIENT_SECRET_POST"],
    )
    .success();
    let rerun = run_recipe(
        &emulator,
        "apply",
        &[
            "--var",
            "auth_method=CLIENT_SECRET_POST",
            "--output",
            "json",
        ],
    )
    .success();
    assert_eq!(rerun.json()["changes"], json!([]), "{}", rerun.stdout);
    assert_eq!(writes(&emulator)[before..], [] as [String; 0]);
}

#[test]
fn authorize_worker_custom_role_rolls_back_the_role_and_the_app() {
    let emulator = emulator_refusing("/secret");
    let recipe = format!(
        "{}\nlet app = find_app(\"PingOne Authorize Worker\");\nrotate_secret(app, 60);\n",
        p1run::recipes::find("authorize-worker-custom-role")
            .unwrap()
            .source
            .replace("worker::summary(app)", "")
    );
    let output = Test::new()
        .config_for(&emulator)
        .file("recipe.rhai", &recipe)
        .args(["apply", "recipe.rhai", "--rollback-on-failure"])
        .run()
        .failure()
        .stderr_has(&["rotate_secret: ", "rolled back"]);
    let admin = Admin::new(&emulator);
    assert!(
        custom_role_named(&admin, "PingOne Authorize Worker Role").is_none(),
        "{}",
        output.stderr
    );
    assert!(
        admin
            .application_named(&admin.environment_id.clone(), "PingOne Authorize Worker")
            .is_none(),
        "{}",
        output.stderr
    );
}

#[test]
fn a_custom_role_the_actor_may_not_assign_is_refused_by_the_pre_flight() {
    let emulator = emulator(1);
    // Nobody named in canBeAssignedBy, and the acting worker does not hold the new role.
    Test::new()
        .config_for(&emulator)
        .file(
            "recipe.rhai",
            r#"
            let role = custom_role(#{ name: "Unassignable", permissions: ["Identity Data Read Only"] });
            let app = create_app(#{ name: "Y" });
            grant_role(app, role, environment());
            "#,
        )
        .args(["apply", "recipe.rhai"])
        .run()
        .failure()
        .stderr_has(&[
            "pre-flight",
            "\"Unassignable\" at ENVIRONMENT",
            "canBeAssignedBy",
        ]);
    let admin = Admin::new(&emulator);
    assert!(custom_role_named(&admin, "Unassignable").is_none());
}

#[test]
fn worker_app_exclusive_makes_the_roles_exactly_the_list() {
    let emulator = emulator(1);
    let run = |roles: &str, exclusive: bool| {
        Test::new()
            .config_for(&emulator)
            .args(["apply", "worker-app", "--var", roles])
            .args(["--var", &format!("exclusive={exclusive}")])
            .run()
            .success()
    };
    run(
        "roles=Identity Data Admin@environment,Configuration Read Only@environment",
        false,
    );
    run("roles=Identity Data Admin@environment", false);
    let admin = Admin::new(&emulator);
    assert_eq!(grants(&admin, "Automation Worker").len(), 2, "adding keeps");
    run("roles=Identity Data Admin@environment", true);
    let env = admin.environment_id.clone();
    assert_eq!(
        grants(&admin, "Automation Worker"),
        vec![("Identity Data Admin".into(), "ENVIRONMENT".into(), env)]
    );
}

#[test]
fn team_roles_example_keeps_one_worker_per_listed_team() {
    let emulator = emulator(1);
    let source = std::fs::read_to_string(format!(
        "{}/examples/team-roles.rhai",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let run = |teams: &str| {
        Test::new()
            .config_for(&emulator)
            .file("team-roles.rhai", &source)
            .args([
                "apply",
                "team-roles.rhai",
                "--var",
                teams,
                "--output",
                "json",
            ])
            .run()
            .success()
            .json()
    };
    run("teams=red,blue");
    assert_eq!(run("teams=red,blue")["changes"], json!([]), "rerun");
    let dropped = run("teams=red");
    assert_eq!(dropped["outputs"]["removed"], json!(["team-blue"]));
    let admin = Admin::new(&emulator);
    let env = admin.environment_id.clone();
    assert!(admin.application_named(&env, "team-blue").is_none());
    assert_eq!(
        grants(&admin, "team-red"),
        vec![("team-red role".into(), "ENVIRONMENT".into(), env)]
    );
}

#[test]
fn the_pre_flight_refuses_a_custom_role_the_acting_worker_may_not_create() {
    let emulator = emulator(1);
    // A deputy worker with Environment Admin on the environment: it reads custom roles but
    // may not create them.
    Test::new()
        .config_for(&emulator)
        .args(["apply", "worker-app", "--var", "name=Deputy"])
        .args(["--var", "roles=Environment Admin@environment"])
        .run()
        .success();
    let admin = Admin::new(&emulator);
    let env = admin.environment_id.clone();
    let deputy = admin.application_named(&env, "Deputy").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret = admin.secret(&env, &deputy);
    let config = crate::kit::config_text(&emulator).replace(&emulator.info().client_id, &deputy);
    let before = writes(&emulator).len();
    Test::new()
        .file("p1run.toml", &config)
        .env(crate::kit::SECRET_VAR, &secret)
        .args(["apply", "authorize-worker-custom-role"])
        .run()
        .failure()
        .stderr_has(&[
            "pre-flight",
            "create custom role \"PingOne Authorize Worker Role\"",
            "lacks permissions:create:customRoles",
            "nothing was",
        ]);
    assert_eq!(writes(&emulator)[before..], [] as [String; 0]);
}

#[test]
fn a_custom_role_outside_its_scope_types_is_refused_before_writing() {
    let emulator = emulator(1);
    Test::new()
        .config_for(&emulator)
        .file(
            "recipe.rhai",
            r#"let role = custom_role(#{ name: "Env Only", permissions: ["Identity Data Read Only"], applicable_to: ["ENVIRONMENT"] });
let app = create_app(#{ name: "Y" });
grant_role(app, role, organization());
"#,
        )
        .args(["plan", "recipe.rhai"])
        .run()
        .status(1)
        .stderr_has(&[
            "recipe.rhai:3:1",
            "\"Env Only\" cannot be granted at ORGANIZATION scope; it accepts ENVIRONMENT",
        ]);
    assert!(writes(&emulator).is_empty());
}
