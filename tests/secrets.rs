//! No client secret or access token ever reaches stdout, stderr or the logs, even at the most
//! verbose level.

use crate::harness::{Test, emulator};

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
