//! Orders (section 四, AD-01..AD-15): creation by a member, the state machine
//! `obligation -> paid -> delivered -> received -> (return -> consent -> refund) | close | done`,
//! payment through the WeChat Pay gateway (exactly once, in the money journal), the install
//! ticket of a paid order that needs installing, and the commissions a paid order earns its
//! buyer's referrers: pending from the payment, available once the order can no longer be
//! returned, void when it is returned.
//!
//! `close` ends an unpaid order (by its member, its vendor, or when it expires); `done` ends a
//! received one (by its member or vendor, or when the return window passes). A member may ask
//! to return a received order, or a done one while the return window is open.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::listing::{self, List, ListRequest, Listed, Page, Scope};
use super::model::{self, Commission, CommissionState, Order, Party, Product, SoldLine, Ticket};
use super::products::Pricing;
use super::shared::{Shared, id_of};
use super::{Caller, Input, Place, Range, Role, visible};
use crate::domain::commit::{Batch, GroupCommit};
use crate::domain::money::Fen;
use crate::domain::payments::{
    ClientPayParams, OrderOwner, OwnerFuture, Paid, PaymentGateway, PrepayRequest, Settlement,
    TradeState,
};
use crate::domain::recent::Recent;
use crate::domain::{Clock, Entity, Error, Result, Service, Settings, Timestamp};
use crate::store::iot::{self as store, CommissionRow, OrderRow, TicketRow};
use crate::store::ledger;
use crate::store::{Conn, Store};

/// How long after receipt an order may still be returned (days).
pub const RETURN_DAYS: i64 = 7;

/// The states of section 四.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderState {
    Obligation,
    Paid,
    Delivered,
    Received,
    Return,
    Consent,
    Refund,
    Close,
    Done,
}

impl std::fmt::Display for OrderState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl OrderState {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderState::Obligation => "obligation",
            OrderState::Paid => "paid",
            OrderState::Delivered => "delivered",
            OrderState::Received => "received",
            OrderState::Return => "return",
            OrderState::Consent => "consent",
            OrderState::Refund => "refund",
            OrderState::Close => "close",
            OrderState::Done => "done",
        }
    }

    /// The state named by its word, or by its number: its place in section 四's list
    /// (`0` obligation, `1` paid, ... `8` done), as AD-01's example writes `"state": 0`.
    pub fn parse_any(s: &str) -> Option<OrderState> {
        match s.parse::<usize>() {
            Ok(n) => Self::ALL.get(n).copied(),
            Err(_) => Self::parse(s),
        }
    }

    pub fn parse(s: &str) -> Option<OrderState> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Every state, in section 四's order.
    pub const ALL: [OrderState; 9] = {
        use OrderState as S;
        [
            S::Obligation,
            S::Paid,
            S::Delivered,
            S::Received,
            S::Return,
            S::Consent,
            S::Refund,
            S::Close,
            S::Done,
        ]
    };
}

/// What is done to an order (besides paying it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderAction {
    /// AD-05: shipped, with the delivery information.
    Deliver,
    /// AD-06: the delivery information corrected.
    EditDelivery,
    /// AD-11: the member confirms receipt.
    Confirm,
    /// AD-12: the member asks to return it.
    Return,
    /// AD-13: the vendor agrees.
    Consent,
    /// AD-14: the vendor refunded it.
    Refund,
    /// An unpaid order is closed.
    Close,
    /// A received order is done.
    Done,
}

impl OrderAction {
    fn range(self) -> Range {
        match self {
            OrderAction::Deliver => Range::Admin,
            OrderAction::EditDelivery | OrderAction::Consent | OrderAction::Refund => Range::Brand,
            OrderAction::Confirm | OrderAction::Return => Range::Member,
            OrderAction::Close | OrderAction::Done => Range::BrandOrMember,
        }
    }
}

/// AD-02's order: its lines, receiver and memo.
#[derive(Debug)]
pub struct NewOrder {
    /// 1 to 20 lines.
    pub lines: Vec<OrderLine>,
    /// Read once the lines are priced.
    pub shipping: Input<Shipping>,
}

/// Where an order goes, and its memo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipping {
    pub receiver: Receiver,
    pub memo: String,
}

/// One line of an order: a product, how many, and for a rented product the rent plan's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    pub product_id: String,
    pub quantity: i64,
    pub rent: Option<String>,
    /// The device the rent plan is for (a renewal or a top-up).
    pub device_id: Option<String>,
}

/// Who receives an order, and where; stored and shown under the document's names (AD-02, with
/// its spelling `addr_deatil`), in the order a JSON object writes its keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Receiver {
    #[serde(rename = "addr_area")]
    pub area: String,
    #[serde(rename = "addr_deatil")]
    pub address: String,
    pub name: String,
    pub phone: String,
    pub zipcode: String,
}

/// AD-05's delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub company: String,
    pub tracking_num: String,
    pub clerk: String,
}

/// AD-06's corrections of the delivery (at least one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryPatch {
    pub company: Option<String>,
    pub tracking_num: Option<String>,
    pub clerk: Option<String>,
}

/// AD-14's refund: how much (all that was paid when not given) and the refund's number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refund {
    pub amount: Option<Fen>,
    pub number: Option<String>,
}

