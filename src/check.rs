//! `p1run check`: what can be known about a recipe without running it, offline and in
//! milliseconds (a pre-commit hook): it compiles (syntax, `eval` is off), every function it
//! calls exists with that many arguments (primitives, the standard library, its own and its
//! imported modules' functions), every import resolves as the runner resolves it, and every
//! `--var` names a param. Rhai's `compile` checks none of the calls, so the AST is walked.

use crate::error::{Error, Location, ScriptError};
use crate::host::engine::{ImportError, import_text};
use crate::recipes;
use crate::run::Script;
use crate::suggest;
use rhai::{ASTNode, Engine, Expr, FnAccess, FnCallExpr, Position, Stmt};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

/// What `check` found in one recipe.
#[derive(Debug, Default)]
pub struct Checked {
    /// The recipe's name or path.
    pub name: String,
    /// Its params (`--var` names).
    pub params: Vec<recipes::Param>,
    /// Problems, each at its `file:line:col`.
    pub problems: Vec<ScriptError>,
}

/// The names Rhai handles itself rather than as registered functions.
const KEYWORDS: &[&str] = &[
    "print",
    "debug",
    "type_of",
    "Fn",
    "call",
    "curry",
    "is_shared",
    "is_def_var",
    "is_def_fn",
    "this",
    "global",
];

/// Functions by name, with the argument counts they take.
type Arities = HashMap<String, BTreeSet<usize>>;

/// The functions an engine offers (its primitives and standard library), by name.
pub fn engine_functions(engine: &Engine) -> Arities {
    let mut functions = Arities::new();
    for signature in engine.gen_fn_signatures(true) {
        let Some((name, rest)) = signature.split_once('(') else {
            continue;
        };
        let params = rest.split(')').next().unwrap_or_default().trim();
        let count = if params.is_empty() {
            0
        } else {
            params.split(',').count()
        };
        functions
            .entry(name.trim().to_owned())
            .or_default()
            .insert(count);
    }
    functions
}

/// Checks one recipe (a bundled name or a file), with the `--var`s it would be given.
pub fn check(
    engine: &Engine,
    functions: &Arities,
    signatures: &HashMap<&str, &str>,
    recipe: &str,
    vars: &BTreeMap<String, String>,
) -> Result<Checked, Error> {
    let script = Script::resolve(recipe)?;
    let mut checked = Checked {
        name: script.name.clone(),
        params: recipes::params(&script.source),
        problems: Vec::new(),
    };
    if let Err(Error::Usage(message)) = script.check_vars(vars) {
        checked.problems.push(problem(
            message,
            &Unit::new(&script.name, &script.source),
            Position::NONE,
        ));
    }
    let mut checker = Checker {
        engine,
        functions,
        signatures,
        dir: script.dir.clone(),
        seen: BTreeSet::new(),
        problems: &mut checked.problems,
    };
    checker.unit(&script.name, &script.source);
    let at = |problem: &ScriptError| {
        problem
            .location
            .as_ref()
            .map(|at| (at.file.clone(), at.line, at.column))
    };
    checked.problems.sort_by_key(at);
    Ok(checked)
}

/// A source being checked, for locating problems in it.
struct Unit<'a> {
    name: &'a str,
    source: &'a str,
}

impl<'a> Unit<'a> {
    fn new(name: &'a str, source: &'a str) -> Self {
        Self { name, source }
    }
}

fn problem(message: String, unit: &Unit<'_>, pos: Position) -> ScriptError {
    ScriptError {
        message,
        location: pos.line().map(|line| Location {
            file: unit.name.to_owned(),
            line,
            column: pos.position().unwrap_or(1),
            source_line: unit
                .source
                .lines()
                .nth(line.saturating_sub(1))
                .map(str::to_owned),
        }),
        called_from: Vec::new(),
        hint: None,
        notes: Vec::new(),
    }
}

struct Checker<'a> {
    engine: &'a Engine,
    functions: &'a Arities,
    signatures: &'a HashMap<&'a str, &'a str>,
    dir: Option<PathBuf>,
    seen: BTreeSet<String>,
    problems: &'a mut Vec<ScriptError>,
}

