//! Recharges (`Prestore`): credited once per (account, `out_trade_no`), acknowledged only after
//! the commit that records them.
//!
//! Concurrent recharges share commits ([`GroupCommit`]): the disk flush that makes a commit
//! durable is paid once per batch rather than once per recharge, and each caller is answered
//! when its batch has committed. The committer's connection commits durably (`synchronous =
//! FULL` on SQLite): a recharge the platform is told succeeded survives a power cut, not only a
//! crash.

use std::collections::{BTreeMap, HashSet};

use super::Meter;
use crate::domain::commit::{Batch, GroupCommit};
use crate::domain::money::Fen;
use crate::domain::{Entity, Error, Result, Timestamp};
use crate::store::ledger::{self as store_ledger, EntryRow};
use crate::store::meter::{self as store_meter, NewRecharge};
use crate::store::{Conn, Store};

/// What a recharge did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recharge {
    Credited,
    /// The same request came before: nothing changed.
    AlreadyCredited,
}

/// The journal account of a household.
pub fn ledger_account(user_code: &str) -> String {
    format!("meter:{user_code}")
}

/// The journal entry of a recharge: its key makes it impossible to apply twice.
pub(crate) fn recharge_entry(
    account: &str,
    out_trade_no: &str,
    user_code: &str,
    amount: i64,
    at: i64,
) -> EntryRow {
    EntryRow {
        entry_key: format!("meter-recharge:{account}:{out_trade_no}"),
        kind: "meter_recharge".into(),
        account: ledger_account(user_code),
        amount,
        reference: out_trade_no.to_owned(),
        external_id: None,
        created_at: at,
    }
}

/// The default maximum of one recharge: 10,000 yuan.
pub const DEFAULT_MAX_RECHARGE: Fen = Fen(1_000_000);

fn parse_out_trade_no(s: &str) -> Result<&str> {
    let s = s.trim();
    if s.is_empty()
        || s.len() > 64
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Error::invalid(
            "out_trade_no",
            "订单号须为1-64位字母、数字、-或_",
        ));
    }
    Ok(s)
}

/// One recharge waiting for its commit.
pub(super) struct Job {
    account: String,
    user_code: String,
    out_trade_no: String,
    fee: Fen,
    at: i64,
}

/// Recharges committed together.
pub(super) struct Recharges;

/// The meter's recharge committer.
pub(super) type RechargeQueue = GroupCommit<Recharges>;

impl Batch for Recharges {
    type Job = Job;
    type Done = Recharge;
    const MAX: usize = 512;
    const NAME: &'static str = "recharge";

    async fn apply(
        &self,
        store: &Store,
        conn: &mut Conn,
        jobs: &[Job],
    ) -> Result<Vec<Result<Recharge>>> {
        apply_on(store, conn, jobs).await
    }
}

/// Applies recharges in one transaction: the new ones are recorded and journaled (one statement
/// each for the batch), the balances change by their sums (in `user_code` order, so concurrent
/// batches lock rows in one order). A copy of a known recharge is compared with it.
async fn apply_on(store: &Store, conn: &mut Conn, jobs: &[Job]) -> Result<Vec<Result<Recharge>>> {
    // Only the first of several copies in one batch goes into the insert.
    let mut seen = HashSet::new();
    let mut rows: Vec<NewRecharge<'_>> = jobs
        .iter()
        .filter(|job| seen.insert((job.account.as_str(), job.out_trade_no.as_str())))
        .map(|job| NewRecharge {
            account: &job.account,
            out_trade_no: &job.out_trade_no,
            user_code: &job.user_code,
            amount: job.fee.0,
            created_at: job.at,
        })
        .collect();
    // In key order: batches of several instances that share keys (the same recharge sent to
    // each) wait on each other's rows in one order, never in a cycle.
    rows.sort_unstable_by(|a, b| (a.account, a.out_trade_no).cmp(&(b.account, b.out_trade_no)));
    let mut tx = store.begin_durable(conn).await?;
    let inserted = store_meter::insert_recharges(&mut tx, &rows).await?;
    let mut new: HashSet<(&str, &str)> = inserted
        .iter()
        .map(|(account, no)| (account.as_str(), no.as_str()))
        .collect();
    let mut outcomes = Vec::with_capacity(jobs.len());
    let mut entries = Vec::with_capacity(new.len());
    let mut credits: BTreeMap<&str, i64> = BTreeMap::new();
    for job in jobs {
        if new.remove(&(job.account.as_str(), job.out_trade_no.as_str())) {
            entries.push(recharge_entry(
                &job.account,
                &job.out_trade_no,
                &job.user_code,
                job.fee.0,
                job.at,
            ));
            *credits.entry(&job.user_code).or_default() += job.fee.0;
            outcomes.push(Ok(Recharge::Credited));
            continue;
        }
        let known = store_meter::recharge(&mut *tx, &job.account, &job.out_trade_no).await?;
        outcomes.push(match known {
            Some((code, amount)) if code == job.user_code && amount == job.fee.0 => {
                Ok(Recharge::AlreadyCredited)
            }
            _ => Err(Error::State("该订单号已使用，且用户或金额不同".into())),
        });
    }
    let journaled = store_ledger::append_many(&mut tx, &entries).await?;
    if journaled != entries.len() as u64 {
        // A journal key without its recharge row: refuse rather than credit past the journal.
        return Err(Error::Internal(anyhow::anyhow!(
            "meter recharge journal out of step: {journaled} of {} entries appended",
            entries.len()
        )));
    }
    for (user_code, amount) in credits {
        store_meter::add_to_balance(&mut tx, user_code, amount).await?;
    }
    tx.commit().await?;
    Ok(outcomes)
}

