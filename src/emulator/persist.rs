//! `--state FILE`: load the state if the file exists, save it after every write.
//!
//! Saves go to a temporary file beside the target, named `.FILE.p1run-tmp-XXXXXX` so that it
//! is recognisable, created 0600 (the state holds client secrets), then renamed over the old
//! one: a crash in the middle of a save leaves the previous state intact. A process killed
//! between create and rename leaves its temporary file behind; the next start removes it.

use super::state::State;
use std::ffi::OsString;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The saved state, or `None` when the file does not exist yet. Removes temporary files an
/// interrupted save left beside it, and refuses a state whose references do not resolve.
pub(crate) fn load(path: &Path) -> io::Result<Option<State>> {
    remove_stale_temporaries(path);
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let invalid = |why: String| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} is not a usable emulator state file: {why}; restore it, or delete it to \
                 start from a fresh state",
                path.display()
            ),
        )
    };
    let mut state: State =
        serde_json::from_slice(&bytes).map_err(|error| invalid(error.to_string()))?;
    state.reindex();
    // A state saved before populations were modelled gets the default ones now.
    state.seed_default_populations(super::clock::now_ms());
    state.check().map_err(invalid)?;
    keep_private(path)?;
    Ok(Some(state))
}

/// Writes the state atomically, readable by its owner only.
pub(crate) fn save(path: &Path, state: &State) -> io::Result<()> {
    let directory = directory_of(path);
    // tempfile creates the file 0600; the rename keeps that mode.
    let mut file = tempfile::Builder::new()
        .prefix(&temporary_prefix(path))
        .tempfile_in(directory)?;
    serde_json::to_writer(&mut file, state)?;
    file.flush()?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|error| error.error)?;
    Ok(())
}

fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// `.NAME.p1run-tmp-`: hidden, and tied to the one state file it belongs to.
fn temporary_prefix(path: &Path) -> OsString {
    let mut prefix = OsString::from(".");
    prefix.push(path.file_name().unwrap_or_default());
    prefix.push(".p1run-tmp-");
    prefix
}

/// Removes the temporary files of saves that never reached their rename. Each holds a whole
/// state, secrets included, so none may stay behind.
fn remove_stale_temporaries(path: &Path) {
    let prefix = temporary_prefix(path);
    let Ok(entries) = std::fs::read_dir(directory_of(path)) else {
        return;
    };
    let stale: Vec<PathBuf> = entries
        .flatten()
        .filter(|entry| {
            entry
                .file_name()
                .as_encoded_bytes()
                .starts_with(prefix.as_encoded_bytes())
        })
        .map(|entry| entry.path())
        .collect();
    for file in stale {
        match std::fs::remove_file(&file) {
            Ok(()) => {
                tracing::info!(file = %file.display(), "removed the temporary file of an interrupted state save")
            }
            Err(error) => {
                tracing::warn!(file = %file.display(), %error, "cannot remove the temporary file of an interrupted state save; delete it, it holds client secrets")
            }
        }
    }
}

/// Makes a state file readable by its owner only (it holds client secrets), e.g. one that
/// was copied in with a broader mode.
fn keep_private(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_state_loads_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert!(load(&path).unwrap().is_none());
        let state = State::seed(2);
        save(&path, &state).unwrap();
        let loaded = load(&path).unwrap().unwrap();
        assert_eq!(loaded.organization.id, state.organization.id);
        assert_eq!(loaded.role_ids, state.role_ids);
        assert_eq!(loaded.bootstrap_client_id, state.bootstrap_client_id);
        assert!(loaded.role(&state.role_ids[0]).is_some());
        assert_eq!(
            loaded.populations.len(),
            2,
            "one default population per environment"
        );
    }

    #[test]
    fn a_state_saved_before_populations_gets_its_default_populations_on_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut saved = serde_json::to_value(State::seed(2)).unwrap();
        for key in ["populations", "populations_seeded", "custom_roles"] {
            saved.as_object_mut().unwrap().remove(key);
        }
        std::fs::write(&path, saved.to_string()).unwrap();
        let loaded = load(&path).unwrap().unwrap();
        let defaults: Vec<_> = loaded
            .populations
            .values()
            .filter(|population| population.is_default())
            .collect();
        assert_eq!(defaults.len(), 2);
        assert!(loaded.custom_roles.is_empty());
    }

    #[test]
    fn a_corrupt_file_is_an_error_not_a_fresh_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, b"{ half a state").unwrap();
        assert_eq!(load(&path).unwrap_err().kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn dangling_references_are_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut state = State::seed(1);
        let other = State::seed(1);
        let app = state
            .applications
            .get_mut(&state.bootstrap_client_id)
            .unwrap();
        app.environment_id = other.environments[0].id.clone();
        save(&path, &state).unwrap();
        let error = load(&path).unwrap_err().to_string();
        assert!(
            error.contains("state.json") && error.contains("environment"),
            "{error}"
        );

        let mut state = State::seed(1);
        let app = state
            .applications
            .get_mut(&state.bootstrap_client_id)
            .unwrap();
        app.role_assignments[0].scope.id = "elsewhere".into();
        save(&path, &state).unwrap();
        let error = load(&path).unwrap_err().to_string();
        assert!(
            error.contains("scoped to ORGANIZATION elsewhere"),
            "{error}"
        );
    }
}
