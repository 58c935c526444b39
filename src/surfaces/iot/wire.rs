//! The document's shapes: each object of the domain rendered with the field names of seed 002.
//! Every object the document shows is always present with every key it shows; a value nobody
//! has set is the empty value of the example's type (`""`, `0`, `false`). Secrets (passwords,
//! `mp_secret`, `mch_secret`: the note after AX-01) are never rendered.

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::domain::iot::commissions::Summary;
use crate::domain::iot::model::{
    Commission, Device, Object, Order, Party, Product, Signing, SoldLine, Ticket,
};
use crate::domain::iot::orders::Receiver;
use crate::domain::iot::{Caller, Role, Tms, Yuan, money_json, tms};
use crate::domain::money::Fen;

fn text(m: &Map<String, Value>, key: &str) -> Value {
    m.get(key).cloned().unwrap_or(Value::String(String::new()))
}

/// `given` with every key of `shape` present (the example's empty value where unset).
fn shaped(mut given: Map<String, Value>, shape: &[(&str, Value)]) -> Value {
    for (key, empty) in shape {
        match given.get(*key) {
            Some(v) if !v.is_null() => {}
            _ => {
                given.insert((*key).into(), empty.clone());
            }
        }
    }
    Value::Object(given)
}

/// AA-01's `weixin`, as the example shows it.
fn weixin(given: Option<&Object>) -> Value {
    shaped(
        given.cloned().unwrap_or_default(),
        &[
            ("nick", json!("")),
            ("avatar", json!("")),
            ("sex", json!(0)),
            ("sbc_tms", json!(0)),
            ("OpenID", json!("")),
            ("UnionID", json!("")),
        ],
    )
}

/// AB-01's `basic` (collected from the device).
fn basic(given: Option<&Value>) -> Value {
    shaped(
        given
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        &[
            ("platform", json!("")),
            ("project", json!("")),
            ("net_entry", json!("")),
            ("net_type", json!("")),
            ("dev_idcd", json!("")),
            ("sim_iccid", json!("")),
        ],
    )
}

/// AB-01's running state (the example's inner `state`): what the device reported, and its
/// link (online, since when, offline since when).
fn running(d: &Device) -> Value {
    let mut given = d.running.clone();
    given.insert("online".into(), json!(d.online));
    if d.online_at.is_some() {
        given.insert("online_tms".into(), tms(d.online_at));
    }
    if d.offline_at.is_some() {
        given.insert("offline_tms".into(), tms(d.offline_at));
    }
    shaped(
        given,
        &[
            ("online_tms", json!("")),
            ("offline_tms", json!("")),
            ("lbs_coord", json!("")),
        ],
    )
}

/// AA-01's member; the vendor, agent and dealer are shown to the admin side only.
pub fn member(u: &Party, viewer: &Caller, devices: usize) -> Value {
    let p = &u.profile;
    let mut out = json!({
        "state": u.state,
        "type": u.utype,
        "uid": u.uid,
        "name": text(p, "name"),
        "avatar": text(p, "avatar"),
        "mobile": u.mobile.clone().unwrap_or_default(),
        "email": text(p, "email"),
        "area": text(p, "area"),
        "address": text(p, "address"),
        "reg_tms": tms(Some(u.reg_at)),
        "remark": text(p, "remark"),
        "vip": p.get("vip").cloned().unwrap_or(Value::Bool(false)),
        "bonus": p.get("bonus").cloned().unwrap_or(Value::from(0)),
        "devices": devices,
        "rid": u.rid.clone().unwrap_or_default(),
        "weixin": weixin(u.weixin.as_ref()),
    });
    if viewer.role != Role::Member {
        out["vid"] = json!(u.vid.clone().unwrap_or_default());
        out["agent_id"] = json!(u.agent.clone().unwrap_or_default());
        out["dealer_id"] = json!(u.dealer.clone().unwrap_or_default());
    }
    out
}

