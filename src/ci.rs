//! Results where CI systems look for them: a JUnit XML file (`--junit FILE`, one test case per
//! environment) and, when `GITHUB_STEP_SUMMARY` names a file, a Markdown table appended to it;
//! and `p1run report merge`, which joins the reports of CI shards into one fleet report.
//!
//! Both are made from the environment reports of `--report` (see [`crate::report::Report`]),
//! which hold no secret by construction, so neither can hold one either.

use crate::error::Error;
use crate::report::{FleetReport, changes_of, environment_name, environment_status};
use clap::Args;
use serde_json::Value;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The variable GitHub Actions sets to the file a step's Markdown summary is appended to.
pub const STEP_SUMMARY_VAR: &str = "GITHUB_STEP_SUMMARY";

/// `p1run report merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The reports to merge (`--report` files of shards; single-environment reports count as
    /// one environment each).
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    /// Write the merged report to FILE [default: stdout].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Also write the merged results as JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

/// Runs `p1run report merge`: exit 0 once the merged report is written, whatever the
/// environments' statuses (the shards' own exits gate on those).
pub fn merge(args: &MergeArgs) -> Result<i32, Error> {
    let merged = crate::report::merge_files(&args.files)?;
    let text = serde_json::to_string_pretty(&merged).unwrap_or_default() + "\n";
    match &args.out {
        Some(path) => write_file(path, &text, "merged report")?,
        None => crate::report::print_stdout(&text)?,
    }
    publish(args.junit.as_deref(), &merged)?;
    eprintln!(
        "merged {} reports: {} environments, {} failed; {} changes, {} requests{}",
        args.files.len(),
        merged.environment_count,
        merged.failed,
        merged.changes,
        merged.requests,
        args.out
            .as_ref()
            .map_or_else(String::new, |path| format!(" -> {}", path.display()))
    );
    Ok(0)
}

/// Writes the JUnit file when asked, and appends the step summary when `GITHUB_STEP_SUMMARY`
/// is set, for one run's environment reports.
pub fn publish(junit_path: Option<&Path>, report: &FleetReport) -> Result<(), Error> {
    if let Some(path) = junit_path {
        write_file(path, &junit(report), "JUnit file")?;
    }
    if let Some(path) = std::env::var_os(STEP_SUMMARY_VAR).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut file| file.write_all(step_summary(report).as_bytes()))
            .map_err(|source| Error::Io {
                context: format!(
                    "appending the step summary to {} (${STEP_SUMMARY_VAR})",
                    path.display()
                ),
                source,
            })?;
    }
    Ok(())
}

fn write_file(path: &Path, text: &str, what: &str) -> Result<(), Error> {
    std::fs::write(path, text).map_err(|source| Error::Io {
        context: format!("writing {what} {}", path.display()),
        source,
    })
}

