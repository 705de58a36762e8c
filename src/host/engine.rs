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
    engine
        .set_max_operations(limits.max_operations)
        // Explicit: Rhai's default is 8 in debug builds and 64 in release (RHAI-HOST-NOTES §A5).
        .set_max_call_levels(limits.max_call_levels)
        .set_max_expr_depths(64, 32)
        .set_max_string_size(limits.max_string_size)
        .set_max_array_size(limits.max_array_size)
        .set_max_map_size(limits.max_map_size)
        .set_strict_variables(true)
        .set_fail_on_invalid_map_property(true)
        .set_module_resolver(RecipeResolver {
            script_dir,
            frozen,
            sources: sources.clone(),
            cache: Mutex::default(),
        });
    engine.disable_symbol("eval");
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

/// Resolves `import "lib/x"` to the bundled library and `import "x"` to `x.rhai` beside the
/// running script; nothing else. Rhai's default file resolver would import any path on the
/// machine (RHAI-HOST-NOTES §A5), which is more than a recipe needs.
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
            _ => import_text(self.script_dir.as_deref(), path).ok_or_else(not_found)?,
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

/// The source name and text `import "path"` loads (see [`import_path`]), read from disk for a
/// file beside the script.
pub fn import_text(script_dir: Option<&Path>, path: &str) -> Option<(String, String)> {
    let (name, file) = import_path(script_dir, path)?;
    let text = match file {
        None => recipes::library(path)?.to_owned(),
        Some(file) => std::fs::read_to_string(file).ok()?,
    };
    Some((name, text))
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
