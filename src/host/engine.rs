//! The Rhai engine a recipe runs in: limits on, `print`/`debug` to tracing, `eval` off, and
//! `import` limited to the bundled `scripts/lib` modules and files beside the running script.

use super::primitives;
use super::session::{Session, lock};
use crate::config::Limits;
use crate::recipes;
use rhai::module_resolvers::ModuleResolver;
use rhai::{Dynamic, Engine, EvalAltResult, Module, Position, Scope, Shared};

type SharedModule = Shared<Module>;
use std::collections::{BTreeMap, HashMap};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Script texts by source name, so that errors can show the failing line of any module.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    texts: Arc<Mutex<HashMap<String, String>>>,
    imported: Arc<Mutex<BTreeMap<String, String>>>,
}

impl Sources {
    /// Remembers a script text under its source name.
    pub fn insert(&self, name: &str, text: &str) {
        lock(&self.texts).insert(name.to_owned(), text.to_owned());
    }

    /// The files imported from beside the script, by import path, for a saved plan.
    pub fn imported(&self) -> BTreeMap<String, String> {
        lock(&self.imported).clone()
    }

    /// Line `line` (1-based) of the named source.
    pub fn line(&self, name: &str, line: usize) -> Option<String> {
        let sources = lock(&self.texts);
        sources
            .get(name)?
            .lines()
            .nth(line.checked_sub(1)?)
            .map(str::to_owned)
    }
}

/// Rhai's limits (operations, call depth, sizes) and its strict modes, on for every engine
/// that runs untrusted-ish scripts: recipes and recipe tests alike.
pub fn with_limits(engine: &mut Engine, limits: &Limits) {
    engine
        .set_max_operations(limits.max_operations)
        // Explicit: Rhai's default is 8 in debug builds and 64 in release
        // (https://rhai.rs/book/safety/max-call-stack.html).
        .set_max_call_levels(limits.max_call_levels)
        .set_max_expr_depths(64, 32)
        .set_max_string_size(limits.max_string_size)
        .set_max_array_size(limits.max_array_size)
        .set_max_map_size(limits.max_map_size)
        .set_strict_variables(true)
        .set_fail_on_invalid_map_property(true);
    engine.disable_symbol("eval");
}

/// Builds the engine for one run.
pub fn build(
    session: &Arc<Session>,
    limits: &Limits,
    script_dir: Option<PathBuf>,
    frozen: Option<BTreeMap<String, String>>,
    sources: &Sources,
) -> Engine {
    // `Engine::new()` builds the standard library afresh (most of its ~0.3 ms and much of its
    // memory); a fleet builds two engines per environment, so they share one built here once.
    static STANDARD: std::sync::OnceLock<SharedModule> = std::sync::OnceLock::new();
    let standard = STANDARD.get_or_init(|| {
        use rhai::packages::Package as _;
        rhai::packages::StandardPackage::new().as_shared_module()
    });
    let mut engine = Engine::new_raw();
    engine.register_global_module(standard.clone());
    with_limits(&mut engine, limits);
    engine.set_module_resolver(RecipeResolver {
        script_dir,
        frozen,
        sources: sources.clone(),
        cache: Mutex::default(),
    });
    // Ctrl-C ends the script between two operations (a request in flight completes first).
    engine.on_progress(|_| crate::interrupt::requested().then(|| Dynamic::from("interrupted")));
    // stdout carries only results, so script output goes to stderr (see `Printer`).
    // An apply runs the script twice (plan, then apply); the plan pass holds its prints back,
    // to be shown only if no apply pass follows, so that each shows once.
    let printing = session.clone();
    engine.on_print(move |text| printing.script_print(text));
    let debugging = session.clone();
    engine.on_debug(move |text, source, pos| {
        let place = match (source, pos.line()) {
            (Some(source), Some(line)) => format!("{source}:{line}"),
            (None, Some(line)) => format!("line {line}"),
            (source, None) => source.unwrap_or("<main>").to_owned(),
        };
        debugging.script_print(&format!("debug {place}: {text}"));
    });
    primitives::register(&mut engine, session);
    engine
}

/// Why a script file could not be read as a script.
#[derive(Debug)]
pub enum SourceError {
    /// Missing, unreadable, a directory…
    Unreadable(std::io::Error),
    /// Not UTF-8: where the first invalid byte is, so that it can be found with a hex viewer.
    NotUtf8 {
        /// 0-based byte offset of the first invalid byte.
        offset: usize,
        /// 1-based line it is on.
        line: usize,
    },
}

impl std::fmt::Display for SourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreadable(error) => write!(f, "cannot read it: {error}"),
            Self::NotUtf8 { offset, line } => write!(
                f,
                "not UTF-8 text: invalid byte at offset {offset} (line {line}); save the \
                 script as UTF-8"
            ),
        }
    }
}

