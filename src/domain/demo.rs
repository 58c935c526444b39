//! The demo data set (`--demo`): idempotent, and built from the documents' own examples.

use super::{Core, Result};

/// Operator created by `--demo`.
pub const DEMO_OPERATOR: (&str, &str) = ("admin", "admin123456");
impl Core {
    /// Loads the demo data of the areas still on `Core`; running it again changes nothing.
    pub async fn load_demo(&self) -> Result<()> {
        self.load_iot_demo().await?;
        Ok(())
    }
}
