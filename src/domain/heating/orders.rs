//! Paying heating bills: orders, their settlement through the journal (exactly once), their
//! reconciliation with the gateway, the payment history and the statistics of section 7.

use std::collections::BTreeSet;

use std::sync::Arc;

use super::accounts::Accounts;
use super::bills::BillStatus;
use super::users::Users;
use crate::domain::identity::OpenId;
use crate::domain::money::Fen;
use crate::domain::payments::{ClientPayParams, PrepayRequest, TradeState};
use crate::domain::payments::{OrderOwner, OwnerFuture, Paid, PaymentGateway};
use crate::domain::{Clock, Settings};
use crate::domain::{Entity, Error, Result, Service, Timestamp, ids};
use crate::store::Store;
use crate::store::heating::orders as store_orders;
use crate::store::ledger;

/// The message for every mismatch between the bills asked for and what is owed.
pub const BILLS_INCORRECT: &str = "账单信息不正确";

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    Pending,
    Paid,
    Failed,
    Canceled,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Paid => "paid",
            OrderStatus::Failed => "failed",
            OrderStatus::Canceled => "canceled",
        }
    }

    fn parse(s: &str) -> OrderStatus {
        match s {
            "paid" => OrderStatus::Paid,
            "failed" => OrderStatus::Failed,
            "canceled" => OrderStatus::Canceled,
            _ => OrderStatus::Pending,
        }
    }
}

/// An order.
#[derive(Debug, Clone)]
pub struct Order {
    pub order_id: String,
    pub user_id: String,
    pub heat_account: String,
    pub amount: Fen,
    pub status: OrderStatus,
    pub gateway: String,
    pub prepay_id: Option<String>,
    pub transaction_id: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub paid_at: Option<Timestamp>,
}

impl From<store_orders::OrderRow> for Order {
    fn from(r: store_orders::OrderRow) -> Self {
        Order {
            status: OrderStatus::parse(&r.status),
            order_id: r.order_id,
            user_id: r.user_id,
            heat_account: r.heat_account,
            amount: Fen(r.amount),
            gateway: r.gateway,
            prepay_id: r.prepay_id,
            transaction_id: r.transaction_id,
            created_at: Timestamp::from_millis(r.created_at),
            expires_at: Timestamp::from_millis(r.expires_at),
            paid_at: r.paid_at.map(Timestamp::from_millis),
        }
    }
}

/// A pending order with what the client needs to pay it.
#[derive(Debug, Clone)]
pub struct PayableOrder {
    pub order: Order,
    pub params: ClientPayParams,
}

pub use crate::domain::payments::Settlement;

/// One line of the payment history (section 5.4).
#[derive(Debug, Clone)]
pub struct PaymentRecord {
    pub order_id: Option<String>,
    pub bill_id: String,
    pub amount: Fen,
    pub heating_season: String,
    pub paid_at: Timestamp,
}

/// Section 7's figures.
#[derive(Debug, Clone)]
pub struct HeatingStatistics {
    pub total_heating_seasons: i64,
    pub total_paid_amount: Fen,
    pub current_season_paid: Fen,
    pub average_monthly_consumption: Fen,
    /// Paid bills paid on or before their due date, per paid bill (0 when none is paid).
    pub on_time_payment_rate: f64,
}

fn gateway_down(e: impl std::fmt::Display) -> Error {
    Error::Unavailable {
        service: Service::Payment,
        detail: e.to_string(),
    }
}

/// The journal key of an order's payment: one per order, ever.
pub fn order_entry_key(order_id: &str) -> String {
    format!("heating-order:{order_id}")
}

/// The journal key of a bill imported as already paid.
pub fn imported_entry_key(bill_id: &str) -> String {
    format!("heating-bill-import:{bill_id}")
}

/// The journal account of a heat account.
pub fn ledger_account(heat_account: &str) -> String {
    format!("heat:{heat_account}")
}

/// Payment orders for heating bills: created, paid through the gateway, settled exactly once,
/// expired, reconciled.
pub struct Orders {
    store: Store,
    clock: Clock,
    settings: Arc<Settings>,
    payments: Arc<dyn PaymentGateway>,
    accounts: Arc<Accounts>,
    users: Arc<Users>,
}

