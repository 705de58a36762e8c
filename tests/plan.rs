//! `p1run plan`: reads live, writes nothing, shows the changes; exit codes for drift checks;
//! saved plans applied exactly or refused when stale.

use crate::kit::{Admin, Test, emulator};
use p1run::emulator::Emulator;
use serde_json::json;

const WORKER: &str = "PingOne Authorize Worker";

/// Every bundled recipe, with the vars a plan of it needs.
const RECIPES: &[(&str, &[&str])] = &[
    ("authorize-worker", &[]),
    ("authorize-worker-http-service", &[]),
    ("authorize-worker-env-scoped", &[]),
    ("authorize-worker-custom-role", &[]),
    (
        "worker-app",
        &["roles=Identity Data Admin@environment,Environment Admin@organization"],
    ),
    ("remove-worker", &[]),
    ("rotate-worker-secret", &["out=worker.secret"]),
];

fn args(command: &str, recipe: &str, vars: &[&str]) -> Vec<String> {
    let mut args = vec![command.to_owned(), recipe.to_owned()];
    for var in vars {
        args.extend(["--var".to_owned(), (*var).to_owned()]);
    }
    args
}

fn writes(emulator: &Emulator) -> Vec<String> {
    emulator
        .requests()
        .into_iter()
        .filter(|r| !r.path.ends_with("/as/token"))
        .filter(|r| matches!(r.method.as_str(), "POST" | "PUT" | "DELETE"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// Plan text with the emulator's random ids replaced, for snapshots.
fn redact(text: &str, emulator: &Emulator) -> String {
    let info = emulator.info();
    let mut text = text
        .replace(&info.environment_id, "<env>")
        .replace(&info.organization_id, "<org>");
    for env in &info.environments {
        text = text.replace(&env.id, &format!("<{}>", env.name));
    }
    text
}

#[test]
fn plan_sends_no_write_for_any_recipe_fresh_or_provisioned() {
    for (recipe, vars) in RECIPES {
        let emulator = emulator(1);
        for provisioned in [false, true] {
            if provisioned {
                Test::new()
                    .config_for(&emulator)
                    .args(["apply", "authorize-worker"])
                    .run()
                    .success();
            }
            let before = writes(&emulator).len();
            let output = Test::new()
                .config_for(&emulator)
                .args(args("plan", recipe, vars))
                .run();
            // Rotating the secret of a worker that does not exist yet is an error, not a plan.
            let expected: &[i32] = if *recipe == "rotate-worker-secret" && !provisioned {
                &[1]
            } else {
                &[0, 2]
            };
            assert!(
                output.code.is_some_and(|code| expected.contains(&code)),
                "{recipe}: {}",
                output.stderr
            );
            let after = writes(&emulator);
            assert_eq!(
                after.len(),
                before,
                "{recipe} (provisioned: {provisioned}) wrote: {:?}",
                &after[before..]
            );
            let state = if provisioned { "provisioned" } else { "fresh" };
            let shown = if output.code == Some(1) {
                &output.stderr
            } else {
                &output.stdout
            };
            insta::assert_snapshot!(format!("plan_{recipe}_{state}"), redact(shown, &emulator));
        }
    }
}

#[test]
fn plan_exit_code_is_a_drift_check() {
    let emulator = emulator(1);
    Test::new()
        .config_for(&emulator)
        .args(["plan", "authorize-worker"])
        .run()
        .status(2);
    Test::new()
        .config_for(&emulator)
        .args(["apply", "authorize-worker"])
        .run()
        .success();
    Test::new()
        .config_for(&emulator)
        .args(["plan", "authorize-worker"])
        .run()
        .status(0)
        .stdout_has(&["no changes"]);

    // Someone disables the worker behind the tool's back.
    let admin = Admin::new(&emulator);
    let env = admin.environment_id.clone();
    let app = admin.application_named(&env, WORKER).unwrap();
    admin.set_field(&env, app["id"].as_str().unwrap(), "enabled", json!(false));
    Test::new()
        .config_for(&emulator)
        .args(["plan", "authorize-worker"])
        .run()
        .status(2)
        .stdout_has(&["~ enable \"PingOne Authorize Worker\"", "1 change pending"]);
}

#[test]
fn plan_json_lists_the_changes_as_data() {
    let emulator = emulator(1);
    let output = Test::new()
        .config_for(&emulator)
        .args(["plan", "authorize-worker-http-service", "--output", "json"])
        .run()
        .status(2);
    let plan = output.json();
    assert_eq!(plan["status"], "planned");
    let changes = plan["changes"].as_array().unwrap();
    let lines: Vec<String> = changes
        .iter()
        .map(|c| c["detail"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        lines[0],
        "create application \"PingOne Authorize Worker\" (WORKER)"
    );
    assert_eq!(changes[0]["id"], "(known after apply)");
    assert!(
        lines[3].starts_with("tokenEndpointAuthMethod CLIENT_SECRET_BASIC -> CLIENT_SECRET_POST"),
        "{lines:?}"
    );
    assert_eq!(lines[4], "enable \"PingOne Authorize Worker\"");
}

#[test]
fn apply_of_a_saved_plan_makes_exactly_the_planned_writes() {
    let emulator = emulator(1);
    let planned = Test::new()
        .config_for(&emulator)
        .args([
            "plan",
            "authorize-worker",
            "--out",
            "plan.json",
            "--output",
            "json",
        ])
        .run()
        .status(2);
    let plan_changes = planned.json()["changes"].as_array().unwrap().len();
    let plan_text = std::fs::read_to_string(planned.path("plan.json")).unwrap();

    let before = writes(&emulator).len();
    let applied = Test::new()
        .config_for(&emulator)
        .file("plan.json", &plan_text)
        .args(["apply", "--plan", "plan.json", "--output", "json"])
        .run()
        .success();
    let report = applied.json();
    assert_eq!(report["changes"].as_array().unwrap().len(), plan_changes);
    // One request per planned write, except the enable, which rides on the create's body.
    assert_eq!(
        writes(&emulator).len() - before,
        plan_changes - 1,
        "{:?}",
        &writes(&emulator)[before..]
    );
    let admin = Admin::new(&emulator);
    assert_eq!(
        admin
            .application_named(&admin.environment_id, WORKER)
            .unwrap()["enabled"],
        true
    );
}

#[test]
fn a_stale_plan_is_refused_without_writing() {
    let emulator = emulator(1);
    let planned = Test::new()
        .config_for(&emulator)
        .args(["plan", "authorize-worker", "--out", "plan.json"])
        .run()
        .status(2);
    let plan_text = std::fs::read_to_string(planned.path("plan.json")).unwrap();
    // The live state moves on: the worker gets created by someone else.
    Test::new()
        .config_for(&emulator)
        .args(["apply", "authorize-worker"])
        .run()
        .success();

    let before = writes(&emulator).len();
    Test::new()
        .config_for(&emulator)
        .file("plan.json", &plan_text)
        .args(["apply", "--plan", "plan.json"])
        .run()
        .failure()
        .stderr_has(&[
            "the plan is stale",
            "+ create application \"PingOne Authorize Worker\"",
            "(no changes)",
            "p1run plan",
        ]);
    assert_eq!(writes(&emulator).len(), before);
}

#[test]
fn two_new_applications_in_one_plan_keep_their_own_grants() {
    let emulator = emulator(1);
    let script = "let a = create_app(#{ name: \"A\" });\nlet b = create_app(#{ name: \"B\" });\n\
                  grant_role(a, \"Identity Data Admin\", environment());\n\
                  grant_role(b, \"Identity Data Admin\", environment());\n";
    let plan = Test::new()
        .config_for(&emulator)
        .file("two.rhai", script)
        .args(["plan", "two.rhai", "--output", "json"])
        .run()
        .status(2);
    assert_eq!(plan.actions(), ["create", "create", "grant", "grant"]);
    let applied = Test::new()
        .config_for(&emulator)
        .file("two.rhai", script)
        .args(["apply", "two.rhai", "--output", "json"])
        .run()
        .success();
    assert_eq!(applied.actions(), ["create", "create", "grant", "grant"]);
    let admin = Admin::new(&emulator);
    let env = admin.environment_id.clone();
    for name in ["A", "B"] {
        let app = admin.application_named(&env, name).unwrap();
        assert_eq!(
            admin.grants(&env, app["id"].as_str().unwrap()),
            [(
                "Identity Data Admin".to_owned(),
                "ENVIRONMENT".to_owned(),
                env.clone()
            )],
            "{name} holds its own grant"
        );
    }
}

#[test]
fn a_scope_swap_revokes_before_it_grants() {
    let emulator = emulator(1);
    Test::new()
        .config_for(&emulator)
        .args(["apply", "authorize-worker"])
        .run()
        .success();
    let swap = "let app = find_app(\"PingOne Authorize Worker\");\n\
                revoke_role(app, \"Environment Admin\", organization());\n\
                grant_role(app, \"Environment Admin\", environment());\n";
    let output = Test::new()
        .config_for(&emulator)
        .file("swap.rhai", swap)
        .args(["apply", "swap.rhai", "--output", "json"])
        .run()
        .success();
    assert_eq!(output.actions(), ["revoke", "grant"]);
    let admin = Admin::new(&emulator);
    let env = admin.environment_id.clone();
    let app = admin.application_named(&env, WORKER).unwrap();
    let grants = admin.grants(&env, app["id"].as_str().unwrap());
    assert!(
        grants.contains(&(
            "Environment Admin".into(),
            "ENVIRONMENT".into(),
            env.clone()
        )),
        "{grants:?}"
    );
}

#[test]
fn a_saved_plan_carries_the_files_its_script_imports() {
    let emulator = emulator(1);
    let recipe = "import \"naming\" as naming;\ncreate_app(#{ name: naming::worker_name() });\n";
    let planned = Test::new()
        .config_for(&emulator)
        .file("naming.rhai", "fn worker_name() { \"reviewed\" }\n")
        .file("recipe.rhai", recipe)
        .args(["plan", "recipe.rhai", "--out", "plan.json"])
        .run()
        .status(2);
    let plan = std::fs::read_to_string(planned.path("plan.json")).unwrap();
    // The imported file changes after the review; the apply runs what was reviewed.
    Test::new()
        .config_for(&emulator)
        .file("naming.rhai", "fn worker_name() { \"changed later\" }\n")
        .file("recipe.rhai", recipe)
        .file("plan.json", &plan)
        .args(["apply", "--plan", "plan.json"])
        .run()
        .success();
    let admin = Admin::new(&emulator);
    assert!(
        admin
            .application_named(&admin.environment_id, "reviewed")
            .is_some()
    );
    assert!(
        admin
            .application_named(&admin.environment_id, "changed later")
            .is_none()
    );
}
