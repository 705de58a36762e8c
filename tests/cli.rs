//! The listing commands and the run report.

use crate::kit::{Test, emulator};
use serde_json::Value;

#[test]
fn recipes_lists_every_bundled_recipe_with_its_params() {
    let output = Test::new().args(["recipes"]).run().success();
    for recipe in p1run::recipes::RECIPES {
        assert!(
            output.stdout.contains(recipe.name),
            "{} missing:\n{}",
            recipe.name,
            output.stdout
        );
    }
    assert!(
        output
            .stdout
            .contains("--var env_admin_scope=…  (default \"organization\")"),
        "{}",
        output.stdout
    );
}

#[test]
fn primitives_lists_signatures_and_docs() {
    let output = Test::new().args(["primitives"]).run().success();
    for signature in [
        "create_app(spec: Map) -> App",
        "grant_role(app: App, role: String, scope: Scope) -> App",
        "set_auth_method(app: App, method: String) -> App",
        "enable(app: App) -> App",
        "param(name: String, default: ?) -> ?",
        "app_secret(app: App) -> Secret",
    ] {
        assert!(
            output.stdout.contains(signature),
            "{signature} missing:\n{}",
            output.stdout
        );
    }
}

#[test]
fn the_report_records_each_change_with_its_request() {
    let emulator = emulator(1);
    let output = Test::new()
        .config_for(&emulator)
        .args(["apply", "authorize-worker", "--report", "r.json"])
        .run()
        .success();
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(output.path("r.json")).unwrap()).unwrap();
    assert_eq!(report["p1run_report"], 1);
    assert_eq!(report["status"], "succeeded");
    let changes = report["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 4);
    assert!(
        changes[0]["request"]
            .as_str()
            .unwrap()
            .starts_with("POST /environments/")
    );
    assert!(
        changes
            .iter()
            .all(|c| c["outcome"] == "succeeded" && c["duration_ms"].is_u64())
    );
}

#[test]
fn a_failed_run_still_writes_its_report() {
    let emulator = emulator(1);
    let output = Test::new()
        .config_for(&emulator)
        .file("bad.rhai", "let app = create_app(#{ name: \"x\" });\ngrant_role(app, \"Organization Admin\", organization());\n")
        .args(["apply", "bad.rhai", "--report", "r.json"])
        .run()
        .failure();
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(output.path("r.json")).unwrap()).unwrap();
    assert_eq!(report["status"], "failed");
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .contains("Organization Admin"),
        "{report}"
    );
}
