//! Handlers: each reads a request into the domain's typed input ([`super::input`]), makes one
//! domain call, and renders what it answers ([`super::wire`]).

use std::sync::Arc;

use axum::extract::{Path, State};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::envelope::{Answer, Auth, Body, IotError, ListQuery, MaybeAuth, Reply, Token};
use super::{input, wire};
use crate::domain::iot::model::{Order, Party};
use crate::domain::iot::orders::OrderAction;
use crate::domain::iot::tickets::TicketAction;
use crate::domain::iot::{Caller, Input, Range, Role};
use crate::surfaces::AppState;
use crate::surfaces::ClientIp;

fn login_reply(token: String, u: &Party) -> Reply {
    Reply::created(json!({
        "token": token,
        "token_type": "Bearer",
        "expires_in": crate::domain::iot::TOKEN_TTL_SECS,
        "uid": u.uid,
        "role": u.role.as_str(),
        "vid": u.vid.clone().unwrap_or_default(),
    }))
}

// ---- log-in (sections 4.1/4.2, ours) ----

/// `POST /auth/login`: `{user, pwd}` or `{vid, mobile, pwd}`, `pwd` as MD5 hex.
pub async fn login(State(s): State<AppState>, ClientIp(ip): ClientIp, Body(f): Body) -> Answer {
    let (token, u) = s.iot.members.login(input::log_in(&f)?, ip).await?;
    Ok(login_reply(token, &u))
}

/// `POST /auth/code`: a member's log-in code `{vid, mobile}`.
pub async fn login_code(State(s): State<AppState>, Body(f): Body) -> Answer {
    s.iot.members.login_code(input::member_mobile(&f)?).await?;
    Ok(Reply::created(json!({"sent": true})))
}

/// `POST /auth/sms`: a member's log-in `{vid, mobile, code}`.
pub async fn sms_login(State(s): State<AppState>, Body(f): Body) -> Answer {
    let (token, u) = s.iot.members.sms_login(input::sms_log_in(&f)?).await?;
    Ok(login_reply(token, &u))
}

/// `DELETE /auth/token`: log-out.
pub async fn logout(State(s): State<AppState>, Token(t): Token) -> Answer {
    s.iot.members.logout(&t).await?;
    Ok(Reply::deleted())
}

/// `GET /auth/me`: who the token belongs to.
pub async fn me(State(s): State<AppState>, Token(t): Token) -> Answer {
    let (c, u) = s.iot.members.authenticate(&t).await?;
    let data = match c.role {
        Role::Member => wire::member(&u, &c, 0),
        Role::Vendor => wire::vendor(&u),
        Role::Agent | Role::Dealer => wire::agent(&u, None),
        Role::Platform => {
            json!({"uid": u.uid, "user": u.login, "type": "platform", "state": u.state})
        }
    };
    Ok(Reply::ok(
        json!({"role": c.role.as_str(), "uid": c.uid, "profile": data}),
    ))
}

// ---- members (一) ----

/// AA-01.
pub async fn list_users(State(s): State<AppState>, Auth(c): Auth, q: ListQuery) -> Answer {
    let page = q.page("users", s.iot.members.list(&c, &q.request()).await?)?;
    let uids: Vec<String> = page.items.iter().map(|u| u.uid.clone()).collect();
    let counts = s.iot.devices.counts(&uids).await?;
    let items = page
        .items
        .iter()
        .map(|u| wire::member(u, &c, counts.get(&u.uid).copied().unwrap_or(0)))
        .collect();
    Ok(Reply::list("users", page.total as usize, items))
}

/// AA-02.
pub async fn registration_code(
    State(s): State<AppState>,
    MaybeAuth(c): MaybeAuth,
    Body(f): Body,
) -> Answer {
    if let Some(c) = c {
        c.require(Range::Member)?;
    }
    s.iot
        .members
        .registration_code(input::member_mobile(&f)?)
        .await?;
    Ok(Reply::created(json!({"sent": true})))
}

/// AA-03.
pub async fn register(State(s): State<AppState>, MaybeAuth(c): MaybeAuth, Body(f): Body) -> Answer {
    if let Some(c) = c {
        c.require(Range::Member)?;
    }
    let (token, u) = s.iot.members.register(input::registration(&f)?).await?;
    Ok(Reply::created(json!({"uid": u.uid, "token": token})))
}