impl Orders {
    pub fn new(
        store: Store,
        clock: Clock,
        settings: Arc<Settings>,
        payments: Arc<dyn PaymentGateway>,
        accounts: Arc<Accounts>,
        users: Arc<Users>,
    ) -> Orders {
        Orders {
            store,
            clock,
            settings,
            payments,
            accounts,
            users,
        }
    }
}

/// Heating's orders, as the payments service sees them: it takes whatever no other area
/// claims, and answers "no such order" for what is not its own either.
impl OrderOwner for Orders {
    fn owns<'a>(&'a self, _out_trade_no: &'a str) -> OwnerFuture<'a, bool> {
        Box::pin(async { Ok(true) })
    }
    fn settle<'a>(&'a self, paid: Paid<'a>) -> OwnerFuture<'a, Settlement> {
        Box::pin(self.settle(paid.out_trade_no, paid.transaction_id, paid.amount))
    }
}

impl Orders {
    async fn row(&self, order_id: &str) -> Result<store_orders::OrderRow> {
        store_orders::find(self.store.pool(), order_id)
            .await?
            .ok_or(Error::NotFound(Entity::Order))
    }

    fn params_for(&self, order: Order) -> Result<PayableOrder> {
        let prepay_id = order
            .prepay_id
            .clone()
            .ok_or_else(|| gateway_down("the order has no prepay id"))?;
        let params = self
            .payments
            .client_params(&prepay_id, self.clock.now())
            .map_err(gateway_down)?;
        Ok(PayableOrder { order, params })
    }

    /// Section 5.2: an order for some of the user's unpaid bills. `amount` must be exactly what
    /// they owe (bills plus late fees). While an order for the same bills is pending, that order
    /// is returned instead of a second one.
    pub async fn create(
        &self,
        user_id: &str,
        bill_ids: &[String],
        amount: Fen,
        openid: Option<&str>,
    ) -> Result<PayableOrder> {
        let account = self.accounts.bound(user_id).await?;
        let wanted: BTreeSet<&str> = bill_ids.iter().map(|b| b.trim()).collect();
        if wanted.is_empty() || wanted.len() != bill_ids.len() || wanted.len() > 50 {
            return Err(Error::State(BILLS_INCORRECT.into()));
        }
        let mut owed = 0i64;
        let mut lines = Vec::new();
        let bills = self.accounts.bills_of(&account.heat_account).await?;
        for bill_id in &wanted {
            let bill = bills
                .iter()
                .find(|b| b.bill_id == *bill_id)
                .cloned()
                .ok_or_else(|| Error::State(BILLS_INCORRECT.into()))?;
            if bill.status != BillStatus::Unpaid {
                return Err(Error::State(BILLS_INCORRECT.into()));
            }
            let late_fee = self.accounts.late_fee_of(&bill);
            owed += bill.amount.0 + late_fee.0;
            lines.push((bill.bill_id, bill.amount.0, late_fee.0));
        }
        if owed != amount.0 {
            return Err(Error::State(BILLS_INCORRECT.into()));
        }
        // A pending order for exactly these bills is the answer; stale holders are cleared.
        if let Some(existing) = self.payable_order_for(user_id, &wanted).await? {
            return self.params_for(existing);
        }

        let openid = match openid {
            Some(o) => {
                let o = OpenId::parse(o)?;
                self.users.remember_openid(user_id, &o).await?;
                Some(o.as_str().to_owned())
            }
            None => crate::store::heating::users::openid(self.store.pool(), user_id).await?,
        };
        let openid = openid.as_deref();
        if openid.is_none() && self.payments.needs_payer_id() {
            return Err(Error::invalid(
                "openid",
                "缺少openid：请在登录或创建订单时提供微信openid",
            ));
        }
        let now = self.clock.now();
        let order = store_orders::OrderRow {
            order_id: format!("O{}{}", now.millis(), ids::random_digits(8)),
            user_id: user_id.to_owned(),
            heat_account: account.heat_account.clone(),
            amount: owed,
            status: OrderStatus::Pending.as_str().into(),
            gateway: self.payments.name().into(),
            openid: openid.map(str::to_owned),
            prepay_id: None,
            transaction_id: None,
            created_at: now.millis(),
            expires_at: now.plus_secs(self.settings.order_ttl_secs).millis(),
            paid_at: None,
            closed_at: None,
            checked_at: None,
        };
        let mut tx = self.store.begin_write().await?;
        store_orders::insert(&mut tx, &order).await?;
        for (bill_id, bill_amount, late_fee) in &lines {
            if !store_orders::add_bill(&mut tx, &order.order_id, bill_id, *bill_amount, *late_fee)
                .await?
            {
                drop(tx);
                // Another request got there first: its order, if it is for the same bills.
                if let Some(existing) = self.payable_order_for(user_id, &wanted).await? {
                    return self.params_for(existing);
                }
                return Err(Error::State(
                    "部分账单已有待支付订单，请先完成或等待其关闭".into(),
                ));
            }
        }
        tx.commit().await?;

        let request = PrepayRequest {
            out_trade_no: order.order_id.clone(),
            description: format!("供热费 {}", account.heat_account),
            amount: Fen(owed),
            openid: openid.map(str::to_owned),
            expires_at: Timestamp::from_millis(order.expires_at),
        };
        match self.payments.prepay(request).await {
            Ok(prepay_id) => {
                store_orders::set_prepay(self.store.pool(), &order.order_id, &prepay_id).await?;
            }
            Err(e) => {
                let mut tx = self.store.begin_write().await?;
                store_orders::close(
                    &mut tx,
                    &order.order_id,
                    OrderStatus::Failed.as_str(),
                    now.millis(),
                )
                .await?;
                tx.commit().await?;
                return Err(gateway_down(e));
            }
        }
        self.params_for(self.row(&order.order_id).await?.into())
    }

