//! The conveniences around the runs: completions, the manual page, `check`, editor
//! definitions, "did you mean", colours, script prints, fleet listings and JSON failures.

use crate::kit::{P1RUN, SECRET_VAR, Test, config_text, emulator};
use p1run::emulator::Emulator;
use serde_json::Value;
use std::process::Command;

/// A recipe that deletes the bundled worker where it exists and creates another one.
const REPLACE: &str = r#"
    let old = find_app("PingOne Authorize Worker");
    if type_of(old) != "()" {
        delete_app(old);
    }
    let app = create_app(#{ name: "replacement" });
    enable(app);
"#;

fn fleet(emulator: &Emulator) -> Test {
    Test::new()
        .file("p1run.toml", &config_text(emulator))
        .env(SECRET_VAR, &emulator.info().client_secret)
}

fn has_tool(name: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|output| output.status.success())
}

#[test]
fn completions_are_valid_scripts_for_each_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let output = Test::new().args(["completions", shell]).run().success();
        assert!(
            output.stdout.contains("p1run") && output.stdout.contains("definitions"),
            "{shell}:\n{}",
            output.stdout
        );
        if has_tool(shell) && shell != "powershell" {
            let path = output.path("completion");
            std::fs::write(&path, &output.stdout).unwrap();
            let flag = if shell == "fish" {
                "--no-execute"
            } else {
                "-n"
            };
            let status = Command::new(shell).arg(flag).arg(&path).status().unwrap();
            assert!(status.success(), "{shell} rejects its completion script");
        }
    }
    assert!(
        has_tool("bash"),
        "bash is needed to check the bash completion"
    );
    Test::new().args(["completions", "tcsh"]).run().failure();
}