async fn member_json(s: &AppState, c: &Caller, u: &Party) -> Result<Value, IotError> {
    let counts = s.iot.devices.counts(std::slice::from_ref(&u.uid)).await?;
    Ok(wire::member(u, c, counts.get(&u.uid).copied().unwrap_or(0)))
}

/// AA-04, with the member's devices listed (`device_list`: the document's "绑定设备(数量) ->
/// 列表"): theirs, then those shared with them.
pub async fn get_user(State(s): State<AppState>, Auth(c): Auth, Path(uid): Path<String>) -> Answer {
    c.require(Range::Anyone)?;
    let u = s.iot.members.get(&c, &uid).await?;
    let mut data = member_json(&s, &c, &u).await?;
    data["device_list"] = s
        .iot
        .devices
        .of_member(&u.uid)
        .await?
        .into_iter()
        .map(|(did, shared)| json!({"device_id": did, "shared": shared}))
        .collect();
    Ok(Reply::ok(data))
}

/// AA-05.
pub async fn update_user(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(uid): Path<String>,
    Body(f): Body,
) -> Answer {
    let u = s
        .iot
        .members
        .update(&c, &uid, Input::from(input::member_change(&f, &c)))
        .await?;
    Ok(Reply::created(member_json(&s, &c, &u).await?))
}

/// AA-06.
pub async fn user_password(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    Auth(c): Auth,
    Path(uid): Path<String>,
    Body(f): Body,
) -> Answer {
    s.iot
        .members
        .set_password(
            &c,
            &uid,
            Input::from(input::password_change(&f, c.role)),
            ip,
        )
        .await?;
    Ok(Reply::created(json!({"uid": uid})))
}

/// AA-06A (`mobile` in the query or body).
pub async fn mobile_code(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(uid): Path<String>,
    Body(f): Body,
) -> Answer {
    s.iot
        .members
        .mobile_code(&c, &uid, Input::from(input::new_mobile(&f)))
        .await?;
    Ok(Reply::ok(json!({"sent": true})))
}

/// AA-06B.
pub async fn user_mobile(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(uid): Path<String>,
    Body(f): Body,
) -> Answer {
    let u = s
        .iot
        .members
        .change_mobile(&c, &uid, Input::from(input::mobile_change(&f)))
        .await?;
    Ok(Reply::created(json!({"uid": u.uid, "mobile": u.mobile})))
}

/// "获取找回密码验证码" (`POST /users/rst/code`).
pub async fn reset_code(
    State(s): State<AppState>,
    MaybeAuth(c): MaybeAuth,
    Body(f): Body,
) -> Answer {
    if let Some(c) = c {
        c.require(Range::BrandOrMember)?;
    }
    s.iot
        .members
        .reset_code(
            input::reset_target(&f)?,
            Input::from(input::given_mobile(&f)),
        )
        .await?;
    Ok(Reply::created(json!({"sent": true})))
}

/// AA-07.
pub async fn reset_password(
    State(s): State<AppState>,
    MaybeAuth(c): MaybeAuth,
    Body(f): Body,
) -> Answer {
    if let Some(c) = c {
        c.require(Range::BrandOrMember)?;
    }
    s.iot
        .members
        .reset_password(
            input::reset_target(&f)?,
            Input::from(input::password_reset(&f)),
        )
        .await?;
    Ok(Reply::created(json!({"reset": true})))
}

/// AA-08.
pub async fn bind_weixin(
    State(s): State<AppState>,
    MaybeAuth(c): MaybeAuth,
    Body(f): Body,
) -> Answer {
    let (token, u) = s
        .iot
        .members
        .bind_weixin(c.as_ref(), input::weixin_binding(&f, c.is_some())?)
        .await?;
    let viewer = c.unwrap_or_else(|| crate::domain::iot::parties::caller_of(&u));
    let mut data = member_json(&s, &viewer, &u).await?;
    if let Some(t) = token {
        data["token"] = json!(t);
    }
    Ok(Reply::created(data))
}

/// AA-09 (`DELETE /users/<UID>/bind`).
pub async fn unbind_weixin(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(uid): Path<String>,
) -> Answer {
    s.iot.members.unbind_weixin(&c, &uid).await?;
    Ok(Reply::deleted())
}