impl Meter {
    /// Credits a household once per (account, `out_trade_no`): the same request again answers
    /// success and changes nothing; the same `out_trade_no` with another household or amount is
    /// refused. The journal entry, the recharge and the balance change commit together, and the
    /// answer comes after that commit.
    pub async fn recharge(
        &self,
        account: &str,
        user_code: &str,
        out_trade_no: &str,
        fee: Fen,
    ) -> Result<Recharge> {
        let out_trade_no = parse_out_trade_no(out_trade_no)?;
        let max = self.settings.meter_max_recharge;
        if fee.0 <= 0 || fee > max {
            return Err(Error::invalid(
                "total_fee",
                format!("充值金额须大于0且不超过{}元", max.yuan_string()),
            ));
        }
        let (user_code, owner) = store_meter::household_owner(&self.store, user_code.trim())
            .await?
            .ok_or(Error::NotFound(Entity::Household))?;
        if owner != account {
            // The same answer as for a household that does not exist.
            return Err(Error::NotFound(Entity::Household));
        }
        self.recharges
            .submit(Job {
                account: account.to_owned(),
                user_code,
                out_trade_no: out_trade_no.to_owned(),
                fee,
                at: self.clock.now().millis(),
            })
            .await
    }

    /// A household's recharges within `[from, to)`: `(out_trade_no, amount, time)`, oldest first (as the document's example).
    pub async fn recharges(
        &self,
        account: &str,
        user_code: &str,
        from: Timestamp,
        to: Timestamp,
        page: i64,
        size: i64,
    ) -> Result<(i64, Vec<(String, Fen, Timestamp)>)> {
        crate::domain::check_page(
            page,
            size,
            1000,
            "pageSize",
            "pageNo须为正整数，pageSize须在1-1000之间",
        )?;
        let (household, _) = self.household(account, user_code).await?;
        let (total, rows) = store_meter::recharges(
            self.store.pool(),
            &household.user_code,
            from.millis(),
            to.millis(),
            size,
            (page - 1) * size,
        )
        .await?;
        Ok((
            total,
            rows.into_iter()
                .map(|(no, a, t)| (no, Fen(a), Timestamp::from_millis(t)))
                .collect(),
        ))
    }

    /// Puts a household's starting balance into the journal (once), so the ledger explains it.
    pub(super) async fn journal_opening_balance(
        &self,
        conn: &mut Conn,
        user_code: &str,
        balance: Fen,
    ) -> Result<()> {
        if balance.0 == 0 {
            return Ok(());
        }
        let entry = EntryRow {
            entry_key: format!("meter-opening:{user_code}"),
            kind: "meter_opening_balance".into(),
            account: ledger_account(user_code),
            amount: balance.0,
            reference: user_code.to_owned(),
            external_id: None,
            created_at: self.clock.now().millis(),
        };
        store_ledger::append(conn, &entry).await?;
        Ok(())
    }
}