    /// The user's pending order for exactly `bills`, once it is payable: a concurrent request may
    /// still be asking the gateway for its prepay id, so wait for that (up to ~3 s).
    async fn payable_order_for(
        &self,
        user_id: &str,
        bills: &BTreeSet<&str>,
    ) -> Result<Option<Order>> {
        for _ in 0..60 {
            match self.pending_order_for(user_id, bills).await? {
                Some(order) if order.prepay_id.is_some() => return Ok(Some(order)),
                Some(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
                None => return Ok(None),
            }
        }
        Err(Error::State("订单正在创建中，请稍后再试".into()))
    }

    /// The user's pending order holding exactly `bills`, after closing holders that expired.
    async fn pending_order_for(
        &self,
        user_id: &str,
        bills: &BTreeSet<&str>,
    ) -> Result<Option<Order>> {
        let mut holders = BTreeSet::new();
        for bill_id in bills {
            if let Some(holder) = store_orders::holder_of(self.store.pool(), bill_id).await? {
                holders.insert(holder);
            }
        }
        for holder in holders {
            let order: Order = self.row(&holder).await?.into();
            if order.status == OrderStatus::Pending && self.clock.now() >= order.expires_at {
                self.expire(&order).await?;
                continue;
            }
            let held: BTreeSet<String> = store_orders::bills(self.store.pool(), &holder)
                .await?
                .into_iter()
                .map(|(id, _, _)| id)
                .collect();
            let same = held.len() == bills.len() && bills.iter().all(|b| held.contains(*b));
            if same && order.user_id == user_id && order.status == OrderStatus::Pending {
                return Ok(Some(order));
            }
        }
        Ok(None)
    }

    /// Closes an expired order at the gateway and here; its bills become payable again.
    async fn expire(&self, order: &Order) -> Result<()> {
        self.end(order, OrderStatus::Canceled).await
    }

    /// Closes an unpaid order at the gateway, then here (`canceled` or `failed`); its bills become
    /// payable again. If the gateway will not close it (it may have been paid), it stays pending
    /// for the next reconciliation.
    async fn end(&self, order: &Order, status: OrderStatus) -> Result<()> {
        if let Err(e) = self.payments.close(order.order_id.clone()).await {
            tracing::warn!(order = %order.order_id, error = %e, "closing an order at the gateway failed");
            return Ok(());
        }
        self.close(&order.order_id, status).await
    }

    /// Records a payment the gateway confirmed: the journal entry, the order and its bills, in one
    /// transaction, exactly once however often and however concurrently it is reported.
    pub async fn settle(
        &self,
        order_id: &str,
        transaction_id: &str,
        amount: Fen,
    ) -> Result<Settlement> {
        let order: Order = self.row(order_id).await?.into();
        if amount != order.amount {
            // The payer may have been charged: keep it where the ledger check will report it.
            let reason = format!(
                "paid {} fen for an order of {} fen",
                amount.0, order.amount.0
            );
            ledger::record_anomaly(
                self.store.pool(),
                transaction_id,
                order_id,
                amount.0,
                &reason,
                self.clock.now().millis(),
            )
            .await?;
            tracing::error!(order = %order_id, %transaction_id, %reason, "payment not applied");
            return Err(Error::State("支付金额与订单金额不符".into()));
        }
        let now = self.clock.now();
        let mut tx = self.store.begin_write().await?;
        let entry = ledger::EntryRow {
            entry_key: order_entry_key(order_id),
            kind: "heating_payment".into(),
            account: ledger_account(&order.heat_account),
            amount: amount.0,
            reference: order_id.to_owned(),
            external_id: Some(transaction_id.to_owned()),
            created_at: now.millis(),
        };
        if !ledger::append(&mut *tx, &entry).await? {
            return Ok(Settlement::AlreadyRecorded);
        }
        let displaced = store_orders::other_holders(&mut tx, order_id).await?;
        let bills = store_orders::settle(&mut tx, order_id, transaction_id, now.millis()).await?;
        tx.commit().await?;
        // Bills this payment settled may have been held by a newer pending order (this one was
        // paid late): that order must not be payable any more.
        for other in displaced {
            if let Ok(row) = self.row(&other).await {
                let other: Order = row.into();
                if other.status == OrderStatus::Pending {
                    self.end(&other, OrderStatus::Canceled).await?;
                }
            }
        }
        let expected = store_orders::bills(self.store.pool(), order_id)
            .await?
            .len() as u64;
        if bills < expected {
            // The money arrived (it is in the journal) but some bills were paid by another order
            // meanwhile: the ledger check reports it as a refund to make.
            tracing::error!(order = %order_id, bills, expected, "payment for bills already paid: refund needed");
        }
        tracing::info!(order = %order_id, bills, amount = amount.0, "heating payment recorded");
        Ok(Settlement::Recorded)
    }

    /// Section 5.3: the user's own order; a pending one is reconciled with the gateway first.
    pub async fn status(&self, user_id: &str, order_id: &str) -> Result<Order> {
        let row = store_orders::find(self.store.pool(), order_id.trim())
            .await?
            .filter(|o| o.user_id == user_id)
            .ok_or(Error::NotFound(Entity::Order))?;
        if row.status == OrderStatus::Pending.as_str() {
            self.reconcile(row.clone()).await?;
        }
        Ok(self.row(&row.order_id).await?.into())
    }

    /// Brings a pending order up to date with the gateway: asks once it has waited long enough
    /// (and not again too soon), records a payment, ends a closed or failed trade, closes an
    /// expired one.
    pub async fn reconcile(&self, row: store_orders::OrderRow) -> Result<()> {
        let order: Order = row.clone().into();
        let now = self.clock.now();
        let wait_ms = self.settings.order_query_after_secs * 1000;
        let due_for_query = now.millis() - order.created_at.millis() >= wait_ms
            && row.checked_at.is_none_or(|c| now.millis() - c >= wait_ms);
        if due_for_query {
            match self.payments.query(order.order_id.clone()).await {
                Ok(TradeState::Success {
                    transaction_id,
                    amount,
                }) => {
                    if let Err(e) = self.settle(&order.order_id, &transaction_id, amount).await {
                        tracing::warn!(order = %order.order_id, error = %e, "payment found by query not applied");
                    }
                }
                Ok(TradeState::Closed) => {
                    self.close(&order.order_id, OrderStatus::Canceled).await?
                }
                Ok(TradeState::Failed(reason)) => {
                    // Closed at the gateway first, so the payer cannot retry it once a new order
                    // for the same bills exists.
                    tracing::info!(order = %order.order_id, %reason, "payment failed at the gateway");
                    self.end(&order, OrderStatus::Failed).await?;
                }
                Ok(TradeState::NotPaid) => {
                    store_orders::set_checked(self.store.pool(), &order.order_id, now.millis())
                        .await?;
                }
                Err(e) => tracing::warn!(order = %order.order_id, error = %e, "order query failed"),
            }
        }
        let current: Order = self.row(&order.order_id).await?.into();
        if current.status == OrderStatus::Pending && now >= current.expires_at {
            self.expire(&current).await?;
        }
        Ok(())
    }

    /// Reconciles the pending orders that are due (the background reconciler calls this), so a
    /// lost notification or an abandoned order does not wait for someone to ask for its status.
    pub async fn reconcile_pending(&self) -> Result<usize> {
        let now = self.clock.now().millis();
        let due = store_orders::pending_due(
            self.store.pool(),
            now - self.settings.order_query_after_secs * 1000,
            now,
            200,
        )
        .await?;
        let count = due.len();
        for row in due {
            self.reconcile(row).await?;
        }
        Ok(count)
    }

    async fn close(&self, order_id: &str, status: OrderStatus) -> Result<()> {
        let mut tx = self.store.begin_write().await?;
        store_orders::close(
            &mut tx,
            order_id,
            status.as_str(),
            self.clock.now().millis(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Any order, for operators, with its bills `(bill_id, amount, late_fee)`.
    pub async fn with_bills(&self, order_id: &str) -> Result<(Order, Vec<(String, Fen, Fen)>)> {
        let order: Order = self.row(order_id).await?.into();
        let bills = store_orders::bills(self.store.pool(), order_id)
            .await?
            .into_iter()
            .map(|(id, a, f)| (id, Fen(a), Fen(f)))
            .collect();
        Ok((order, bills))
    }

    /// `--dev` only: completes a pending order as if the payer had paid.
    pub async fn simulate_payment(&self, order_id: &str) -> Result<Settlement> {
        if !self.payments.is_simulated() {
            return Err(Error::State(
                "payments are simulated only under --dev without WeChat Pay".into(),
            ));
        }
        let order: Order = self.row(order_id).await?.into();
        self.settle(order_id, &format!("SIM{}", order.order_id), order.amount)
            .await
    }

    /// Section 5.4: the paid bills of the user's account, newest first, optionally within local dates.
    pub async fn payment_history(
        &self,
        user_id: &str,
        page: i64,
        size: i64,
        start: Option<time::Date>,
        end: Option<time::Date>,
    ) -> Result<(i64, Vec<PaymentRecord>)> {
        crate::domain::check_page(
            page,
            size,
            100,
            "page",
            "page 须为正整数，size 须在 1-100 之间",
        )?;
        let account = self.accounts.bound(user_id).await?;
        let zone = self.settings.zone;
        let from = start.map_or(0, |d| Timestamp::start_of_local_date(d, zone).millis());
        let to = end.and_then(|d| d.next_day()).map_or(i64::MAX, |d| {
            Timestamp::start_of_local_date(d, zone).millis()
        });
        let (total, rows) = store_orders::paid_bills(
            self.store.pool(),
            &account.heat_account,
            from,
            to,
            size,
            (page - 1) * size,
        )
        .await?;
        let records = rows
            .into_iter()
            .map(|r| PaymentRecord {
                order_id: r.order_id,
                bill_id: r.bill_id,
                amount: Fen(r.amount + r.late_fee),
                heating_season: r.heating_season,
                paid_at: Timestamp::from_millis(r.paid_at),
            })
            .collect();
        Ok((total, records))
    }

    /// Section 7: figures over every season of the user's account.
    pub async fn statistics(&self, user_id: &str) -> Result<HeatingStatistics> {
        let account = self.accounts.bound(user_id).await?;
        let bills = self.accounts.bills_of(&account.heat_account).await?;
        let seasons: BTreeSet<&str> = bills.iter().map(|b| b.heating_season.as_str()).collect();
        let paid: Vec<_> = bills
            .iter()
            .filter(|b| b.status == BillStatus::Paid)
            .collect();
        let received =
            ledger::account_total(self.store.pool(), &ledger_account(&account.heat_account))
                .await?;
        let current = seasons.iter().next_back().copied().unwrap_or_default();
        let current_paid = paid
            .iter()
            .filter(|b| b.heating_season == current)
            .map(|b| b.amount.0)
            .sum();
        let months = self.settings.seasons.months_per_season();
        let billed: i64 = bills.iter().map(|b| b.amount.0).sum();
        let average = if seasons.is_empty() {
            0
        } else {
            billed / (seasons.len() as i64 * months)
        };
        let zone = self.settings.zone;
        let on_time = paid
            .iter()
            .filter(|b| {
                b.paid_at
                    .is_some_and(|t| t.local_calendar_date(zone) <= b.due_date)
            })
            .count();
        Ok(HeatingStatistics {
            total_heating_seasons: seasons.len() as i64,
            total_paid_amount: Fen(received),
            current_season_paid: Fen(current_paid),
            average_monthly_consumption: Fen(average),
            on_time_payment_rate: if paid.is_empty() {
                0.0
            } else {
                on_time as f64 / paid.len() as f64
            },
        })
    }
}
