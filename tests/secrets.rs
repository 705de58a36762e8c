//! No client secret or access token ever reaches stdout, stderr or the logs, even at the most
//! verbose level.

use crate::kit::{Test, emulator};

#[test]
fn no_secret_or_token_in_any_output_even_at_trace() {
    let emulator = emulator(1);
    let runs = [
        Test::new().config_for(&emulator).args(["apply", "authorize-worker-http-service", "-vvv"]).env("RUST_LOG", "trace").run(),
        Test::new().config_for(&emulator).args(["apply", "authorize-worker", "-vvv", "--output", "json"]).run(),
        // A failing run prints errors too.
        Test::new()
            .config_for(&emulator)
            .file("fail.rhai", "let app = create_app(#{ name: \"x\" });\ngrant_role(app, \"Organization Admin\", organization());\n")
            .args(["apply", "fail.rhai", "-vvv"])
            .env("RUST_LOG", "trace")
            .run(),
    ];
    let secret = &emulator.info().client_secret;
    let tokens = emulator.issued_tokens();
    assert!(!tokens.is_empty(), "the runs must have fetched tokens");
    for run in &runs {
        assert!(
            run.stderr.contains("TRACE") || run.stderr.contains("DEBUG"),
            "logging was not verbose:\n{}",
            run.stderr
        );
        for output in [&run.stdout, &run.stderr] {
            assert!(
                !output.contains(secret.as_str()),
                "client secret leaked:\n{output}"
            );
            for token in &tokens {
                assert!(
                    !output.contains(token.as_str()),
                    "access token leaked:\n{output}"
                );
            }
        }
    }
}

#[test]
fn a_rotated_secret_reaches_only_its_0600_file() {
    use std::os::unix::fs::PermissionsExt;
    let emulator = emulator(1);
    Test::new()
        .config_for(&emulator)
        .args(["apply", "authorize-worker"])
        .run()
        .success();
    let plan = Test::new()
        .config_for(&emulator)
        .args([
            "plan",
            "rotate-worker-secret",
            "--var",
            "out=w.secret",
            "--report",
            "plan-report.json",
        ])
        .run()
        .status(2)
        .stdout_has(&[
            "~ rotate secret of \"PingOne Authorize Worker\"",
            "+ write secret of \"PingOne Authorize Worker\" to w.secret",
        ]);
    let applied = Test::new()
        .config_for(&emulator)
        .args([
            "apply",
            "rotate-worker-secret",
            "--var",
            "out=w.secret",
            "--report",
            "report.json",
            "-vvv",
            "--output",
            "json",
        ])
        .env("RUST_LOG", "trace")
        .run()
        .success();

    let admin = crate::kit::Admin::new(&emulator);
    let env = admin.environment_id.clone();
    let app = admin
        .application_named(&env, "PingOne Authorize Worker")
        .unwrap();
    let secret = admin.secret(&env, app["id"].as_str().unwrap());
    let file = applied.path("w.secret");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        secret,
        "the file holds the new secret"
    );
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let texts = [
        plan.stdout.clone(),
        plan.stderr.clone(),
        std::fs::read_to_string(plan.path("plan-report.json")).unwrap(),
        applied.stdout.clone(),
        applied.stderr.clone(),
        std::fs::read_to_string(applied.path("report.json")).unwrap(),
    ];
    for text in &texts {
        assert!(!text.contains(&secret), "the secret leaked into:\n{text}");
    }
}

#[test]
fn scripts_see_secrets_only_as_stars() {
    let emulator = emulator(1);
    Test::new()
        .config_for(&emulator)
        .args(["apply", "authorize-worker"])
        .run()
        .success();
    let output = Test::new()
        .config_for(&emulator)
        .file("peek.rhai", "let s = app_secret(find_app(\"PingOne Authorize Worker\"));\nprint(`secret: ${s}`);\n#{ shown: `${s}`, secret: s }\n")
        .args(["apply", "peek.rhai", "-v", "--output", "json"])
        .run()
        .success();
    let report = output.json();
    assert_eq!(report["outputs"]["shown"], "***");
    assert_eq!(report["outputs"]["secret"], "***");
    assert!(output.stderr.contains("secret: ***"), "{}", output.stderr);
}