/// A move of an order, with what it carries.
#[derive(Debug)]
pub enum OrderMove {
    Deliver(Input<Delivery>),
    EditDelivery(Input<DeliveryPatch>),
    Confirm,
    /// With the reason.
    Return(Input<String>),
    Consent,
    Refund(Input<Refund>),
    Close,
    Done,
}

impl OrderMove {
    pub fn action(&self) -> OrderAction {
        match self {
            OrderMove::Deliver(_) => OrderAction::Deliver,
            OrderMove::EditDelivery(_) => OrderAction::EditDelivery,
            OrderMove::Confirm => OrderAction::Confirm,
            OrderMove::Return(_) => OrderAction::Return,
            OrderMove::Consent => OrderAction::Consent,
            OrderMove::Refund(_) => OrderAction::Refund,
            OrderMove::Close => OrderAction::Close,
            OrderMove::Done => OrderAction::Done,
        }
    }
}

/// Where an order sits.
pub fn place_of(o: &Order) -> Place<'_> {
    Place {
        vid: &o.vid,
        agent: o.agent.as_deref(),
        dealer: o.dealer.as_deref(),
        owner: Some(&o.uid),
    }
}

/// A prepay's answer: what the client passes to the WeChat Pay SDK.
#[derive(Debug, Clone)]
pub struct Prepay {
    pub prepay_id: String,
    pub params: ClientPayParams,
}

/// The journal key of an order's payment.
pub fn payment_key(oid: &str) -> String {
    format!("iot-order:{oid}")
}

/// The journal account of a vendor's sales.
pub fn sales_account(vid: &str) -> String {
    format!("iot-sales:{vid}")
}

fn state_error(o: &Order, what: &str) -> Error {
    Error::State(format!(
        "order {} is {}: it cannot be {what}",
        o.oid, o.state
    ))
}

fn gateway_down(e: impl std::fmt::Display) -> Error {
    Error::Unavailable {
        service: Service::Payment,
        detail: e.to_string(),
    }
}

/// How long after receipt an order may still be returned (milliseconds).
const RETURN_WINDOW_MS: i64 = RETURN_DAYS * 86_400_000;

/// When the next time-driven move is due: as the last sweep found it, lowered by the writes
/// since; and the earliest a write scheduled since the sweep in progress began.
struct Due {
    next: i64,
    since_sweep: i64,
}

/// Orders, their payment and settlement, the commissions they earn, and the sweep that
/// brings the time-driven moves up to date.
pub struct Orders {
    pub(super) store: Store,
    pub(super) clock: Clock,
    settings: Arc<Settings>,
    pub(super) shared: Arc<Shared>,
    /// The payment provider (WeChat Pay, the dev simulator, or none).
    gateway: Arc<dyn PaymentGateway>,
    /// When the time-driven moves last ran (clock milliseconds); held while they run, so a
    /// read that needs them waits for the sweep in progress.
    swept: tokio::sync::Mutex<i64>,
    /// When a time-driven move is due, as far as this process knows.
    due: std::sync::Mutex<Due>,
    /// New orders, committed together.
    creations: GroupCommit<NewOrders>,
    /// Orders read lately, as of their versions: a read that finds the same version again
    /// neither copies nor parses the order again.
    recent: Recent<Order>,
}

/// How many orders [`Orders::recent`] keeps (each a few KiB).
const RECENT_ORDERS: usize = 4096;

/// A new order waiting for its id and its commit.
struct NewOrderRow {
    /// The vendor's code and the local date, of its id.
    code: String,
    date: String,
    row: OrderRow,
}

/// New orders committed together: their ids from one serial update per vendor, their rows
/// in one statement.
struct NewOrders;

impl Batch for NewOrders {
    type Job = NewOrderRow;
    /// The order's id.
    type Done = String;
    const MAX: usize = 256;
    const NAME: &'static str = "iot order";

    async fn apply(
        &self,
        store: &Store,
        conn: &mut Conn,
        jobs: &[NewOrderRow],
    ) -> Result<Vec<Result<String>>> {
        let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
        for job in jobs {
            *counts.entry(&job.code).or_default() += 1;
        }
        let mut tx = store.begin_durable(conn).await?;
        // The next serial of each vendor in the batch.
        let mut next = BTreeMap::new();
        for (code, n) in counts {
            let last = store::take_serials(&mut tx, &format!("{code}:order"), n).await?;
            next.insert(code, last - n + 1);
        }
        let mut rows = Vec::with_capacity(jobs.len());
        for job in jobs {
            let serial = next.get_mut(job.code.as_str()).ok_or_else(|| {
                Error::internal(anyhow::anyhow!("no serial for vendor {}", job.code))
            })?;
            let mut row = job.row.clone();
            row.oid = id_of("order", &job.code, *serial, &job.date);
            *serial += 1;
            rows.push(row);
        }
        store::insert_orders(&mut tx, &rows).await?;
        tx.commit().await?;
        Ok(rows.into_iter().map(|r| Ok(r.oid)).collect())
    }
}

