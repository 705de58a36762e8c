//! The custom role, population and exact-role-set primitives, and the
//! `authorize-worker-custom-role` recipe, over real HTTP against the emulator. State is read
//! back with `Admin`, independently of p1run's own client.

use crate::harness::{Admin, Test, emulator};
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
