//! Loading the meter registry from CSV, one row per meter with its household, address,
//! building and API account (which must exist):
//!
//! `admin_user_name,build_code,build_name,address,user_code,user_name,house_number,table_no,table_type,unit_price[,opening_balance]`
//!
//! `unit_price` is fen per unit (kWh or m³); `table_type` odd for electricity, even for water;
//! `opening_balance` (yuan) is credited, and journaled, only when the household is new. Every
//! row is checked first; a bad row is reported with its line number and nothing is written.

use std::collections::HashMap;

use super::Meter;
use crate::domain::heating::import::{ImportReport, read_csv_rows};
use crate::domain::money::Fen;
use crate::domain::{Error, Result};
use crate::store::meter as store_meter;

fn code(value: &str, field: &'static str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() || v.len() > 64 || v.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must be 1-64 characters"));
    }
    Ok(v.to_owned())
}

struct Row {
    account: String,
    build_code: String,
    build_name: String,
    address: String,
    household: store_meter::HouseholdRow,
    meter: store_meter::MeterRow,
}

impl Meter {
    /// Loads meters with their households, addresses and buildings (all or nothing).
    pub async fn import(&self, bytes: &[u8]) -> Result<ImportReport> {
        let required = [
            "admin_user_name",
            "build_code",
            "build_name",
            "address",
            "user_code",
            "user_name",
            "house_number",
            "table_no",
            "table_type",
            "unit_price",
        ];
        let mut rows = Vec::new();
        let mut meters_seen: HashMap<String, String> = HashMap::new();
        for (line, mut r) in read_csv_rows(bytes, &required, &["opening_balance"])? {
            let mut take = |c: &str| r.remove(c).unwrap_or_default();
            let at = |e: Error| match e {
                Error::Invalid(inv) => Error::invalid(
                    "csv",
                    format!("line {line}: {}: {}", inv.field, inv.message),
                ),
                other => other,
            };
            let account = code(&take("admin_user_name"), "admin_user_name").map_err(at)?;
            let build_code = code(&take("build_code"), "build_code").map_err(at)?;
            let build_name = code(&take("build_name"), "build_name").map_err(at)?;
            let address = code(&take("address"), "address").map_err(at)?;
            let user_code = code(&take("user_code"), "user_code").map_err(at)?;
            let user_name = code(&take("user_name"), "user_name").map_err(at)?;
            let house_number =
                Some(take("house_number").trim().to_owned()).filter(|h| !h.is_empty());
            let table_no = code(&take("table_no"), "table_no").map_err(at)?;
            let table_type: i64 = take("table_type")
                .trim()
                .parse()
                .ok()
                .filter(|t| (1..=99).contains(t))
                .ok_or_else(|| {
                    at(Error::invalid(
                        "table_type",
                        "must be 1-99 (odd: electricity, even: water)",
                    ))
                })?;
            let unit_price: i64 = take("unit_price")
                .trim()
                .parse()
                .ok()
                .filter(|p| (0..=1_000_000).contains(p))
                .ok_or_else(|| {
                    at(Error::invalid(
                        "unit_price",
                        "must be fen per unit, 0-1000000",
                    ))
                })?;
            let opening = match take("opening_balance").trim() {
                "" => Fen(0),
                v => Fen::parse_yuan(v).filter(|f| f.0 >= 0).ok_or_else(|| {
                    at(Error::invalid(
                        "opening_balance",
                        "must be yuan >= 0, at most two decimals",
                    ))
                })?,
            };
            if meters_seen
                .insert(table_no.clone(), user_code.clone())
                .is_some()
            {
                return Err(at(Error::invalid(
                    "table_no",
                    format!("{table_no} appears twice in the file"),
                )));
            }
            if store_meter::account(self.store.pool(), &account)
                .await?
                .is_none()
            {
                return Err(at(Error::invalid(
                    "admin_user_name",
                    format!("no API account {account}"),
                )));
            }
            if let Some(existing) = store_meter::household(self.store.pool(), &user_code).await? {
                if existing.admin_user_name != account {
                    return Err(at(Error::invalid(
                        "user_code",
                        "belongs to another account",
                    )));
                }
            }
            if let Some(existing) = store_meter::meter(self.store.pool(), &table_no).await? {
                if existing.user_code != user_code {
                    return Err(at(Error::invalid(
                        "table_no",
                        "belongs to another household",
                    )));
                }
            }
            rows.push(Row {
                household: store_meter::HouseholdRow {
                    user_code: user_code.clone(),
                    admin_user_name: account.clone(),
                    build_code: build_code.clone(),
                    address: address.clone(),
                    user_name,
                    house_number,
                    balance: opening.0,
                },
                meter: store_meter::MeterRow {
                    table_no,
                    user_code,
                    table_type,
                    unit_price,
                    reading: 0,
                    read_time: None,
                },
                account,
                build_code,
                build_name,
                address,
            });
        }
        let now = self.clock.now().millis();
        let mut report = ImportReport {
            rows: rows.len(),
            ..ImportReport::default()
        };
        let mut tx = self.store.begin_write().await?;
        for r in &rows {
            store_meter::upsert_building(&mut *tx, &r.account, &r.build_code, &r.build_name)
                .await?;
            store_meter::upsert_address(&mut *tx, &r.account, &r.build_code, &r.address).await?;
            let new_household = store_meter::household(&mut *tx, &r.household.user_code)
                .await?
                .is_none();
            store_meter::upsert_household(&mut *tx, &r.household, now).await?;
            if new_household {
                self.journal_opening_balance(
                    &mut tx,
                    &r.household.user_code,
                    Fen(r.household.balance),
                )
                .await?;
            }
            match store_meter::meter(&mut *tx, &r.meter.table_no).await? {
                Some(m)
                    if m.table_type == r.meter.table_type && m.unit_price == r.meter.unit_price =>
                {
                    report.unchanged += 1
                }
                Some(_) => report.updated += 1,
                None => report.created += 1,
            }
            store_meter::upsert_meter(&mut *tx, &r.meter, now).await?;
        }
        tx.commit().await?;
        Ok(report)
    }
}
