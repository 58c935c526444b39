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
    /// The meter document's examples: account `khcs` / `123456`, the five buildings of
    /// `getBuildCode`, households `2022040001` and `2022040002`, and meter `202364555511`
    /// (type 3, electricity) with balance 130.00 and reading 3.00.
    async fn load_meter_demo(&self) -> Result<()> {
        use crate::store::meter as m;
        self.ensure_meter_account("khcs", "123456").await?;
        let pool = self.store.pool();
        let now = self.now().millis();
        let buildings = [
            ("一栋电", "gzfh-1-d"),
            ("二栋电", "gzfh-2-d"),
            ("三栋水", "gzfh-3-s"),
            ("四栋水", "gzfh-4-s"),
            ("测试", "gzfh"),
        ];
        for (name, code) in buildings {
            m::upsert_building(pool, "khcs", code, name).await?;
        }
        for (code, address) in [
            ("gzfh-1-d", "一栋一层"),
            ("gzfh-1-d", "一栋二层"),
            ("gzfh-1-d", "一栋三层"),
        ] {
            m::upsert_address(pool, "khcs", code, address).await?;
        }
        // Only on a fresh database: the history below must not be applied twice.
        if m::household(pool, "2022040001").await?.is_some() {
            return Ok(());
        }
        // 2022040001 starts with 1.68; three readings (0.00 -> 3.00 at 0.56 a unit) use it up,
        // and the document's two GetPaymentList recharges (10.00 + 120.00) bring it to 130.00.
        let households = [
            ("2022040001", "101", Some("101"), 168),
            ("2022040002", "102", None, 5_000),
        ];
        for (user_code, user_name, house_number, balance) in households {
            let row = m::HouseholdRow {
                user_code: user_code.into(),
                admin_user_name: "khcs".into(),
                build_code: "gzfh-1-d".into(),
                address: "一栋一层".into(),
                user_name: user_name.into(),
                house_number: house_number.map(str::to_owned),
                balance,
            };
            m::upsert_household(pool, &row, now).await?;
            self.journal_opening_balance(pool, user_code, super::money::Fen(balance))
                .await?;
        }
        let at = |s: &str| super::Timestamp::parse_rfc3339(s).map(|t| t.millis());
        for (table_no, user_code, table_type, reading, read_time) in [
            (
                "202364555511",
                "2022040001",
                3,
                0,
                at("2022-04-01T08:00:00+08:00"),
            ),
            (
                "202364555512",
                "2022040002",
                4,
                1_250,
                at("2022-04-20T21:00:04+08:00"),
            ),
        ] {
            let meter = m::MeterRow {
                table_no: table_no.into(),
                user_code: user_code.into(),
                table_type,
                unit_price: if table_type % 2 == 1 { 56 } else { 345 },
                reading,
                read_time,
            };
            m::upsert_meter(pool, &meter, now).await?;
        }
        let readings: Vec<super::meter::ReadingInput> = [
            ("1.00", "2022-04-08 20:00:00"),
            ("2.20", "2022-04-15 20:30:00"),
            ("3.00", "2022-04-20 21:00:04"),
        ]
        .into_iter()
        .map(|(reading, read_time)| super::meter::ReadingInput {
            table_no: "202364555511".into(),
            reading: reading.into(),
            read_time: read_time.into(),
        })
        .collect();
        self.record_readings(&readings).await?;
        let recharges = [
            ("jrh2023030716084144045", 1_000, "2023-04-06T13:39:21+08:00"),
            ("465465165165165", 12_000, "2023-04-06T14:38:53+08:00"),
        ];
        let mut tx = self.store.begin_write().await?;
        let rows: Vec<m::NewRecharge<'_>> = recharges
            .iter()
            .map(|(no, amount, time)| m::NewRecharge {
                account: "khcs",
                out_trade_no: no,
                user_code: "2022040001",
                amount: *amount,
                created_at: at(time).unwrap_or(now),
            })
            .collect();
        m::insert_recharges(&mut tx, &rows).await?;
        let entries: Vec<crate::store::ledger::EntryRow> = rows
            .iter()
            .map(|r| {
                super::meter::recharge_entry(
                    r.account,
                    r.out_trade_no,
                    r.user_code,
                    r.amount,
                    r.created_at,
                )
            })
            .collect();
        crate::store::ledger::append_many(&mut tx, &entries).await?;
        m::add_to_balance(&mut tx, "2022040001", 13_000).await?;
        tx.commit().await?;
        Ok(())
    }

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
        self.load_meter_demo().await?;
        self.load_retail_demo().await?;
        // The charging document's example driver.
        match self.charging_create_driver("test", "123456").await {
            Ok(_) | Err(crate::domain::Error::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
        self.import_heat_accounts(DEMO_HEAT_ACCOUNTS.as_bytes())
            .await?;
        self.import_bills(DEMO_BILLS.as_bytes()).await?;
        Ok(())
    }
}
