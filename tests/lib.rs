//! The integration tests: one binary, one module per feature, all over real HTTP against the
//! PingOne emulator.

mod kit;

// `p1run apply` with the bundled recipes.
mod apply;
// The listing commands and the run report.
mod cli;
// Completions, man, check, definitions, suggestions, colours, prints, fleet listings.
mod cli_conveniences;
// The PingOne API client against the emulator.
mod client;
// Bad input: one clear message, exit 1, no panic.
mod errors;
// Custom roles, populations, exact role sets and list_apps as primitives.
mod custom_roles;
// `p1run export` and its round trip.
mod export;
// `init`, `doctor`, `[defaults]`, per-environment vars, `--var-file`.
mod config_doctor;
// Fleet runs across many environments.
mod fleet;
// Fleets over CI machines: shard budgets, merged reports, JUnit and step summaries.
mod fleet_ci;
// The example recipes.
mod examples;
// The same final state under latency, faults, propagation delay and rate limits.
mod faults;
// `plan`, drift checks, saved plans.
mod plan;
// Rollback, pre-flight.
mod rollback;
// Request bodies against the spec.
mod wire;
// The safety promises on the paths where they are easiest to break.
mod promises;
// Proxies, CA stores, certificates, gzip, typos, secret files, imports, floods, state files.
mod hardening;
// `p1run test` and the bundled recipes' own tests.
mod recipe_tests;
// Secrets never reach output or logs.
mod secrets;

// The PingOne emulator, endpoint by endpoint.
mod emulator_api;
// `p1run emulator` as a separate process.
mod emulator_applications;
mod emulator_cli;
// Custom admin roles: CRUD, who may write them, assigning and holding them.
mod emulator_custom_roles;
mod emulator_errors;
mod emulator_options;
// Populations, and POPULATION scopes in role assignments.
mod emulator_populations;
mod emulator_role_assignments;
mod emulator_token;
