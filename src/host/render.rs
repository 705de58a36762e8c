//! Turns a Rhai error into a [`ScriptError`]: the message (the primitive and PingOne's answer
//! when there is one), `file:line:col` with the source line, and the call chain — the way
//! Rhai's own `rhai-run` shows errors.

use super::engine::Sources;
use crate::error::{Location, ScriptError};
use rhai::{EvalAltResult, Position};

/// Renders `error`, raised while running the script named `main`.
pub fn render(
    error: EvalAltResult,
    main: &str,
    sources: &Sources,
    max_operations: u64,
) -> ScriptError {
    let mut source = main.to_owned();
    let mut called_from = Vec::new();
    let mut current = error;
    loop {
        match current {
            EvalAltResult::ErrorInFunctionCall(function, defined_in, inner, pos) => {
                called_from.push(format!("{function}() at {}", place(&source, pos)));
                if !defined_in.is_empty() {
                    source = defined_in;
                }
                current = *inner;
            }
            EvalAltResult::ErrorInModule(module, inner, pos) => {
                called_from.push(format!("import at {}", place(&source, pos)));
                source = module;
                current = *inner;
            }
            other => {
                current = other;
                break;
            }
        }
    }
    called_from.reverse();
    let pos = current.take_position();
    let (message, hint) = describe(&current, max_operations);
    let location = pos.line().map(|line| Location {
        file: source.clone(),
        line,
        column: pos.position().unwrap_or(1),
        source_line: sources.line(&source, line),
    });
    ScriptError {
        message,
        location,
        called_from,
        hint,
        notes: Vec::new(),
    }
}

fn place(source: &str, pos: Position) -> String {
    match (pos.line(), pos.position()) {
        (Some(line), Some(column)) => format!("{source}:{line}:{column}"),
        (Some(line), None) => format!("{source}:{line}"),
        _ => source.to_owned(),
    }
}

fn describe(error: &EvalAltResult, max_operations: u64) -> (String, Option<String>) {
    match error {
        EvalAltResult::ErrorRuntime(value, _) => {
            if let Some(map) = value.read_lock::<rhai::Map>() {
                let message = map.get("message").map(ToString::to_string).unwrap_or_else(|| value.to_string());
                let status = map.get("status").and_then(|s| s.as_int().ok());
                let code = map.get("code").map(ToString::to_string);
                return (message, api_hint(status, code.as_deref()));
            }
            (format!("script error: {value}"), None)
        }
        EvalAltResult::ErrorParsing(kind, _) => (format!("syntax error: {kind}"), None),
        EvalAltResult::ErrorFunctionNotFound(signature, _) => (
            format!("unknown function or wrong arguments: {signature}"),
            Some("`p1run primitives` lists the primitives and their arguments".into()),
        ),
        EvalAltResult::ErrorTooManyOperations(_) => (
            format!("the script ran more than {max_operations} operations and was stopped"),
            Some("an endless loop? If the recipe really needs more, raise [limits] max_operations in the config".into()),
        ),
        EvalAltResult::ErrorTerminated(..) => (
            "interrupted (Ctrl-C)".to_owned(),
            Some("the run stopped between two steps; what it changed is listed, and a rerun continues".into()),
        ),
        EvalAltResult::ErrorModuleNotFound(path, _) => (
            format!("cannot import {path:?}"),
            Some("import resolves only bundled \"lib/...\" modules and .rhai files beside the script".into()),
        ),
        other => (other.to_string(), None),
    }
}

fn api_hint(status: Option<i64>, code: Option<&str>) -> Option<String> {
    let hint = match (status?, code.unwrap_or_default()) {
        (401, _) => {
            "PingOne rejected the token: check the worker's client id, secret and environment"
        }
        (403, _) => {
            "the acting worker lacks the role this call needs (PingOne only lets an actor grant \
             roles it holds itself, at the same or a broader scope)"
        }
        (404, _) => {
            "the resource or environment does not exist (or was just created: rerun shortly)"
        }
        (429, _) => "PingOne rate-limited the run past the retry deadline: rerun later or lower -j",
        (500..=599, _) => {
            "PingOne kept failing past the retry deadline; a rerun continues where this one stopped"
        }
        (400, "INVALID_DATA") => "PingOne rejected the request body; see the details above",
        _ => return None,
    };
    Some(hint.to_owned())
}
