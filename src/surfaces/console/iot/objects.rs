//! The IoT objects' own pages: a device (its filters' life, its command log, commands), an
//! order (the moves its state allows) and a ticket (approve, reject, dispatch, status). Each
//! loads through the IoT service with the caller, so an object out of range is not found, and
//! each change is that service's move, refused by it when the caller or the state does not
//! allow it. A form whose field the service finds wrong comes back (422) with the message
//! next to that field.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::json;

use super::super::session::Session;
use super::super::{Chrome, Fail, Fields, Page, Tab, done, html, posted};
use super::{area_tabs, caller};
use crate::domain::Error;
use crate::domain::iot::model::{Order, Ticket};
use crate::domain::iot::orders::{Delivery, DeliveryPatch, OrderMove, OrderState, Refund};
use crate::domain::iot::tickets::{self as t, Approval, Dispatch, StatusMove, TicketMove};
use crate::domain::iot::{Input, Role};
use crate::domain::money::{Fen, parse_fixed};
use crate::domain::time::Timestamp;
use crate::surfaces::AppState;

/// A labelled value.
pub struct Fact {
    pub label: &'static str,
    pub value: String,
    pub href: Option<String>,
}

fn fact(label: &'static str, value: impl Into<String>) -> Fact {
    Fact {
        label,
        value: value.into(),
        href: None,
    }
}

/// A filter's life as shown.
pub struct FilterView {
    pub order: i64,
    pub name: String,
    pub cycle: i64,
    pub remaining_h: String,
    pub remaining_pct: String,
    pub expired: bool,
}

/// A command of the log as shown.
pub struct CommandView {
    pub at: String,
    pub op: String,
    pub state: String,
    pub by: String,
    pub result: String,
}

#[derive(Template)]
#[template(path = "console/iot_device.html")]
struct DevicePage {
    c: Chrome,
    tabs: Vec<Tab>,
    did: String,
    facts: Vec<Fact>,
    filters: Vec<FilterView>,
    commands: Vec<CommandView>,
    commands_total: i64,
    /// The device's commands: (op, word, dangerous).
    ops: Vec<(&'static str, &'static str, bool)>,
}

/// A time as the console shows it.
fn when(state: &AppState, ms: Option<i64>) -> String {
    ms.map(|ms| Timestamp::from_millis(ms).local_datetime(state.records.zone()))
        .unwrap_or_default()
}

pub async fn device(
    State(state): State<AppState>,
    session: Session,
    Path(did): Path<String>,
) -> Page {
    let lang = session.lang;
    let c = caller(&session);
    let (d, shares) = state.iot.devices.get(&c, &did).await?;
    let filters = state.iot.fleet.filters(&c, &did).await?;
    let (commands, commands_total) = state.iot.fleet.commands(&c, &did, 20, 0).await?;
    let name = |key: &str| -> String {
        d.profile
            .get(key)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_owned()
    };
    let dtype = format!("iot_dtype_{}", d.dtype);
    let facts = vec![
        fact("id", d.did.clone()),
        fact("name", name("name")),
        fact(
            "iot_online",
            lang.t(if d.online {
                "iot_online"
            } else {
                "iot_offline"
            }),
        ),
        fact("type", lang.t(&dtype)),
        fact("state", d.state.to_string()),
        fact("iot_product", d.product_id.clone().unwrap_or_default()),
        fact("member", d.uid.clone().unwrap_or_default()),
        fact("iot_shares", shares.join(", ")),
        fact("vendor", d.vid.clone()),
        fact("agent", d.agent.clone().unwrap_or_default()),
        fact("dealer", d.dealer.clone().unwrap_or_default()),
        fact("iot_registered", when(&state, Some(d.reg_at))),
    ];
    let filters = filters
        .iter()
        .map(|f| FilterView {
            order: f.spec.order,
            name: f.spec.name.clone(),
            cycle: f.cycle,
            remaining_h: format!("{:.1}", f.remaining_h),
            remaining_pct: format!("{:.1}", f.remaining_pct),
            expired: f.expired,
        })
        .collect();
    let commands = commands
        .iter()
        .map(|cmd| CommandView {
            at: when(&state, Some(cmd.created_at)),
            op: cmd.op.clone(),
            state: cmd.state.clone(),
            by: cmd.by.clone().unwrap_or_default(),
            result: if cmd.result.is_null() {
                String::new()
            } else {
                cmd.result.to_string()
            },
        })
        .collect();
    Ok(html(
        lang,
        &DevicePage {
            c: Chrome::new(&session, "area_iot", "iot_devices"),
            tabs: area_tabs(&session, "/console/iot/devices"),
            did: d.did.clone(),
            facts,
            filters,
            commands,
            commands_total,
            ops: vec![
                ("lock", lang.t("iot_op_lock"), true),
                ("unlock", lang.t("iot_op_unlock"), false),
                ("reboot", lang.t("iot_op_reboot"), false),
            ],
        },
    ))
}

