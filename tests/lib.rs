//! The integration tests: one binary, one module per feature, all over real HTTP against the
//! PingOne emulator.

// Shared kit: blocking HTTP client, started emulator, spec validator.
mod support;

// The PingOne emulator, endpoint by endpoint.
mod emulator_api;
mod emulator_applications;
mod emulator_errors;
mod emulator_options;
mod emulator_role_assignments;
mod emulator_token;

// The PingOne client against the emulator.
mod client;
