//! `p1run test`: the bundled recipes' own tests pass through the real binary, and a failing
//! test exits 1 naming its line.

use crate::kit::Test;

fn scripts_tests() -> String {
    format!("{}/scripts/tests", env!("CARGO_MANIFEST_DIR"))
}

/// The `fn test_…()` functions under scripts/tests, counted from the files.
fn bundled_test_count() -> usize {
    std::fs::read_dir(scripts_tests())
        .expect("scripts/tests")
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".test.rhai"))
        .map(|entry| {
            let text = std::fs::read_to_string(entry.path()).expect("test file");
            text.lines()
                .filter(|line| line.starts_with("fn test_"))
                .count()
        })
        .sum()
}

#[test]
fn every_bundled_recipe_has_tests_and_they_pass() {
    let recipes: Vec<&str> = p1run::recipes::RECIPES.iter().map(|r| r.name).collect();
    for recipe in &recipes {
        let path = format!("{}/{recipe}.test.rhai", scripts_tests());
        assert!(
            std::path::Path::new(&path).is_file(),
            "{recipe} has no {path}"
        );
    }
    let count = bundled_test_count();
    let output = Test::new()
        .args(["test", &scripts_tests(), "--junit", "junit.xml"])
        .run()
        .success();
    let last = output.stdout.lines().last().unwrap_or_default();
    assert_eq!(
        last,
        format!("{count} passed, 0 failed"),
        "{}",
        output.stdout
    );
    assert_eq!(
        output.stdout.matches(" ... ok").count(),
        count,
        "{}",
        output.stdout
    );
    let junit = std::fs::read_to_string(output.path("junit.xml")).expect("junit report");
    assert!(junit.starts_with("<?xml"), "{junit}");
    assert!(
        junit.contains(&format!("tests=\"{count}\" failures=\"0\"")),
        "{junit}"
    );
}

#[test]
fn a_failing_test_exits_1_and_names_its_line() {
    let output = Test::new()
        .file(
            "teams.rhai",
            r#"
            let app = create_app(#{ name: "team-red", description: "" });
            grant_role(app, "Identity Data Read Only", environment());
            app.id
            "#,
        )
        .file(
            "teams.test.rhai",
            r#"
            fn test_good() {
                apply("teams.rhai", #{});
                assert_eq(apps()[0].roles, ["Identity Data Read Only @ ENVIRONMENT"]);
            }

            fn test_bad() {
                apply("teams.rhai", #{});
                assert_eq(apps()[0].enabled, true);
            }

            fn test_recipe_error() {
                apply("missing.rhai", #{});
            }
            "#,
        )
        .args(["test"])
        .run()
        .failure();
    let stdout = &output.stdout;
    for fragment in [
        "test teams.test.rhai::test_good ... ok",
        "test teams.test.rhai::test_bad ... FAILED",
        "teams.test.rhai:8:5: assert_eq failed",
        "actual:   false",
        "expected: true",
        "teams.test.rhai:12:5: ",
        "paths are relative to the test file's folder, .)",
        "no recipe",
    ] {
        assert!(
            stdout.contains(fragment),
            "stdout lacks {fragment:?}:\n{stdout}"
        );
    }
    assert_eq!(
        stdout.lines().last(),
        Some("1 passed, 2 failed"),
        "{stdout}"
    );
}

#[test]
fn json_output_and_test_helpers() {
    let output = Test::new()
        .file(
            "tests/helpers.test.rhai",
            r#"
            fn test_given_app_and_vars() {
                given_app(#{ name: "Legacy", roles: ["Identity Data Admin @ environment"], enabled: true,
                             auth_method: "CLIENT_SECRET_POST" });
                assert_eq(apps(), [#{ name: "Legacy", type: "WORKER", enabled: true,
                                      auth_method: "CLIENT_SECRET_POST",
                                      roles: ["Identity Data Admin @ ENVIRONMENT"] }]);
                let out = apply("worker-app", #{ name: "New", roles: ["Environment Admin@organization"], enabled: false });
                assert_eq(out.enabled, false);
                assert_eq(apps().map(|a| a.name), ["Legacy", "New"]);
            }

            fn test_expect_error_fails_when_nothing_is_thrown() {
                expect_error(|| plan("authorize-worker", #{}), "anything");
            }
            "#,
        )
        // No path: tests/ in the current folder.
        .args(["test", "--output", "json"])
        .run()
        .failure();
    let document = output.json();
    assert_eq!(document["passed"], 1, "{document}");
    assert_eq!(document["failed"], 1, "{document}");
    let failure = document["tests"][0]["failure"].as_str().unwrap_or_default();
    assert!(
        failure.contains("expected an error containing \"anything\""),
        "{document}"
    );
}

#[test]
fn no_test_files_is_an_error() {
    Test::new()
        .file("recipe.rhai", "1")
        .args(["test"])
        .run()
        .failure()
        .stderr_has(&["no *.test.rhai files under ."]);
}

#[test]
fn test_functions_are_listed_with_their_docs() {
    let output = Test::new().args(["test", "--functions"]).run().success();
    for name in [
        "apply(",
        "plan(",
        "apps()",
        "given_app(",
        "faults(",
        "temp_path(",
        "assert(",
        "assert_eq(",
        "expect_error(",
    ] {
        assert!(
            output.stdout.contains(name),
            "{name} missing:\n{}",
            output.stdout
        );
    }
}