/// Refusals that name no object the caller may see are failure pages; the rest go back to
/// the form's page with the message.
fn answer(session: &Session, fields: &Fields, result: crate::domain::Result<()>) -> Page {
    match result {
        Err(e @ (Error::NotFound(_) | Error::Gone(_) | Error::Forbidden(_))) => Err(Fail::from(e)),
        other => Ok(done(session.lang, fields, other)),
    }
}

/// `POST /console/iot/devices/{did}/command` `op` (lock, unlock, reboot, reset_filter with
/// `order`): the fleet's command; an offline device is refused by it.
pub async fn command(
    State(state): State<AppState>,
    session: Session,
    Path(did): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    let fields = posted(&session, &headers, &body)?;
    let c = caller(&session);
    let op = fields.text("op").to_owned();
    let args = match fields.text("order") {
        "" => json!({}),
        n => match n.parse::<i64>() {
            Ok(n) => json!({ "order": n }),
            Err(_) => {
                let e = Error::invalid("order", "order is a filter's stage number");
                return Ok(done(session.lang, &fields, Err(e)));
            }
        },
    };
    let result = state
        .iot
        .fleet
        .command(&c, &did, &op, args)
        .await
        .map(|_| ());
    answer(&session, &fields, result)
}

/// A form's values and the field the service refused, for a page shown again.
#[derive(Default)]
pub struct Form {
    pub values: Fields,
    pub error: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "console/iot_order.html")]
struct OrderPage {
    c: Chrome,
    tabs: Vec<Tab>,
    oid: String,
    facts: Vec<Fact>,
    lines: Vec<(String, i64, String, String)>,
    /// The moves the order's state allows (the service still decides who may make them).
    moves: Vec<(&'static str, &'static str)>,
    form: Form,
}

impl OrderPage {
    /// The value the form had (after a refusal).
    fn val(&self, name: &str) -> &str {
        self.form.values.get(name).unwrap_or("")
    }
    /// The refusal's message, when it is about `field`.
    fn err(&self, field: &str) -> Option<&str> {
        self.form
            .error
            .as_ref()
            .filter(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }
}

fn order_moves(state: OrderState, role: Role) -> Vec<&'static str> {
    let brand = matches!(role, Role::Platform | Role::Vendor);
    let mut moves = Vec::new();
    match state {
        OrderState::Paid => moves.push("deliver"),
        OrderState::Delivered if brand => moves.push("edit_delivery"),
        OrderState::Received if brand => moves.push("done"),
        OrderState::Return if brand => moves.push("consent"),
        OrderState::Consent if brand => moves.push("refund"),
        OrderState::Obligation if brand => moves.push("close"),
        _ => {}
    }
    moves
}

