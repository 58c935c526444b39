//! Bills of heat accounts, what an account owes, and the late fees on it.

use time::Date;

use super::accounts::{Accounts, HeatAccount};
use super::parse_season;
use crate::domain::money::Fen;
use crate::domain::time::{date_string, parse_date};
use crate::domain::{Entity, Error, Result, Timestamp, ids};
use crate::store::heating::accounts as store_heat;

/// Whether a bill is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillStatus {
    Unpaid,
    Paid,
}

impl BillStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BillStatus::Unpaid => "unpaid",
            BillStatus::Paid => "paid",
        }
    }

    pub fn parse(s: &str) -> Option<BillStatus> {
        match s.trim() {
            "" | "unpaid" => Some(BillStatus::Unpaid),
            "paid" => Some(BillStatus::Paid),
            _ => None,
        }
    }
}

/// A bill.
#[derive(Debug, Clone)]
pub struct Bill {
    pub bill_id: String,
    pub heat_account: String,
    pub heating_season: String,
    pub amount: Fen,
    pub bill_date: Timestamp,
    pub due_date: Date,
    pub status: BillStatus,
    pub paid_at: Option<Timestamp>,
}

impl Bill {
    fn from_row(r: store_heat::BillRow) -> Result<Bill> {
        let bad = || {
            Error::internal(anyhow::anyhow!(
                "bill {} is malformed in the database",
                r.bill_id
            ))
        };
        Ok(Bill {
            due_date: parse_date(&r.due_date).ok_or_else(bad)?,
            status: BillStatus::parse(&r.status).ok_or_else(bad)?,
            bill_id: r.bill_id,
            heat_account: r.heat_account,
            heating_season: r.heating_season,
            amount: Fen(r.amount),
            bill_date: Timestamp::from_millis(r.bill_date),
            paid_at: r.paid_at.map(Timestamp::from_millis),
        })
    }
}

/// A bill as an operator enters it.
#[derive(Debug, Clone, Default)]
pub struct BillInput {
    /// Empty: one is made (`B` + 13-digit milliseconds + 4 random digits).
    pub bill_id: String,
    pub heat_account: String,
    pub heating_season: String,
    /// Yuan, at most two decimals.
    pub amount: String,
    /// RFC 3339, or `YYYY-MM-DD` (the start of that local day).
    pub bill_date: String,
    /// `YYYY-MM-DD`
    pub due_date: String,
    /// `unpaid` (default) or `paid`.
    pub status: String,
    /// For a bill imported as paid: when (RFC 3339 or `YYYY-MM-DD`); empty = now.
    pub paid_at: String,
}