impl Orders {
    pub fn new(shared: Arc<Shared>, gateway: Arc<dyn PaymentGateway>) -> Orders {
        Orders {
            creations: GroupCommit::new(shared.store.clone(), NewOrders),
            recent: Recent::new(RECENT_ORDERS),
            store: shared.store.clone(),
            clock: shared.clock.clone(),
            settings: shared.settings.clone(),
            shared,
            gateway,
            swept: tokio::sync::Mutex::new(i64::MIN),
            due: std::sync::Mutex::new(Due {
                // Unknown until the first sweep.
                next: i64::MIN,
                since_sweep: i64::MAX,
            }),
        }
    }

    /// An order in the caller's range, to change.
    pub async fn get(&self, caller: &Caller, oid: &str) -> Result<Order> {
        self.read(caller, oid).await.map(Arc::unwrap_or_clone)
    }

    /// An order in the caller's range, to show.
    pub async fn read(&self, caller: &Caller, oid: &str) -> Result<Arc<Order>> {
        caller.require(Range::Anyone)?;
        self.sweep().await;
        let found = match store::order_version(&self.store, oid).await? {
            Some(version) => self.as_of(&[(oid.to_owned(), version)]).await?.pop(),
            None => None,
        };
        visible(
            caller,
            found,
            Entity::Order,
            |o| (place_of(o), o.deleted_at),
            false,
        )
    }

    /// AD-01: the orders in the caller's range.
    pub async fn list(&self, caller: &Caller, req: &ListRequest) -> Result<Listed<Arc<Order>>> {
        caller.require(Range::Anyone)?;
        let planned = listing::plan(List::Orders, Scope::range_of(caller), req);
        self.sweep().await;
        // The page's ids and versions; the orders themselves from `recent` where it has them.
        let keys = listing::run_of::<(String, i64), (String, i64)>(
            &self.store,
            planned,
            Some("t.oid, t.version"),
        )
        .await?;
        Ok(match keys {
            Ok(page) => Ok(Page {
                total: page.total,
                items: self.as_of(&page.items).await?,
            }),
            Err(refused) => Err(refused),
        })
    }

    /// The orders of these ids, in this order, each at least as of its version: kept ones from
    /// [`Orders::recent`], the others read in one query (and kept). One deleted meanwhile (it
    /// never is: orders are only marked deleted) is left out.
    async fn as_of(&self, keys: &[(String, i64)]) -> Result<Vec<Arc<Order>>> {
        let mut found: Vec<Option<Arc<Order>>> = keys
            .iter()
            .map(|(oid, version)| self.recent.get(oid, *version))
            .collect();
        let missing: Vec<&str> = keys
            .iter()
            .zip(&found)
            .filter(|(_, kept)| kept.is_none())
            .map(|((oid, _), _)| oid.as_str())
            .collect();
        if !missing.is_empty() {
            let mut read: HashMap<String, Arc<Order>> = HashMap::with_capacity(missing.len());
            for row in store::find_orders(&self.store, &missing).await? {
                let order = Arc::new(Order::from(row));
                self.recent.put(&order.oid, order.version, order.clone());
                read.insert(order.oid.clone(), order);
            }
            for ((oid, _), slot) in keys.iter().zip(&mut found) {
                if slot.is_none() {
                    *slot = read.get(oid).cloned();
                }
            }
        }
        Ok(found.into_iter().flatten().collect())
    }

    /// AD-02: a member's order for products of their vendor. Each line is `product_id`,
    /// `quantity` and, for a rented product, the rent plan's `rent` key. The amount is the
    /// lines' prices plus freight, plus installation where the product is installed.
    pub async fn create(&self, caller: &Caller, new: Input<NewOrder>) -> Result<Order> {
        caller.require(Range::Member)?;
        // The member is the caller, as its token read them a moment ago (live, and its vendor
        // live too): their vendor, agent and dealer are the caller's.
        let vid = caller.vid.clone().unwrap_or_default();
        let NewOrder {
            lines: wanted,
            shipping,
        } = new.read()?;
        let mut lines = Vec::new();
        let mut amount = 0i64;
        let mut needs_install = false;
        for OrderLine {
            product_id: pid,
            quantity,
            rent,
            device_id,
        } in wanted
        {
            let product = store::product(&self.store, &pid)
                .await?
                .map(Product::from)
                .filter(|p| p.vid == vid && p.deleted_at.is_none())
                .ok_or_else(|| {
                    Error::invalid("product_id", format!("{pid} is not a product you can buy"))
                })?;
            let pricing = Pricing::of(&product.doc, rent.as_deref())?;
            if let Some(did) = &device_id {
                self.rentable(caller, did, &pid, rent.as_deref()).await?;
            }
            let install = pricing.install.map_or(0, |c| c.0 * quantity);
            let line = pricing
                .price
                .0
                .checked_mul(quantity)
                .and_then(|v| v.checked_add(pricing.freight.0 + install))
                .filter(|v| *v <= 10_000_000_000)
                .ok_or_else(|| Error::invalid("quantity", "the order is too large"))?;
            amount += line;
            needs_install |= pricing.install.is_some();
            lines.push(SoldLine {
                amount: Fen(line),
                commis: pricing.rates,
                freight: pricing.freight,
                install_cost: Fen(install),
                name: pricing.name,
                price: pricing.price,
                product_id: pid,
                quantity,
                rent,
                device_id,
            });
        }
        if amount == 0 {
            return Err(Error::invalid(
                "content",
                "an order of nothing to pay cannot be paid",
            ));
        }
        let Shipping { receiver, memo } = shipping.read()?;
        let code = self.shared.vendor_code(Some(&vid)).await?;
        let now = self.clock.now();
        let mut row = Order {
            // Given by the committer.
            oid: String::new(),
            vid,
            agent: caller.agent.clone(),
            dealer: caller.dealer.clone(),
            uid: caller.uid.clone(),
            state: OrderState::Obligation,
            amount: Fen(amount),
            needs_install,
            content: lines,
            receiver,
            memo,
            delivery: None,
            return_info: None,
            pay_ch: None,
            prepay_id: None,
            transaction_no: None,
            refund_amount: None,
            created_at: now.millis(),
            paid_at: None,
            delivered_at: None,
            received_at: None,
            done_at: None,
            closed_at: None,
            returned_at: None,
            refunded_at: None,
            deleted_at: None,
            // As the table's default gives it.
            version: 0,
        };
        row.oid = self
            .creations
            .submit(NewOrderRow {
                code,
                date: self.shared.id_date(now),
                row: OrderRow::from(&row),
            })
            .await?;
        self.due(row.created_at + self.settings.order_ttl_secs * 1000);
        Ok(row)
    }

