//! The demo data set (`--demo`): idempotent, and built from the documents' own examples.

use super::identity::{Password, Phone};
use super::{Core, Result};
use crate::store::users as store_users;

/// Operator created by `--demo`.
pub const DEMO_OPERATOR: (&str, &str) = ("admin", "admin123456");
/// Heating mini-program user created by `--demo` (phone, password), from the heating document's examples.
pub const DEMO_HEATING_USER: (&str, &str) = ("13888888888", "123456789");

/// Heat accounts: the document's example `H202400001` and two more.
pub const DEMO_HEAT_ACCOUNTS: &str = "heat_account,real_name,id_card,address,heating_area
H202400001,张三,610102199001011234,天山区xx小区xx号楼xx单元xx室,85.5
H202400002,李四,650102198505054326,沙依巴克区友好北路xx号xx室,120
H202400003,王五,650103197803036785,水磨沟区南湖东路xx号xx室,64.25
";

/// Bills: for `H202400001` the document's unpaid 2024-2025 bill (`B1734502968024`, 1250.50) and
/// a paid one of the same season (so 4.2 reads total 2500.00, paid 1249.50, unpaid 1250.50),
/// and two earlier paid seasons (section 7's 3 seasons, 5280.50 paid in all).
pub const DEMO_BILLS: &str = "bill_id,heat_account,heating_season,amount,bill_date,due_date,status,paid_at
B1666000000001,H202400001,2022-2023,2015.50,2022-10-15T02:00:00.000Z,2022-11-30,paid,2022-11-20T03:00:00.000Z
B1697000000001,H202400001,2023-2024,2015.50,2023-10-15T02:00:00.000Z,2023-11-30,paid,2023-12-05T03:00:00.000Z
B1728957600000,H202400001,2024-2025,1249.50,2024-10-15T02:00:00.000Z,2024-11-30,paid,2024-11-10T03:00:00.000Z
B1734502968024,H202400001,2024-2025,1250.50,2024-12-18T07:49:28.024Z,2024-11-30,unpaid,
B1734502968101,H202400002,2024-2025,1764.00,2024-12-18T07:49:28.024Z,2024-11-30,unpaid,
B1734502968102,H202400003,2024-2025,944.48,2024-12-18T07:49:28.024Z,2024-11-30,unpaid,
";

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
        self.load_retail_demo().await?;
        self.load_iot_demo().await?;
        self.import_heat_accounts(DEMO_HEAT_ACCOUNTS.as_bytes())
            .await?;
        self.import_bills(DEMO_BILLS.as_bytes()).await?;
        Ok(())
    }
}