/// AX-01's vendor, without its password and secrets.
pub fn vendor(u: &Party) -> Value {
    let p = &u.profile;
    let mut out = json!({
        "state": u.state,
        "type": u.utype,
        "vid": u.uid,
        "code": u.code.clone().unwrap_or_default(),
        "user": u.login.clone().unwrap_or_default(),
        "mobile": u.mobile.clone().unwrap_or_default(),
        "reg_tms": tms(Some(u.reg_at)),
    });
    for key in [
        "name",
        "abbv",
        "logo",
        "domain",
        "contact",
        "wechat",
        "email",
        "area",
        "address",
        "remark",
        "mp_gid",
        "mp_appid",
        "mch_gid",
        "mch_appid",
        "reserved",
    ] {
        out[key] = text(p, key);
    }
    // Vendors written before `mch_appid` was public keep it with the secrets.
    if out["mch_appid"] == "" {
        out["mch_appid"] = text(&u.secrets.clone().unwrap_or_default(), "mch_appid");
    }
    out["cfg"] = p.get("cfg").cloned().unwrap_or(json!({}));
    out
}

/// An agent or dealer (section 六); agents carry their dealers.
pub fn agent(u: &Party, dealers: Option<Vec<Value>>) -> Value {
    let p = &u.profile;
    let mut out = json!({
        "uid": u.uid,
        "type": u.role.as_str(),
        "state": u.state,
        "user": u.login.clone().unwrap_or_default(),
        "mobile": u.mobile.clone().unwrap_or_default(),
        "vid": u.vid.clone().unwrap_or_default(),
        "parent": if u.role == Role::Dealer { json!(u.agent.clone().unwrap_or_default()) } else { json!(u.vid.clone().unwrap_or_default()) },
        "reg_tms": tms(Some(u.reg_at)),
    });
    for key in [
        "name", "contact", "wechat", "email", "area", "address", "remark",
    ] {
        out[key] = text(p, key);
    }
    if let Some(d) = dealers {
        out["dealers"] = Value::Array(d);
    }
    out
}

/// AB-01's device. Its numeric `state` is kept; the running state the document also calls
/// `state` is under `running` (and `GET /devices/<DID>/stat`).
pub fn device(d: &Device, shares: &[String]) -> Value {
    let p = &d.profile;
    let mut manufacture = p
        .get("manufacture")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    manufacture.insert(
        "product_id".into(),
        json!(d.product_id.clone().unwrap_or_default()),
    );
    manufacture.entry("qc_id").or_insert(json!(""));
    manufacture
        .entry("qc_tms")
        .or_insert(text(p, "manufacture_tms"));
    let mut installation = p
        .get("installation")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    installation.entry("installer_id").or_insert(json!(""));
    installation.entry("install_tms").or_insert(json!(""));
    let mut out = json!({
        "state": d.state,
        "type": d.dtype,
        "device_id": d.did,
        "vendor_id": d.vid,
        "atv_tms": tms(d.atv_at),
        "reg_tms": tms(Some(d.reg_at)),
        "user_id": d.uid.clone().unwrap_or_default(),
        "user_share": shares,
        "manufacture": manufacture,
        "installation": installation,
        "service": service(d),
        "basic": basic(p.get("basic")),
        "running": running(d),
        "statistics": Value::Object(d.statistics.clone()),
    });
    for key in [
        "brand",
        "model",
        "fw_version",
        "hw_version",
        "sw_version",
        "asm_tms",
        "manufacture_tms",
        "name",
    ] {
        out[key] = text(p, key);
    }
    out
}

/// AB-07: the service state; `expire` in epoch seconds as the example's number (0: none).
pub fn service(d: &Device) -> Value {
    let s = &d.service;
    json!({
        "state": s.get("state").cloned().unwrap_or(json!(0)),
        "expire": s.get("expire").and_then(Value::as_i64).map_or(0, |ms| ms.div_euclid(1000)),
    })
}

/// AB-05: the user's configuration.
pub fn device_prof(d: &Device) -> Value {
    let mut p = d.prof.clone();
    p.insert("device_id".into(), json!(d.did));
    Value::Object(p)
}

/// AB-09/AB-10: running state and statistics.
pub fn device_stat(d: &Device) -> Value {
    json!({
        "device_id": d.did,
        "state": running(d),
        "statistics": Value::Object(d.statistics.clone()),
    })
}

/// AC-02's product, with its id and vendor.
pub fn product(p: &Product) -> Value {
    let mut doc = p.doc.clone();
    doc.insert("prod_id".into(), json!(p.pid));
    doc.insert("product_id".into(), json!(p.pid));
    doc.insert("vid".into(), json!(p.vid));
    doc.insert("create_tms".into(), tms(Some(p.created_at)));
    Value::Object(doc)
}