/// AA-10, and AA-09 as the document writes it (`DELETE /users/<UID>bind`, no slash).
pub async fn delete_user(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(uid): Path<String>,
) -> Answer {
    match uid.strip_suffix("bind") {
        Some(member) if !member.is_empty() => s.iot.members.unbind_weixin(&c, member).await?,
        _ => s.iot.members.delete(&c, &uid).await?,
    }
    Ok(Reply::deleted())
}

// ---- devices (二) ----

/// AB-01.
pub async fn list_devices(State(s): State<AppState>, Auth(c): Auth, q: ListQuery) -> Answer {
    let page = q.page("devices", s.iot.devices.list(&c, &q.request()).await?)?;
    let dids: Vec<String> = page.items.iter().map(|d| d.did.clone()).collect();
    let shares = s.iot.devices.shares_of(&dids).await?;
    let items = page
        .items
        .iter()
        .map(|d| wire::device(d, shares.get(&d.did).map_or(&[][..], Vec::as_slice)))
        .collect();
    Ok(Reply::list("devices", page.total as usize, items))
}

/// AB-02.
pub async fn register_devices(State(s): State<AppState>, Auth(c): Auth, Body(f): Body) -> Answer {
    let ids = s
        .iot
        .devices
        .register(&c, Input::from(input::new_devices(&f)))
        .await?;
    // Each device's secret, shown this once (rotating it is the only way to see one again).
    let devices: Vec<Value> = s
        .iot
        .fleet
        .new_secrets(&ids)
        .into_iter()
        .map(|(did, secret)| json!({"device_id": did, "secret": secret}))
        .collect();
    Ok(Reply {
        total: ids.len(),
        ..Reply::created(json!({"device_ids": ids, "devices": devices}))
    })
}

/// The members a device is shared with.
async fn shares(s: &AppState, did: &str) -> Result<Vec<String>, IotError> {
    let mut of = s.iot.devices.shares_of(&[did.to_owned()]).await?;
    Ok(of.remove(did).unwrap_or_default())
}

/// AB-03.
pub async fn get_device(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(did): Path<String>,
) -> Answer {
    let (d, sh) = s.iot.devices.get(&c, &did).await?;
    Ok(Reply::ok(wire::device(&d, &sh)))
}

/// AB-04.
pub async fn configure_device(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(did): Path<String>,
    Body(f): Body,
) -> Answer {
    let d = s
        .iot
        .devices
        .configure(&c, &did, Input::from(input::device_config(&f, c.role)))
        .await?;
    let sh = shares(&s, &d.did).await?;
    Ok(Reply::created(wire::device(&d, &sh)))
}

/// AB-05.
pub async fn device_prof(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(did): Path<String>,
) -> Answer {
    Ok(Reply::ok(wire::device_prof(
        &s.iot.devices.get(&c, &did).await?.0,
    )))
}

/// AB-06.
pub async fn update_device_prof(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(did): Path<String>,
    Body(f): Body,
) -> Answer {
    Ok(Reply::created(wire::device_prof(
        &s.iot
            .devices
            .set_prof(&c, &did, Input::from(input::device_prof(&f)))
            .await?,
    )))
}

/// AB-07.
pub async fn device_svc(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(did): Path<String>,
) -> Answer {
    let d = s.iot.devices.get(&c, &did).await?.0;
    let mut v = wire::service(&d);
    v["device_id"] = json!(d.did);
    Ok(Reply::ok(v))
}

/// AB-08.
pub async fn update_device_svc(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(did): Path<String>,
    Body(f): Body,
) -> Answer {
    let d = s
        .iot
        .devices
        .set_service(
            &c,
            &did,
            Input::from(input::service_change(&f, s.iot.zone())),
        )
        .await?;
    let mut v = wire::service(&d);
    v["device_id"] = json!(d.did);
    Ok(Reply::created(v))
}

/// AB-09 and AB-10 (one path): running state and statistics together.
pub async fn device_stat(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(did): Path<String>,
) -> Answer {
    Ok(Reply::ok(wire::device_stat(
        &s.iot.devices.get(&c, &did).await?.0,
    )))
}

/// AB-10 alone (`GET /devices/<DID>/statistics`).
pub async fn device_statistics(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(did): Path<String>,
) -> Answer {
    let d = s.iot.devices.get(&c, &did).await?.0;
    Ok(Reply::ok(
        json!({"device_id": d.did, "statistics": wire::device_stat(&d)["statistics"]}),
    ))
}

