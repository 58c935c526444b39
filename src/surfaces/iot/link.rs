//! The calls about connected devices (ours; the document stops at AB-10): secret rotation,
//! history, filter life, commands and their log, water on demand, prepaid balances.

use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::envelope::{Answer, Auth, Body, ListQuery, Reply};
use crate::domain::Error;
use crate::domain::iot::fleet::{Ask, Command, FilterLife, HistoryRow, METERED_RENTAL};
use crate::domain::iot::protocol::WATER_KINDS;
use crate::domain::iot::{money_json, tms};
use crate::domain::money::Fen;
use crate::domain::{Timestamp, iot::Range};
use crate::surfaces::AppState;

/// `POST /devices/<DID>/secret` (A#): a new secret, shown this once; the old one stops.
pub async fn rotate_secret(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(did): Path<String>,
) -> Answer {
    let secret = s.iot.fleet.rotate(&c, &did).await?;
    Ok(Reply::created(json!({"device_id": did, "secret": secret})))
}

fn report(r: &HistoryRow) -> Value {
    json!({
        "seq": r.seq,
        "tms": tms(Some(r.at)),
        "powered_h": r.powered_s as f64 / 3600.0,
        "working_h": r.working_s as f64 / 3600.0,
        "water_ml": {
            WATER_KINDS[0]: r.normal_ml,
            WATER_KINDS[1]: r.cold_ml,
            WATER_KINDS[2]: r.warm_ml,
            WATER_KINDS[3]: r.hot_ml,
        },
        "water_total_ml": r.normal_ml + r.cold_ml + r.warm_ml + r.hot_ml,
        "tds_in": r.tds_in,
        "tds_out": r.tds_out,
        "errors": r.errors.split_whitespace().collect::<Vec<_>>(),
    })
}

/// A time bound of a query: ISO 8601, `YYYYMMDD` (local) or epoch seconds.
fn bound(s: &AppState, q: &ListQuery, key: &'static str) -> Result<Option<i64>, Error> {
    let Some((_, v)) = q.filters.iter().find(|(k, _)| k == key) else {
        return Ok(None);
    };
    let v = v.trim();
    if let Ok(secs) = v.parse::<i64>()
        && v.len() != 8
    {
        return Ok(Some(secs.saturating_mul(1000)));
    }
    Timestamp::parse_any(v, s.iot.zone())
        .map(|t| Some(t.millis()))
        .ok_or_else(|| {
            Error::invalid(
                key,
                format!("{key} must be epoch seconds, YYYY-MM-DDTHH:MM:SSZ or YYYYMMDD"),
            )
        })
}

/// `GET /devices/<DID>/history?from=&to=` (A+C): the reports in the range, newest first.
pub async fn history(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(did): Path<String>,
    q: ListQuery,
) -> Answer {
    if let Some((k, _)) = q.filters.iter().find(|(k, _)| k != "from" && k != "to") {
        return Err(Error::invalid(
            "query",
            format!("{k} is not a filter of the history (from, to)"),
        )
        .into());
    }
    let from = bound(&s, &q, "from")?.unwrap_or(0);
    let to = bound(&s, &q, "to")?.unwrap_or(i64::MAX);
    let (rows, total) = s
        .iot
        .fleet
        .history(
            &c,
            &did,
            from,
            to,
            q.limit as i64,
            i64::try_from(q.offset).unwrap_or(i64::MAX),
        )
        .await?;
    Ok(Reply::list(
        "reports",
        total.max(0) as usize,
        rows.iter().map(report).collect(),
    ))
}

fn filter(f: &FilterLife) -> Value {
    json!({
        "order": f.spec.order,
        "name": f.spec.name,
        "timer_mode": f.spec.timer_mode,
        "lifetime": f.spec.lifetime_h,
        "worklife": f.spec.worklife_h,
        "cycle": f.cycle,
        "used_powered_h": (f.used_powered_h * 100.0).round() / 100.0,
        "used_working_h": (f.used_working_h * 100.0).round() / 100.0,
        "remaining_h": (f.remaining_h * 100.0).round() / 100.0,
        "remaining_pct": f.remaining_pct,
        "expired": f.expired,
        "ticket_id": f.ticket.clone().unwrap_or_default(),
    })
}

