//! The meter document's examples as demo data (`--demo`).

use super::{Meter, ReadingInput, recharge_entry};
use crate::domain::money::Fen;
use crate::domain::{Result, Timestamp};

impl Meter {
    /// The meter document's examples: account `khcs` / `123456`, the five buildings of
    /// `getBuildCode`, households `2022040001` and `2022040002`, and meter `202364555511`
    /// (type 3, electricity) with balance 130.00 and reading 3.00.
    pub async fn load_demo(&self) -> Result<()> {
        use crate::store::meter as m;
        self.ensure_account("khcs", "123456").await?;
        let pool = self.store.pool();
        let now = self.clock.now().millis();
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
        let mut tx = self.store.begin_write().await?;
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
            m::upsert_household(&mut *tx, &row, now).await?;
            self.journal_opening_balance(&mut tx, user_code, Fen(balance))
                .await?;
        }
        tx.commit().await?;
        let at = |s: &str| Timestamp::parse_rfc3339(s).map(|t| t.millis());
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
        let readings: Vec<ReadingInput> = [
            ("1.00", "2022-04-08 20:00:00"),
            ("2.20", "2022-04-15 20:30:00"),
            ("3.00", "2022-04-20 21:00:04"),
        ]
        .into_iter()
        .map(|(reading, read_time)| ReadingInput {
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
                recharge_entry(
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
}
