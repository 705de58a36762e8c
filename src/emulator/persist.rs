//! `--state FILE`: load the state if the file exists, save it after every write. Saves go to a
//! temporary file in the same directory that is then renamed over the old one, so a crash in
//! the middle of a save leaves the previous state intact.

use super::state::State;
use std::io::{self, Write};
use std::path::Path;

/// The saved state, or `None` when the file does not exist yet.
pub(crate) fn load(path: &Path) -> io::Result<Option<State>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let mut state: State = serde_json::from_slice(&bytes).map_err(|error| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is not an emulator state file: {error}", path.display()),
        )
    })?;
    state.reindex();
    // A state saved before populations were modelled gets the default ones now.
    state.seed_default_populations(super::clock::now_ms());
    if !state.is_consistent() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is an incomplete emulator state file", path.display()),
        ));
    }
    Ok(Some(state))
}

/// Writes the state atomically.
pub(crate) fn save(path: &Path, state: &State) -> io::Result<()> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut file = tempfile::NamedTempFile::new_in(directory)?;
    serde_json::to_writer(&mut file, state)?;
    file.flush()?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|error| error.error)?;
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
}
