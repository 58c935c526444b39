//! Work tickets (section 五, AE-01..AE-03 and the moves the section describes): types,
//! states `created -> approved -> dispatched -> processing <-> waiting for reply -> done`
//! (or rejected at approval), approval and rating. An install ticket is opened by the payment
//! of an order that needs installing.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::devices::Devices;
use super::listing::{self, List, ListRequest, Listed, Planned, Scope};
use super::model::{self, Party, Ticket};
use super::orders::Orders;
use super::shared::Shared;
use super::{Caller, Input, Place, Range, Role, visible};
use crate::domain::{Clock, Entity, Error, Result};
use crate::store::Store;
use crate::store::iot::{self as store, TicketRow};

/// Ticket types (安装, 换货, 退货, 故障, 维护, 拆机).
pub const INSTALL: i64 = 1;
pub const EXCHANGE: i64 = 2;
pub const RETURN: i64 = 3;
pub const FAULT: i64 = 4;
pub const MAINTAIN: i64 = 5;
pub const DISMANTLE: i64 = 6;

/// Ticket states (创建, 审核, 派单, 正在处理, 等待回应, 完成), and rejected at approval.
pub const REJECTED: i64 = 0;
pub const CREATED: i64 = 1;
pub const APPROVED: i64 = 2;
pub const DISPATCHED: i64 = 3;
pub const PROCESSING: i64 = 4;
pub const WAITING: i64 = 5;
pub const DONE: i64 = 6;

/// Where a ticket sits.
pub fn place_of(t: &Ticket) -> Place<'_> {
    Place {
        vid: &t.vid,
        agent: t.agent.as_deref(),
        dealer: t.dealer.as_deref(),
        owner: t.uid.as_deref(),
    }
}

/// AE-03's ticket: its type, what it is about, for whom, and when it is appointed. Each part
/// after the device is read once what comes before it is found.
#[derive(Debug)]
pub struct NewTicket {
    pub ttype: i64,
    pub detail: String,
    pub device_id: Option<String>,
    pub order_id: Input<Option<String>>,
    /// The member it is for (the admin side names one).
    pub user_id: Input<Option<String>>,
    pub appoint_at: Input<Option<i64>>,
}

/// An approval or rejection, with a remark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub ok: bool,
    pub remark: Option<String>,
}

/// A dispatch: to whom, and the appointment (none: cleared) when given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispatch {
    pub handler: String,
    pub appoint: Option<Option<i64>>,
}

/// A move to `status` 4, 5 or 6, with a reply added to the detail (read once the move is
/// allowed).
#[derive(Debug)]
pub struct StatusMove {
    pub to: i64,
    pub reply: Input<Option<String>>,
}

/// A rating: 1 to 5, and words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rating {
    pub value: i64,
    pub detail: String,
}

/// A move of a ticket, with what it carries.
#[derive(Debug)]
pub enum TicketMove {
    Approve(Input<Approval>),
    Dispatch(Input<Dispatch>),
    Status(Input<StatusMove>),
    Rate(Input<Rating>),
}

impl TicketMove {
    pub fn action(&self) -> TicketAction {
        match self {
            TicketMove::Approve(_) => TicketAction::Approve,
            TicketMove::Dispatch(_) => TicketAction::Dispatch,
            TicketMove::Status(_) => TicketAction::Status,
            TicketMove::Rate(_) => TicketAction::Rate,
        }
    }
}

/// What is done to a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketAction {
    /// `check_result` true approves, false rejects (A#).
    Approve,
    /// To a handler (`installer_id`) (A).
    Dispatch,
    /// `status` 4 processing, 5 waiting for reply, 6 done (A; a member replies: 5 -> 4).
    Status,
    /// `rate_value` 1-5 and `rate_detail`, once, by the member, when done.
    Rate,
}

/// Work tickets.
pub struct Tickets {
    store: Store,
    clock: Clock,
    shared: Arc<Shared>,
    devices: Arc<Devices>,
    orders: Arc<Orders>,
    fleet: Arc<super::Fleet>,
}

impl Tickets {
    pub fn new(
        shared: Arc<Shared>,
        devices: Arc<Devices>,
        orders: Arc<Orders>,
        fleet: Arc<super::Fleet>,
    ) -> Tickets {
        Tickets {
            store: shared.store.clone(),
            clock: shared.clock.clone(),
            shared,
            devices,
            orders,
            fleet,
        }
    }