    /// Moves an order (AD-05, AD-06, AD-11..AD-14, close, done). A move the state machine does
    /// not allow is refused and changes nothing.
    pub async fn act(&self, caller: &Caller, oid: &str, mv: OrderMove) -> Result<Order> {
        let action = mv.action();
        caller.require(action.range())?;
        let before = self.get(caller, oid).await?;
        if caller.role == Role::Member && before.uid != caller.uid {
            return Err(Error::NotFound(Entity::Order));
        }
        let state = before.state;
        let now = self.clock.now().millis();
        let mut o = before.clone();
        use OrderAction as A;
        use OrderState as S;
        let mut refund_no = None;
        match (mv, state) {
            (OrderMove::Deliver(delivery), S::Paid) => {
                let delivery = delivery.read()?;
                let mut d = Map::new();
                d.insert("company".into(), Value::String(delivery.company));
                d.insert("tracking_num".into(), Value::String(delivery.tracking_num));
                d.insert("delivery_clerk".into(), Value::String(delivery.clerk));
                o.delivery = Some(d);
                o.delivered_at = Some(now);
                o.state = S::Delivered;
            }
            (OrderMove::EditDelivery(patch), S::Delivered | S::Received | S::Done) => {
                let patch = patch.read()?;
                let mut d = o.delivery.clone().unwrap_or_default();
                for (key, value) in [
                    ("company", patch.company),
                    ("tracking_num", patch.tracking_num),
                    ("delivery_clerk", patch.clerk),
                ] {
                    if let Some(v) = value {
                        d.insert(key.into(), Value::String(v));
                    }
                }
                o.delivery = Some(d);
            }
            (OrderMove::Confirm, S::Delivered) => {
                o.received_at = Some(now);
                o.state = S::Received;
            }
            (OrderMove::Return(reason), S::Received | S::Done) => {
                let received = o.received_at.unwrap_or(now);
                if now >= received + RETURN_WINDOW_MS {
                    return Err(Error::State(format!(
                        "order {oid} can no longer be returned: {RETURN_DAYS} days have passed since it was received"
                    )));
                }
                let mut r = Map::new();
                r.insert("reason".into(), Value::String(reason.read()?));
                r.insert("from".into(), Value::String(o.state.as_str().into()));
                o.return_info = Some(r);
                o.returned_at = Some(now);
                o.state = S::Return;
            }
            (OrderMove::Consent, S::Return) => {
                o.state = S::Consent;
            }
            (OrderMove::Refund(refund), S::Consent) => {
                let Refund { amount, number } = refund.read()?;
                let refund = amount.unwrap_or(o.amount);
                if refund.0 <= 0 || refund > o.amount {
                    return Err(Error::invalid(
                        "amount",
                        "the refund is more than 0 and at most the amount paid",
                    ));
                }
                let mut r = o.return_info.clone().unwrap_or_default();
                if let Some(no) = &number {
                    r.insert("refund_no".into(), Value::String(no.clone()));
                }
                refund_no = number;
                o.return_info = Some(r);
                o.refund_amount = Some(refund);
                o.refunded_at = Some(now);
                o.state = S::Refund;
            }
            (OrderMove::Close, S::Obligation) => {
                if o.prepay_id.is_some() {
                    self.gateway
                        .close(o.oid.clone())
                        .await
                        .map_err(gateway_down)?;
                }
                o.closed_at = Some(now);
                o.state = S::Close;
            }
            (OrderMove::Done, S::Received) => {
                return self.finish(&before).await;
            }
            _ => {
                let what = match action {
                    A::Deliver => "delivered",
                    A::EditDelivery => "given new delivery information",
                    A::Confirm => "confirmed as received",
                    A::Return => "returned",
                    A::Consent => "consented to return",
                    A::Refund => "refunded",
                    A::Close => "closed",
                    A::Done => "done",
                };
                return Err(state_error(&before, what));
            }
        }
        let mut tx = self.store.begin_write().await?;
        if !store::update_order(&mut *tx, &OrderRow::from(&o), before.state.as_str()).await? {
            return Err(Error::State(format!(
                "order {oid} changed meanwhile; read it again"
            )));
        }
        if action == A::Confirm {
            store::schedule_commissions(&mut tx, oid, now + RETURN_WINDOW_MS).await?;
        }
        // A return voids the commissions the sale earned (they were pending: a return is
        // possible only while the return window is open).
        if action == A::Return {
            store::move_commissions(&mut tx, oid, "pending", "void").await?;
        }
        if action == A::Refund {
            let entry = ledger::EntryRow {
                entry_key: format!("iot-refund:{oid}"),
                kind: "iot_refund".into(),
                account: sales_account(&o.vid),
                amount: -o.refund_amount.map_or(0, |f| f.0),
                reference: oid.to_owned(),
                external_id: refund_no,
                created_at: now,
            };
            ledger::append(&mut *tx, &entry).await?;
        }
        tx.commit().await?;
        if action == A::Confirm {
            self.due(now + RETURN_WINDOW_MS);
        }
        Ok(o)
    }

