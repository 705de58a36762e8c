//! The Rhai host: the engine, the primitives it registers, the per-run session and how script
//! errors are shown. Its one entry point for a run is [`engine::build`] on a [`Session`].

pub mod engine;
pub mod primitives;
pub mod render;
pub mod session;

pub use primitives::PrimitiveDoc;
pub use session::{Mode, Session};
