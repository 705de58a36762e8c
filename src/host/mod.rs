//! The Rhai host: the engine, the primitives it registers, the per-run session and how script
//! errors are shown. Its one entry point for a run is [`execute`]: one pass of a script in a
//! [`Session`].

pub mod engine;
pub mod primitives;
pub mod render;
pub mod session;

pub use primitives::PrimitiveDoc;
pub use session::{Mode, Session};

use crate::config::Limits;
use crate::error::{Location, ScriptError};
use crate::writes::batch::BatchFailure;
use engine::Sources;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// A script to execute.
pub struct ScriptText<'a> {
    /// The name errors and reports use.
    pub name: &'a str,
    /// Its text.
    pub source: &'a str,
    /// The folder `import "x"` resolves in (files only).
    pub dir: Option<&'a Path>,
    /// The imported files of a saved plan, used instead of the files on disk.
    pub frozen_imports: Option<&'a BTreeMap<String, String>>,
}

/// What one pass of a script gave.
pub struct Executed {
    /// The script's value as JSON, or its error rendered at its line.
    pub value: Result<serde_json::Value, ScriptError>,
    /// The files it imported from beside it, by import path (saved with a plan).
    pub imports: BTreeMap<String, String>,
}

/// Runs `script` once in `session`, then sends what its batched writes still hold.
pub fn execute(session: &Arc<Session>, script: &ScriptText<'_>, limits: &Limits) -> Executed {
    let sources = Sources::default();
    sources.insert(script.name, script.source);
    let engine = engine::build(
        session,
        limits,
        script.dir.map(Path::to_path_buf),
        script.frozen_imports.cloned(),
        &sources,
    );
    let result = engine
        .compile(script.source)
        .map_err(|error| Box::new(error.into()))
        .and_then(|mut ast| {
            ast.set_source(script.name);
            engine.eval_ast_with_scope::<rhai::Dynamic>(&mut rhai::Scope::new(), &ast)
        });
    // Batched writes go out now: after a success, or after a failure so that everything
    // asked for before the failing line is made (and can be rolled back) as if sent at once.
    let flushed = session.flush();
    let value = match (result, flushed) {
        (Ok(_), Ok(())) if session.failed_write().is_some() => Err(ScriptError::plain(format!(
            "a write failed and the script caught its error, so not every planned change was \
             made: {}",
            session.failed_write().unwrap_or_default()
        ))),
        (Ok(value), Ok(())) => Ok(primitives::to_json(&value)),
        (Ok(_), Err(failure)) => Err(batch_error(&failure, script.name, &sources)),
        (Err(error), _) => Err(render::render(
            *error,
            script.name,
            &sources,
            limits.max_operations,
        )),
    };
    Executed {
        value,
        imports: sources.imported(),
    }
}

/// A batched write that failed at the end of the script, shown at the line that asked for it.
fn batch_error(failure: &BatchFailure, main: &str, sources: &Sources) -> ScriptError {
    let file = failure
        .site
        .source
        .clone()
        .unwrap_or_else(|| main.to_owned());
    let location = (failure.site.line > 0).then(|| Location {
        source_line: sources.line(&file, failure.site.line),
        file,
        line: failure.site.line,
        column: failure.site.column,
    });
    ScriptError {
        message: format!("{}: {}", failure.primitive, failure.error),
        location,
        called_from: Vec::new(),
        hint: None,
    }
}
