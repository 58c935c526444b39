//! Checking the money journal against what it explains: every paid order and every paid bill
//! must be backed by exactly its journal entries, and every entry by what it claims to pay.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::heat::orders::{imported_entry_key, ledger_account, order_entry_key};
use super::{Core, Result};
use crate::store::ledger;

/// The outcome of a check: what was looked at and every disagreement found.
#[derive(Debug, Default)]
pub struct LedgerReport {
    pub entries: usize,
    pub orders: usize,
    pub bills: usize,
    pub problems: Vec<String>,
}

impl Core {
    /// Verifies every balance and every bill status against the journal.
    pub async fn ledger_check(&self) -> Result<LedgerReport> {
        let pool = self.store.pool();
        let entries = ledger::all(pool).await?;
        let orders = ledger::orders(pool).await?;
        let bills = ledger::bills(pool).await?;
        let order_bills = ledger::order_bills(pool).await?;
        let mut problems = Vec::new();

        let by_key: HashMap<&str, &ledger::EntryRow> =
            entries.iter().map(|e| (e.entry_key.as_str(), e)).collect();
        let order_info: HashMap<&str, (&str, i64, &str)> = orders
            .iter()
            .map(|(id, status, amount, account)| {
                (id.as_str(), (status.as_str(), *amount, account.as_str()))
            })
            .collect();
        let mut bills_of_order: HashMap<&str, BTreeSet<&str>> = HashMap::new();
        for (order_id, bill_id) in &order_bills {
            bills_of_order
                .entry(order_id.as_str())
                .or_default()
                .insert(bill_id.as_str());
        }

        // What the journal should say, account by account.
        let mut expected: BTreeMap<String, i64> = BTreeMap::new();
        for (order_id, (status, amount, account)) in &order_info {
            let entry = by_key.get(order_entry_key(order_id).as_str());
            match (*status == "paid", entry) {
                (true, Some(e)) if e.amount == *amount && e.account == ledger_account(account) => {}
                (true, Some(e)) => problems.push(format!(
                    "order {order_id}: journal says {} to {}, the order {} to heat:{account}",
                    e.amount, e.account, amount
                )),
                (true, None) => {
                    problems.push(format!("order {order_id} is paid but has no journal entry"))
                }
                (false, Some(_)) => problems.push(format!(
                    "order {order_id} is {status} but the journal has its payment"
                )),
                (false, None) => {}
            }
            if *status == "paid" {
                *expected.entry(ledger_account(account)).or_default() += amount;
            }
        }
        for (bill_id, account, amount, status, paid_order) in &bills {
            let imported = by_key.get(imported_entry_key(bill_id).as_str());
            match (status.as_str(), paid_order.as_deref(), imported) {
                ("paid", Some(order_id), None) => {
                    let paid_by = order_info.get(order_id).map(|o| o.0);
                    let listed = bills_of_order
                        .get(order_id)
                        .is_some_and(|b| b.contains(bill_id.as_str()));
                    if paid_by != Some("paid") || !listed {
                        problems.push(format!(
                            "bill {bill_id} is paid by order {order_id}, which does not pay it"
                        ));
                    }
                }
                ("paid", None, Some(e)) if e.amount == *amount => {
                    *expected.entry(ledger_account(account)).or_default() += amount;
                }
                ("paid", None, Some(e)) => problems.push(format!(
                    "bill {bill_id}: imported payment of {} for a bill of {amount}",
                    e.amount
                )),
                ("paid", _, _) => problems.push(format!(
                    "bill {bill_id} is paid but no journal entry pays it"
                )),
                (_, _, Some(_)) => problems.push(format!(
                    "bill {bill_id} is {status} but the journal has it paid"
                )),
                _ => {}
            }
        }
        for (order_id, bill_ids) in &bills_of_order {
            if order_info.get(order_id).map(|o| o.0) == Some("paid") {
                for bill_id in bill_ids {
                    match bills.iter().find(|b| b.0 == *bill_id) {
                        Some(b) if b.3 == "paid" && b.4.as_deref() == Some(*order_id) => {}
                        Some(b) if b.3 == "paid" => problems.push(format!(
                            "order {order_id} paid bill {bill_id}, which was already paid by {}: refund needed",
                            b.4.as_deref().unwrap_or("an import")
                        )),
                        _ => problems.push(format!("order {order_id} is paid but its bill {bill_id} is not")),
                    }
                }
            }
        }
        let mut actual: BTreeMap<String, i64> = BTreeMap::new();
        for e in &entries {
            *actual.entry(e.account.clone()).or_default() += e.amount;
        }
        let accounts: BTreeSet<&String> = expected.keys().chain(actual.keys()).collect();
        for account in accounts {
            let (want, have) = (
                expected.get(account).copied().unwrap_or(0),
                actual.get(account).copied().unwrap_or(0),
            );
            if want != have {
                problems.push(format!(
                    "{account}: journal holds {have} fen, orders and bills explain {want}"
                ));
            }
        }
        Ok(LedgerReport {
            entries: entries.len(),
            orders: orders.len(),
            bills: bills.len(),
            problems,
        })
    }
}