/// A script file's text.
pub fn read_source(path: &Path) -> Result<String, SourceError> {
    let bytes = std::fs::read(path).map_err(SourceError::Unreadable)?;
    String::from_utf8(bytes).map_err(|error| {
        let offset = error.utf8_error().valid_up_to();
        let line = error.as_bytes()[..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        SourceError::NotUtf8 { offset, line }
    })
}

/// Resolves `import "lib/x"` to the bundled library and `import "x"` to `x.rhai` beside the
/// running script; nothing else. Rhai's default file resolver would import any path on the
/// machine (<https://rhai.rs/book/rust/modules/resolvers.html>), which is more than a
/// recipe needs.
struct RecipeResolver {
    script_dir: Option<PathBuf>,
    frozen: Option<BTreeMap<String, String>>,
    sources: Sources,
    cache: Mutex<HashMap<String, SharedModule>>,
}

impl RecipeResolver {
    fn load(&self, path: &str, pos: Position) -> Result<(String, String), Box<EvalAltResult>> {
        let not_found = || Box::new(EvalAltResult::ErrorModuleNotFound(path.to_owned(), pos));
        // A saved plan carries the files its script imported: an apply of it runs exactly the
        // code that was reviewed, whatever the files on disk say now.
        let (name, text) = match &self.frozen {
            Some(frozen) if recipes::library(path).is_none() => {
                let (name, _) =
                    import_path(self.script_dir.as_deref(), path).ok_or_else(not_found)?;
                (name, frozen.get(path).cloned().ok_or_else(not_found)?)
            }
            _ => import_text(self.script_dir.as_deref(), path).map_err(|error| match error {
                ImportError::NotFound => not_found(),
                ImportError::Refused(why) => {
                    let mut map = rhai::Map::new();
                    map.insert(
                        "message".into(),
                        format!(
                            "cannot import {path:?}: {why}; import loads only bundled \"lib/…\" \
                             modules and .rhai files in the script's folder"
                        )
                        .into(),
                    );
                    Box::new(EvalAltResult::ErrorRuntime(map.into(), pos))
                }
            })?,
        };
        if recipes::library(path).is_none() {
            lock(&self.sources.imported).insert(path.to_owned(), text.clone());
        }
        Ok((name, text))
    }
}

/// Where `import "path"` leads, as the runner resolves it: the bundled `lib/…` module, else
/// `path.rhai` in `script_dir` when `path` is plain (no `..`, not absolute). The source name
/// errors use, and the file on disk (`None` for a bundled module).
pub fn import_path(script_dir: Option<&Path>, path: &str) -> Option<(String, Option<PathBuf>)> {
    if recipes::library(path).is_some() {
        return Some((format!("scripts/{path}.rhai"), None));
    }
    let plain = Path::new(path)
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    let file = script_dir.filter(|_| plain)?.join(format!("{path}.rhai"));
    Some((file.display().to_string(), Some(file)))
}

/// Why `import "path"` loads nothing.
#[derive(Debug)]
pub enum ImportError {
    /// No such module or file.
    NotFound,
    /// The file exists but may not be imported, and why.
    Refused(String),
}

/// The source name and text `import "path"` loads (see [`import_path`]), read from disk for a
/// file beside the script. A symlink (or a linked folder) beside the script must not reach
/// outside its folder, so both are resolved and compared; the file must be UTF-8.
pub fn import_text(script_dir: Option<&Path>, path: &str) -> Result<(String, String), ImportError> {
    let (name, file) = import_path(script_dir, path).ok_or(ImportError::NotFound)?;
    let Some(file) = file else {
        let text = recipes::library(path).ok_or(ImportError::NotFound)?;
        return Ok((name, text.to_owned()));
    };
    let real = file.canonicalize().map_err(|_| ImportError::NotFound)?;
    let folder = match script_dir {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let folder = folder.canonicalize().map_err(|_| ImportError::NotFound)?;
    if !real.starts_with(&folder) {
        return Err(ImportError::Refused(format!(
            "{} resolves to {}, outside the script's folder {}",
            file.display(),
            real.display(),
            folder.display()
        )));
    }
    let text = read_source(&real).map_err(|error| match error {
        SourceError::Unreadable(_) => ImportError::NotFound,
        invalid => ImportError::Refused(format!("{}: {invalid}", file.display())),
    })?;
    Ok((name, text))
}

impl ModuleResolver for RecipeResolver {
    fn resolve(
        &self,
        engine: &Engine,
        _source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<SharedModule, Box<EvalAltResult>> {
        if let Some(module) = lock(&self.cache).get(path) {
            return Ok(module.clone());
        }
        let (name, text) = self.load(path, pos)?;
        self.sources.insert(&name, &text);
        let in_module = |error: Box<EvalAltResult>| {
            Box::new(EvalAltResult::ErrorInModule(name.clone(), error, pos))
        };
        let mut ast = engine
            .compile(&text)
            .map_err(|error| in_module(error.into()))?;
        ast.set_source(name.as_str());
        let module: SharedModule = Module::eval_ast_as_new(Scope::new(), &ast, engine)
            .map_err(in_module)?
            .into();
        lock(&self.cache).insert(path.to_owned(), module.clone());
        Ok(module)
    }
}