/// What a device reports (`PUT /devices/<DID>/stat`, platform).
pub async fn report_device(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(did): Path<String>,
    Body(f): Body,
) -> Answer {
    Ok(Reply::created(wire::device_stat(
        &s.iot
            .devices
            .report(&c, &did, Input::from(input::report(&f)))
            .await?,
    )))
}

/// AB-11, and AB-15 where the document gives it the same path: the owner naming another
/// member shares the device.
pub async fn bind_device(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(did): Path<String>,
    Body(f): Body,
) -> Answer {
    if c.role == Role::Member && (f.has("user_id") || f.has("uid") || f.has("mobile")) {
        let with = Input::from(input::share_with(&f));
        let (d, sh) = s.iot.devices.share(&c, &did, with).await?;
        return Ok(Reply::created(wire::device(&d, &sh)));
    }
    let member = match c.role {
        Role::Member => Input::ok(None),
        _ => Input::from(input::bind_member(&f)),
    };
    let d = s.iot.devices.bind(&c, &did, member).await?;
    let sh = shares(&s, &d.did).await?;
    Ok(Reply::created(wire::device(&d, &sh)))
}

/// AB-15 (`POST /devices/<DID>/share`).
pub async fn share_device(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(did): Path<String>,
    Body(f): Body,
) -> Answer {
    let (d, sh) = s
        .iot
        .devices
        .share(&c, &did, Input::from(input::share_with(&f)))
        .await?;
    Ok(Reply::created(wire::device(&d, &sh)))
}

/// AB-16.
pub async fn unshare_device(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(did): Path<String>,
    Body(f): Body,
) -> Answer {
    s.iot
        .devices
        .unshare(&c, &did, Input::from(input::unshared(&f)))
        .await?;
    Ok(Reply::deleted())
}

/// AB-13.
pub async fn unbind_device(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(did): Path<String>,
) -> Answer {
    s.iot.devices.unbind(&c, &did).await?;
    Ok(Reply::deleted())
}

/// AB-12.
pub async fn reset_device(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(did): Path<String>,
) -> Answer {
    s.iot.devices.reset(&c, &did).await?;
    Ok(Reply::deleted())
}

/// AB-14.
pub async fn delete_device(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(did): Path<String>,
) -> Answer {
    s.iot.devices.delete(&c, &did).await?;
    Ok(Reply::deleted())
}

// ---- products (三) ----

/// AC-01.
pub async fn list_products(State(s): State<AppState>, Auth(c): Auth, q: ListQuery) -> Answer {
    let page = q.page("products", s.iot.catalog.list(&c, &q.request()).await?)?;
    let items = page.items.iter().map(wire::product).collect();
    Ok(Reply::list("products", page.total as usize, items))
}

/// AC-02.
pub async fn create_product(State(s): State<AppState>, Auth(c): Auth, Body(f): Body) -> Answer {
    Ok(Reply::created(wire::product(
        &s.iot
            .catalog
            .create(&c, Input::from(input::new_product(&f, &c)))
            .await?,
    )))
}

/// AC-03.
pub async fn get_product(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(pid): Path<String>,
) -> Answer {
    Ok(Reply::ok(wire::product(
        &s.iot.catalog.get(&c, &pid).await?,
    )))
}

/// AC-04.
pub async fn update_product(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(pid): Path<String>,
    Body(f): Body,
) -> Answer {
    Ok(Reply::created(wire::product(
        &s.iot
            .catalog
            .update(&c, &pid, Input::from(input::product_fields(&f)))
            .await?,
    )))
}

/// AC-05.
pub async fn product_prof(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(pid): Path<String>,
) -> Answer {
    Ok(Reply::ok(wire::product_prof(
        &s.iot.catalog.get(&c, &pid).await?,
    )))
}

/// AC-06.
pub async fn update_product_prof(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(pid): Path<String>,
    Body(f): Body,
) -> Answer {
    Ok(Reply::created(wire::product_prof(
        &s.iot
            .catalog
            .update_prof(&c, &pid, Input::from(input::product_specification(&f)))
            .await?,
    )))
}

/// AC-07.
pub async fn delete_product(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(pid): Path<String>,
) -> Answer {
    s.iot.catalog.delete(&c, &pid).await?;
    Ok(Reply::deleted())
}

// ---- orders (四) ----

