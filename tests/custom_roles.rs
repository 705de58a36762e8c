//! The custom role, population and exact-role-set primitives, and the
//! `authorize-worker-custom-role` recipe, over real HTTP against the emulator. State is read
//! back with `Admin`, independently of p1run's own client.

use crate::harness::{Test, emulator};
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