    /// The commissions an order pays its buyer's referrers (three levels up the referrer
    /// chain, at the rates its lines were sold with), pending; `available_at` is unknown
    /// until the order is received. Levels that earn nothing have no row.
    async fn commission_rows(
        &self,
        o: &Order,
        now: i64,
        available_at: Option<i64>,
    ) -> Result<Vec<Commission>> {
        let buyer = store::user(&self.store, &o.uid).await?.map(Party::from);
        let mut chain = Vec::new();
        let mut next = buyer.and_then(|b| b.rid);
        while let Some(rid) = next.take() {
            if chain.len() == 3 || chain.contains(&rid) {
                break;
            }
            let referrer = store::user(&self.store, &rid).await?.map(Party::from);
            next = referrer.as_ref().and_then(|r| r.rid.clone());
            if referrer.is_some_and(|r| r.deleted_at.is_none()) {
                chain.push(rid);
            } else {
                break;
            }
        }
        let lines = &o.content;
        let mut rows = Vec::new();
        for (level, uid) in chain.iter().enumerate() {
            let mut amount = 0i64;
            let mut rates = Vec::new();
            for line in lines {
                let line_amount = line.amount.0;
                let rate = line.commis.get(level).copied().unwrap_or(0);
                // Hundredths of a percent; half a fen rounds up.
                amount += (line_amount * rate + 5_000) / 10_000;
                rates.push(rate);
            }
            if amount == 0 {
                continue;
            }
            let rate = rates
                .iter()
                .map(|r| crate::domain::money::fixed_string(*r, 2))
                .collect::<Vec<_>>()
                .join(",");
            rows.push(Commission {
                oid: o.oid.clone(),
                level: level as i64 + 1,
                uid: uid.clone(),
                vid: o.vid.clone(),
                amount: Fen(amount),
                rate,
                state: CommissionState::Pending,
                created_at: now,
                available_at,
            });
        }
        Ok(rows)
    }

    /// A received order becomes done. Its commissions were recorded when it was paid; they
    /// stay pending until the return window closes (an order paid before commissions were
    /// recorded at payment gets them now).
    async fn finish(&self, before: &Order) -> Result<Order> {
        let now = self.clock.now().millis();
        let mut o = before.clone();
        o.state = OrderState::Done;
        o.done_at = Some(now);
        let available_at = o.received_at.unwrap_or(now) + RETURN_WINDOW_MS;
        let late = self.commission_rows(&o, now, Some(available_at)).await?;
        let mut tx = self.store.begin_write().await?;
        if !store::update_order(&mut *tx, &OrderRow::from(&o), before.state.as_str()).await? {
            return Err(Error::State(format!(
                "order {} changed meanwhile; read it again",
                o.oid
            )));
        }
        if store::commission_count(&mut tx, &o.oid).await? == 0 {
            for c in &late {
                store::insert_commission(&mut tx, &CommissionRow::from(c)).await?;
            }
        }
        store::schedule_commissions(&mut tx, &o.oid, available_at).await?;
        tx.commit().await?;
        self.due(available_at);
        Ok(o)
    }

    /// Lowers the instant the next time-driven move is due to `at` (a write of this process
    /// scheduled one).
    fn due(&self, at: i64) {
        if let Ok(mut due) = self.due.lock() {
            due.next = due.next.min(at);
            due.since_sweep = due.since_sweep.min(at);
        }
    }

    /// Brings the time-driven moves up to date before a read, when one is due (as far as this
    /// process knows: the last sweep's look at the database and its own writes since). Nothing
    /// due costs a read nothing. What other processes scheduled is found by
    /// [`Orders::sweep_all`] each second.
    pub async fn sweep(&self) {
        let now = self.clock.now().millis();
        let due = self.due.lock().map_or(i64::MIN, |d| d.next);
        if now >= due {
            self.sweep_all().await;
        }
    }

    /// Brings the time-driven moves up to date (the background ticker calls it every second):
    /// unpaid orders past their lifetime close, received orders past the return window are
    /// done, and pending commissions whose window closed become available (into the journal).
    /// Runs after the sweep in progress, unless one ran less than a second ago (on the clock).
    /// It never fails its caller: a step that fails is logged and tried again at the next sweep.
    pub async fn sweep_all(&self) {
        let mut swept = self.swept.lock().await;
        let now = self.clock.now().millis();
        if now.saturating_sub(*swept) < 1000 {
            return;
        }
        *swept = now;
        if let Ok(mut due) = self.due.lock() {
            due.since_sweep = i64::MAX;
        }
        let next = match self.sweep_at(now).await {
            Ok(next) => next,
            Err(e) => {
                tracing::warn!(error = %e, "iot sweep failed; it runs again at the next one");
                now
            }
        };
        // What this sweep found, and what writes scheduled meanwhile.
        if let Ok(mut due) = self.due.lock() {
            due.next = next.min(due.since_sweep);
        }
    }