impl Accounts {
    /// Checks a bill's fields (not yet whether its account exists); the row to store.
    pub fn validate_bill(&self, input: &BillInput) -> Result<store_heat::BillRow> {
        let now = self.clock.now();
        let bill_id = match input.bill_id.trim() {
            "" => format!("B{}{}", now.millis(), ids::random_digits(4)),
            id if id.len() <= 40
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                id.to_owned()
            }
            _ => return Err(Error::invalid("bill_id", "账单编号格式不正确")),
        };
        let heat_account = super::accounts::parse_account_number(&input.heat_account)?;
        if parse_season(&input.heating_season).is_none() {
            return Err(Error::invalid("heating_season", "供暖季格式应为 2024-2025"));
        }
        let amount = Fen::parse_yuan(&input.amount)
            .filter(|f| f.0 > 0 && f.0 <= 1_000_000_000)
            .ok_or_else(|| Error::invalid("amount", "金额须为正数，最多两位小数"))?;
        let zone = self.settings.zone;
        let bill_date = Timestamp::parse_rfc3339(&input.bill_date)
            .or_else(|| {
                parse_date(&input.bill_date).map(|d| Timestamp::start_of_local_date(d, zone))
            })
            .filter(|t| t.millis() >= 0 && *t <= Timestamp::MAX)
            .ok_or_else(|| {
                Error::invalid("bill_date", "账单日期应为 RFC 3339 时间或 YYYY-MM-DD")
            })?;
        let due_date = parse_date(&input.due_date)
            .ok_or_else(|| Error::invalid("due_date", "缴费截止日期应为 YYYY-MM-DD"))?;
        let status = BillStatus::parse(&input.status)
            .ok_or_else(|| Error::invalid("status", "状态只能是 unpaid 或 paid"))?;
        let paid_at = match (status, input.paid_at.trim()) {
            (BillStatus::Unpaid, "") => None,
            (BillStatus::Unpaid, _) => {
                return Err(Error::invalid("paid_at", "未缴账单不能有缴费时间"));
            }
            (BillStatus::Paid, "") => Some(now),
            (BillStatus::Paid, t) => Some(
                Timestamp::parse_rfc3339(t)
                    .or_else(|| parse_date(t).map(|d| Timestamp::start_of_local_date(d, zone)))
                    .filter(|t| t.millis() >= 0 && *t <= Timestamp::MAX)
                    .ok_or_else(|| {
                        Error::invalid("paid_at", "缴费时间应为 RFC 3339 时间或 YYYY-MM-DD")
                    })?,
            ),
        };
        Ok(store_heat::BillRow {
            bill_id,
            heat_account,
            heating_season: input.heating_season.trim().to_owned(),
            amount: amount.0,
            bill_date: bill_date.millis(),
            due_date: date_string(due_date),
            status: status.as_str().to_owned(),
            paid_at: paid_at.map(Timestamp::millis),
            created_at: now.millis(),
        })
    }

    /// Adds one bill to an existing account.
    pub async fn create_bill(&self, input: &BillInput) -> Result<Bill> {
        let row = self.validate_bill(input)?;
        self.account(&row.heat_account).await?;
        let mut tx = self.store.begin_write().await?;
        match store_heat::insert_bill(&mut *tx, &row).await {
            Ok(()) => {}
            Err(e) if crate::store::is_unique_violation(&e) => {
                return Err(Error::Conflict(Entity::Bill));
            }
            Err(e) => return Err(e.into()),
        }
        self.journal_imported_payment(&mut tx, &row).await?;
        tx.commit().await?;
        Bill::from_row(row)
    }

    /// A bill entered as already paid (at the counter, before this system) is money received:
    /// it goes into the journal under its own key.
    pub(crate) async fn journal_imported_payment(
        &self,
        conn: &mut crate::store::Conn,
        row: &store_heat::BillRow,
    ) -> Result<()> {
        if row.status != BillStatus::Paid.as_str() {
            return Ok(());
        }
        let entry = crate::store::ledger::EntryRow {
            entry_key: super::orders::imported_entry_key(&row.bill_id),
            kind: "imported_payment".into(),
            account: super::orders::ledger_account(&row.heat_account),
            amount: row.amount,
            reference: row.bill_id.clone(),
            external_id: None,
            created_at: self.clock.now().millis(),
        };
        crate::store::ledger::append(conn, &entry).await?;
        Ok(())
    }

    /// Every bill of an account, oldest season first.
    pub async fn bills_of(&self, heat_account: &str) -> Result<Vec<Bill>> {
        store_heat::bills_of(self.store.pool(), heat_account)
            .await?
            .into_iter()
            .map(Bill::from_row)
            .collect()
    }

    /// Today's date in the server's zone.
    pub fn today(&self) -> Date {
        self.clock.now().local_calendar_date(self.settings.zone)
    }

    /// The late fee on a bill today (zero once paid).
    pub fn late_fee_of(&self, bill: &Bill) -> Fen {
        if bill.status == BillStatus::Paid {
            return Fen(0);
        }
        Fen(self
            .settings
            .late_fee
            .fee(bill.amount.0, bill.due_date, self.today()))
    }

    /// The figures of section 4.2 for an account.
    pub async fn summary_of(&self, heat_account: &str) -> Result<AccountSummary> {
        let bills = self.bills_of(heat_account).await?;
        let season = bills
            .iter()
            .map(|b| b.heating_season.clone())
            .max()
            .unwrap_or_else(|| self.settings.seasons.season_of(self.today()));
        let in_season: Vec<&Bill> = bills
            .iter()
            .filter(|b| b.heating_season == season)
            .collect();
        let sum = |f: &dyn Fn(&&Bill) -> bool| {
            Fen(in_season.iter().filter(|b| f(b)).map(|b| b.amount.0).sum())
        };
        let total = sum(&|_| true);
        let paid = sum(&|b| b.status == BillStatus::Paid);
        let owed_everywhere = Fen(bills
            .iter()
            .filter(|b| b.status == BillStatus::Unpaid)
            .map(|b| b.amount.0)
            .sum());
        let deadline = in_season
            .iter()
            .filter(|b| b.status == BillStatus::Unpaid)
            .map(|b| b.due_date)
            .min()
            .or_else(|| in_season.iter().map(|b| b.due_date).max());
        let bounds = parse_season(&season).and_then(|y| self.settings.seasons.bounds(y));
        Ok(AccountSummary {
            heating_season: season,
            total,
            paid,
            unpaid: Fen(total.0 - paid.0),
            current_balance: Fen(-owed_everywhere.0),
            payment_deadline: deadline,
            heating_start: bounds.map(|b| b.0),
            heating_end: bounds.map(|b| b.1),
        })
    }

    /// The user's bound account with its section 4.2 figures.
    pub async fn mine(&self, user_id: &str) -> Result<(HeatAccount, AccountSummary)> {
        let account = self.bound(user_id).await?;
        let summary = self.summary_of(&account.heat_account).await?;
        Ok((account, summary))
    }

    /// Section 5.1: the unpaid bills of the user's account with their late fees.
    pub async fn payment_info(&self, user_id: &str) -> Result<PaymentInfo> {
        let account = self.bound(user_id).await?;
        let unpaid: Vec<(Bill, Fen)> = self
            .bills_of(&account.heat_account)
            .await?
            .into_iter()
            .filter(|b| b.status == BillStatus::Unpaid)
            .map(|b| {
                let fee = self.late_fee_of(&b);
                (b, fee)
            })
            .collect();
        Ok(PaymentInfo {
            total_unpaid: Fen(unpaid.iter().map(|(b, _)| b.amount.0).sum()),
            total_late_fee: Fen(unpaid.iter().map(|(_, f)| f.0).sum()),
            heat_account: account.heat_account,
            unpaid_bills: unpaid,
        })
    }
}

/// Section 4.2's figures for the account's latest season.
#[derive(Debug, Clone)]
pub struct AccountSummary {
    pub heating_season: String,
    pub total: Fen,
    pub paid: Fen,
    pub unpaid: Fen,
    /// Minus everything the account owes, over all seasons.
    pub current_balance: Fen,
    pub payment_deadline: Option<Date>,
    pub heating_start: Option<Date>,
    pub heating_end: Option<Date>,
}

/// Section 5.1's reply.
#[derive(Debug, Clone)]
pub struct PaymentInfo {
    pub heat_account: String,
    pub unpaid_bills: Vec<(Bill, Fen)>,
    pub total_unpaid: Fen,
    pub total_late_fee: Fen,
}