/// An order as last committed, written as AD-01/AD-03 show it: once per version of the order.
fn written(s: &AppState, o: &Order) -> Arc<RawValue> {
    if let Some(kept) = s.iot_orders_written.get(&o.oid, o.version) {
        return kept;
    }
    let raw: Arc<RawValue> = wire::order(o).into();
    s.iot_orders_written.put(&o.oid, o.version, raw.clone());
    raw
}

/// AD-01 (`?state=` takes the state's word or its number).
pub async fn list_orders(State(s): State<AppState>, Auth(c): Auth, q: ListQuery) -> Answer {
    let page = q.page("orders", s.iot.orders.list(&c, &q.request()).await?)?;
    let items = page.items.iter().map(|o| written(&s, o)).collect();
    Ok(Reply::written_list("orders", page.total as usize, items))
}

/// AD-02.
pub async fn create_order(State(s): State<AppState>, Auth(c): Auth, Body(f): Body) -> Answer {
    Ok(Reply::created(wire::order(
        &s.iot
            .orders
            .create(&c, Input::from(input::new_order(&f)))
            .await?,
    )))
}

/// AD-03.
pub async fn get_order(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(oid): Path<String>,
) -> Answer {
    let o = s.iot.orders.read(&c, &oid).await?;
    Ok(Reply::ok(written(&s, &o)))
}

/// AD-04.
pub async fn get_delivery(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(oid): Path<String>,
) -> Answer {
    let o = s.iot.orders.read(&c, &oid).await?;
    Ok(Reply::ok(wire::delivery(&o)))
}

/// AD-05.
pub async fn deliver(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(oid): Path<String>,
    Body(f): Body,
) -> Answer {
    let o = s
        .iot
        .orders
        .act(&c, &oid, input::order_move(OrderAction::Deliver, &f))
        .await?;
    Ok(Reply::created(wire::delivery(&o)))
}

/// AD-06.
pub async fn edit_delivery(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(oid): Path<String>,
    Body(f): Body,
) -> Answer {
    let o = s
        .iot
        .orders
        .act(&c, &oid, input::order_move(OrderAction::EditDelivery, &f))
        .await?;
    Ok(Reply::created(wire::delivery(&o)))
}

/// AD-07..AD-09.
pub async fn prepay(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path((oid, channel)): Path<(String, String)>,
    Body(f): Body,
) -> Answer {
    match channel.as_str() {
        "weixin" => {
            let p = s
                .iot
                .orders
                .prepay_weixin(&c, &oid, Input::from(input::openid(&f)))
                .await?;
            let pp = &p.params;
            Ok(Reply::created(json!({
                "order_id": oid,
                "pay_ch": "weixin",
                "prepay_id": p.prepay_id,
                "appId": pp.app_id,
                "timeStamp": pp.time_stamp,
                "nonceStr": pp.nonce_str,
                "package": pp.package,
                "signType": pp.sign_type,
                "paySign": pp.pay_sign,
            })))
        }
        "credit" | "debit" => {
            // Always refused: there is no card channel to succeed with.
            match s.iot.orders.prepay_card(&c, &oid, &channel).await? {}
        }
        _ => Err(super::envelope::not_found().await),
    }
}

/// AD-10.
pub async fn get_payment(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(oid): Path<String>,
) -> Answer {
    Ok(Reply::ok(wire::payment(
        &s.iot.orders.payment(&c, &oid).await?,
    )))
}

/// AD-11..AD-14, and `close` and `done`.
pub async fn order_status(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path((oid, action)): Path<(String, String)>,
    Body(f): Body,
) -> Answer {
    let action = match action.as_str() {
        "confirm" => OrderAction::Confirm,
        "return" => OrderAction::Return,
        "consent" => OrderAction::Consent,
        "refund" => OrderAction::Refund,
        "close" => OrderAction::Close,
        "done" => OrderAction::Done,
        _ => return Err(super::envelope::not_found().await),
    };
    Ok(Reply::created(wire::order(
        &s.iot
            .orders
            .act(&c, &oid, input::order_move(action, &f))
            .await?,
    )))
}

/// AD-15.
pub async fn delete_order(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(oid): Path<String>,
) -> Answer {
    s.iot.orders.delete(&c, &oid).await?;
    Ok(Reply::deleted())
}

// ---- tickets (五) ----

/// AE-01.
pub async fn list_tickets(State(s): State<AppState>, Auth(c): Auth, q: ListQuery) -> Answer {
    let listed = s.iot.tickets.list(&c, Range::Brand, &q.request()).await?;
    let page = q.page("tickets", listed)?;
    let items = page.items.iter().map(wire::ticket).collect();
    Ok(Reply::list("tickets", page.total as usize, items))
}

