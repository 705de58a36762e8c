//! `p1run test`: runs the `fn test_…()` functions of `*.test.rhai` files, each in a fresh
//! in-process emulator, a few at a time, and reports like `cargo test` (text, JSON or JUnit).
//!
//! A test passes when its function returns; anything it throws (a failed assertion, a recipe
//! that failed, a Rhai error) fails it with the test file's `file:line:col`.

pub mod engine;

use crate::ci::{seconds, xml_escape as escape};
use crate::error::Error;
use crate::host::engine::Sources;
use crate::host::render;
use engine::TestWorld;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Instant;

/// `p1run test`.
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Test files, or folders searched for `*.test.rhai` [default: ./tests if it exists, else
    /// the current folder].
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// How many tests run at once (each has an emulator of its own).
    #[arg(short, long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,

    /// Output format on stdout: `text` streams a line per test, `json` prints one document.
    #[arg(long, value_enum, default_value_t = crate::report::OutputFormat::Text, value_name = "FORMAT")]
    pub output: crate::report::OutputFormat,

    /// Also write a JUnit XML report to FILE, for CI.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// List the functions a test can call, with their docs, and run nothing.
    #[arg(long)]
    pub functions: bool,
}

/// Runs `p1run test`; the `Ok` value is the exit code.
pub fn execute(args: &TestArgs) -> Result<i32, Error> {
    use crate::report::OutputFormat;
    if args.functions {
        let mut text = String::new();
        for (signature, doc) in engine::TEST_FUNCTIONS {
            let _ = writeln!(text, "{signature}\n    {doc}");
        }
        print!("{text}");
        return Ok(0);
    }
    let paths = if args.paths.is_empty() {
        default_paths()
    } else {
        args.paths.clone()
    };
    let files = discover(&paths)?;
    if files.is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(Error::Usage(format!(
            "no *{SUFFIX} files under {}: name a test file or a folder that holds some",
            shown.join(", ")
        )));
    }
    let text = args.output == OutputFormat::Text;
    let print = |line: String| {
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
    };
    let summary = run(&files, usize::from(args.jobs), &|result| {
        if text {
            print(result_line(result));
        }
    });
    if let Some(path) = &args.junit {
        std::fs::write(path, summary.to_junit()).map_err(|source| Error::Io {
            context: format!("writing the JUnit report {}", path.display()),
            source,
        })?;
    }
    if text {
        print(summary.to_text().trim_end().to_owned());
    } else {
        print(serde_json::to_string_pretty(&summary).unwrap_or_default());
    }
    if summary.tests.is_empty() {
        eprintln!("error: the test files hold no `fn test_…()` functions");
        return Ok(1);
    }
    Ok(if summary.failed > 0 { 1 } else { 0 })
}

/// The suffix that makes a file a test file.
pub const SUFFIX: &str = ".test.rhai";

/// One test: a `fn test_...()` of a file.
#[derive(Debug, Clone)]
pub struct TestCase {
    /// The file, as found (relative when the path given was).
    pub file: PathBuf,
    /// The function's name.
    pub name: String,
}

impl TestCase {
    /// `file::test_name`, as the report shows it.
    pub fn id(&self) -> String {
        format!("{}::{}", self.file.display(), self.name)
    }
}

/// How a test ended.
#[derive(Debug, Clone, Serialize)]
pub struct TestResult {
    /// The file.
    pub file: String,
    /// The test function (`<compile>` when the file does not compile).
    pub name: String,
    /// `ok` or `failed`.
    pub status: &'static str,
    /// Wall time.
    pub duration_ms: u64,
    /// The failure, rendered with `file:line:col` and the source line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

impl TestResult {
    /// Whether it passed.
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }

    fn id(&self) -> String {
        format!("{}::{}", self.file, self.name)
    }
}

/// The `*.test.rhai` files under `paths` (files given directly count even without the
/// suffix), sorted; an error names a path that does not exist.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    for path in paths {
        let metadata = std::fs::metadata(path).map_err(|source| Error::Io {
            context: format!("reading test path {}", path.display()),
            source,
        })?;
        if metadata.is_file() {
            files.push(path.clone());
        } else {
            walk(path, &mut files)?;
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), Error> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        context: format!("reading test folder {}", dir.display()),
        source,
    })?;
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        // Hidden folders and build output hold no tests, and target/ can be huge.
        if name.starts_with('.') || name == "target" {
            continue;
        }
        if path.is_dir() {
            walk(&path, files)?;
        } else if name.ends_with(SUFFIX) {
            // `./x.test.rhai` reads better as `x.test.rhai` in test names.
            files.push(
                path.strip_prefix(".")
                    .map(Path::to_path_buf)
                    .unwrap_or(path),
            );
        }
    }
    Ok(())
}