    /// A ticket in the caller's range.
    pub async fn get(&self, caller: &Caller, tid: &str) -> Result<Ticket> {
        caller.require(Range::Anyone)?;
        let row = store::ticket(self.store.pool(), tid)
            .await?
            .map(Ticket::from);
        visible(caller, row, Entity::Ticket, |t| (place_of(t), None), false)
    }

    /// AE-01: the tickets in the caller's range.
    pub async fn list(
        &self,
        caller: &Caller,
        range: Range,
        req: &ListRequest,
    ) -> Result<Listed<Ticket>> {
        caller.require(range)?;
        let planned = listing::plan(List::Tickets, Scope::range_of(caller), req);
        listing::run::<TicketRow, _>(&self.store, planned).await
    }

    /// AE-02: every ticket in the caller's range, oldest first.
    pub async fn all(&self, caller: &Caller, range: Range) -> Result<Vec<Ticket>> {
        caller.require(range)?;
        let planned = Planned::all(List::Tickets, Scope::range_of(caller));
        Ok(listing::run::<TicketRow, _>(&self.store, planned)
            .await?
            .map_or_else(|_| Vec::new(), |page| page.items))
    }

    /// AE-03: a new ticket. A member opens an exchange, return or fault ticket about their own
    /// device (`device_id`) or order (`order_id`); the admin side opens any type for a member
    /// (`user_id`) or device in its range.
    pub async fn create(&self, caller: &Caller, new: Input<NewTicket>) -> Result<Ticket> {
        caller.require(Range::Anyone)?;
        let NewTicket {
            ttype,
            detail,
            device_id,
            order_id,
            user_id,
            appoint_at,
        } = new.read()?;
        if caller.role == Role::Member && !matches!(ttype, EXCHANGE | RETURN | FAULT) {
            return Err(Error::invalid(
                "type",
                "members open exchange (2), return (3) or fault (4) tickets",
            ));
        }
        let device = match device_id {
            Some(did) => Some(
                self.devices
                    .get(caller, &did)
                    .await
                    .map_err(|_| Error::invalid("device_id", "device_id is not a device of yours"))?
                    .0,
            ),
            None => None,
        };
        let order =
            match order_id.read()? {
                Some(oid) => Some(self.orders.get(caller, &oid).await.map_err(|_| {
                    Error::invalid("order_id", "order_id is not an order of yours")
                })?),
                None => None,
            };
        let member =
            match (caller.role, user_id.read()?) {
                (Role::Member, _) => Some(self.shared.member(caller, &caller.uid).await?),
                (_, Some(uid)) => Some(self.shared.member(caller, &uid).await.map_err(|_| {
                    Error::invalid("user_id", "user_id is not a member you manage")
                })?),
                (_, None) => match device
                    .as_ref()
                    .and_then(|d| d.uid.clone())
                    .or(order.as_ref().map(|o| o.uid.clone()))
                {
                    Some(uid) => store::user(&self.store, &uid).await?.map(Party::from),
                    None => None,
                },
            };
        if caller.role == Role::Member && device.is_none() && order.is_none() {
            return Err(Error::invalid(
                "device_id",
                "name the device_id or order_id the ticket is about",
            ));
        }
        let vid = member
            .as_ref()
            .and_then(|m| m.vid.clone())
            .or(device.as_ref().map(|d| d.vid.clone()))
            .or(caller.vid.clone())
            .ok_or_else(|| {
                Error::invalid(
                    "user_id",
                    "name the member (user_id) or device (device_id) the ticket is for",
                )
            })?;
        let (agent, dealer) = match (&member, &device) {
            (Some(m), _) => (m.agent.clone(), m.dealer.clone()),
            (None, Some(d)) => (d.agent.clone(), d.dealer.clone()),
            _ => (caller.agent.clone(), caller.dealer.clone()),
        };
        let code = self.shared.vendor_code(Some(&vid)).await?;
        let now = self.clock.now().millis();
        let mut tx = self.store.begin_write().await?;
        let tid = self.shared.id(&mut tx, &code, "ticket").await?;
        let row = Ticket {
            tid,
            vid,
            agent,
            dealer,
            uid: member.map(|m| m.uid),
            device_id: device.map(|d| d.did),
            order_id: order.map(|o| o.oid),
            ttype,
            status: CREATED,
            detail,
            appoint_at: appoint_at.read()?,
            handler: None,
            approval: None,
            ratings: None,
            created_at: now,
            updated_at: now,
        };
        if !store::insert_ticket(&mut tx, &TicketRow::from(&row)).await? {
            return Err(Error::invalid(
                "order_id",
                "this order has its install ticket already",
            ));
        }
        tx.commit().await?;
        Ok(row)
    }