/// AE-02: counts by status and type, with the tickets in range.
pub async fn ticket_summary(State(s): State<AppState>, Auth(c): Auth) -> Answer {
    let rows = s.iot.tickets.all(&c, Range::Anyone).await?;
    let mut by_status = serde_json::Map::new();
    let mut by_type = serde_json::Map::new();
    for t in &rows {
        let n = by_status.entry(t.status.to_string()).or_insert(json!(0));
        *n = json!(n.as_i64().unwrap_or(0) + 1);
        let n = by_type.entry(t.ttype.to_string()).or_insert(json!(0));
        *n = json!(n.as_i64().unwrap_or(0) + 1);
    }
    let open = rows.iter().filter(|t| !matches!(t.status, 0 | 6)).count();
    Ok(Reply::ok(json!({
        "total": rows.len(),
        "open": open,
        "by_status": by_status,
        "by_type": by_type,
        "tickets": rows.iter().map(wire::ticket).collect::<Vec<_>>(),
    })))
}

/// AE-03.
pub async fn create_ticket(State(s): State<AppState>, Auth(c): Auth, Body(f): Body) -> Answer {
    Ok(Reply::created(wire::ticket(
        &s.iot
            .tickets
            .create(&c, Input::from(input::new_ticket(&f, s.iot.zone())))
            .await?,
    )))
}

/// `GET /tickets/<TID>`.
pub async fn get_ticket(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(tid): Path<String>,
) -> Answer {
    Ok(Reply::ok(wire::ticket(&s.iot.tickets.get(&c, &tid).await?)))
}

/// `PUT /tickets/<TID>/{approval,dispatch,status}`, `POST /tickets/<TID>/ratings`.
pub async fn ticket_action(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path((tid, action)): Path<(String, String)>,
    Body(f): Body,
) -> Answer {
    let action = match action.as_str() {
        "approval" => TicketAction::Approve,
        "dispatch" => TicketAction::Dispatch,
        "status" => TicketAction::Status,
        "ratings" => TicketAction::Rate,
        _ => return Err(super::envelope::not_found().await),
    };
    Ok(Reply::created(wire::ticket(
        &s.iot
            .tickets
            .act(&c, &tid, input::ticket_move(action, &f, s.iot.zone()))
            .await?,
    )))
}

// ---- commissions (七) ----

/// AF-01 (the document's second "AE-01").
pub async fn list_commissions(State(s): State<AppState>, Auth(c): Auth, q: ListQuery) -> Answer {
    let page = q.page(
        "commission",
        s.iot.orders.commissions(&c, &q.request()).await?,
    )?;
    let items = page.items.iter().map(wire::commission).collect();
    Ok(Reply::list("commission", page.total as usize, items))
}

/// AF-02.
pub async fn commission_summary(State(s): State<AppState>, Auth(c): Auth) -> Answer {
    Ok(Reply::ok(wire::summary(
        &s.iot.orders.commission_summary(&c).await?,
    )))
}

/// AF-03.
pub async fn withdraw(State(s): State<AppState>, Auth(c): Auth, Body(f): Body) -> Answer {
    let w = s
        .iot
        .orders
        .withdraw(&c, Input::from(input::withdrawal(&f)))
        .await?;
    Ok(Reply::created(json!({
        "withdraw_id": w.wid,
        "amount": crate::domain::iot::money_json(w.amount),
        "available": crate::domain::iot::money_json(w.balance),
    })))
}

// ---- agents (六) ----

/// The agents in range as a tree: each agent with its `dealers`; a dealer whose agent is out of
/// range (a dealer sees itself) is listed on its own.
pub async fn list_agents(State(s): State<AppState>, Auth(c): Auth, q: ListQuery) -> Answer {
    let page = q.page("agents", s.iot.partners.agents(&c, &q.request()).await?)?;
    let agents: Vec<String> = page
        .items
        .iter()
        .filter(|a| a.role == Role::Agent)
        .map(|a| a.uid.clone())
        .collect();
    let dealers = s.iot.partners.dealers_of(&c, &agents).await?;
    let items = page
        .items
        .iter()
        .map(|a| {
            let under = (a.role == Role::Agent).then(|| {
                dealers
                    .iter()
                    .filter(|d| d.agent.as_deref() == Some(a.uid.as_str()))
                    .map(|d| wire::agent(d, None))
                    .collect()
            });
            wire::agent(a, under)
        })
        .collect();
    Ok(Reply::list("agents", page.total as usize, items))
}