/// AC-05: the product's attributes (its specification).
pub fn product_prof(p: &Product) -> Value {
    let doc = &p.doc;
    json!({"prod_id": p.pid, "specification": doc.get("specification").cloned().unwrap_or(json!({}))})
}

/// AD-01 and AD-03: an order, written straight from its fields (the hot path of the order reads
/// and lists: no JSON tree is built for it). The fields are in the order a JSON object writes
/// its keys, as every other reply is.
pub fn order(o: &Order) -> Box<RawValue> {
    #[derive(Serialize)]
    struct Delivery<'a> {
        company: &'a Value,
        delivery_clerk: &'a Value,
        delivery_tms: Tms,
        tracking_num: &'a Value,
    }
    #[derive(Serialize)]
    struct Payment<'a> {
        bill_no: &'a str,
        pay_ch: &'a str,
        pay_tms: Tms,
        transaction_no: &'a str,
    }
    #[derive(Serialize)]
    struct Return<'a> {
        reason: &'a Value,
        refund_amount: Yuan,
        refund_no: &'a Value,
        refund_tms: Tms,
        return_tms: Tms,
    }
    /// A line as the document shows it: without the commission rates it was sold with.
    #[derive(Serialize)]
    struct Line<'a> {
        amount: Yuan,
        freight: Yuan,
        install_cost: Yuan,
        name: &'a str,
        price: Yuan,
        product_id: &'a str,
        quantity: i64,
        #[serde(skip_serializing_if = "Option::is_none")]
        rent: Option<&'a str>,
    }
    struct Lines<'a>(&'a [SoldLine]);
    impl Serialize for Lines<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(self.0.iter().map(|l| Line {
                amount: Yuan(l.amount),
                freight: Yuan(l.freight),
                install_cost: Yuan(l.install_cost),
                name: &l.name,
                price: Yuan(l.price),
                product_id: &l.product_id,
                quantity: l.quantity,
                rent: l.rent.as_deref(),
            }))
        }
    }
    #[derive(Serialize)]
    struct Out<'a> {
        amount: Yuan,
        complete_tms: Tms,
        content: Lines<'a>,
        create_tms: Tms,
        delivery: Delivery<'a>,
        freight: Yuan,
        install: bool,
        install_cost: Yuan,
        memo: &'a str,
        order_id: &'a str,
        payment: Payment<'a>,
        received_tms: Tms,
        receiver: &'a Receiver,
        #[serde(rename = "return")]
        ret: Return<'a>,
        state: &'static str,
        #[serde(rename = "type")]
        kind: &'static str,
        user_id: &'a str,
        vid: &'a str,
    }
    let sum = |of: fn(&SoldLine) -> Fen| Yuan(Fen(o.content.iter().map(|l| of(l).0).sum()));
    let empty = Map::new();
    let unset = Value::String(String::new());
    let delivery = o.delivery.as_ref().unwrap_or(&empty);
    let ret = o.return_info.as_ref().unwrap_or(&empty);
    fn get<'a>(m: &'a Map<String, Value>, key: &str, unset: &'a Value) -> &'a Value {
        m.get(key).unwrap_or(unset)
    }
    let out = Out {
        amount: Yuan(o.amount),
        complete_tms: Tms(o.done_at.or(o.refunded_at).or(o.closed_at)),
        content: Lines(&o.content),
        create_tms: Tms(Some(o.created_at)),
        delivery: Delivery {
            company: get(delivery, "company", &unset),
            delivery_clerk: get(delivery, "delivery_clerk", &unset),
            delivery_tms: Tms(o.delivered_at),
            tracking_num: get(delivery, "tracking_num", &unset),
        },
        freight: sum(|l| l.freight),
        install: o.needs_install,
        install_cost: sum(|l| l.install_cost),
        memo: &o.memo,
        order_id: &o.oid,
        payment: Payment {
            bill_no: o.prepay_id.as_deref().unwrap_or_default(),
            pay_ch: o.pay_ch.as_deref().unwrap_or_default(),
            pay_tms: Tms(o.paid_at),
            transaction_no: o.transaction_no.as_deref().unwrap_or_default(),
        },
        received_tms: Tms(o.received_at),
        receiver: &o.receiver,
        ret: Return {
            reason: get(ret, "reason", &unset),
            refund_amount: Yuan(o.refund_amount.unwrap_or(Fen(0))),
            refund_no: get(ret, "refund_no", &unset),
            refund_tms: Tms(o.refunded_at),
            return_tms: Tms(o.returned_at),
        },
        state: o.state.as_str(),
        kind: "商品",
        user_id: &o.uid,
        vid: &o.vid,
    };
    raw(&out)
}

