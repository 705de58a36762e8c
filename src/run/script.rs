//! What a run executes: a bundled recipe or a `.rhai` file, and the saved plan that carries a
//! script with the writes it was planned to make.

use crate::error::Error;
use crate::host::engine;
use crate::recipes;
use crate::writes::Write;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A script to run: bundled or from a file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Script {
    /// The name errors and reports use: the recipe name or the file path.
    pub name: String,
    /// Its text.
    pub source: String,
    /// The directory `import "x"` resolves in (files only).
    pub dir: Option<PathBuf>,
    /// For a script from a saved plan: the files it imported when planned, by import path,
    /// used instead of the files on disk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imports: Option<BTreeMap<String, String>>,
}

impl Script {
    /// A bundled recipe by name, or a `.rhai` file by path.
    pub fn resolve(recipe: &str) -> Result<Self, Error> {
        if let Some(bundled) = recipes::find(recipe) {
            return Ok(Self {
                name: recipe.to_owned(),
                source: bundled.source.to_owned(),
                dir: None,
                imports: None,
            });
        }
        let path = Path::new(recipe);
        match engine::read_source(path) {
            Ok(source) => Ok(Self {
                name: recipe.to_owned(),
                source,
                dir: Some(path.parent().map(Path::to_path_buf).unwrap_or_default()),
                imports: None,
            }),
            Err(invalid @ engine::SourceError::NotUtf8 { .. }) => {
                Err(Error::Usage(format!("{recipe}: {invalid}")))
            }
            Err(engine::SourceError::Unreadable(_)) => {
                let known: Vec<&str> = recipes::RECIPES.iter().map(|r| r.name).collect();
                Err(Error::UnknownRecipe {
                    name: recipe.to_owned(),
                    suggestion: crate::suggest::did_you_mean(recipe, &known),
                    known: known.join(", "),
                })
            }
        }
    }

    /// Rejects `--var`s the script never reads, before anything runs.
    pub fn check_vars(&self, vars: &BTreeMap<String, String>) -> Result<(), Error> {
        self.check_var_names(vars.keys(), |name| format!("--var {name}"))
    }

    /// Rejects params the script never reads; `origin` says where a name came from (`--var
    /// NAME`, `--var-file FILE: NAME`), for the message.
    pub fn check_var_names<'a>(
        &self,
        names: impl IntoIterator<Item = &'a String>,
        origin: impl Fn(&str) -> String,
    ) -> Result<(), Error> {
        let params = recipes::params(&self.source);
        for name in names {
            if !params.iter().any(|param| &param.name == name) {
                let known: Vec<_> = params.iter().map(|param| param.name.as_str()).collect();
                return Err(Error::Usage(format!(
                    "{}: {} has no param {name:?}{}; its params are: {}",
                    origin(name),
                    self.name,
                    crate::suggest::did_you_mean(name, &known),
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                )));
            }
        }
        Ok(())
    }
}

/// The `--var`s whose value an error message quotes (`"Identity Data Admn"`, whole or one
/// item of a list such as `roles=Identity Data Admn@environment,…`): an error raised deep in a
/// library line was then caused by what the user typed, and says so.
pub fn var_origins(message: &str, vars: &BTreeMap<String, String>) -> Vec<String> {
    vars.iter()
        .filter(|(_, value)| {
            let whole = std::iter::once(value.as_str());
            let items = value.split(',').flat_map(|item| {
                let item = item.trim_matches(|c: char| c.is_whitespace() || "[]\"".contains(c));
                [item, item.split('@').next().unwrap_or(item).trim()]
            });
            whole
                .chain(items)
                .filter(|piece| !piece.trim().is_empty())
                .any(|piece| message.contains(&format!("{piece:?}")))
        })
        .map(|(name, value)| format!("the value came from --var {name}={value}"))
        .collect()
}

/// `plan --out FILE`: what `apply --plan FILE` will do, exactly. The script travels with the
/// plan so that the apply runs the code that was reviewed; the writes are data, compared
/// field by field with what the live state leads to at apply time.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedPlan {
    /// Format version ([`SavedPlan::VERSION`]).
    pub version: u32,
    /// The script.
    pub script: Script,
    /// `--var` values.
    pub vars: BTreeMap<String, String>,
    /// Target name.
    pub environment: String,
    /// Target environment id.
    pub environment_id: String,
    /// The planned writes, in order.
    pub writes: Vec<Write>,
}

impl SavedPlan {
    /// The plan file format this build writes and reads. Version 1 compared writes by their
    /// wording; version 2 carries them as data.
    pub const VERSION: u32 = 2;

    /// Reads a plan file.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            context: format!("reading plan {}", path.display()),
            source,
        })?;
        let not_a_plan =
            |why: String| Error::Usage(format!("{} is not a p1run plan: {why}", path.display()));
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|error| not_a_plan(error.to_string()))?;
        match value.get("version").and_then(serde_json::Value::as_u64) {
            Some(version) if version == u64::from(Self::VERSION) => {}
            Some(version) => {
                return Err(Error::Usage(format!(
                    "{} is a version {version} plan; this p1run reads version {} plans only: \
                     run `p1run plan … --out {}` again",
                    path.display(),
                    Self::VERSION,
                    path.display()
                )));
            }
            None => return Err(not_a_plan("it has no `version`".into())),
        }
        serde_json::from_value(value).map_err(|error| not_a_plan(error.to_string()))
    }

    /// Writes a plan file.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        std::fs::write(path, text + "\n").map_err(|source| Error::Io {
            context: format!("writing plan {}", path.display()),
            source,
        })
    }
}

/// Compares a saved plan with the one the live state gives now, as data.
pub fn stale_plan(saved: &[Write], now: &[Write]) -> Option<String> {
    let same = saved.len() == now.len()
        && saved
            .iter()
            .zip(now)
            .all(|(a, b)| a.admits(b) || b.admits(a));
    if same {
        return None;
    }
    let list = |writes: &[Write]| {
        if writes.is_empty() {
            "  (no changes)".to_owned()
        } else {
            writes
                .iter()
                .map(|write| {
                    let change = write.change();
                    format!("  {} {}", change.symbol(), change.detail)
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
    };
    Some(format!(
        "the plan is stale: the live state changed since it was made, so applying it is refused \
         and nothing was changed.\nplanned:\n{}\nwhat the live state needs now:\n{}\nhint: run \
         `p1run plan` again and review the new plan",
        list(saved),
        list(now)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_quoting_a_var_value_names_the_var() {
        let vars = BTreeMap::from([
            (
                "roles".to_owned(),
                "Identity Data Admn@environment,Environment Admin@organization".to_owned(),
            ),
            ("name".to_owned(), "w".to_owned()),
        ]);
        assert_eq!(
            var_origins(
                "grant_role: unknown role \"Identity Data Admn\"; did you mean",
                &vars
            ),
            [
                "the value came from --var roles=Identity Data Admn@environment,Environment Admin@organization"
            ]
        );
        assert!(var_origins("unknown role \"Root\"", &vars).is_empty());
        let json = BTreeMap::from([("roles".to_owned(), r#"["Helpdesk@environment"]"#.to_owned())]);
        assert_eq!(var_origins("unknown role \"Helpdesk\"", &json).len(), 1);
    }
}
