//! `p1run init`: a commented `p1run.toml` to start from.
//!
//! The file never holds a secret: each environment names the variable its worker's secret is
//! read from (`P1_<NAME>_SECRET`). What only the user knows (environment and client ids) is
//! written as a `"<…>"` placeholder, which [`crate::config::Config::resolve`] refuses by name,
//! so a half-filled file fails with "fill in …" rather than with a 404 from PingOne.

use crate::config::LOCAL;
use crate::error::Error;
use std::io::Write as _;
use std::path::Path;

/// The environment `init` writes when no `--env` is given.
pub const DEFAULT_ENVIRONMENT: &str = "staging";

/// The variable `init` names for the secret of environment `name`: `P1_<NAME>_SECRET`, upper
/// case, `-` as `_`.
pub fn secret_variable(name: &str) -> String {
    format!("P1_{}_SECRET", name.to_uppercase().replace('-', "_"))
}

/// Checks the environment names: bare TOML keys (so the file and the secret variable names
/// stay plain), not `local` (the embedded emulator's name), no repeats.
fn check_names(names: &[String]) -> Result<(), Error> {
    for (index, name) in names.iter().enumerate() {
        let plain = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !plain {
            return Err(Error::Usage(format!(
                "--env {name:?}: environment names take letters, digits, `-` and `_` only"
            )));
        }
        if name == LOCAL {
            return Err(Error::Usage(format!(
                "--env {LOCAL}: `{LOCAL}` is the name of the embedded emulator; pick another \
                 name, e.g. --env staging"
            )));
        }
        if names[..index].contains(name) {
            return Err(Error::Usage(format!("--env {name} is given twice")));
        }
    }
    Ok(())
}

