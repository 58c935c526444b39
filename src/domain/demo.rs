//! The demo data set (`--demo`): idempotent, and built from the documents' own examples.

use super::identity::{Password, Phone};
use super::{Core, Result};
use crate::store::users as store_users;

/// Operator created by `--demo`.
pub const DEMO_OPERATOR: (&str, &str) = ("admin", "admin123456");
/// Heating mini-program user created by `--demo` (phone, password), from the heating document's examples.
pub const DEMO_HEATING_USER: (&str, &str) = ("13888888888", "123456789");

impl Core {
    /// Loads the demo data; running it again changes nothing.
    pub async fn load_demo(&self) -> Result<()> {
        self.ensure_operator(DEMO_OPERATOR.0, DEMO_OPERATOR.1)
            .await?;
        let phone = Phone::parse(DEMO_HEATING_USER.0)?;
        let password = Password::parse_new(DEMO_HEATING_USER.1, "password", 6, 20)?;
        let user = self.ensure_user(&phone, &password, "用户昵称").await?;
        if user.real_name.is_none() {
            // The document's example ID number fails its own check digit; the demo keeps it
            // verbatim so the profile shows exactly the document's `610102********1234`.
            let change = store_users::ProfileChange {
                nickname: None,
                real_name: Some("张三"),
                id_card: Some("610102199001011234"),
                address: Some("天山区xx小区xx号楼xx单元xx室"),
            };
            store_users::update_profile(self.store.pool(), &user.id, &change, self.now().millis())
                .await?;
        }
        tracing::info!("demo data loaded");
        Ok(())
    }
}