/// The JUnit XML of a run: one `testsuite`, one `testcase` per environment, a `failure` with
/// the error for each failed, rolled back or interrupted environment, and the changes as the
/// case's output.
pub fn junit(report: &FleetReport) -> String {
    let suite = format!("p1run {} {}", report.mode, report.recipe);
    let class = format!("p1run.{}.{}", report.mode, report.recipe);
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"p1run\" tests=\"{n}\" failures=\"{f}\" errors=\"0\" time=\"{t}\">\n  \
         <testsuite name=\"{name}\" tests=\"{n}\" failures=\"{f}\" errors=\"0\" skipped=\"0\" time=\"{t}\">",
        n = report.environment_count,
        f = report.failed,
        t = seconds(report.duration_ms),
        name = xml_escape(&suite),
    );
    for environment in &report.environments {
        let status = status_text(environment);
        let _ = writeln!(
            xml,
            "    <testcase name=\"{}\" classname=\"{}\" time=\"{}\">",
            xml_escape(environment_name(environment)),
            xml_escape(&class),
            seconds(environment["duration_ms"].as_u64().unwrap_or(0)),
        );
        if environment_status(environment).is_none_or(crate::report::Status::is_failure) {
            let error = environment["error"].as_str().unwrap_or("no error recorded");
            let _ = writeln!(
                xml,
                "      <failure type=\"{}\" message=\"{}\">{}</failure>",
                xml_escape(&status),
                xml_escape(error.lines().next().unwrap_or_default()),
                xml_escape(error)
            );
        }
        let _ = writeln!(
            xml,
            "      <system-out>{}</system-out>\n    </testcase>",
            xml_escape(&case_output(environment, &status))
        );
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

/// What a test case says it did: its status, counts and each change with its outcome.
fn case_output(environment: &Value, status: &str) -> String {
    let mut text = format!(
        "{status}: {} changes, {} requests\n",
        changes_of(environment),
        environment["requests"].as_u64().unwrap_or(0)
    );
    for change in environment["changes"].as_array().into_iter().flatten() {
        let _ = writeln!(
            text,
            "  {} ({})",
            change["detail"].as_str().unwrap_or_default(),
            change["outcome"].as_str().unwrap_or_default()
        );
    }
    text
}

fn status_text(environment: &Value) -> String {
    environment["status"]
        .as_str()
        .unwrap_or("unknown")
        .to_owned()
}

/// The Markdown appended to `$GITHUB_STEP_SUMMARY`: a heading with the totals, then one row per
/// environment (status, changes, requests, and the first line of any error).
pub fn step_summary(report: &FleetReport) -> String {
    let mut text = format!(
        "### p1run {} `{}`: {} environment{}, {} ok, {} failed\n\n",
        report.mode,
        cell(&report.recipe),
        report.environment_count,
        if report.environment_count == 1 {
            ""
        } else {
            "s"
        },
        report.environment_count - report.failed,
        report.failed
    );
    text.push_str("| environment | status | changes | requests | error |\n");
    text.push_str("|---|---|---:|---:|---|\n");
    for environment in &report.environments {
        let _ = writeln!(
            text,
            "| {} | {} | {} | {} | {} |",
            cell(environment_name(environment)),
            cell(&status_text(environment)),
            changes_of(environment),
            environment["requests"].as_u64().unwrap_or(0),
            cell(
                environment["error"]
                    .as_str()
                    .and_then(|e| e.lines().next())
                    .unwrap_or_default()
            ),
        );
    }
    let _ = writeln!(
        text,
        "\n{} changes, {} requests, {} ms\n",
        report.changes, report.requests, report.duration_ms
    );
    text
}

/// Text safe in one Markdown table cell: no line breaks, pipes escaped, and no HTML (GitHub
/// renders tags in summaries).
fn cell(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
}

/// Milliseconds as JUnit's seconds, `1.234`.
pub fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Text safe in XML 1.0 content and attribute values: the five entities escaped, line breaks in
/// attributes kept as character references, and the characters XML 1.0 cannot carry at all
/// (most controls, e.g. a stray ANSI escape) dropped.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report() -> FleetReport {
        FleetReport::new(
            "apply",
            "authorize-worker",
            vec![
                json!({"environment": "env-10", "status": "succeeded", "requests": 5,
                       "duration_ms": 1200, "changes": [{"detail": "grant \"A & B\"", "outcome": "succeeded"}]}),
                json!({"environment": "env-2", "status": "failed", "requests": 1,
                       "duration_ms": 3, "changes": [],
                       "error": "POST /x: 400 <INVALID_DATA> \"quoted\"\nhint: fix | it\u{1b}[0m"}),
            ],
            1500,
            None,
        )
    }

    #[test]
    fn escaping_keeps_xml_well_formed() {
        assert_eq!(
            xml_escape("a<b>&\"c\"'\n\u{1b}"),
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;&#10;"
        );
        let xml = junit(&report());
        assert!(xml.contains("tests=\"2\" failures=\"1\""), "{xml}");
        assert!(xml.contains("<testcase name=\"env-2\""), "{xml}");
        assert!(
            xml.find("env-2").unwrap() < xml.find("env-10").unwrap(),
            "natural order"
        );
        assert!(
            xml.contains("message=\"POST /x: 400 &lt;INVALID_DATA&gt; &quot;quoted&quot;\""),
            "{xml}"
        );
        assert!(!xml.contains('\u{1b}'));
    }

    #[test]
    fn the_summary_has_a_row_per_environment_and_escapes_cells() {
        let summary = step_summary(&report());
        assert!(
            summary.contains("2 environments, 1 ok, 1 failed"),
            "{summary}"
        );
        assert!(
            summary.contains("| env-10 | succeeded | 1 | 5 |  |"),
            "{summary}"
        );
        assert!(
            summary.contains(
                "| env-2 | failed | 0 | 1 | POST /x: 400 &lt;INVALID_DATA&gt; \"quoted\" |"
            ),
            "{summary}"
        );
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }
}