/// The text of a new config with these environments (the default one when empty).
pub fn render(names: &[String]) -> Result<String, Error> {
    let default = [DEFAULT_ENVIRONMENT.to_owned()];
    let names = if names.is_empty() {
        &default[..]
    } else {
        names
    };
    check_names(names)?;
    let mut text = String::from(
        "# p1run.toml: the PingOne environments p1run may change, and the worker that acts on each.\n\
         # Written by `p1run init`. Fill in every \"<…>\" value, export each secret variable, then\n\
         # run `p1run doctor`: it checks the secret, the token, the hosts, the worker's roles and\n\
         # which bundled recipes the worker may run.\n\
         #\n\
         # No secret is ever written here (an inline client_secret is refused): each environment\n\
         # names the variable (or file) that holds its worker's client secret, so this file can\n\
         # be committed.\n\
         \n\
         # Every environment inherits these keys; an environment's own keys win.\n\
         [defaults]\n\
         region = \"NA\"                               # NA | EU | CA | AU | SG | AP\n\
         # client_id = \"<worker client id>\"          # one worker for every environment\n\
         # worker_environment_id = \"<environment id>\" # where that worker lives, if not in the target\n\
         # token_auth_method = \"CLIENT_SECRET_POST\"  # how the worker authenticates (default BASIC)\n\
         # license = \"prod\"                          # environments of one license share a request budget\n\
         # api_url = \"http://127.0.0.1:8443/v1\"      # a `p1run emulator` instead of PingOne (http: loopback only)\n\
         # auth_url = \"http://127.0.0.1:8443\"\n\
         \n\
         # Recipe params for every environment; [environments.NAME.vars] go over them, then\n\
         # --var-file, then --var.\n\
         # [defaults.vars]\n\
         # name = \"PingOne Authorize Worker\"\n",
    );
    for name in names {
        let variable = secret_variable(name);
        text.push_str(&format!(
            "\n[environments.{name}]\n\
             environment_id = \"<{name} environment id>\"   # the environment recipes change\n\
             client_id = \"<{name} worker client id>\"      # the acting worker application\n\
             client_secret_env = \"{variable}\"        # export {variable}=<the worker's client secret>\n\
             # client_secret_file = \"{name}.secret\"       # or a file (chmod 600) instead of the variable\n\
             # worker_environment_id = \"<environment id>\" # where the worker lives, if not in environment_id\n\
             \n\
             # [environments.{name}.vars]                   # recipe params for runs here\n\
             # name = \"PingOne Authorize Worker\"\n"
        ));
    }
    if names.len() > 1 {
        text.push_str(&format!(
            "\n# Named sets of environments, for `--group NAME`.\n# [groups]\n# all = [{}]\n",
            names
                .iter()
                .map(|name| format!("\"{name}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(text)
}

/// Writes a new config to `path`; an existing file is replaced only with `force`. Returns
/// what to do next, for the user.
pub fn write(path: &Path, names: &[String], force: bool) -> Result<String, Error> {
    let text = render(names)?;
    let io = |source: std::io::Error| Error::Io {
        context: format!("writing {}", path.display()),
        source,
    };
    // create_new: the existence check and the creation are one step, so a file that appears
    // in between is not overwritten either.
    let mut file = if force {
        std::fs::File::create(path)
    } else {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
    }
    .map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            Error::Usage(format!(
                "{} already exists and was left as it is; pass --force to replace it, or \
                 --config FILE to write another file",
                path.display()
            ))
        } else {
            io(source)
        }
    })?;
    file.write_all(text.as_bytes()).map_err(io)?;
    let default = [DEFAULT_ENVIRONMENT.to_owned()];
    let names = if names.is_empty() {
        &default[..]
    } else {
        names
    };
    let exports: Vec<String> = names
        .iter()
        .map(|name| {
            format!(
                "  export {}=<the worker's client secret>",
                secret_variable(name)
            )
        })
        .collect();
    Ok(format!(
        "wrote {} with {} {}.\nnext:\n  fill in every \"<…>\" value in it\n{}\n  p1run doctor{}\n",
        path.display(),
        if names.len() == 1 {
            "environment"
        } else {
            "environments"
        },
        names.join(", "),
        exports.join("\n"),
        if path == Path::new("p1run.toml") {
            String::new()
        } else {
            format!(" --config {}", path.display())
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, SecretSource};

    #[test]
    fn the_written_config_parses_and_names_a_secret_variable_per_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p1run.toml");
        write(&path, &["prod-eu".into(), "qa".into()], false).unwrap();
        let config = Config::load(&path).unwrap();
        assert_eq!(config.environment_names(), ["prod-eu", "qa"]);
        // Unfilled, it is refused by name, not sent to PingOne.
        let error = config.resolve("qa").unwrap_err().to_string();
        assert!(error.contains("still the placeholder"), "{error}");
        let filled = std::fs::read_to_string(&path)
            .unwrap()
            .replace("<qa environment id>", "e")
            .replace("<qa worker client id>", "c");
        std::fs::write(&path, filled).unwrap();
        let config = Config::load(&path).unwrap();
        let qa = config.resolve("qa").unwrap();
        assert_eq!(qa.secret_source, SecretSource::Env("P1_QA_SECRET".into()));
        assert_eq!(qa.endpoints.api_url.as_str(), "https://api.pingone.com/v1");
        assert_eq!(secret_variable("prod-eu"), "P1_PROD_EU_SECRET");
    }

    #[test]
    fn an_existing_file_is_kept_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p1run.toml");
        std::fs::write(&path, "# mine\n").unwrap();
        let error = write(&path, &[], false).unwrap_err().to_string();
        assert!(
            error.contains("already exists") && error.contains("--force"),
            "{error}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "# mine\n");
        write(&path, &[], true).unwrap();
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("[environments.staging]")
        );
    }

    #[test]
    fn names_that_would_not_make_plain_keys_are_refused() {
        for bad in ["", "a b", "local", "a.b"] {
            assert!(render(&[bad.into()]).is_err(), "{bad:?}");
        }
        assert!(render(&["a".into(), "a".into()]).is_err());
    }
}