    /// Moves a ticket; a move its state does not allow is refused and changes nothing.
    pub async fn act(&self, caller: &Caller, tid: &str, mv: TicketMove) -> Result<Ticket> {
        let action = mv.action();
        let range = match action {
            TicketAction::Approve => Range::Brand,
            TicketAction::Dispatch => Range::Admin,
            TicketAction::Status => Range::Anyone,
            TicketAction::Rate => Range::Member,
        };
        caller.require(range)?;
        let before = self.get(caller, tid).await?;
        let now = self.clock.now().millis();
        let mut t = before.clone();
        let refuse = |what: &str| {
            Error::State(format!(
                "ticket {tid} is in state {}: it cannot be {what}",
                before.status
            ))
        };
        match mv {
            TicketMove::Approve(approval) => {
                if t.status != CREATED {
                    return Err(refuse("approved"));
                }
                let Approval { ok, remark } = approval.read()?;
                let mut a = Map::new();
                a.insert("check_result".into(), Value::Bool(ok));
                a.insert("check_tms".into(), Value::from(now));
                a.insert("check_usr".into(), Value::String(caller.uid.clone()));
                if let Some(r) = remark {
                    a.insert("remark".into(), Value::String(r));
                }
                t.approval = Some(a);
                t.status = if ok { APPROVED } else { REJECTED };
            }
            TicketMove::Dispatch(dispatch) => {
                if t.status != APPROVED && t.status != DISPATCHED {
                    return Err(refuse("dispatched"));
                }
                let Dispatch { handler, appoint } = dispatch.read()?;
                t.handler = Some(handler);
                if let Some(at) = appoint {
                    t.appoint_at = at;
                }
                t.status = DISPATCHED;
            }
            TicketMove::Status(status) => {
                let StatusMove { to, reply } = status.read()?;
                let allowed = match caller.role {
                    Role::Member => before.status == WAITING && to == PROCESSING,
                    _ => matches!(
                        (before.status, to),
                        (DISPATCHED, PROCESSING)
                            | (PROCESSING, WAITING)
                            | (WAITING, PROCESSING)
                            | (PROCESSING, DONE)
                            | (WAITING, DONE)
                    ),
                };
                if !allowed {
                    return Err(refuse(&format!("moved to state {to}")));
                }
                if let Some(d) = reply.read()?.filter(|s| !s.is_empty()) {
                    t.detail = format!("{}\n{d}", t.detail);
                }
                t.status = to;
            }
            TicketMove::Rate(rating) => {
                if t.status != DONE || t.ratings.is_some() {
                    return Err(refuse("rated (a ticket is rated once, when done)"));
                }
                if t.uid.as_deref() != Some(caller.uid.as_str()) {
                    return Err(Error::NotFound(Entity::Ticket));
                }
                let Rating { value, detail } = rating.read()?;
                let mut r = Map::new();
                r.insert("rate_value".into(), Value::from(value));
                r.insert("rate_tms".into(), Value::from(now));
                r.insert("rate_detail".into(), Value::String(detail));
                t.ratings = Some(r);
            }
        }
        t.updated_at = now;
        if action == TicketAction::Rate {
            let ratings = t.ratings.as_ref().map(model::text).unwrap_or_default();
            if !store::rate_ticket(self.store.pool(), tid, &ratings, now).await? {
                return Err(refuse("rated (a ticket is rated once, when done)"));
            }
            return Ok(t);
        }
        if !store::update_ticket(self.store.pool(), &TicketRow::from(&t), before.status).await? {
            return Err(Error::State(format!(
                "ticket {tid} changed meanwhile; read it again"
            )));
        }
        if t.status == DONE
            && t.ttype == MAINTAIN
            && let Err(e) = self.fleet.ticket_done(tid).await
        {
            // The ticket is done; the fleet's watch moves the filter on when it can.
            tracing::warn!(error = %e, ticket = %tid, "iot: a filter's next cycle waits");
        }
        Ok(t)
    }
}
