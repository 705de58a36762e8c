//! The bundled recipes (`scripts/`, compiled into the binary) and what `p1run recipes` shows of
//! them: the description from their leading `//!` lines and the `param(...)` calls they make.

/// A bundled recipe.
#[derive(Debug, Clone, Copy)]
pub struct Recipe {
    /// Name used on the command line.
    pub name: &'static str,
    /// The script.
    pub source: &'static str,
}

macro_rules! bundled {
    ($($name:literal),* $(,)?) => {
        &[$(Recipe { name: $name, source: include_str!(concat!("../scripts/", $name, ".rhai")) }),*]
    };
}

/// Every bundled recipe.
pub const RECIPES: &[Recipe] = bundled![
    "authorize-worker",
    "authorize-worker-http-service",
    "authorize-worker-env-scoped",
    "authorize-worker-custom-role",
    "worker-app",
    "remove-worker",
    "rotate-worker-secret",
];

/// Bundled library modules, by import path.
const LIBRARY: &[(&str, &str)] = &[("lib/worker", include_str!("../scripts/lib/worker.rhai"))];

/// The bundled recipe with this name.
pub fn find(name: &str) -> Option<&'static Recipe> {
    RECIPES.iter().find(|recipe| recipe.name == name)
}

/// The bundled library module at this import path.
pub fn library(path: &str) -> Option<&'static str> {
    LIBRARY
        .iter()
        .find(|(name, _)| *name == path)
        .map(|(_, source)| *source)
}

/// The leading `//!` lines of a script, joined.
pub fn description(source: &str) -> String {
    source
        .lines()
        .map_while(|line| line.strip_prefix("//!"))
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A `param("name", default)` call found in a script.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Param {
    /// The `--var` name.
    pub name: String,
    /// The default, as written in the script.
    pub default: String,
}

/// The params a script reads, in order of first use. A scan of the source rather than a run,
/// so that listing recipes (and checking `--var`s) never calls PingOne; a param whose name is
/// computed at run time is not found, and its `--var` is refused.
pub fn params(source: &str) -> Vec<Param> {
    // Comment lines are blanked (keeping offsets), so a commented-out call is not a param.
    let code: String = source
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("//") {
                " ".repeat(line.len())
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let source = code.as_str();
    let mut found: Vec<Param> = Vec::new();
    for (start, _) in source.match_indices("param(\"") {
        let rest = &source[start + "param(\"".len()..];
        let Some(name_end) = rest.find('"') else {
            continue;
        };
        let name = &rest[..name_end];
        let after = rest[name_end + 1..].trim_start();
        let Some(args) = after.strip_prefix(',') else {
            continue;
        };
        let Some(default) = balanced_argument(args) else {
            continue;
        };
        if !found.iter().any(|param| param.name == name) {
            found.push(Param {
                name: name.to_owned(),
                default: default.trim().to_owned(),
            });
        }
    }
    found
}

/// The text up to the `)` that closes the call, skipping nested brackets and strings.
fn balanced_argument(text: &str) -> Option<&str> {
    let mut depth = 0usize;
    let mut in_string = false;
    for (index, ch) in text.char_indices() {
        match ch {
            '"' => in_string = !in_string,
            _ if in_string => {}
            '(' | '[' | '{' => depth += 1,
            ')' if depth == 0 => return Some(&text[..index]),
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_params_with_their_defaults() {
        let source = r#"let a = param("name", "x, (y)"); let b = param("roles", ["A@b", "C@d"]); param("name", 1)"#;
        let params = params(source);
        assert_eq!(
            params,
            vec![
                Param {
                    name: "name".into(),
                    default: "\"x, (y)\"".into()
                },
                Param {
                    name: "roles".into(),
                    default: "[\"A@b\", \"C@d\"]".into()
                },
            ]
        );
    }

    #[test]
    fn commented_out_calls_are_not_params() {
        let source = "// let old = param(\"old\", 1);\nlet new = param(\"new\", 2);";
        assert_eq!(
            params(source),
            vec![Param {
                name: "new".into(),
                default: "2".into()
            }]
        );
    }

    #[test]
    fn every_bundled_recipe_describes_itself() {
        for recipe in RECIPES {
            assert!(
                !description(recipe.source).is_empty(),
                "{} has no //! description",
                recipe.name
            );
        }
    }
}
