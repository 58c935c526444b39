//! Commissions (section 七, "三级分销 (实时)"): what referrers earn on paid orders, pending
//! (待激) from the moment of payment until the order can no longer be returned, then available
//! (可用, and in the money journal), or void when the order is returned; withdrawals of what is
//! available, at most one per 30 seconds per account, each in the money journal.

use super::listing::{self, List, ListRequest, Listed, Scope};
use super::model::{Commission, CommissionState};
use super::orders::Orders;
use super::{Caller, Input, Range, Role, WITHDRAWAL_GAP_SECS, orders::RETURN_DAYS};
use crate::domain::money::Fen;
use crate::domain::{Error, Result};
use crate::store::iot::{self as store, CommissionRow};
use crate::store::ledger;

/// The journal account of a party's commissions.
pub fn commission_account(uid: &str) -> String {
    format!("iot-commission:{uid}")
}

/// The figures of AF-02.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub available: Fen,
    pub pending: Fen,
    pub withdrawn: Fen,
    pub earned: Fen,
    pub void: Fen,
}

/// A withdrawal made.
#[derive(Debug, Clone)]
pub struct Withdrawal {
    pub wid: String,
    pub amount: Fen,
    pub balance: Fen,
}

impl Orders {
    /// AF-01 (A#): the commissions of the vendor's (every vendor's for the platform) referrers.
    pub async fn commissions(
        &self,
        caller: &Caller,
        req: &ListRequest,
    ) -> Result<Listed<Commission>> {
        caller.require(Range::Brand)?;
        self.sweep().await;
        let planned = listing::plan(List::Commissions, Scope::vendor_of(caller), req);
        listing::run::<CommissionRow, _>(&self.store, planned).await
    }

    /// AF-02: available, pending and withdrawn: the caller's own (members, agents, dealers),
    /// or over the whole range (platform, vendor).
    pub async fn commission_summary(&self, caller: &Caller) -> Result<Summary> {
        caller.require(Range::Anyone)?;
        self.sweep().await;
        // Summed in SQL: a vendor's range may hold hundreds of thousands of commissions.
        let sums = match caller.role {
            Role::Platform | Role::Vendor => {
                store::commission_sums(self.store.pool(), "vid", caller.vendor_filter()).await?
            }
            _ => store::commission_sums(self.store.pool(), "uid", Some(&caller.uid)).await?,
        };
        let mut s = Summary::default();
        for (state, fen) in &sums {
            match CommissionState::parse(state) {
                Some(CommissionState::Available) => s.earned.0 += fen,
                Some(CommissionState::Pending) => s.pending.0 += fen,
                Some(CommissionState::Void) => s.void.0 += fen,
                None => {}
            }
        }
        s.withdrawn.0 = match caller.role {
            Role::Platform | Role::Vendor => {
                store::withdrawn_by_vendor(self.store.pool(), caller.vendor_filter()).await?
            }
            _ => store::withdrawn_total(self.store.pool(), &caller.uid).await?,
        };
        if !matches!(caller.role, Role::Platform | Role::Vendor) {
            s.available.0 =
                ledger::account_total(self.store.pool(), &commission_account(&caller.uid)).await?;
        } else {
            s.available.0 = s.earned.0 - s.withdrawn.0;
        }
        Ok(s)
    }

    /// AF-03: withdraws `amount` (all that is available when not given) of the caller's
    /// available commissions. At most once per 30 s per account, checked in the same
    /// transaction as the journal entry, so concurrent requests cannot both pass.
    pub async fn withdraw(
        &self,
        caller: &Caller,
        amount: Input<Option<Fen>>,
    ) -> Result<Withdrawal> {
        caller.require(Range::Anyone)?;
        if matches!(caller.role, Role::Platform | Role::Vendor) {
            return Err(Error::State(
                "the platform and vendors earn no commissions to withdraw".into(),
            ));
        }
        self.sweep().await;
        let wanted = amount.read()?;
        let now = self.clock.now().millis();
        let account = commission_account(&caller.uid);
        let code = self.shared.vendor_code(caller.vid.as_deref()).await?;
        let mut tx = self.store.begin_write().await?;
        if !store::take_withdrawal_turn(&mut tx, &caller.uid, now, WITHDRAWAL_GAP_SECS * 1000)
            .await?
        {
            drop(tx);
            let last = store::withdrawn_at(self.store.pool(), &caller.uid)
                .await?
                .unwrap_or(now);
            let wait = ((last + WITHDRAWAL_GAP_SECS * 1000 - now).max(0) + 999) / 1000;
            return Err(Error::RateLimited {
                message: format!(
                    "one withdrawal per {WITHDRAWAL_GAP_SECS} seconds: try again in {wait} s"
                ),
                retry_after_secs: wait.max(1) as u64,
            });
        }
        let balance = ledger::account_total(&mut *tx, &account).await?;
        let amount = wanted.map_or(balance, |w| w.0);
        if amount <= 0 {
            return Err(Error::State(format!(
                "no available commission to withdraw (commissions become available {RETURN_DAYS} days after the order is received)"
            )));
        }
        if amount > balance {
            return Err(Error::invalid(
                "amount",
                format!("at most {} yuan is available", Fen(balance).yuan_string()),
            ));
        }
        let wid = self.shared.id(&mut tx, &code, "withdrawal").await?;
        store::insert_withdrawal(
            &mut tx,
            &wid,
            &caller.uid,
            caller.vid.as_deref(),
            amount,
            now,
        )
        .await?;
        let entry = ledger::EntryRow {
            entry_key: format!("iot-withdrawal:{wid}"),
            kind: "iot_withdrawal".into(),
            account,
            amount: -amount,
            reference: wid.clone(),
            external_id: None,
            created_at: now,
        };
        ledger::append(&mut *tx, &entry).await?;
        tx.commit().await?;
        Ok(Withdrawal {
            wid,
            amount: Fen(amount),
            balance: Fen(balance - amount),
        })
    }
}
