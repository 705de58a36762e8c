//! TEMP stub in main; the emulator branch provides the real one.
use super::EmulatorOptions;
/// Emulator flags.
#[derive(clap::Args, Debug, Clone)]
pub struct EmulatorArgs {}
impl EmulatorArgs {
    /// Options.
    pub fn options(&self) -> Result<EmulatorOptions, String> {
        Ok(EmulatorOptions::default())
    }
}
