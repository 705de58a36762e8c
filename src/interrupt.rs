//! Ctrl-C: a run stops at its next step instead of dying mid-way, so that what it changed is
//! reported (and rolled back with `--rollback-on-failure`) rather than left half-done silently.
//! A second Ctrl-C exits at once.
//!
//! The flag is process-wide because a signal is: every run of a fleet stops.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Starts listening for Ctrl-C on `runtime`.
pub fn install(runtime: &tokio::runtime::Runtime) {
    runtime.spawn(async {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        REQUESTED.store(true, Ordering::SeqCst);
        eprintln!("interrupted: stopping before the next change (Ctrl-C again to quit at once)");
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(130);
        }
    });
}

/// True once Ctrl-C was pressed.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}