/// Adds an agent or dealer.
pub async fn create_agent(State(s): State<AppState>, Auth(c): Auth, Body(f): Body) -> Answer {
    Ok(Reply::created(wire::agent(
        &s.iot
            .partners
            .create_agent(&c, Input::from(input::new_agent(&f, c.role)))
            .await?,
        None,
    )))
}

pub async fn get_agent(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(uid): Path<String>,
) -> Answer {
    Ok(Reply::ok(wire::agent(
        &s.iot.partners.agent(&c, &uid).await?,
        None,
    )))
}

/// Removes an agent or dealer.
pub async fn delete_agent(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(uid): Path<String>,
) -> Answer {
    s.iot.partners.delete_agent(&c, &uid).await?;
    Ok(Reply::deleted())
}

// ---- vendors (运营用户) ----

/// AX-01.
pub async fn list_vendors(State(s): State<AppState>, Auth(c): Auth, q: ListQuery) -> Answer {
    let page = q.page("vendors", s.iot.partners.vendors(&c, &q.request()).await?)?;
    let items = page.items.iter().map(wire::vendor).collect();
    Ok(Reply::list("vendors", page.total as usize, items))
}

/// AX-02.
pub async fn create_vendor(State(s): State<AppState>, Auth(c): Auth, Body(f): Body) -> Answer {
    let v = s
        .iot
        .partners
        .create_vendor(&c, Input::from(input::new_vendor(&f)))
        .await?;
    Ok(Reply::created(json!({"vid": v.uid, "code": v.code})))
}

/// AX-03.
pub async fn get_vendor(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(vid): Path<String>,
) -> Answer {
    Ok(Reply::ok(wire::vendor(
        &s.iot.partners.vendor(&c, &vid).await?,
    )))
}

/// AX-04.
pub async fn update_vendor(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(vid): Path<String>,
    Body(f): Body,
) -> Answer {
    let v = s
        .iot
        .partners
        .update_vendor(&c, &vid, Input::from(input::vendor_change(&f, "info")))
        .await?;
    Ok(Reply::created(json!({"vid": v.uid})))
}

/// AX-05..AX-08.
pub async fn update_vendor_part(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path((vid, part)): Path<(String, String)>,
    Body(f): Body,
) -> Answer {
    if !matches!(part.as_str(), "pwd" | "mob" | "mxx" | "cfg") {
        return Err(super::envelope::not_found().await);
    }
    let v = s
        .iot
        .partners
        .update_vendor(&c, &vid, Input::from(input::vendor_change(&f, &part)))
        .await?;
    Ok(Reply::created(json!({"vid": v.uid})))
}

/// AX-13.
pub async fn delete_vendor(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(vid): Path<String>,
) -> Answer {
    s.iot.partners.delete_vendor(&c, &vid).await?;
    Ok(Reply::deleted())
}

/// AX-09.
pub async fn list_signings(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(vid): Path<String>,
    q: ListQuery,
) -> Answer {
    let listed = s.iot.partners.signings(&c, &vid, &q.request()).await?;
    let page = q.page("signing", listed)?;
    let items = page.items.iter().map(wire::signing).collect();
    Ok(Reply::list("signing", page.total as usize, items))
}

/// AX-10.
pub async fn add_signing(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(vid): Path<String>,
    Body(f): Body,
) -> Answer {
    Ok(Reply::created(wire::signing(
        &s.iot
            .partners
            .add_signing(&c, &vid, Input::ok(input::signing(&f)))
            .await?,
    )))
}

/// AX-11 (`sid` names the record).
pub async fn change_signing(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(vid): Path<String>,
    Body(f): Body,
) -> Answer {
    s.iot
        .partners
        .change_signing(&c, &vid, Input::from(input::signing_change(&f)))
        .await?;
    Ok(Reply::created(json!({"vid": vid})))
}

/// AX-12 (`sid` in the query or body).
pub async fn delete_signing(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(vid): Path<String>,
    Body(f): Body,
) -> Answer {
    s.iot
        .partners
        .delete_signing(&c, &vid, Input::from(input::signing_id(&f)))
        .await?;
    Ok(Reply::deleted())
}