/// The default paths: `tests/` in the current folder (beside the recipes) if it exists, else
/// the current folder.
pub fn default_paths() -> Vec<PathBuf> {
    let beside = PathBuf::from("tests");
    if beside.is_dir() {
        vec![beside]
    } else {
        vec![PathBuf::from(".")]
    }
}

/// The tests of one file: its `fn test_...()` functions without parameters, by name; a file
/// that does not compile is one failed result.
fn cases_of(file: &Path) -> Result<Vec<TestCase>, TestResult> {
    let compile_failure = |failure: String| TestResult {
        file: file.display().to_string(),
        name: "<compile>".into(),
        status: "failed",
        duration_ms: 0,
        failure: Some(failure),
    };
    let source = std::fs::read_to_string(file)
        .map_err(|error| compile_failure(format!("cannot read {}: {error}", file.display())))?;
    let mut engine = rhai::Engine::new_raw();
    // The same depth limits as the engine the test then runs in (Rhai's debug-build default is
    // lower, and would refuse here what runs fine there).
    engine.set_max_expr_depths(64, 32);
    let ast = engine.compile(&source).map_err(|error| {
        let sources = Sources::default();
        let name = file.display().to_string();
        sources.insert(&name, &source);
        compile_failure(render::render(error.into(), &name, &sources, 0).to_string())
    })?;
    let mut names: Vec<String> = ast
        .iter_functions()
        .filter(|f| f.name.starts_with("test_") && f.params.is_empty())
        .map(|f| f.name.to_owned())
        .collect();
    names.sort();
    names.dedup();
    Ok(names
        .into_iter()
        .map(|name| TestCase {
            file: file.to_path_buf(),
            name,
        })
        .collect())
}

/// Runs one test in a fresh emulator.
fn run_case(case: &TestCase) -> TestResult {
    let started = Instant::now();
    let failure = run_case_inner(case).err();
    TestResult {
        file: case.file.display().to_string(),
        name: case.name.clone(),
        status: if failure.is_none() { "ok" } else { "failed" },
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        failure,
    }
}

/// Runs one test; `Err` is the failure, rendered with `file:line:col` and the source line.
fn run_case_inner(case: &TestCase) -> Result<(), String> {
    let name = case.file.display().to_string();
    let source = std::fs::read_to_string(&case.file)
        .map_err(|error| format!("cannot read {name}: {error}"))?;
    let dir = match case.file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let world = Arc::new(TestWorld::start(dir).map_err(|error| error.to_string())?);
    let engine = engine::build(&world);
    let sources = Sources::default();
    sources.insert(&name, &source);
    let rendered = |error: rhai::EvalAltResult| -> String {
        render::render(error, &name, &sources, world_limits()).to_string()
    };
    let mut ast = engine
        .compile(&source)
        .map_err(|error| rendered(error.into()))?;
    ast.set_source(name.as_str());
    let result = engine.call_fn::<rhai::Dynamic>(&mut rhai::Scope::new(), &ast, &case.name, ());
    drop(engine);
    result.map(|_| ()).map_err(|error| rendered(*error))
}

fn world_limits() -> u64 {
    crate::config::Limits::default().max_operations
}

/// Everything `p1run test` found and how each test ended, in the order of discovery.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// One entry per test, sorted by file then name.
    pub tests: Vec<TestResult>,
    /// How many passed.
    pub passed: usize,
    /// How many failed.
    pub failed: usize,
    /// Wall time of the whole run.
    pub duration_ms: u64,
}