fn order_page(state: &AppState, session: &Session, o: &Order, form: Form) -> OrderPage {
    let lang = session.lang;
    let path = format!("/console/iot/orders/{}", super::super::percent(&o.oid));
    let mut c = Chrome::new(session, "area_iot", "iot_orders");
    c.here = path.clone();
    let state_word = format!("iot_ostate_{}", o.state.as_str());
    let delivery = o
        .delivery
        .as_ref()
        .map(|d| {
            ["company", "tracking_num", "delivery_clerk"]
                .iter()
                .filter_map(|k| d.get(*k).and_then(|v| v.as_str()))
                .collect::<Vec<_>>()
                .join(" · ")
        })
        .unwrap_or_default();
    let r = &o.receiver;
    let facts = vec![
        fact("id", o.oid.clone()),
        fact("state", lang.t(&state_word)),
        fact("amount", o.amount.yuan_string()),
        fact("member", o.uid.clone()),
        fact("vendor", o.vid.clone()),
        fact("agent", o.agent.clone().unwrap_or_default()),
        fact("dealer", o.dealer.clone().unwrap_or_default()),
        fact(
            "iot_receiver",
            format!("{} {} {}{}", r.name, r.phone, r.area, r.address),
        ),
        fact("iot_memo", o.memo.clone()),
        fact("iot_delivery", delivery),
        fact("created_at", when(state, Some(o.created_at))),
        fact("paid_at", when(state, o.paid_at)),
    ];
    let lines = o
        .content
        .iter()
        .map(|l| {
            (
                l.name.clone(),
                l.quantity,
                l.price.yuan_string(),
                l.amount.yuan_string(),
            )
        })
        .collect();
    OrderPage {
        c,
        tabs: area_tabs(session, "/console/iot/orders"),
        oid: o.oid.clone(),
        facts,
        lines,
        moves: order_moves(o.state, caller(session).role)
            .into_iter()
            .map(|m| {
                let word = if m == "done" { "iot_finish" } else { m };
                (m, lang.t(&format!("iot_{word}")))
            })
            .collect(),
        form,
    }
}

pub async fn order(
    State(state): State<AppState>,
    session: Session,
    Path(oid): Path<String>,
) -> Page {
    let o = state.iot.orders.get(&caller(&session), &oid).await?;
    Ok(html(
        session.lang,
        &order_page(&state, &session, &o, Form::default()),
    ))
}

/// A required text of at most `max` characters.
fn required(f: &Fields, name: &'static str, max: usize) -> crate::domain::Result<String> {
    let v = f.text(name);
    if v.is_empty() {
        return Err(Error::invalid(name, "required"));
    }
    if v.chars().count() > max {
        return Err(Error::invalid(name, format!("at most {max} characters")));
    }
    Ok(v.to_owned())
}

/// An optional text of at most `max` characters.
fn optional(f: &Fields, name: &'static str, max: usize) -> crate::domain::Result<Option<String>> {
    let v = f.text(name);
    if v.chars().count() > max {
        return Err(Error::invalid(name, format!("at most {max} characters")));
    }
    Ok(Some(v.to_owned()).filter(|v| !v.is_empty()))
}

fn order_move(f: &Fields) -> Result<OrderMove, Fail> {
    Ok(match f.text("move") {
        "deliver" => OrderMove::Deliver(Input::from((|| {
            Ok(Delivery {
                company: required(f, "company", 64)?,
                tracking_num: required(f, "tracking_num", 64)?,
                clerk: optional(f, "delivery_clerk", 64)?.unwrap_or_default(),
            })
        })())),
        "edit_delivery" => OrderMove::EditDelivery(Input::from((|| {
            let patch = DeliveryPatch {
                company: optional(f, "company", 64)?,
                tracking_num: optional(f, "tracking_num", 64)?,
                clerk: optional(f, "delivery_clerk", 64)?,
            };
            if patch == DeliveryPatch::default() {
                return Err(Error::invalid(
                    "company",
                    "give the carrier, tracking number or courier",
                ));
            }
            Ok(patch)
        })())),
        "consent" => OrderMove::Consent,
        "refund" => OrderMove::Refund(Input::from((|| {
            let amount = match f.text("amount") {
                "" => None,
                v => Some(Fen(parse_fixed(v, 2).ok_or_else(|| {
                    Error::invalid("amount", "an amount of yuan, at most two decimals")
                })?)),
            };
            Ok(Refund {
                amount,
                number: optional(f, "refund_no", 64)?,
            })
        })())),
        "close" => OrderMove::Close,
        "done" => OrderMove::Done,
        _ => return Err(Fail::BadRequest("unknown move".into())),
    })
}

