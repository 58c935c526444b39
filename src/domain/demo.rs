//! The demo data set (`--demo`): idempotent, and built from the documents' own examples.

use super::{Core, Result};

/// Operator created by `--demo`.
pub const DEMO_OPERATOR: (&str, &str) = ("admin", "admin123456");
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

    /// Loads the demo data of the areas still on `Core`; running it again changes nothing.
    pub async fn load_demo(&self) -> Result<()> {
        self.load_meter_demo().await?;
        self.load_iot_demo().await?;
        // The charging document's example driver.
        match self.charging_create_driver("test", "123456").await {
            Ok(_) | Err(crate::domain::Error::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
        Ok(())
    }
}
