//! The example recipes in `examples/` do what they say.

use crate::kit::{Admin, Test, emulator};
use serde_json::json;

fn example(name: &str) -> String {
    std::fs::read_to_string(format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR")))
        .expect("example")
}

#[test]
fn team_workers_makes_one_worker_per_team() {
    let emulator = emulator(1);
    let run = || {
        Test::new()
            .config_for(&emulator)
            .file("team-workers.rhai", &example("team-workers.rhai"))
            .args([
                "apply",
                "team-workers.rhai",
                "--var",
                "teams=red,blue",
                "--output",
                "json",
            ])
            .run()
            .success()
    };
    let first = run().json();
    assert_eq!(first["changes"].as_array().unwrap().len(), 6, "{first}");
    assert_eq!(
        run().json()["changes"],
        json!([]),
        "a rerun changes nothing"
    );
    let admin = Admin::new(&emulator);
    let env = admin.environment_id.clone();
    for team in ["red", "blue"] {
        let app = admin
            .application_named(&env, &format!("team-{team}"))
            .expect("team worker");
        assert_eq!(app["enabled"], true);
        assert_eq!(first["outputs"][team], app["id"]);
        let grants = admin.grants(&env, app["id"].as_str().unwrap());
        assert_eq!(
            grants,
            vec![(
                "Identity Data Read Only".into(),
                "ENVIRONMENT".into(),
                env.clone()
            )]
        );
    }
}

#[test]
fn replace_legacy_worker_branches_on_what_exists() {
    let emulator = emulator(1);
    let run = |vars: &[&str]| {
        let mut args = vec!["apply", "replace-legacy-worker.rhai", "--output", "json"];
        for var in vars {
            args.extend(["--var", var]);
        }
        Test::new()
            .config_for(&emulator)
            .file(
                "replace-legacy-worker.rhai",
                &example("replace-legacy-worker.rhai"),
            )
            .args(args)
            .run()
            .success()
            .json()
    };
    assert_eq!(run(&[])["outputs"]["legacy"], "absent");

    let admin = Admin::new(&emulator);
    let env = admin.environment_id.clone();
    Test::new()
        .config_for(&emulator)
        .args(["apply", "worker-app", "--var", "name=Legacy Worker"])
        .run()
        .success();
    assert_eq!(run(&[])["outputs"]["legacy"], "disabled");
    assert_eq!(
        admin.application_named(&env, "Legacy Worker").unwrap()["enabled"],
        false
    );
    assert_eq!(run(&["delete_legacy=true"])["outputs"]["legacy"], "deleted");
    assert!(admin.application_named(&env, "Legacy Worker").is_none());
    assert_eq!(
        admin
            .application_named(&env, "Least Privilege Worker")
            .unwrap()["enabled"],
        true
    );
}