impl Checker<'_> {
    /// Checks one script or module; returns its public functions for `alias::f` calls.
    fn unit(&mut self, name: &str, source: &str) -> Arities {
        let unit = Unit::new(name, source);
        let ast = match self.engine.compile(source) {
            Ok(ast) => ast,
            Err(error) => {
                let pos = error.position();
                self.problems.push(problem(
                    format!("syntax error: {}", error.err_type()),
                    &unit,
                    pos,
                ));
                return Arities::new();
            }
        };
        let mut own = Arities::new();
        let mut public = Arities::new();
        let mut locals: BTreeSet<String> = BTreeSet::new();
        for function in ast.iter_functions() {
            own.entry(function.name.to_owned())
                .or_default()
                .insert(function.params.len());
            if function.access != FnAccess::Private {
                public
                    .entry(function.name.to_owned())
                    .or_default()
                    .insert(function.params.len());
            }
            locals.extend(function.params.iter().map(|p| (*p).to_owned()));
        }
        // First pass: imports and variable names (a variable may hold a function pointer
        // called like a function).
        let mut imports: Vec<(String, String, Position)> = Vec::new();
        let mut calls: Vec<(FnCallExpr, Position, bool)> = Vec::new();
        ast.walk(&mut |path: &[ASTNode]| {
            match path.last() {
                Some(ASTNode::Stmt(Stmt::Import(import, pos))) => {
                    if let Expr::StringConstant(target, _) = &import.0 {
                        imports.push((target.to_string(), import.1.name.to_string(), *pos));
                    }
                }
                Some(ASTNode::Stmt(Stmt::Var(var, ..))) => {
                    locals.insert(var.0.name.to_string());
                }
                Some(ASTNode::Stmt(Stmt::FnCall(call, pos)))
                | Some(ASTNode::Expr(Expr::FnCall(call, pos))) => {
                    calls.push(((**call).clone(), *pos, false));
                }
                Some(ASTNode::Expr(Expr::MethodCall(call, pos))) => {
                    calls.push(((**call).clone(), *pos, true));
                }
                _ => {}
            }
            true
        });
        let mut modules: HashMap<String, Arities> = HashMap::new();
        for (target, alias, pos) in imports {
            match import_text(self.dir.as_deref(), &target) {
                Err(error) => {
                    let why = match error {
                        ImportError::NotFound => String::new(),
                        ImportError::Refused(why) => format!(" ({why})"),
                    };
                    self.problems.push(problem(
                        format!(
                            "cannot import {target:?}{why}: import resolves only bundled \
                             \"lib/...\" modules and .rhai files in the script's folder"
                        ),
                        &unit,
                        pos,
                    ));
                }
                Ok((module_name, text)) => {
                    let functions = if self.seen.insert(module_name.clone()) {
                        self.unit(&module_name, &text)
                    } else {
                        // Already checked (or being checked: a cycle); only its functions.
                        self.engine
                            .compile(&text)
                            .map_or_else(|_| Arities::new(), |ast| public_functions(&ast))
                    };
                    modules.insert(alias, functions);
                }
            }
        }
        for (call, pos, method) in calls {
            if call.is_operator_call() {
                continue;
            }
            let name = call.name.as_str();
            let arity = call.args.len() + usize::from(method);
            if call.namespace.is_empty() {
                if KEYWORDS.contains(&name)
                    || locals.contains(name)
                    || !name.starts_with(|c: char| c.is_alphabetic() || c == '_')
                {
                    continue;
                }
                let known = [self.functions.get(name), own.get(name)];
                if let Some(message) = self.judge(name, name, arity, &known, || {
                    self.functions
                        .keys()
                        .chain(own.keys())
                        .map(String::as_str)
                        .collect()
                }) {
                    self.problems.push(problem(message, &unit, pos));
                }
            } else {
                let alias = call.namespace.root();
                let Some(module) = modules.get(alias) else {
                    self.problems.push(problem(
                        format!("{alias}::{name}: no module is imported as {alias}"),
                        &unit,
                        pos,
                    ));
                    continue;
                };
                let shown = format!("{alias}::{name}");
                if let Some(message) = self.judge(name, &shown, arity, &[module.get(name)], || {
                    module.keys().map(String::as_str).collect()
                }) {
                    self.problems.push(problem(message, &unit, pos));
                }
            }
        }
        public
    }

    /// Why a call of `name` with `arity` arguments would fail, if it would.
    fn judge<'n>(
        &self,
        name: &str,
        shown: &str,
        arity: usize,
        known: &[Option<&BTreeSet<usize>>],
        candidates: impl FnOnce() -> Vec<&'n str>,
    ) -> Option<String> {
        let counts: BTreeSet<usize> = known
            .iter()
            .flatten()
            .flat_map(|set| set.iter().copied())
            .collect();
        if counts.is_empty() {
            let candidates = candidates();
            return Some(format!(
                "unknown function {shown}(){}",
                suggest::did_you_mean(name, &candidates)
            ));
        }
        if counts.contains(&arity) {
            return None;
        }
        let takes = counts
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" or ");
        let signature = self
            .signatures
            .get(name)
            .map_or_else(String::new, |signature| format!(": {signature}"));
        Some(format!(
            "{shown}() takes {takes} argument(s), not {arity}{signature}"
        ))
    }
}

fn public_functions(ast: &rhai::AST) -> Arities {
    let mut functions = Arities::new();
    for function in ast.iter_functions() {
        if function.access != FnAccess::Private {
            functions
                .entry(function.name.to_owned())
                .or_default()
                .insert(function.params.len());
        }
    }
    functions
}