/// A refusal about a field of the form: the page again, the message next to the field.
fn invalid_field(e: &Error) -> Option<(String, String)> {
    match e {
        Error::Invalid(i) => Some((i.field.to_owned(), i.message.clone())),
        _ => None,
    }
}

/// `POST /console/iot/orders/{oid}/act` `move` and its fields: the order's move.
pub async fn order_act(
    State(state): State<AppState>,
    session: Session,
    Path(oid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    let fields = posted(&session, &headers, &body)?;
    let c = caller(&session);
    let mv = order_move(&fields)?;
    match state.iot.orders.act(&c, &oid, mv).await {
        Err(e) if invalid_field(&e).is_some() => {
            let o = state.iot.orders.get(&c, &oid).await?;
            let form = Form {
                error: invalid_field(&e),
                values: fields,
            };
            let mut res = html(session.lang, &order_page(&state, &session, &o, form));
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(res.into_response())
        }
        other => answer(&session, &fields, other.map(|_| ())),
    }
}

#[derive(Template)]
#[template(path = "console/iot_ticket.html")]
struct TicketPage {
    c: Chrome,
    tabs: Vec<Tab>,
    tid: String,
    facts: Vec<Fact>,
    /// May approve or reject (A#) a created ticket.
    approve: bool,
    dispatch: bool,
    /// The statuses it may move to: (number, word).
    statuses: Vec<(i64, &'static str)>,
    form: Form,
}

impl TicketPage {
    fn val(&self, name: &str) -> &str {
        self.form.values.get(name).unwrap_or("")
    }
    fn err(&self, field: &str) -> Option<&str> {
        self.form
            .error
            .as_ref()
            .filter(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }
}

fn ticket_page(state: &AppState, session: &Session, tk: &Ticket, form: Form) -> TicketPage {
    let lang = session.lang;
    let path = format!("/console/iot/tickets/{}", super::super::percent(&tk.tid));
    let mut c = Chrome::new(session, "area_iot", "iot_tickets");
    c.here = path;
    let role = caller(session).role;
    let word = |prefix: &str, n: i64| lang.t(&format!("{prefix}{n}"));
    let approval = tk
        .approval
        .as_ref()
        .map(|a| {
            let ok = a.get("check_result").and_then(|v| v.as_bool()) == Some(true);
            let remark = a.get("remark").and_then(|v| v.as_str()).unwrap_or("");
            let by = a.get("check_usr").and_then(|v| v.as_str()).unwrap_or("");
            format!(
                "{} · {by} {remark}",
                lang.t(if ok { "iot_approve" } else { "iot_reject" })
            )
        })
        .unwrap_or_default();
    let link = |prefix: &str, id: &Option<String>| {
        id.as_ref()
            .map(|id| format!("{prefix}{}", super::super::percent(id)))
    };
    let facts = vec![
        fact("id", tk.tid.clone()),
        fact("type", word("iot_ttype_", tk.ttype)),
        fact("status", word("iot_tstatus_", tk.status)),
        fact("iot_detail", tk.detail.clone()),
        Fact {
            href: link("/console/iot/devices/", &tk.device_id),
            ..fact("iot_device", tk.device_id.clone().unwrap_or_default())
        },
        Fact {
            href: link("/console/iot/orders/", &tk.order_id),
            ..fact("iot_order", tk.order_id.clone().unwrap_or_default())
        },
        fact("member", tk.uid.clone().unwrap_or_default()),
        fact("vendor", tk.vid.clone()),
        fact("agent", tk.agent.clone().unwrap_or_default()),
        fact("dealer", tk.dealer.clone().unwrap_or_default()),
        fact("iot_handler", tk.handler.clone().unwrap_or_default()),
        fact("iot_appoint", when(state, tk.appoint_at)),
        fact("iot_approval", approval),
        fact("created_at", when(state, Some(tk.created_at))),
        fact("updated_at", when(state, Some(tk.updated_at))),
    ];
    let to: &[i64] = match tk.status {
        t::DISPATCHED => &[t::PROCESSING],
        t::PROCESSING => &[t::WAITING, t::DONE],
        t::WAITING => &[t::PROCESSING, t::DONE],
        _ => &[],
    };
    TicketPage {
        c,
        tabs: area_tabs(session, "/console/iot/tickets"),
        tid: tk.tid.clone(),
        facts,
        approve: tk.status == t::CREATED && matches!(role, Role::Platform | Role::Vendor),
        dispatch: matches!(tk.status, t::APPROVED | t::DISPATCHED),
        statuses: to.iter().map(|n| (*n, word("iot_tstatus_", *n))).collect(),
        form,
    }
}

pub async fn ticket(
    State(state): State<AppState>,
    session: Session,
    Path(tid): Path<String>,
) -> Page {
    let tk = state.iot.tickets.get(&caller(&session), &tid).await?;
    Ok(html(
        session.lang,
        &ticket_page(&state, &session, &tk, Form::default()),
    ))
}

fn ticket_move(f: &Fields, zone: crate::domain::Zone) -> Result<TicketMove, Fail> {
    Ok(match f.text("move") {
        "approve" => TicketMove::Approve(Input::from((|| {
            let ok = match f.text("check_result") {
                "true" => true,
                "false" => false,
                _ => return Err(Error::invalid("check_result", "approve or reject")),
            };
            Ok(Approval {
                ok,
                remark: optional(f, "remark", 500)?,
            })
        })())),
        "dispatch" => TicketMove::Dispatch(Input::from((|| {
            let handler = required(f, "installer_id", 64)?;
            let appoint = match f.text("appoint_tms") {
                "" => None,
                v => {
                    // A datetime-local field sends no seconds.
                    let v = if v.len() == 16 {
                        format!("{v}:00")
                    } else {
                        v.to_owned()
                    };
                    Some(Some(
                        Timestamp::parse_any(&v, zone)
                            .ok_or_else(|| {
                                Error::invalid("appoint_tms", "a date and time (YYYY-MM-DD HH:MM)")
                            })?
                            .millis(),
                    ))
                }
            };
            Ok(Dispatch { handler, appoint })
        })())),
        "status" => TicketMove::Status(Input::from((|| {
            let to = match f.text("status").parse::<i64>() {
                Ok(n) if (t::PROCESSING..=t::DONE).contains(&n) => n,
                _ => {
                    return Err(Error::invalid(
                        "status",
                        "processing (4), waiting for reply (5) or done (6)",
                    ));
                }
            };
            Ok(StatusMove {
                to,
                reply: Input::from(optional(f, "reply", 1000)),
            })
        })())),
        _ => return Err(Fail::BadRequest("unknown move".into())),
    })
}

/// `POST /console/iot/tickets/{tid}/act` `move` (approve with `check_result`, dispatch with
/// `installer_id`, status with `status`) and its fields: the ticket's move.
pub async fn ticket_act(
    State(state): State<AppState>,
    session: Session,
    Path(tid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Page {
    let fields = posted(&session, &headers, &body)?;
    let c = caller(&session);
    let mv = ticket_move(&fields, state.records.zone())?;
    match state.iot.tickets.act(&c, &tid, mv).await {
        Err(e) if invalid_field(&e).is_some() => {
            let tk = state.iot.tickets.get(&c, &tid).await?;
            let form = Form {
                error: invalid_field(&e),
                values: fields,
            };
            let mut res = html(session.lang, &ticket_page(&state, &session, &tk, form));
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(res.into_response())
        }
        other => answer(&session, &fields, other.map(|_| ())),
    }
}