/// A reply's part written once, to be copied into the reply as it is.
fn raw(value: &impl Serialize) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).unwrap_or_else(|e| {
        // Plain structs of strings, numbers and JSON values always serialize.
        tracing::error!(error = %e, "a reply part could not be written");
        RawValue::NULL.to_owned()
    })
}

fn payment_fields(o: &Order) -> Value {
    json!({
        "pay_ch": o.pay_ch.clone().unwrap_or_default(),
        "pay_tms": tms(o.paid_at),
        "bill_no": o.prepay_id.clone().unwrap_or_default(),
        "transaction_no": o.transaction_no.clone().unwrap_or_default(),
    })
}

/// AD-10: the payment, with whether it is paid.
pub fn payment(o: &Order) -> Value {
    let mut p = payment_fields(o);
    p["order_id"] = json!(o.oid);
    p["state"] = json!(o.state.as_str());
    p["amount"] = money_json(o.amount);
    p["paid"] = json!(o.paid_at.is_some());
    p
}

/// AD-04: the delivery.
fn delivery_fields(o: &Order) -> Value {
    let empty = Map::new();
    let delivery = o.delivery.as_ref().unwrap_or(&empty);
    json!({
        "company": text(delivery, "company"),
        "tracking_num": text(delivery, "tracking_num"),
        "delivery_tms": tms(o.delivered_at),
        "delivery_clerk": text(delivery, "delivery_clerk"),
    })
}

pub fn delivery(o: &Order) -> Value {
    let mut d = delivery_fields(o);
    d["order_id"] = json!(o.oid);
    d["state"] = json!(o.state.as_str());
    d["receiver"] = serde_json::to_value(&o.receiver).unwrap_or_default();
    d
}

fn stamp_iso(m: &mut Map<String, Value>, key: &str) {
    if let Some(ms) = m.get(key).and_then(Value::as_i64) {
        m.insert(key.into(), tms(Some(ms)));
    }
}

/// Section 五's ticket.
pub fn ticket(t: &Ticket) -> Value {
    let mut approval = t.approval.clone().unwrap_or_default();
    stamp_iso(&mut approval, "check_tms");
    let mut ratings = t.ratings.clone().unwrap_or_default();
    stamp_iso(&mut ratings, "rate_tms");
    json!({
        "status": t.status,
        "type": t.ttype,
        "ticket_id": t.tid,
        "detail": t.detail,
        "create_tms": tms(Some(t.created_at)),
        "update_tms": tms(Some(t.updated_at)),
        "appoint_tms": tms(t.appoint_at),
        "user_id": t.uid.clone().unwrap_or_default(),
        "device_id": t.device_id.clone().unwrap_or_default(),
        "order_id": t.order_id.clone().unwrap_or_default(),
        "vid": t.vid,
        "installer_id": t.handler.clone().unwrap_or_default(),
        "approval": shaped(approval, &[
            ("check_result", json!(false)),
            ("check_tms", json!("")),
            ("check_usr", json!("")),
        ]),
        "ratings": shaped(ratings, &[
            ("rate_value", json!(0)),
            ("rate_tms", json!("")),
            ("rate_detail", json!("")),
        ]),
    })
}

/// One referrer's commission on one order.
pub fn commission(c: &Commission) -> Value {
    json!({
        "order_id": c.oid,
        "level": c.level,
        "user_id": c.uid,
        "vid": c.vid,
        "amount": money_json(c.amount),
        "rate": c.rate,
        "state": c.state.as_str(),
        "create_tms": tms(Some(c.created_at)),
        "available_tms": tms(c.available_at),
    })
}

/// AF-02's figures.
pub fn summary(s: &Summary) -> Value {
    json!({
        "available": money_json(s.available),
        "pending": money_json(s.pending),
        "withdrawn": money_json(s.withdrawn),
        "earned": money_json(s.earned),
        "void": money_json(s.void),
    })
}

/// A vendor's signing record.
pub fn signing(s: &Signing) -> Value {
    let mut doc = s.doc.clone();
    doc.insert("sid".into(), json!(s.sid));
    doc.insert("vid".into(), json!(s.vid));
    doc.insert("create_tms".into(), tms(Some(s.created_at)));
    Value::Object(doc)
}
