//! Meter readings: batches from the operator that record consumption and deduct it from the
//! prepaid balance, and the consumption list the API shows.

use super::{Meter, ledger_account};
use crate::domain::money::Fen;
use crate::domain::{Error, Result, Timestamp};
use crate::store::meter as store_meter;

/// One reading as it comes in: meter number, reading (units, at most two decimals), local time.
#[derive(Debug, Clone)]
pub struct ReadingInput {
    pub table_no: String,
    pub reading: String,
    pub read_time: String,
}

/// What a batch of readings did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadingReport {
    pub applied: usize,
    pub unchanged: usize,
}

impl Meter {
    /// Applies a batch of readings in one transaction, all or nothing. Each new reading records a
    /// consumption entry and deducts consumption x unit price from the household's balance (a
    /// journal entry too). A reading lower than the meter's last one, or not newer, refuses the
    /// whole batch; the same reading sent again is applied once.
    pub async fn record_readings(&self, batch: &[ReadingInput]) -> Result<ReadingReport> {
        if batch.is_empty() || batch.len() > 10_000 {
            return Err(Error::invalid("readings", "a batch holds 1-10000 readings"));
        }
        let zone = self.settings.zone;
        let now = self.clock.now().millis();
        let mut report = ReadingReport::default();
        let mut tx = self.store.begin_write().await?;
        for (i, r) in batch.iter().enumerate() {
            let at = |msg: String| {
                Error::invalid("readings", format!("#{} ({}): {msg}", i + 1, r.table_no))
            };
            let reading = Fen::parse_yuan(&r.reading)
                .filter(|v| v.0 >= 0)
                .ok_or_else(
                    || at("reading must be a number >= 0 with at most two decimals".into()),
                )?
                .0;
            let read_time = Timestamp::parse_local_datetime(&r.read_time, zone)
                .ok_or_else(|| at("readTime must be YYYY-MM-DD HH:MM:SS".into()))?
                .millis();
            let meter = store_meter::meter(&mut *tx, r.table_no.trim())
                .await?
                .ok_or_else(|| at("no such meter".into()))?;
            if let Some(applied) =
                store_meter::consumption_reading(&mut *tx, &meter.table_no, read_time).await?
            {
                if applied == reading {
                    report.unchanged += 1;
                    continue;
                }
                return Err(at("another reading was applied for that time".into()));
            }
            if meter.read_time.is_some_and(|last| read_time <= last) {
                return Err(at("older than the meter's last reading".into()));
            }
            if reading < meter.reading {
                return Err(at("lower than the meter's last reading".into()));
            }
            let amount = (reading - meter.reading)
                .checked_mul(meter.unit_price)
                .and_then(|v| v.checked_add(50))
                .map(|v| v / 100)
                .ok_or_else(|| at("the consumption is too large".into()))?;
            let row = store_meter::ConsumptionRow {
                table_no: meter.table_no.clone(),
                read_time,
                reading,
                last_reading: meter.reading,
                last_read_time: meter.read_time,
                amount,
            };
            store_meter::apply_reading(&mut tx, &row, now).await?;
            if amount > 0 {
                store_meter::add_to_balance(&mut tx, &meter.user_code, -amount).await?;
                let entry = crate::store::ledger::EntryRow {
                    entry_key: format!("meter-consumption:{}:{read_time}", meter.table_no),
                    kind: "meter_consumption".into(),
                    account: ledger_account(&meter.user_code),
                    amount: -amount,
                    reference: meter.table_no.clone(),
                    external_id: None,
                    created_at: now,
                };
                crate::store::ledger::append(&mut *tx, &entry).await?;
            }
            report.applied += 1;
        }
        tx.commit().await?;
        Ok(report)
    }

    /// A household's applied readings within `[from, to)`, oldest first (as the document's example).
    pub async fn consumptions(
        &self,
        account: &str,
        user_code: &str,
        from: Timestamp,
        to: Timestamp,
        page: i64,
        size: i64,
    ) -> Result<(i64, Vec<store_meter::ConsumptionRow>)> {
        crate::domain::check_page(
            page,
            size,
            1000,
            "pageSize",
            "pageNo须为正整数，pageSize须在1-1000之间",
        )?;
        let (household, _) = self.household(account, user_code).await?;
        Ok(store_meter::consumptions(
            self.store.pool(),
            &household.user_code,
            from.millis(),
            to.millis(),
            size,
            (page - 1) * size,
        )
        .await?)
    }
}