#[test]
fn the_manual_page_is_roff_that_groff_renders() {
    let output = Test::new().args(["man"]).run().success();
    assert!(
        output
            .stdout
            .lines()
            .any(|line| line.starts_with(".TH p1run 1")),
        "{}",
        output.stdout
    );
    assert!(output.stdout.contains(".SH NAME"));
    if !has_tool("groff") {
        eprintln!("groff not installed: the roff is checked for its header only");
        return;
    }
    let path = output.path("p1run.1");
    std::fs::write(&path, &output.stdout).unwrap();
    let rendered = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(rendered.status.success());
    assert!(
        rendered.stderr.is_empty(),
        "groff warns: {}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    // grotty emboldens by overstriking (`c\x08c`): keep the last character of each.
    let mut text = String::new();
    for c in String::from_utf8_lossy(&rendered.stdout).chars() {
        if c == '\x08' {
            text.pop();
        } else {
            text.push(c);
        }
    }
    for word in ["completions", "check", "definitions", "--color"] {
        assert!(text.contains(word), "the page lacks {word}:\n{text}");
    }
}

#[test]
fn check_passes_every_bundled_recipe_and_example() {
    let mut args: Vec<String> = vec!["check".into()];
    args.extend(p1run::recipes::RECIPES.iter().map(|r| r.name.to_owned()));
    for example in ["team-workers", "replace-legacy-worker", "team-roles"] {
        args.push(format!(
            "{}/examples/{example}.rhai",
            env!("CARGO_MANIFEST_DIR")
        ));
    }
    let output = Test::new().args(args).run().success();
    assert!(
        output.stdout.contains(
            "worker-app: ok (params: name, description, roles, auth_method, enabled, exclusive)"
        ),
        "{}",
        output.stdout
    );
}

#[test]
fn check_finds_typos_arity_imports_syntax_and_vars_offline() {
    let output = Test::new()
        .file(
            "bad.rhai",
            r#"
            import "helpers" as h;
            import "missing" as m;
            let app = create_app(#{ name: "x" });
            grnat_role(app, "Identity Data Admin", environment());
            enable(app, true);
            h::helpr(app);
            h::helper(app);
            "#,
        )
        .file("helpers.rhai", "fn helper(app) { app.name }\n")
        // A config that would fail to load: check must not read it.
        .file("p1run.toml", "this is not toml")
        .args(["check", "bad.rhai", "--var", "nmae=x"])
        .run()
        .failure()
        .stderr_has(&[
            "bad.rhai:2:1: cannot import \"missing\"",
            "bad.rhai:4:1: unknown function grnat_role() (did you mean \"grant_role\"?)",
            "4 | grnat_role(app",
            "bad.rhai:5:1: enable() takes 1 argument(s), not 2: enable(app: App) -> App",
            "bad.rhai:6:4: unknown function h::helpr() (did you mean \"helper\"?)",
            "--var nmae: bad.rhai has no param \"nmae\"",
            "5 problem(s) in 1 recipe(s)",
        ]);
    assert!(
        !output.stderr.contains("bad.rhai:7"),
        "a good call was flagged:\n{}",
        output.stderr
    );

    Test::new()
        .file("syntax.rhai", "let x = ;\n")
        .args(["check", "syntax.rhai"])
        .run()
        .failure()
        .stderr_has(&["syntax.rhai:1:9: syntax error"]);
    Test::new()
        .args(["check", "authorise-worker"])
        .run()
        .failure()
        .stderr_has(&["did you mean \"authorize-worker\"?"]);
}

/// Turns the declarations of a `.d.rhai` file into Rhai functions with empty bodies, so that
/// a Rhai engine parses them: `fn grant_role(app: App, …) -> App;` → `fn def_grant_role(p0, …) {}`.
fn declarations_as_rhai(definitions: &str) -> (String, usize) {
    let mut code = String::new();
    let mut count = 0;
    let mut seen = std::collections::HashSet::new();
    for line in definitions.lines().map(str::trim) {
        let Some(declaration) = line.strip_prefix("fn ") else {
            assert!(
                line.is_empty()
                    || line.starts_with("//")
                    || line.starts_with("module ")
                    || line.starts_with("op ")
                    || line.starts_with("type ")
                    || line.starts_with("const ")
                    || line.starts_with("let "),
                "unexpected line in the definitions: {line}"
            );
            continue;
        };
        let (head, rest) = declaration.split_once('(').expect("a parameter list");
        let mut depth = 0usize;
        let close = rest
            .char_indices()
            .find(|&(_, c)| match c {
                '(' => {
                    depth += 1;
                    false
                }
                ')' if depth == 0 => true,
                ')' => {
                    depth -= 1;
                    false
                }
                _ => false,
            })
            .expect("a closed parameter list")
            .0;
        let params = &rest[..close];
        assert!(rest.trim_end().ends_with(';'), "unterminated: {line}");
        let name = head.trim().replace([' ', '$'], "_");
        if !name.starts_with(|c: char| c.is_alphabetic() || c == '_') {
            continue; // an operator such as `+` declared as a function
        }
        let arity = params.split(',').filter(|p| !p.trim().is_empty()).count();
        count += 1;
        // Overloads by type differ only in their types, which Rhai code does not declare.
        if !seen.insert((name.clone(), arity)) {
            continue;
        }
        let params: Vec<String> = (0..arity).map(|i| format!("p{i}")).collect();
        // Prefixed: some builtins are named after keywords (`print`), which scripts may not define.
        code.push_str(&format!("fn def_{name}({}) {{}}\n", params.join(", ")));
    }
    (code, count)
}

#[test]
fn definitions_are_written_with_docs_and_parse() {
    let output = Test::new().args(["definitions", "defs"]).run().success();
    let primitives = std::fs::read_to_string(output.path("defs/__static__.d.rhai")).unwrap();
    assert!(primitives.starts_with("module static;"), "{primitives}");
    // A primitive's Rust return type (`Result<App, Box<EvalAltResult>>`) must not leak.
    assert!(!primitives.contains("EvalAltResult"), "{primitives}");
    for (declaration, doc) in [
        (
            "fn grant_role(app: App, role: string, scope: Scope) -> App;",
            "/// Ensures the application holds the role",
        ),
        ("fn env() -> Env;", "/// The target environment"),
        (
            "fn rotate_secret(app: App, previous_expires_minutes: int, options: map) -> Secret;",
            "",
        ),
    ] {
        assert!(primitives.contains(declaration), "{declaration} missing");
        assert!(primitives.contains(doc), "{doc} missing");
    }
    let mut total = 0;
    for file in std::fs::read_dir(output.path("defs")).unwrap() {
        let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
        let (code, count) = declarations_as_rhai(&text);
        rhai::Engine::new()
            .compile(&code)
            .unwrap_or_else(|e| panic!("the definitions do not parse: {e}\n{code}"));
        total += count;
    }
    assert!(total > 100, "only {total} declarations");
}

/// Runs p1run under a pseudo-terminal (`script` from util-linux); its whole output.
fn under_pty(dir: &std::path::Path, args: &str, env: &[(&str, &str)]) -> Option<String> {
    if !has_tool("script") {
        return None;
    }
    let mut command = Command::new("script");
    command
        .current_dir(dir)
        .args(["-qec", &format!("{P1RUN} {args}"), "/dev/null"])
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .env_remove("P1RUN_CONFIG");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("script");
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn no_color_output_has_no_escape_codes_under_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let Some(coloured) = under_pty(dir.path(), "-v plan authorize-worker", &[]) else {
        eprintln!("no `script` command: the pty test is skipped");
        return;
    };
    // The control: on a terminal, plans and logs are coloured.
    assert!(
        coloured.contains("\x1b["),
        "no colour on a pty:\n{coloured}"
    );
    assert!(coloured.contains("create application"), "{coloured}");
    for (env, flags) in [
        (&[("NO_COLOR", "1")][..], "-v plan authorize-worker"),
        (&[][..], "--color never -v plan authorize-worker"),
        (&[("NO_COLOR", "1")][..], "-v plan nosuch-recipe"),
        (&[("NO_COLOR", "1")][..], "plan --bogus"),
    ] {
        let plain = under_pty(dir.path(), flags, env).unwrap();
        assert!(
            !plain.contains('\x1b'),
            "escape codes with {env:?} {flags}:\n{plain:?}"
        );
        assert!(plain.len() > 20, "{plain}");
    }
    // Off a terminal, no colour even when asked for nothing.
    Test::new()
        .args(["-v", "plan", "authorize-worker"])
        .run()
        .status(2);
}

#[test]
fn script_prints_go_to_stderr_once_prefixed_in_a_fleet_and_quiet_hides_them() {
    let recipe = "print(\"hello from the recipe\");\ndebug(\"a debug line\");\nlet app = create_app(#{ name: \"printer\" });\n";
    // An apply runs the script twice (plan, then apply): each print shows once.
    let output = Test::new()
        .file("p.rhai", recipe)
        .args(["apply", "p.rhai"])
        .run()
        .success();
    assert_eq!(
        output.stderr.matches("hello from the recipe").count(),
        1,
        "{}",
        output.stderr
    );
    assert!(
        output.stderr.contains("debug p.rhai:2: \"a debug line\"")
            || output.stderr.contains("a debug line"),
        "{}",
        output.stderr
    );
    assert!(!output.stdout.contains("hello"), "{}", output.stdout);

    let quiet = Test::new()
        .file("p.rhai", recipe)
        .args(["apply", "p.rhai", "--quiet"])
        .run()
        .success();
    assert!(!quiet.stderr.contains("hello"), "{}", quiet.stderr);

    let emulator = emulator(2);
    fleet(&emulator)
        .file("p.rhai", recipe)
        .args(["plan", "p.rhai", "--all"])
        .run()
        .status(2)
        .stderr_has(&[
            "[env-1] hello from the recipe",
            "[env-2] hello from the recipe",
        ]);
}

#[test]
fn a_fleet_plan_lists_every_change_deletions_first_in_natural_order() {
    let emulator = emulator(11);
    let env_1 = &emulator.info().environments[0].name;
    fleet(&emulator)
        .args(["apply", "authorize-worker", "--env", env_1])
        .run()
        .success();
    let output = fleet(&emulator)
        .file("replace.rhai", REPLACE)
        .args(["plan", "replace.rhai", "--all"])
        .run()
        .status(2);
    let text = &output.stdout;
    let env_lines: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("env-"))
        .map(|line| line.split_whitespace().next().unwrap())
        .collect();
    let expected: Vec<String> = (1..=11).map(|i| format!("env-{i}")).collect();
    assert_eq!(env_lines, expected, "{text}");
    // env-1: the deletion first and marked, then the create and the enable.
    let block: Vec<&str> = text
        .lines()
        .skip_while(|line| !line.starts_with("env-1 "))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .collect();
    assert_eq!(block.len(), 3, "{text}");
    assert!(
        block[0].starts_with("  - delete application \"PingOne Authorize Worker\"")
            && block[0].ends_with("(deletion)"),
        "{text}"
    );
    assert!(
        block[1].starts_with("  + create application \"replacement\""),
        "{text}"
    );
    // Every other environment lists its own changes too.
    assert_eq!(
        text.matches("+ create application \"replacement\"").count(),
        11,
        "{text}"
    );
    assert!(text.contains("11 ok, 0 failed"), "{text}");
    assert!(!text.contains('\x1b'), "colour off a terminal:\n{text}");
}

#[test]
fn ndjson_streams_one_document_per_environment_then_the_summary() {
    let emulator = emulator(3);
    let output = fleet(&emulator)
        .args(["plan", "authorize-worker", "--all", "--output", "ndjson"])
        .run()
        .status(2);
    let lines: Vec<Value> = output
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert_eq!(lines.len(), 4, "{}", output.stdout);
    let mut names: Vec<&str> = lines[..3]
        .iter()
        .map(|doc| doc["environment"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["env-1", "env-2", "env-3"]);
    assert!(
        lines[..3]
            .iter()
            .all(|doc| doc["changes"].as_array().unwrap().len() == 4)
    );
    assert_eq!(lines[3]["environment_count"], 3);
    assert_eq!(lines[3]["status"], "planned");
}

#[test]
fn every_failure_under_output_json_prints_one_json_document() {
    let emulator = emulator(1);
    let cases: Vec<(Test, &str)> = vec![
        (
            Test::new().args(["plan", "authorise-worker", "--output", "json"]),
            "unknown_recipe",
        ),
        (
            Test::new().args(["plan", "authorize-worker", "--output=json", "--bogus"]),
            "usage",
        ),
        (
            Test::new().file("p1run.toml", "[environments.x\n").args([
                "plan",
                "authorize-worker",
                "--output",
                "json",
            ]),
            "config",
        ),
        (
            fleet(&emulator).args([
                "plan",
                "authorize-worker",
                "--env",
                "env-11",
                "--output",
                "json",
            ]),
            "config",
        ),
        (
            Test::new().args([
                "plan",
                "authorize-worker",
                "--var",
                "nmae=x",
                "--output",
                "json",
            ]),
            "usage",
        ),
    ];
    for (test, kind) in cases {
        let output = test.run().failure();
        let document = output.json();
        assert_eq!(document["status"], "failed", "{}", output.stdout);
        assert_eq!(document["error_kind"], kind, "{}", output.stdout);
        assert!(document["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    // A script failure is the run's own document, with its error.
    let output = Test::new()
        .file("bad.rhai", "let x = ;\n")
        .args(["plan", "bad.rhai", "--output", "json"])
        .run()
        .failure();
    let document = output.json();
    assert_eq!(document["status"], "failed");
    assert!(document["error"].as_str().unwrap().contains("syntax error"));
}

#[test]
fn typos_get_a_suggestion_and_a_var_typo_names_the_var() {
    Test::new()
        .args([
            "plan",
            "worker-app",
            "--var",
            "roles=Identity Data Admn@environment",
        ])
        .run()
        .failure()
        .stderr_has(&[
            "scripts/lib/worker.rhai:",
            "unknown role \"Identity Data Admn\" (did you mean \"Identity Data Admin\"?)",
            "note: the value came from --var roles=Identity Data Admn@environment",
        ]);
    Test::new()
        .args(["plan", "worker-app", "--var", "rols=x"])
        .run()
        .failure()
        .stderr_has(&["(did you mean \"roles\"?)"]);
    let emulator = emulator(2);
    fleet(&emulator)
        .args(["plan", "authorize-worker", "--env", "env-3"])
        .run()
        .failure()
        .stderr_has(&[
            "no environment named \"env-3\" (did you mean \"env-1\"?); configured: env-1, env-2",
        ]);
}

#[test]
fn recipes_list_as_json() {
    let output = Test::new()
        .args(["recipes", "--output", "json"])
        .run()
        .success();
    let recipes = output.json();
    let worker_app = recipes
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "worker-app")
        .unwrap()
        .clone();
    assert!(worker_app["description"].as_str().unwrap().len() > 10);
    assert!(
        worker_app["params"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "roles")
    );
}