/// Runs every test of `files`, `jobs` at a time; `on_result` sees each result as it ends
/// (the text output streams them like `cargo test`).
pub fn run(files: &[PathBuf], jobs: usize, on_result: &dyn Fn(&TestResult)) -> Summary {
    let started = Instant::now();
    let mut results = Vec::new();
    let mut cases = Vec::new();
    for file in files {
        match cases_of(file) {
            Ok(found) => cases.extend(found),
            Err(failure) => {
                on_result(&failure);
                results.push(failure);
            }
        }
    }
    let queue = Arc::new(Mutex::new(cases.into_iter().enumerate()));
    let (sender, receiver) = mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            let queue = queue.clone();
            let sender = sender.clone();
            scope.spawn(move || {
                loop {
                    let next = queue
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .next();
                    let Some((index, case)) = next else { break };
                    let result = run_case(&case);
                    if sender.send((index, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        let mut ran: Vec<(usize, TestResult)> = Vec::new();
        for (index, result) in receiver {
            on_result(&result);
            ran.push((index, result));
        }
        ran.sort_by_key(|(index, _)| *index);
        results.extend(ran.into_iter().map(|(_, result)| result));
    });
    let passed = results.iter().filter(|r| r.passed()).count();
    Summary {
        failed: results.len() - passed,
        passed,
        tests: results,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

/// `test file::name ... ok|FAILED`.
pub fn result_line(result: &TestResult) -> String {
    format!(
        "test {} ... {}",
        result.id(),
        if result.passed() { "ok" } else { "FAILED" }
    )
}

impl Summary {
    /// After the streamed result lines: each failure in full, then `N passed, N failed`.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        let failures: Vec<&TestResult> = self.tests.iter().filter(|t| !t.passed()).collect();
        if !failures.is_empty() {
            text.push_str("\nfailures:\n");
            for failure in &failures {
                let _ = writeln!(
                    text,
                    "\n---- {} ----\n{}",
                    failure.id(),
                    failure.failure.as_deref().unwrap_or_default()
                );
            }
            text.push_str("\nfailures:\n");
            for failure in &failures {
                let _ = writeln!(text, "    {}", failure.id());
            }
        }
        let _ = writeln!(text, "\n{} passed, {} failed", self.passed, self.failed);
        text
    }

    /// The JUnit XML report: one `<testsuite>` per file, one `<testcase>` per test.
    pub fn to_junit(&self) -> String {
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            xml,
            "<testsuites name=\"p1run test\" tests=\"{}\" failures=\"{}\" time=\"{}\">",
            self.tests.len(),
            self.failed,
            seconds(self.duration_ms)
        );
        let mut files: Vec<&str> = self.tests.iter().map(|t| t.file.as_str()).collect();
        files.dedup();
        for file in files {
            let tests: Vec<&TestResult> = self.tests.iter().filter(|t| t.file == file).collect();
            let failures = tests.iter().filter(|t| !t.passed()).count();
            let time: u64 = tests.iter().map(|t| t.duration_ms).sum();
            let _ = writeln!(
                xml,
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" time=\"{}\">",
                escape(file),
                tests.len(),
                seconds(time)
            );
            for test in tests {
                let _ = write!(
                    xml,
                    "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
                    escape(file),
                    escape(&test.name),
                    seconds(test.duration_ms)
                );
                match &test.failure {
                    None => xml.push_str("/>\n"),
                    Some(failure) => {
                        let first = failure.lines().next().unwrap_or_default();
                        let _ = writeln!(
                            xml,
                            ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                            escape(first),
                            escape(failure)
                        );
                    }
                }
            }
            xml.push_str("  </testsuite>\n");
        }
        xml.push_str("</testsuites>\n");
        xml
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junit_escapes_markup_and_drops_control_characters() {
        assert_eq!(escape("a<b>&\"c'\u{1}"), "a&lt;b&gt;&amp;&quot;c&apos;");
    }

    #[test]
    fn junit_lists_failures_per_file() {
        let result = |name: &str, failure: Option<&str>| TestResult {
            file: "a.test.rhai".into(),
            name: name.into(),
            status: if failure.is_some() { "failed" } else { "ok" },
            duration_ms: 1500,
            failure: failure.map(str::to_owned),
        };
        let summary = Summary {
            tests: vec![
                result("test_a", None),
                result("test_b", Some("x:1:1: <boom>")),
            ],
            passed: 1,
            failed: 1,
            duration_ms: 3000,
        };
        let xml = summary.to_junit();
        assert!(
            xml.contains(
                "<testsuite name=\"a.test.rhai\" tests=\"2\" failures=\"1\" time=\"3.000\">"
            ),
            "{xml}"
        );
        assert!(
            xml.contains("<failure message=\"x:1:1: &lt;boom&gt;\">"),
            "{xml}"
        );
        assert!(xml.contains("name=\"test_a\" time=\"1.500\"/>"), "{xml}");
    }
}
