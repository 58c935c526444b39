//! Checking the money journal against what it explains: every paid order and every paid bill
//! must be backed by exactly its journal entries, every entry by what it claims to pay, and
//! every order by its lines and bills. All of it read from one consistent snapshot.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::Result;
use super::heating::orders::{imported_entry_key, ledger_account, order_entry_key};
use crate::store::{Store, ledger};

/// The outcome of a check: what was looked at and every disagreement found.
#[derive(Debug, Default)]
pub struct LedgerReport {
    pub entries: usize,
    pub orders: usize,
    pub bills: usize,
    pub problems: Vec<String>,
}

/// The money journal, shared by every area that takes money: each area writes its entries in
/// the transaction that moves the money; this service checks the whole journal.
pub struct Journal {
    store: Store,
}

impl Journal {
    pub fn new(store: Store) -> Journal {
        Journal { store }
    }
}

impl Journal {
    /// Verifies every balance and every bill status against the journal.
    pub async fn check(&self) -> Result<LedgerReport> {
        let mut snapshot = self.store.begin_snapshot().await?;
        let entries = ledger::all(&mut *snapshot).await?;
        let orders = ledger::orders(&mut *snapshot).await?;
        let bills = ledger::bills(&mut *snapshot).await?;
        let lines = ledger::order_bills(&mut *snapshot).await?;
        let anomalies = ledger::anomalies(&mut *snapshot).await?;
        let meter_balances = crate::store::meter::balances(&mut *snapshot).await?;
        let iot_expected = crate::store::iot::journal_expectations(&mut snapshot).await?;
        snapshot.rollback().await?;

        let mut problems = Vec::new();
        let by_key: HashMap<&str, &ledger::EntryRow> =
            entries.iter().map(|e| (e.entry_key.as_str(), e)).collect();
        let order_by_id: HashMap<&str, &ledger::OrderFacts> =
            orders.iter().map(|o| (o.order_id.as_str(), o)).collect();
        let bill_by_id: HashMap<&str, &ledger::BillFacts> =
            bills.iter().map(|b| (b.bill_id.as_str(), b)).collect();
        let mut lines_of: HashMap<&str, Vec<(&str, i64, i64)>> = HashMap::new();
        for (order_id, bill_id, amount, fee) in &lines {
            lines_of
                .entry(order_id.as_str())
                .or_default()
                .push((bill_id.as_str(), *amount, *fee));
        }

        // What the journal should hold, account by account.
        let mut expected: BTreeMap<String, i64> = BTreeMap::new();
        for o in &orders {
            let id = o.order_id.as_str();
            let order_lines = lines_of.get(id).cloned().unwrap_or_default();
            let line_total: i64 = order_lines.iter().map(|(_, a, f)| a + f).sum();
            if line_total != o.amount {
                problems.push(format!(
                    "order {id}: amount {} but its lines add up to {line_total}",
                    o.amount
                ));
            }
            for (bill_id, amount, _) in &order_lines {
                match bill_by_id.get(bill_id) {
                    Some(b) if b.heat_account != o.heat_account => problems.push(format!(
                        "order {id} (heat:{}) covers bill {bill_id} of heat:{}",
                        o.heat_account, b.heat_account
                    )),
                    Some(b) if b.amount != *amount => problems.push(format!(
                        "order {id}: line for bill {bill_id} says {amount}, the bill {}",
                        b.amount
                    )),
                    Some(_) => {}
                    None => problems.push(format!(
                        "order {id} covers bill {bill_id}, which does not exist"
                    )),
                }
            }
            let entry = by_key.get(order_entry_key(id).as_str());
            match (o.status == "paid", entry) {
                (true, Some(e)) => {
                    if e.amount != o.amount || e.account != ledger_account(&o.heat_account) {
                        problems.push(format!(
                            "order {id}: journal says {} to {}, the order {} to heat:{}",
                            e.amount, e.account, o.amount, o.heat_account
                        ));
                    }
                    if e.external_id != o.transaction_id {
                        problems.push(format!(
                            "order {id}: journal transaction {:?}, order transaction {:?}",
                            e.external_id, o.transaction_id
                        ));
                    }
                    for (bill_id, _, _) in &order_lines {
                        match bill_by_id.get(bill_id) {
                            Some(b) if b.status == "paid" && b.paid_order_id.as_deref() == Some(id) => {}
                            Some(b) if b.status == "paid" => problems.push(format!(
                                "order {id} paid bill {bill_id}, which was already paid by {}: refund needed",
                                b.paid_order_id.as_deref().unwrap_or("an import")
                            )),
                            _ => problems.push(format!("order {id} is paid but its bill {bill_id} is not")),
                        }
                    }
                }
                (true, None) => {
                    problems.push(format!("order {id} is paid but has no journal entry"))
                }
                (false, Some(_)) => problems.push(format!(
                    "order {id} is {} but the journal has its payment",
                    o.status
                )),
                (false, None) => {}
            }
            if o.status == "paid" {
                *expected.entry(ledger_account(&o.heat_account)).or_default() += o.amount;
            }
        }
        for b in &bills {
            let id = b.bill_id.as_str();
            let imported = by_key.get(imported_entry_key(id).as_str());
            match (b.status.as_str(), b.paid_order_id.as_deref(), imported) {
                ("paid", Some(order_id), None) => {
                    let paid_by = order_by_id.get(order_id).map(|o| o.status.as_str());
                    let listed = lines_of
                        .get(order_id)
                        .is_some_and(|l| l.iter().any(|(bid, _, _)| *bid == id));
                    if paid_by != Some("paid") || !listed {
                        problems.push(format!(
                            "bill {id} is paid by order {order_id}, which does not pay it"
                        ));
                    }
                }
                ("paid", None, Some(e)) if e.amount == b.amount => {
                    *expected.entry(ledger_account(&b.heat_account)).or_default() += b.amount;
                }
                ("paid", None, Some(e)) => problems.push(format!(
                    "bill {id}: imported payment of {} for a bill of {}",
                    e.amount, b.amount
                )),
                ("paid", _, _) => {
                    problems.push(format!("bill {id} is paid but no journal entry pays it"))
                }
                (status, _, Some(_)) => {
                    problems.push(format!("bill {id} is {status} but the journal has it paid"))
                }
                _ => {}
            }
            if let Some(holder) = b.pending_order_id.as_deref() {
                let holder_status = order_by_id.get(holder).map(|o| o.status.as_str());
                if b.status != "unpaid" || holder_status != Some("pending") {
                    problems.push(format!(
                        "bill {id} ({}) is held by order {holder}, which is {}",
                        b.status,
                        holder_status.unwrap_or("missing")
                    ));
                }
            }
        }
        let mut actual: BTreeMap<String, i64> = BTreeMap::new();
        for e in &entries {
            *actual.entry(e.account.clone()).or_default() += e.amount;
        }
        // A household's balance is exactly what its journal holds.
        for (user_code, balance) in &meter_balances {
            expected.insert(super::meter::ledger_account(user_code), *balance);
        }
        // The IoT accounts: sales less refunds per vendor, commissions less withdrawals.
        for (account, amount) in iot_expected {
            *expected.entry(account).or_default() += amount;
        }
        let accounts: BTreeSet<&String> = expected.keys().chain(actual.keys()).collect();
        for account in accounts {
            let want = expected.get(account).copied().unwrap_or(0);
            let have = actual.get(account).copied().unwrap_or(0);
            if want != have {
                problems.push(format!(
                    "{account}: journal holds {have} fen, orders and bills explain {want}"
                ));
            }
        }
        for (transaction_id, out_trade_no, amount, reason) in &anomalies {
            problems.push(format!(
                "payment {transaction_id} ({amount} fen) for order {out_trade_no} was not applied: {reason}; refund or settle it by hand"
            ));
        }
        Ok(LedgerReport {
            entries: entries.len(),
            orders: orders.len(),
            bills: bills.len(),
            problems,
        })
    }
}
