//! Loading the registry from CSV: every row is checked first, a bad row is reported with its
//! line number, and nothing of the file is written unless all of it is good. Importing the same
//! file again changes nothing.
//!
//! Accounts: `heat_account,real_name,id_card,address,heating_area` (a known account is updated).
//! Bills: `bill_id,heat_account,heating_season,amount,bill_date,due_date[,status][,paid_at]` (`bill_id`
//! may be empty; a known `bill_id` must carry the same content).

use std::collections::{HashMap, HashSet};

use super::accounts::{AccountInput, Accounts};
use super::bills::BillInput;
use crate::domain::{Error, Invalid, Result};
use crate::store::heating::accounts as store_heat;

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub rows: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

fn line_error(line: u64, err: Error) -> Error {
    match err {
        Error::Invalid(Invalid { field, message }) => {
            Error::invalid("csv", format!("line {line}: {field}: {message}"))
        }
        Error::NotFound(what) => Error::invalid("csv", format!("line {line}: {what} not found")),
        Error::State(message) => Error::invalid("csv", format!("line {line}: {message}")),
        other => other,
    }
}

/// Reads a CSV file into (line number, column -> value) rows, checking the header.
pub(crate) fn read_csv_rows(
    bytes: &[u8],
    required: &[&str],
    optional: &[&str],
) -> Result<Vec<(u64, HashMap<String, String>)>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| Error::invalid("csv", format!("line 1: {e}")))?
        .iter()
        .map(str::to_owned)
        .collect();
    for h in &headers {
        if !required.contains(&h.as_str()) && !optional.contains(&h.as_str()) {
            return Err(Error::invalid(
                "csv",
                format!("line 1: unknown column {}", crate::domain::error::quoted(h)),
            ));
        }
    }
    for r in required {
        if !headers.iter().any(|h| h == r) {
            return Err(Error::invalid(
                "csv",
                format!("line 1: missing column {r:?}"),
            ));
        }
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            Error::invalid("csv", format!("line {line}: {e}"))
        })?;
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(str::is_empty) {
            continue;
        }
        let row = headers
            .iter()
            .cloned()
            .zip(record.iter().map(str::to_owned))
            .collect();
        rows.push((line, row));
    }
    if rows.is_empty() {
        return Err(Error::invalid("csv", "the file has no rows"));
    }
    if rows.len() > 100_000 {
        return Err(Error::invalid("csv", "at most 100000 rows per file"));
    }
    Ok(rows)
}

fn take(row: &mut HashMap<String, String>, column: &str) -> String {
    row.remove(column).unwrap_or_default()
}

impl Accounts {
    /// Loads heat accounts from CSV (all or nothing).
    pub async fn import_accounts(&self, bytes: &[u8]) -> Result<ImportReport> {
        let now = self.clock.now();
        let mut seen = HashSet::new();
        let mut valid = Vec::new();
        for (line, mut row) in read_csv_rows(
            bytes,
            &[
                "heat_account",
                "real_name",
                "id_card",
                "address",
                "heating_area",
            ],
            &[],
        )? {
            let input = AccountInput {
                heat_account: take(&mut row, "heat_account"),
                real_name: take(&mut row, "real_name"),
                id_card: take(&mut row, "id_card"),
                address: take(&mut row, "address"),
                heating_area: take(&mut row, "heating_area"),
            };
            let account = input.validate(now).map_err(|e| line_error(line, e))?;
            if !seen.insert(account.heat_account.clone()) {
                return Err(line_error(
                    line,
                    Error::State(format!(
                        "{} appears twice in the file",
                        account.heat_account
                    )),
                ));
            }
            valid.push(account);
        }
        let mut report = ImportReport {
            rows: valid.len(),
            ..ImportReport::default()
        };
        let mut tx = self.store.begin_write().await?;
        for account in &valid {
            match store_heat::find_account(&mut *tx, &account.heat_account).await? {
                Some(old)
                    if old.real_name == account.real_name
                        && old.id_card == account.id_card
                        && old.address == account.address
                        && old.heating_area_centi == account.heating_area_centi =>
                {
                    report.unchanged += 1;
                    continue;
                }
                Some(_) => report.updated += 1,
                None => report.created += 1,
            }
            store_heat::upsert_account(&mut *tx, account).await?;
        }
        tx.commit().await?;
        Ok(report)
    }

    /// Loads bills from CSV (all or nothing); every bill's account must exist.
    pub async fn import_bills(&self, bytes: &[u8]) -> Result<ImportReport> {
        let mut seen = HashSet::new();
        let mut valid = Vec::new();
        let required = [
            "bill_id",
            "heat_account",
            "heating_season",
            "amount",
            "bill_date",
            "due_date",
        ];
        for (line, mut row) in read_csv_rows(bytes, &required, &["status", "paid_at"])? {
            let input = BillInput {
                bill_id: take(&mut row, "bill_id"),
                heat_account: take(&mut row, "heat_account"),
                heating_season: take(&mut row, "heating_season"),
                amount: take(&mut row, "amount"),
                bill_date: take(&mut row, "bill_date"),
                due_date: take(&mut row, "due_date"),
                status: take(&mut row, "status"),
                paid_at: take(&mut row, "paid_at"),
            };
            let bill = self
                .validate_bill(&input)
                .map_err(|e| line_error(line, e))?;
            if !seen.insert(bill.bill_id.clone()) {
                return Err(line_error(
                    line,
                    Error::State(format!("{} appears twice in the file", bill.bill_id)),
                ));
            }
            valid.push((line, bill));
        }
        let mut report = ImportReport {
            rows: valid.len(),
            ..ImportReport::default()
        };
        let mut tx = self.store.begin_write().await?;
        for (line, bill) in &valid {
            if store_heat::find_account(&mut *tx, &bill.heat_account)
                .await?
                .is_none()
            {
                return Err(line_error(
                    *line,
                    Error::State(format!("heat account {} not found", bill.heat_account)),
                ));
            }
            if let Some(old) = store_heat::find_bill(&mut *tx, &bill.bill_id).await? {
                let same = old.heat_account == bill.heat_account
                    && old.heating_season == bill.heating_season
                    && old.amount == bill.amount
                    && old.bill_date == bill.bill_date
                    && old.due_date == bill.due_date
                    && (old.status == bill.status || old.status == "paid");
                if !same {
                    return Err(line_error(
                        *line,
                        Error::State(format!("bill {} exists with other content", bill.bill_id)),
                    ));
                }
                report.unchanged += 1;
                continue;
            }
            store_heat::insert_bill(&mut *tx, bill).await?;
            self.journal_imported_payment(&mut tx, bill).await?;
            report.created += 1;
        }
        tx.commit().await?;
        Ok(report)
    }
}