    /// Sweeps at `now`; returns when the next move is due.
    async fn sweep_at(&self, now: i64) -> Result<i64> {
        let ttl = self.settings.order_ttl_secs * 1000;
        // At most this many gateway round trips per sweep, so a slow gateway slows no reader
        // for long.
        let mut gateway_calls = 20;
        let unpaid =
            store::orders_due(self.store.pool(), "obligation", "created_at", now - ttl).await?;
        for o in model::all::<_, Order>(unpaid) {
            if o.prepay_id.is_some() {
                if gateway_calls == 0 {
                    continue;
                }
                gateway_calls -= 1;
                // Paid meanwhile? The gateway knows; a trade it will not close stays open.
                match self.gateway.query(o.oid.clone()).await {
                    Ok(TradeState::Success {
                        transaction_id,
                        amount,
                    }) => {
                        if let Err(e) = self.record_payment(&o.oid, &transaction_id, amount).await {
                            tracing::warn!(order = %o.oid, error = %e, "payment found by query not applied");
                        }
                        continue;
                    }
                    Ok(TradeState::NotPaid | TradeState::Closed | TradeState::Failed(_)) => {}
                    Err(_) => continue,
                }
                if self.gateway.close(o.oid.clone()).await.is_err() {
                    continue;
                }
            }
            let mut closed = o.clone();
            closed.state = OrderState::Close;
            closed.closed_at = Some(now);
            // Lost to a concurrent move: that move stands.
            store::update_order(self.store.pool(), &OrderRow::from(&closed), "obligation").await?;
        }
        let window = now - RETURN_WINDOW_MS;
        let received =
            store::orders_due(self.store.pool(), "received", "received_at", window).await?;
        for o in model::all::<_, Order>(received) {
            match self.finish(&o).await {
                Ok(_) | Err(Error::State(_)) => {}
                Err(e) => return Err(e),
            }
        }
        for oid in store::commissions_due(self.store.pool(), now).await? {
            let mut tx = self.store.begin_write().await?;
            let order = store::order(&mut *tx, &oid).await?.map(Order::from);
            // Only an order that is still done releases its commissions; exactly the rows this
            // transaction moved go into the journal.
            if order.is_some_and(|o| o.state == OrderState::Done) {
                for c in store::move_commissions(&mut tx, &oid, "pending", "available").await? {
                    let entry = ledger::EntryRow {
                        entry_key: format!("iot-commission:{}:{}", c.oid, c.level),
                        kind: "iot_commission".into(),
                        account: super::commissions::commission_account(&c.uid),
                        amount: c.amount,
                        reference: c.oid.clone(),
                        external_id: None,
                        created_at: now,
                    };
                    ledger::append(&mut *tx, &entry).await?;
                }
            }
            tx.commit().await?;
        }
        let (unpaid, received, pending) = store::next_due(self.store.pool()).await?;
        Ok([
            unpaid.map(|t| t + ttl),
            received.map(|t| t + RETURN_WINDOW_MS),
            pending,
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(i64::MAX))
    }

    /// AD-07: a WeChat Pay prepay for an unpaid order of the member. The payer's `openid` is
    /// the member's bound WeChat account, or the one given. Asked twice, the same prepay is
    /// signed again.
    pub async fn prepay_weixin(
        &self,
        caller: &Caller,
        oid: &str,
        openid: Input<Option<String>>,
    ) -> Result<Prepay> {
        caller.require(Range::Member)?;
        let o = self.get(caller, oid).await?;
        if o.state != OrderState::Obligation {
            return Err(state_error(&o, "paid"));
        }
        if self.gateway.name() == "none" {
            return Err(Error::State(
                "微信支付通道未配置: the WeChat Pay channel is not configured on this server"
                    .into(),
            ));
        }
        let prepay_id = match o.prepay_id.clone() {
            Some(p) => p,
            None => {
                let member = self.shared.member(caller, &caller.uid).await?;
                let openid = openid.read()?.filter(|s| !s.is_empty()).or(member.openid);
                if openid.is_none() && self.gateway.needs_payer_id() {
                    return Err(Error::invalid(
                        "openid",
                        "bind WeChat first (POST /users/bind) or send openid",
                    ));
                }
                let name = o.content.first().map_or("商品", |l| l.name.as_str());
                let request = PrepayRequest {
                    out_trade_no: o.oid.clone(),
                    description: format!("{name} 订单{}", o.oid),
                    amount: o.amount,
                    openid,
                    expires_at: Timestamp::from_millis(
                        o.created_at + self.settings.order_ttl_secs * 1000,
                    ),
                };
                let prepay_id = self.gateway.prepay(request).await.map_err(gateway_down)?;
                let mut with = o.clone();
                with.prepay_id = Some(prepay_id.clone());
                with.pay_ch = Some("weixin".into());
                if !store::update_order(self.store.pool(), &OrderRow::from(&with), "obligation")
                    .await?
                {
                    return Err(Error::State(format!(
                        "order {oid} changed meanwhile; read it again"
                    )));
                }
                prepay_id
            }
        };
        let params = self
            .gateway
            .client_params(&prepay_id, self.clock.now())
            .map_err(gateway_down)?;
        Ok(Prepay { prepay_id, params })
    }

    /// AD-08, AD-09: card channels; none is configured on this server.
    pub async fn prepay_card(
        &self,
        caller: &Caller,
        oid: &str,
        channel: &str,
    ) -> Result<std::convert::Infallible> {
        caller.require(Range::Member)?;
        let o = self.get(caller, oid).await?;
        if o.state != OrderState::Obligation {
            return Err(state_error(&o, "paid"));
        }
        let name = if channel == "credit" {
            "信用卡"
        } else {
            "银行卡"
        };
        Err(Error::State(format!(
            "{name}支付通道未配置: the {channel} card channel is not configured on this server; pay with POST /orders/{oid}/prepay/weixin"
        )))
    }

    /// AD-10: the order's payment; an unpaid one with a prepay is checked with the gateway.
    pub async fn payment(&self, caller: &Caller, oid: &str) -> Result<Order> {
        let o = self.get(caller, oid).await?;
        if o.state == OrderState::Obligation && o.prepay_id.is_some() {
            match self.gateway.query(o.oid.clone()).await {
                Ok(TradeState::Success {
                    transaction_id,
                    amount,
                }) => {
                    self.record_payment(&o.oid, &transaction_id, amount).await?;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(order = %o.oid, error = %e, "order query failed"),
            }
            return self.get(caller, oid).await;
        }
        Ok(o)
    }

    /// Whether `out_trade_no` is an order of this platform (payment notifications are shared
    /// with the heating surface).
    pub async fn is_order(&self, out_trade_no: &str) -> Result<bool> {
        Ok(store::find_order(&self.store, out_trade_no)
            .await?
            .map(Order::from)
            .is_some())
    }

    /// Records a payment the gateway confirmed: the journal entry, the order paid, and its
    /// install ticket when it needs installing, in one transaction, exactly once.
    pub async fn record_payment(
        &self,
        oid: &str,
        transaction_id: &str,
        amount: Fen,
    ) -> Result<Settlement> {
        let o = store::find_order(&self.store, oid)
            .await?
            .map(Order::from)
            .ok_or(Error::NotFound(Entity::Order))?;
        let now = self.clock.now().millis();
        if amount != o.amount {
            let reason = format!("paid {} fen for an order of {} fen", amount.0, o.amount.0);
            ledger::record_anomaly(
                self.store.pool(),
                transaction_id,
                oid,
                amount.0,
                &reason,
                now,
            )
            .await?;
            tracing::error!(order = %oid, %transaction_id, %reason, "payment not applied");
            return Err(Error::State("支付金额与订单金额不符".into()));
        }
        // Three levels of commission appear with the payment, pending (待激) until the
        // order can no longer be returned.
        let commissions = self.commission_rows(&o, now, None).await?;
        // Read before the transaction: a read through the pool while it holds a connection
        // could wait for a connection that only the transactions waiting with it would free.
        let ticket_code = if o.needs_install {
            Some(self.shared.vendor_code(Some(&o.vid)).await?)
        } else {
            None
        };
        let mut plans = Vec::new();
        for (i, line) in o.content.iter().enumerate() {
            if let (Some(did), Some(key)) = (&line.device_id, &line.rent)
                && let Some(p) = store::product(&self.store, &line.product_id).await?
            {
                let doc = super::model::Product::from(p).doc;
                if let Some(plan) = super::fleet::Plan::of(&doc, key, line.quantity) {
                    plans.push((i, did.clone(), plan));
                }
            }
        }
        let mut tx = self.store.begin_write().await?;
        let entry = ledger::EntryRow {
            entry_key: payment_key(oid),
            kind: "iot_payment".into(),
            account: sales_account(&o.vid),
            amount: amount.0,
            reference: oid.to_owned(),
            external_id: Some(transaction_id.to_owned()),
            created_at: now,
        };
        if !ledger::append(&mut *tx, &entry).await? {
            return Ok(Settlement::AlreadyRecorded);
        }
        let current = store::order(&mut *tx, oid)
            .await?
            .map(Order::from)
            .ok_or(Error::NotFound(Entity::Order))?;
        let mut paid = current.clone();
        paid.state = OrderState::Paid;
        paid.paid_at = Some(now);
        paid.pay_ch = Some("weixin".into());
        paid.transaction_no = Some(transaction_id.to_owned());
        // A payment that arrives after the order closed for lack of one still pays it.
        if !matches!(current.state, OrderState::Obligation | OrderState::Close)
            || !store::update_order(&mut *tx, &OrderRow::from(&paid), current.state.as_str())
                .await?
        {
            drop(tx);
            let reason = format!("payment for order {oid} in state {}", current.state);
            ledger::record_anomaly(
                self.store.pool(),
                transaction_id,
                oid,
                amount.0,
                &reason,
                now,
            )
            .await?;
            return Err(Error::State(reason));
        }
        for c in &commissions {
            store::insert_commission(&mut tx, &CommissionRow::from(c)).await?;
        }
        for (line, did, plan) in &plans {
            super::fleet::paid_plan(&mut tx, &o, *line, did, plan, now).await?;
        }
        if let Some(code) = ticket_code {
            let tid = self.shared.id(&mut tx, &code, "ticket").await?;
            let ticket = Ticket {
                tid,
                vid: o.vid.clone(),
                agent: o.agent.clone(),
                dealer: o.dealer.clone(),
                uid: Some(o.uid.clone()),
                device_id: None,
                order_id: Some(oid.to_owned()),
                ttype: super::tickets::INSTALL,
                status: super::tickets::CREATED,
                detail: format!("安装工单: 订单 {oid}"),
                appoint_at: None,
                handler: None,
                approval: None,
                ratings: None,
                created_at: now,
                updated_at: now,
            };
            store::insert_ticket(&mut tx, &TicketRow::from(&ticket)).await?;
        }
        tx.commit().await?;
        tracing::info!(order = %oid, amount = amount.0, "iot order paid");
        Ok(Settlement::Recorded)
    }

    /// A rent plan may name a device: a timed or metered rental the member holds (its own or
    /// shared with them), or a vending machine of their vendor, of that product.
    async fn rentable(
        &self,
        caller: &Caller,
        did: &str,
        pid: &str,
        plan: Option<&str>,
    ) -> Result<()> {
        let bad = |why: &str| Error::invalid("device_id", format!("device {did} {why}"));
        if plan.is_none() {
            return Err(bad("is named without a rent plan"));
        }
        let d = store::device(self.store.pool(), did)
            .await?
            .filter(|d| d.deleted_at.is_none() && Some(&d.vid) == caller.vid.as_ref())
            .ok_or_else(|| bad("is not a device of your vendor"))?;
        if d.product_id.as_deref() != Some(pid) {
            return Err(bad("is not of this product"));
        }
        // A plan that would do nothing for this device is refused, not paid for.
        let product = store::product(&self.store, pid)
            .await?
            .map(|p| super::model::Product::from(p).doc)
            .unwrap_or_default();
        let plan = plan.and_then(|k| super::fleet::Plan::of(&product, k, 1));
        let fits = match (d.dtype, &plan) {
            (super::fleet::TIMED_RENTAL, Some(p)) => p.days.is_some(),
            (super::fleet::METERED_RENTAL | super::fleet::VENDING, Some(p)) => p.credit.0 > 0,
            _ => false,
        };
        if !fits {
            return Err(Error::invalid(
                "rent",
                match d.dtype {
                    super::fleet::TIMED_RENTAL => {
                        "a timed rental takes a plan of days (30d, 12m, 1y)"
                    }
                    _ => "a top-up takes a plan with a value",
                },
            ));
        }
        match d.dtype {
            super::fleet::VENDING => Ok(()),
            super::fleet::TIMED_RENTAL | super::fleet::METERED_RENTAL => {
                let mine = d.uid.as_deref() == Some(caller.uid.as_str())
                    || store::shares_of(self.store.pool(), did)
                        .await?
                        .contains(&caller.uid);
                if mine {
                    Ok(())
                } else {
                    Err(bad("is not bound to you"))
                }
            }
            _ => Err(bad("is not rented or vending")),
        }
    }

    /// `--dev` only: pays an order as if its member had paid.
    pub async fn simulate_payment(&self, oid: &str) -> Result<Settlement> {
        if !self.gateway.is_simulated() {
            return Err(Error::State(
                "payments are simulated only under --dev without WeChat Pay".into(),
            ));
        }
        let o = store::find_order(&self.store, oid)
            .await?
            .map(Order::from)
            .ok_or(Error::NotFound(Entity::Order))?;
        self.record_payment(oid, &format!("SIM{oid}"), o.amount)
            .await
    }

    /// AD-15: deletes an order (platform only) that is not in progress.
    pub async fn delete(&self, caller: &Caller, oid: &str) -> Result<()> {
        caller.require(Range::Platform)?;
        let o = self.get(caller, oid).await?;
        if !matches!(
            o.state,
            OrderState::Obligation | OrderState::Close | OrderState::Refund | OrderState::Done
        ) {
            return Err(state_error(&o, "deleted while in progress"));
        }
        if o.state == OrderState::Obligation && o.prepay_id.is_some() {
            self.gateway
                .close(o.oid.clone())
                .await
                .map_err(gateway_down)?;
        }
        let mut d = o.clone();
        d.deleted_at = Some(self.clock.now().millis());
        if !store::update_order(self.store.pool(), &OrderRow::from(&d), o.state.as_str()).await? {
            return Err(Error::State(format!(
                "order {oid} changed meanwhile; read it again"
            )));
        }
        Ok(())
    }
}

/// The IoT platform's orders, as the payments service sees them.
impl OrderOwner for Orders {
    fn owns<'a>(&'a self, out_trade_no: &'a str) -> OwnerFuture<'a, bool> {
        Box::pin(self.is_order(out_trade_no))
    }
    fn settle<'a>(&'a self, paid: Paid<'a>) -> OwnerFuture<'a, Settlement> {
        Box::pin(self.record_payment(paid.out_trade_no, paid.transaction_id, paid.amount))
    }
}