/// `GET /devices/<DID>/filters` (A+C): each filter's remaining life.
pub async fn filters(State(s): State<AppState>, Auth(c): Auth, Path(did): Path<String>) -> Answer {
    let lives = s.iot.fleet.filters(&c, &did).await?;
    Ok(Reply::list(
        "filters",
        lives.len(),
        lives.iter().map(filter).collect(),
    ))
}

fn command(c: &Command) -> Value {
    json!({
        "cmd_id": c.cid,
        "device_id": c.did,
        "op": c.op,
        "args": c.args,
        "state": c.state,
        "result": if c.result.is_null() { json!({}) } else { c.result.clone() },
        "by": c.by.clone().unwrap_or_default(),
        "created_tms": tms(Some(c.created_at)),
        "acked_tms": tms(c.acked_at),
        "done_tms": tms(c.done_at),
    })
}

/// `POST /devices/<DID>/commands` `{op, args}` (A): lock, unlock, reboot, reset_filter.
pub async fn send_command(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(did): Path<String>,
    Body(f): Body,
) -> Answer {
    c.require(Range::Admin)?;
    let op = f.required("op", 32)?;
    let args = match f.get("args") {
        None | Some(Value::Null) => json!({}),
        Some(Value::Object(o)) => Value::Object(o.clone()),
        Some(_) => return Err(Error::invalid("args", "args must be an object").into()),
    };
    let sent = s.iot.fleet.command(&c, &did, &op, args).await?;
    Ok(Reply::created(command(&sent)))
}

/// `GET /devices/<DID>/commands` (A): the command log, newest first.
pub async fn commands(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(did): Path<String>,
    q: ListQuery,
) -> Answer {
    let (rows, total) = s
        .iot
        .fleet
        .commands(
            &c,
            &did,
            q.limit as i64,
            i64::try_from(q.offset).unwrap_or(i64::MAX),
        )
        .await?;
    Ok(Reply::list(
        "commands",
        total.max(0) as usize,
        rows.iter().map(command).collect(),
    ))
}

/// `POST /devices/<DID>/dispense` `{ml}` or `{amount}`, `kind` (C): water on demand.
pub async fn dispense(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(did): Path<String>,
    Body(f): Body,
) -> Answer {
    c.require(Range::Member)?;
    let ask = match (
        f.int("ml", 1, crate::domain::iot::fleet::MAX_DISPENSE_ML)?,
        f.money("amount")?,
    ) {
        (Some(ml), None) => Ask::Ml(ml),
        (None, Some(fen)) if fen.0 > 0 => Ask::Amount(fen),
        (None, Some(_)) => return Err(Error::invalid("amount", "amount must be above 0").into()),
        (Some(_), Some(_)) => {
            return Err(Error::invalid("ml", "give ml or amount, not both").into());
        }
        (None, None) => return Err(Error::invalid("ml", "give ml or amount").into()),
    };
    let kind = f.text("kind", 8)?.unwrap_or_else(|| "normal".into());
    let d = s.iot.fleet.dispense(&c, &did, ask, &kind).await?;
    Ok(Reply::created(json!({
        "cmd_id": d.cid,
        "device_id": did,
        "asked_ml": d.asked_ml,
        "dispensed_ml": d.dispensed_ml,
        "charged": money_json(d.charged),
    })))
}

/// `GET /devices/<DID>/balance` (A+C): a metered rental's prepaid balance and its end.
pub async fn balance(State(s): State<AppState>, Auth(c): Auth, Path(did): Path<String>) -> Answer {
    let b = s.iot.fleet.balance(&c, &did).await?;
    Ok(Reply::ok(json!({
        "device_id": did,
        "type": b.dtype,
        "metered": b.dtype == METERED_RENTAL,
        "balance": money_json(Fen(b.balance)),
        "billed_ml": b.billed_ml,
        "rent_until": tms(b.rent_until),
        "locked": !b.lock_reason.is_empty(),
        "lock_reason": b.lock_reason,
    })))
}

/// `GET /users/<UID>/water` (A+C): a member's water balance for vending machines.
pub async fn wallet(State(s): State<AppState>, Auth(c): Auth, Path(uid): Path<String>) -> Answer {
    let balance = s.iot.fleet.wallet(&c, &uid).await?;
    Ok(Reply::ok(
        json!({"user_id": uid, "balance": money_json(Fen(balance))}),
    ))
}
