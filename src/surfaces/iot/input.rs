//! Requests read into the domain's typed inputs. Every field is checked here, and a refusal
//! names it: a body is a JSON object (or a form) whose fields [`Fields`] reads, and each
//! function below reads one request of the document into the type its service takes.
//!
//! Where a service checks something first (who may call, which object, which move), the
//! handler hands it the result as an [`Input`], and the service reports what could not be read
//! only after those checks.

use serde_json::{Map, Value};

use crate::domain::identity::Password;
use crate::domain::iot::devices::{
    self, DeviceConfig, NewDevices, Report, ServiceChange, ShareWith, VENDOR_OBJECTS,
};
use crate::domain::iot::members::{
    LogIn, MemberChange, MemberMobile, MobileChange, PasswordChange, PasswordReset, Registration,
    ResetTarget, SmsLogIn, WeixinBinding, WeixinSignIn, Who,
};
use crate::domain::iot::model::Object;
use crate::domain::iot::orders::{
    Delivery, DeliveryPatch, NewOrder, OrderAction, OrderLine, OrderMove, Receiver, Refund,
    Shipping,
};
use crate::domain::iot::parties::{
    AGENT_TEXTS, MEMBER_FIELDS, MEMBER_TEXTS, MEMBER_WRITABLE, MEMBER_WRITABLE_BY_BRAND,
    MXX_PUBLIC, MXX_SECRET, VENDOR_TEXTS,
};
use crate::domain::iot::partners::{
    NewAgent, NewOperator, NewVendor, SigningChange, VendorChange, VendorDetails,
};
use crate::domain::iot::products::{
    Commis, FilterSpec, Flowmeter, NewProduct, Pair, ProductFields, Rent, Specification,
};
use crate::domain::iot::tickets::{
    Approval, DISMANTLE, DONE, Dispatch, INSTALL, NewTicket, PROCESSING, Rating, StatusMove,
    TicketAction, TicketMove,
};
use crate::domain::iot::{Caller, Input, Role, is_mobile, money_of, password_digest};
use crate::domain::money::{Fen, parse_fixed};
use crate::domain::{Error, Result, Timestamp, Zone};

/// A JSON object from a request, with typed readers that refuse with the field's name.
#[derive(Debug, Clone, Default)]
pub struct Fields(pub Map<String, Value>);

impl Fields {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// A text field (numbers are taken as their text), trimmed; at most `max` characters.
    pub fn text(&self, key: &'static str, max: usize) -> Result<Option<String>> {
        let s = match self.get(key) {
            None => return Ok(None),
            Some(Value::String(s)) => s.trim().to_owned(),
            Some(Value::Number(n)) => n.to_string(),
            Some(_) => return Err(Error::invalid(key, format!("{key} must be a string"))),
        };
        if s.chars().count() > max {
            return Err(Error::invalid(
                key,
                format!("{key} is longer than {max} characters"),
            ));
        }
        if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            return Err(Error::invalid(
                key,
                format!("{key} holds control characters"),
            ));
        }
        Ok(Some(s))
    }

    /// A text field that must be present and not empty.
    pub fn required(&self, key: &'static str, max: usize) -> Result<String> {
        match self.text(key, max)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(Error::invalid(key, format!("{key} is required"))),
        }
    }

    /// An integer field (a number or a numeric string) within `min..=max`.
    pub fn int(&self, key: &'static str, min: i64, max: i64) -> Result<Option<i64>> {
        let n = match self.get(key) {
            None => return Ok(None),
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            Some(Value::Bool(b)) => Some(i64::from(*b)),
            Some(_) => None,
        };
        match n {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(Error::invalid(
                key,
                format!("{key} must be an integer from {min} to {max}"),
            )),
        }
    }

    /// A boolean field (`true`/`false`, 1/0, or their text).
    pub fn bool(&self, key: &'static str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::Number(n)) if n.as_i64() == Some(0) => Ok(Some(false)),
            Some(Value::Number(n)) if n.as_i64() == Some(1) => Ok(Some(true)),
            Some(Value::String(s)) if matches!(s.trim(), "true" | "1") => Ok(Some(true)),
            Some(Value::String(s)) if matches!(s.trim(), "false" | "0") => Ok(Some(false)),
            Some(_) => Err(Error::invalid(key, format!("{key} must be true or false"))),
        }
    }

    /// An amount of money in yuan (a number or text with at most two decimals, 0 or more).
    pub fn money(&self, key: &'static str) -> Result<Option<Fen>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => money_of(v)
                .filter(|f| f.0 >= 0 && f.0 <= 10_000_000_000)
                .map(Some)
                .ok_or_else(|| {
                    Error::invalid(
                        key,
                        format!("{key} must be an amount in yuan with at most two decimals"),
                    )
                }),
        }
    }

    /// A JSON object field.
    pub fn object(&self, key: &'static str) -> Result<Option<Map<String, Value>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m.clone())),
            Some(_) => Err(Error::invalid(key, format!("{key} must be an object"))),
        }
    }

    /// A JSON array field.
    pub fn array(&self, key: &'static str) -> Result<Option<Vec<Value>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a.clone())),
            Some(_) => Err(Error::invalid(key, format!("{key} must be an array"))),
        }
    }

    /// A mobile number: 11 digits starting with 1 (section AA's "手机").
    pub fn mobile(&self, key: &'static str) -> Result<Option<String>> {
        match self.text(key, 20)? {
            None => Ok(None),
            Some(m) if m.is_empty() => Ok(None),
            Some(m) if is_mobile(&m) => Ok(Some(m)),
            Some(_) => Err(Error::invalid(
                key,
                format!("{key} must be an 11-digit mobile number"),
            )),
        }
    }

    /// Copies the listed text fields that are present into `into` (checked, at most `max` long).
    pub fn copy_texts(
        &self,
        keys: &[&'static str],
        max: usize,
        into: &mut Map<String, Value>,
    ) -> Result<()> {
        for key in keys {
            if let Some(v) = self.text(key, max)? {
                into.insert((*key).to_owned(), Value::String(v));
            }
        }
        Ok(())
    }
}

/// Refuses the first field of `f` (in name order) that is not in `writable`, naming it: a
/// field of the object the caller may not change (`who` says who may), or one the object does
/// not have. Nothing a client sends is silently dropped.
fn only_writable(f: &Fields, writable: &[&str], known: &[&'static str], who: &str) -> Result<()> {
    let mut keys: Vec<&String> = f.0.keys().collect();
    keys.sort();
    for key in keys {
        if writable.contains(&key.as_str()) {
            continue;
        }
        return Err(match known.iter().find(|k| **k == key.as_str()) {
            Some(k) => Error::invalid(k, format!("cannot be changed here {who}")),
            None => Error::invalid(
                "body",
                format!(
                    "{} is not a field of this object",
                    crate::domain::error::quoted(key)
                ),
            ),
        });
    }
    Ok(())
}

/// An instant a client sends: epoch seconds (`0` or `""` clears it), ISO 8601, or the
/// examples' own `"20180105"` (local date). `None` when the field is absent.
fn instant(f: &Fields, key: &'static str, zone: Zone) -> Result<Option<Option<i64>>> {
    let bad = || {
        Error::invalid(
            key,
            format!("{key} must be epoch seconds, YYYY-MM-DDTHH:MM:SSZ or YYYYMMDD"),
        )
    };
    match f.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(0) => Ok(Some(None)),
            Some(s) if s > 0 && s < 100_000_000_000 => Ok(Some(Some(s * 1000))),
            _ => Err(bad()),
        },
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Some(None)),
        Some(Value::String(s)) if s.len() <= 40 => Timestamp::parse_any(s, zone)
            .map(|t| Some(Some(t.millis())))
            .ok_or_else(bad),
        Some(_) => Err(bad()),
    }
}

fn required_mobile(f: &Fields) -> Result<String> {
    f.mobile("mobile")?
        .ok_or_else(|| Error::invalid("mobile", "mobile is required"))
}

/// A user name: letters, digits and `_ - . @`.
fn login_name(f: &Fields) -> Result<String> {
    let user = f.required("user", 32)?;
    if !user
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@'))
    {
        return Err(Error::invalid(
            "user",
            "user may hold letters, digits and _ - . @ only",
        ));
    }
    Ok(user)
}

/// A new password: the MD5 form of one of 6 characters or more.
fn new_password(f: &Fields, key: &'static str) -> Result<String> {
    let pwd = f.required(key, 64)?;
    if pwd.chars().count() < 6 {
        return Err(Error::invalid(
            key,
            format!("{key} must be the MD5 hex of a password of 6 characters or more"),
        ));
    }
    Ok(password_digest(&pwd))
}

/// The listed text fields given, checked (at most `max` characters).
fn texts(f: &Fields, keys: &[&'static str], max: usize) -> Result<Object> {
    let mut out = Map::new();
    f.copy_texts(keys, max, &mut out)?;
    Ok(out)
}

/// The body as an object, without the field `except`.
fn object_without(f: &Fields, except: &str) -> Object {
    let mut doc = f.0.clone();
    doc.remove(except);
    doc
}

// ---- log-in and members ----

/// `{user, pwd}` or `{vid, mobile, pwd}`.
pub fn log_in(f: &Fields) -> Result<LogIn> {
    let pwd = f.required("pwd", 256)?;
    let password = Password::presented(&password_digest(&pwd), "pwd")?;
    let who = match f.text("user", 64)?.filter(|u| !u.is_empty()) {
        Some(user) => Who::User(user),
        None => Who::Member {
            vid: f.required("vid", 32)?,
            mobile: f.required("mobile", 20)?,
        },
    };
    Ok(LogIn { password, who })
}

/// `{vid, mobile}`: where a member's code goes.
pub fn member_mobile(f: &Fields) -> Result<MemberMobile> {
    Ok(MemberMobile {
        vid: f.required("vid", 32)?,
        mobile: required_mobile(f)?,
    })
}

/// `{vid, mobile, code}`.
pub fn sms_log_in(f: &Fields) -> Result<SmsLogIn> {
    Ok(SmsLogIn {
        vid: f.required("vid", 32)?,
        mobile: f.required("mobile", 20)?,
        code: f.required("code", 10)?,
    })
}

/// AA-03.
pub fn registration(f: &Fields) -> Result<Registration> {
    let vid = f.required("vid", 32)?;
    let mobile = required_mobile(f)?;
    let code = f.required("code", 10)?;
    let name = f.required("name", 64)?;
    let pwd = match f.text("pwd", 64)? {
        Some(p) if !p.is_empty() => Some(new_password(f, "pwd")?),
        _ => None,
    };
    let rid = f.text("rid", 32)?.filter(|r| !r.is_empty());
    let mut profile = texts(f, &MEMBER_TEXTS, 256)?;
    profile.insert("name".into(), Value::String(name));
    Ok(Registration {
        vid,
        mobile,
        code,
        pwd,
        rid,
        profile,
    })
}

/// AA-05: only the fields the caller may change (a member fewer than the platform and vendor).
pub fn member_change(f: &Fields, caller: &Caller) -> Result<MemberChange> {
    if caller.is_brand() {
        only_writable(
            f,
            &MEMBER_WRITABLE_BY_BRAND,
            &MEMBER_FIELDS,
            "(AA-01 shows it)",
        )?;
    } else {
        only_writable(f, &MEMBER_WRITABLE, &MEMBER_FIELDS, "by a member")?;
    }
    let uid = f.text("uid", 64)?;
    let mobile = f.mobile("mobile")?;
    let vid = f.text("vid", 32)?;
    let texts = texts(f, &MEMBER_TEXTS, 256)?;
    let mut change = MemberChange {
        uid,
        mobile,
        vid,
        texts,
        ..MemberChange::default()
    };
    if caller.is_brand() {
        change.state = f.int("state", 0, 2)?;
        change.utype = f.int("type", 0, 1_000)?;
        change.vip = f.bool("vip")?;
        change.bonus = f.int("bonus", 0, 1_000_000_000)?;
    }
    change.rid = f.text("rid", 32)?;
    Ok(change)
}

/// AA-06: the new password, and the old one from a member.
pub fn password_change(f: &Fields, role: Role) -> Result<PasswordChange> {
    let new = new_password(f, "new_pwd")?;
    let old = match role {
        Role::Member => f.text("old_pwd", 256)?,
        _ => None,
    };
    Ok(PasswordChange { new, old })
}

/// AA-06A's new mobile.
pub fn new_mobile(f: &Fields) -> Result<String> {
    required_mobile(f)
}

/// AA-06B.
pub fn mobile_change(f: &Fields) -> Result<MobileChange> {
    Ok(MobileChange {
        mobile: required_mobile(f)?,
        code: f.text("code", 10)?.filter(|c| !c.is_empty()),
    })
}

/// The member a password reset is for: `uid`, or `vid` + `mobile`.
pub fn reset_target(f: &Fields) -> Result<ResetTarget> {
    Ok(match f.text("uid", 32)?.filter(|u| !u.is_empty()) {
        Some(uid) => ResetTarget::Uid(uid),
        None => ResetTarget::Mobile {
            vid: f.required("vid", 32)?,
            mobile: f.required("mobile", 20)?,
        },
    })
}

/// The mobile a reset code's sender gives (it must be the member's).
pub fn given_mobile(f: &Fields) -> Result<Option<String>> {
    f.text("mobile", 20)
}

/// AA-07.
pub fn password_reset(f: &Fields) -> Result<PasswordReset> {
    Ok(PasswordReset {
        pwd: new_password(f, "pwd")?,
        code: f.required("code", 10)?,
    })
}

/// AA-08; without a log-in, the member is named by `vid`, `mobile` and an SMS `code`.
pub fn weixin_binding(f: &Fields, logged_in: bool) -> Result<WeixinBinding> {
    let openid = f
        .required("openid", 64)
        .or_else(|_| f.required("OpenID", 64))?;
    let mut weixin = Map::new();
    weixin.insert("OpenID".into(), Value::String(openid.clone()));
    for (key, out) in [
        ("unionid", "UnionID"),
        ("UnionID", "UnionID"),
        ("nick", "nick"),
        ("avatar", "avatar"),
    ] {
        if let Some(v) = f.text(key, 256)? {
            weixin.insert(out.into(), Value::String(v));
        }
    }
    weixin.insert("sex".into(), Value::from(f.int("sex", 0, 2)?.unwrap_or(0)));
    weixin.insert(
        "sbc_tms".into(),
        Value::from(f.int("sbc_tms", 0, i64::MAX)?.unwrap_or(0)),
    );
    let sign_in = if logged_in {
        None
    } else {
        let vid = f.required("vid", 32)?;
        let mobile = f.mobile("mobile")?.ok_or_else(|| {
            Error::invalid(
                "mobile",
                "mobile is required to bind WeChat without a log-in",
            )
        })?;
        let code = f.required("code", 10)?;
        Some(WeixinSignIn { vid, mobile, code })
    };
    Ok(WeixinBinding {
        openid,
        weixin,
        sign_in,
    })
}

// ---- operators, vendors, agents ----

/// A platform operator `{user, pwd, name}`.
pub fn new_operator(f: &Fields) -> Result<NewOperator> {
    Ok(NewOperator {
        login: login_name(f)?,
        pwd: new_password(f, "pwd")?,
        profile: texts(f, &["name"], 64)?,
    })
}

/// A vendor's descriptive fields and WeChat account.
fn vendor_details(f: &Fields) -> Result<VendorDetails> {
    let mut texts = texts(f, &VENDOR_TEXTS, 256)?;
    texts.remove("user");
    let wechat = self::texts(f, &MXX_PUBLIC, 128)?;
    let mch_appid_given = f.has("mch_appid");
    let secrets = self::texts(f, &MXX_SECRET, 256)?;
    Ok(VendorDetails {
        texts,
        wechat,
        secrets,
        mch_appid_given,
    })
}

/// AX-02.
pub fn new_vendor(f: &Fields) -> Result<NewVendor> {
    let login = login_name(f)?;
    let pwd = new_password(f, "pwd")?;
    f.required("name", 128)?;
    let code = match f.text("code", 8)?.filter(|c| !c.is_empty()) {
        Some(c) if c.len() == 4 && c.bytes().all(|b| b.is_ascii_alphanumeric()) => {
            Some(c.to_ascii_uppercase())
        }
        Some(_) => return Err(Error::invalid("code", "code must be 4 letters or digits")),
        None => None,
    };
    let mobile = f.mobile("mobile")?;
    let details = vendor_details(f)?;
    Ok(NewVendor {
        login,
        pwd,
        code,
        mobile,
        details,
        state: f.int("state", 0, 2)?,
        utype: f.int("type", 0, 1000)?,
    })
}

/// AX-04 (`info`) .. AX-08: what `part` of the vendor changes.
pub fn vendor_change(f: &Fields, part: &str) -> Result<VendorChange> {
    Ok(match part {
        "info" => {
            let login = match f.text("user", 32)?.filter(|u| !u.is_empty()) {
                Some(user) => Some(login_name(&Fields(
                    [("user".to_owned(), Value::String(user))]
                        .into_iter()
                        .collect(),
                ))?),
                None => None,
            };
            let mobile = f.mobile("mobile")?;
            let state = f.int("state", 0, 2)?;
            VendorChange::Info {
                login,
                mobile,
                state,
                details: vendor_details(f)?,
            }
        }
        "pwd" => VendorChange::Password(new_password(f, "pwd")?),
        "mob" => VendorChange::Mobile(required_mobile(f)?),
        "mxx" => VendorChange::Wechat(vendor_details(f)?),
        _ => VendorChange::Config(f.0.clone()),
    })
}

/// AX-10: the record as sent (its `sid` is the platform's to give).
pub fn signing(f: &Fields) -> Object {
    object_without(f, "sid")
}

/// AX-11: `sid` and the new record.
pub fn signing_change(f: &Fields) -> Result<SigningChange> {
    Ok(SigningChange {
        sid: f.required("sid", 64)?,
        doc: object_without(f, "sid"),
    })
}

/// AX-12: `sid`.
pub fn signing_id(f: &Fields) -> Result<String> {
    f.required("sid", 64)
}

/// An agent or dealer: the platform names the vendor (`vid`), the platform and the vendor the
/// agent a dealer comes under (`parent`).
pub fn new_agent(f: &Fields, role: Role) -> Result<NewAgent> {
    let vid = match role {
        Role::Platform => Some(f.required("vid", 32)?),
        _ => None,
    };
    let parent = match role {
        Role::Platform | Role::Vendor => f.text("parent", 32)?.filter(|p| !p.is_empty()),
        _ => None,
    };
    let login = login_name(f)?;
    let pwd = new_password(f, "pwd")?;
    let name = f.required("name", 128)?;
    let mut profile = texts(f, &AGENT_TEXTS, 256)?;
    profile.insert("name".into(), Value::String(name));
    Ok(NewAgent {
        vid,
        parent,
        login,
        pwd,
        profile,
        mobile: f.mobile("mobile")?,
    })
}

// ---- products ----

fn bad(field: &'static str, message: &str) -> Error {
    Error::invalid(field, message.to_owned())
}

/// `{"name", "key", "value"}` lists (rent plans, flowmeter settings); `value` reads an item's
/// value, `missing` says what a missing one lacks.
fn pairs<V>(
    v: &Value,
    field: &'static str,
    value: impl Fn(&Fields) -> Result<Option<V>>,
    missing: &str,
) -> Result<Vec<Pair<V>>> {
    let list = v
        .as_array()
        .ok_or_else(|| bad(field, "must be a list of {name, key, value}"))?;
    let mut out: Vec<Pair<V>> = Vec::new();
    for item in list {
        let f = Fields(
            item.as_object()
                .cloned()
                .ok_or_else(|| bad(field, "each item is {name, key, value}"))?,
        );
        let key = f
            .required("key", 32)
            .map_err(|_| bad(field, "each item needs a key"))?;
        if out.iter().any(|p| p.key == key) {
            return Err(Error::invalid(field, format!("key {key} appears twice")));
        }
        let name = f.text("name", 64)?.unwrap_or_default();
        let value = value(&f)?.ok_or_else(|| bad(field, missing))?;
        out.push(Pair { name, key, value });
    }
    Ok(out)
}

/// The specification: mode, filters (order, name, timer_mode 0-2, lifetime, worklife in
/// hours) and flowmeter (measure_mode 0-2, outlet settings).
fn specification(v: &Value) -> Result<Specification> {
    let f = Fields(
        v.as_object()
            .cloned()
            .ok_or_else(|| bad("specification", "must be an object"))?,
    );
    let mode = f.int("mode", 0, 255)?.unwrap_or(0);
    let mut filters = Vec::new();
    for (i, item) in f.array("filters")?.unwrap_or_default().iter().enumerate() {
        let g = Fields(
            item.as_object()
                .cloned()
                .ok_or_else(|| bad("filters", "each filter is an object"))?,
        );
        filters.push(FilterSpec {
            order: g.int("order", 0, 100)?.unwrap_or(i as i64 + 1),
            name: g
                .required("name", 64)
                .map_err(|_| bad("filters", "each filter needs a name"))?,
            timer_mode: g.int("timer_mode", 0, 2)?.unwrap_or(0),
            lifetime: g.int("lifetime", 0, 1_000_000)?.unwrap_or(0),
            worklife: g.int("worklife", 0, 1_000_000)?.unwrap_or(0),
        });
    }
    let flowmeter = match f.object("flowmeter")? {
        None => None,
        Some(fm) => {
            let g = Fields(fm);
            let config = match g.get("config") {
                Some(c) => pairs(
                    c,
                    "flowmeter",
                    |p| p.int("value", 0, 1_000_000),
                    "each item needs a value",
                )?,
                None => Vec::new(),
            };
            Some(Flowmeter {
                measure_mode: g.int("measure_mode", 0, 2)?.unwrap_or(0),
                config,
            })
        }
    };
    Ok(Specification {
        mode,
        filters,
        flowmeter,
    })
}

/// AC-02's configuration (AC-04: the fields to change).
pub fn product_fields(f: &Fields) -> Result<ProductFields> {
    let text = |key: &'static str| f.text(key, if key == "desc" { 2000 } else { 256 });
    let mut p = ProductFields {
        name: text("name")?,
        desc: text("desc")?,
        tags: text("tags")?,
        notify_url: text("notify_url")?,
        ptype: f.int("type", 1, 2)?,
        state: f.int("state", 0, 255)?,
        sequence: f.int("sequence", 0, 1_000_000)?,
        bonus: f.bool("bonus")?,
        install: f.bool("install")?,
        maintain: f.bool("maintain")?,
        price: f.money("price")?,
        freight: f.money("freight")?,
        install_cost: f.money("install_cost")?,
        maintain_cost: f.money("maintain_cost")?,
        orig_price: f.money("orig_price")?,
        resource: f.object("resource")?,
        ..ProductFields::default()
    };
    if let Some(rent) = f.object("rent")? {
        let g = Fields(rent);
        let plans = match g.get("config") {
            Some(c) => pairs(
                c,
                "rent",
                |p| p.money("value"),
                "each plan needs a value in yuan",
            )?,
            None => Vec::new(),
        };
        p.rent = Some(Rent {
            deposit: g.money("deposit")?.unwrap_or(Fen(0)),
            plans,
            price_per_l: g.money("price_per_l")?,
            minimum: g.money("minimum")?,
        });
    }
    if let Some(commis) = f.object("commis")? {
        let g = Fields(commis);
        let mut rates = Vec::new();
        for v in g.array("config")?.unwrap_or_default() {
            let rate = parse_fixed(v.to_string().trim_matches('"'), 2)
                .filter(|r| (0..=10_000).contains(r))
                .ok_or_else(|| bad("commis", "each commission rate is a percent from 0 to 100"))?;
            rates.push(rate);
        }
        if rates.len() > 3 {
            return Err(bad("commis", "commissions go to three levels at most"));
        }
        if rates.iter().sum::<i64>() > 10_000 {
            return Err(bad(
                "commis",
                "the commission rates add up to more than 100 percent",
            ));
        }
        p.commis = Some(Commis {
            enabled: g.bool("enabled")?.unwrap_or(true),
            rates,
        });
    }
    if let Some(spec) = f.get("specification") {
        p.specification = Some(specification(spec)?);
    }
    Ok(p)
}

/// AC-02: the platform names the vendor (`vid` or `vendor_id`).
pub fn new_product(f: &Fields, caller: &Caller) -> Result<NewProduct> {
    let vid = match caller.vid {
        Some(_) => None,
        None => Some(
            f.required("vid", 32)
                .or_else(|_| f.required("vendor_id", 32))?,
        ),
    };
    Ok(NewProduct {
        vid,
        fields: product_fields(f)?,
    })
}

/// AC-06: the body is the specification, or holds it under `specification`.
pub fn product_specification(f: &Fields) -> Result<Specification> {
    match f.get("specification") {
        Some(s) => specification(s),
        None => specification(&Value::Object(f.0.clone())),
    }
}

// ---- devices ----

/// AB-02: `device_ids` (1 to 1000, each once), the vendor, and what the vendor configures.
pub fn new_devices(f: &Fields) -> Result<NewDevices> {
    let ids = f
        .array("device_ids")?
        .ok_or_else(|| Error::invalid("device_ids", "device_ids is required"))?;
    if ids.is_empty() || ids.len() > 1000 {
        return Err(Error::invalid(
            "device_ids",
            "device_ids holds 1 to 1000 ids",
        ));
    }
    let mut dids = Vec::with_capacity(ids.len());
    for id in &ids {
        let did = id
            .as_str()
            .and_then(devices::parse_device_id)
            .ok_or_else(|| {
                Error::invalid(
                    "device_ids",
                    "each device id is 4 to 32 letters, digits, - or _",
                )
            })?;
        if dids.contains(&did) {
            return Err(Error::invalid(
                "device_ids",
                format!("{did} is listed twice"),
            ));
        }
        dids.push(did);
    }
    let vid = f
        .required("vendor_id", 32)
        .or_else(|_| f.required("vid", 32))
        .map_err(|_| Error::invalid("vendor_id", "vendor_id is required"))?;
    Ok(NewDevices {
        dids,
        vid,
        product_id: f.text("product_id", 32)?.filter(|p| !p.is_empty()),
        dtype: f.int("type", 0, 255)?.unwrap_or(0),
        profile: texts(f, &devices::VENDOR_TEXTS, 128)?,
    })
}

/// AB-04: only the fields the caller may change.
pub fn device_config(f: &Fields, role: Role) -> Result<DeviceConfig> {
    only_writable(
        f,
        devices::writable_by(role),
        &devices::DEVICE_FIELDS,
        "by this caller",
    )?;
    let device_id = f.text("device_id", 64)?;
    let texts = texts(f, &devices::VENDOR_TEXTS, 128)?;
    let mut objects = Vec::new();
    for key in VENDOR_OBJECTS {
        if let Some(obj) = f.object(key)? {
            objects.push((key, obj));
        }
    }
    let dtype = f.int("type", 0, 255)?;
    let state = f.int("state", 0, 255)?;
    let product_id = if f.has("product_id") {
        Some(f.text("product_id", 32)?.filter(|p| !p.is_empty()))
    } else {
        None
    };
    Ok(DeviceConfig {
        device_id,
        texts,
        objects,
        dtype,
        state,
        product_id,
    })
}

/// AB-06: any fields (none too long).
pub fn device_prof(f: &Fields) -> Result<Object> {
    for (k, v) in &f.0 {
        if k.chars().count() > 64 || v.to_string().len() > 4096 {
            return Err(Error::invalid("prof", "a field of the profile is too long"));
        }
    }
    Ok(f.0.clone())
}

/// AB-08: `state`, and `expire` (epoch seconds, ISO 8601 or `YYYYMMDD`; `0` or `""` clears
/// it).
pub fn service_change(f: &Fields, zone: Zone) -> Result<ServiceChange> {
    Ok(ServiceChange {
        state: f.int("state", 0, 255)?,
        expire: instant(f, "expire", zone)?,
    })
}

/// What a device reports: a `state` object, a `statistics` object, or both.
pub fn report(f: &Fields) -> Result<Report> {
    let running = f.object("state")?;
    let statistics = f.object("statistics")?;
    if running.is_none() && statistics.is_none() {
        return Err(Error::invalid(
            "state",
            "report a state object, a statistics object or both",
        ));
    }
    Ok(Report {
        running,
        statistics,
    })
}

/// AB-11 by the admin side: the member (`user_id` or `uid`).
pub fn bind_member(f: &Fields) -> Result<Option<String>> {
    f.required("user_id", 32)
        .or_else(|_| f.required("uid", 32))
        .map(Some)
}

/// The member named by `user_id` or `uid`, if any.
fn named(f: &Fields) -> Result<Option<String>> {
    let user_id = f.text("user_id", 32)?;
    let uid = f.text("uid", 32)?;
    Ok(user_id.or(uid).filter(|u| !u.is_empty()))
}

/// AB-15: `user_id` (or `uid`), or `mobile`.
pub fn share_with(f: &Fields) -> Result<ShareWith> {
    match named(f)? {
        Some(uid) => Ok(ShareWith::Member(uid)),
        None => f.mobile("mobile")?.map(ShareWith::Mobile).ok_or_else(|| {
            Error::invalid(
                "user_id",
                "name the member to share with: user_id or mobile",
            )
        }),
    }
}

/// AB-16: the member whose share ends (`user_id` or `uid`; none: every share).
pub fn unshared(f: &Fields) -> Result<Option<String>> {
    named(f)
}

// ---- orders ----

/// AD-02: `content` (1 to 20 lines of `product_id`, `quantity`, `rent`), `receiver`, `memo`.
pub fn new_order(f: &Fields) -> Result<NewOrder> {
    let content = f
        .array("content")?
        .ok_or_else(|| Error::invalid("content", "content is required"))?;
    if content.is_empty() || content.len() > 20 {
        return Err(Error::invalid("content", "an order holds 1 to 20 lines"));
    }
    let mut lines = Vec::new();
    for item in &content {
        let g = Fields(
            item.as_object()
                .cloned()
                .ok_or_else(|| Error::invalid("content", "each line is {product_id, quantity}"))?,
        );
        lines.push(OrderLine {
            product_id: g.required("product_id", 32)?,
            quantity: g.int("quantity", 1, 99)?.unwrap_or(1),
            rent: g.text("rent", 32)?.filter(|r| !r.is_empty()),
            device_id: g.text("device_id", 32)?.filter(|d| !d.is_empty()),
        });
    }
    Ok(NewOrder {
        lines,
        shipping: Input::from(shipping(f)),
    })
}

/// AD-02's `receiver` and `memo`.
fn shipping(f: &Fields) -> Result<Shipping> {
    let r = Fields(
        f.object("receiver")?
            .ok_or_else(|| Error::invalid("receiver", "receiver is required"))?,
    );
    let name = r
        .required("name", 64)
        .map_err(|_| Error::invalid("receiver", "receiver.name is required"))?;
    let phone = r
        .required("phone", 20)
        .map_err(|_| Error::invalid("receiver", "receiver.phone is required"))?;
    let area = r.text("area", 128)?;
    let area = area.or(r.text("addr_area", 128)?).unwrap_or_default();
    let address = r.text("address", 256)?;
    let address = address.or(r.text("addr_deatil", 256)?);
    let address = address.or(r.text("addr_detail", 256)?).unwrap_or_default();
    if address.is_empty() {
        return Err(Error::invalid("receiver", "receiver.address is required"));
    }
    let zipcode = r.text("zipcode", 10)?.unwrap_or_default();
    Ok(Shipping {
        receiver: Receiver {
            name,
            phone,
            area,
            address,
            zipcode,
        },
        memo: f.text("memo", 500)?.unwrap_or_default(),
    })
}

/// AD-05, AD-06, AD-11..AD-14, close and done, with what each carries.
pub fn order_move(action: OrderAction, f: &Fields) -> OrderMove {
    match action {
        OrderAction::Deliver => OrderMove::Deliver(Input::from((|| {
            Ok(Delivery {
                company: f.required("company", 64)?,
                tracking_num: f.required("tracking_num", 64)?,
                clerk: f.text("delivery_clerk", 64)?.unwrap_or_default(),
            })
        })())),
        OrderAction::EditDelivery => OrderMove::EditDelivery(Input::from((|| {
            let patch = DeliveryPatch {
                company: f.text("company", 64)?,
                tracking_num: f.text("tracking_num", 64)?,
                clerk: f.text("delivery_clerk", 64)?,
            };
            if patch == DeliveryPatch::default() {
                return Err(Error::invalid(
                    "company",
                    "give company, tracking_num or delivery_clerk",
                ));
            }
            Ok(patch)
        })())),
        OrderAction::Confirm => OrderMove::Confirm,
        OrderAction::Return => OrderMove::Return(Input::from(
            f.text("reason", 500).map(Option::unwrap_or_default),
        )),
        OrderAction::Consent => OrderMove::Consent,
        OrderAction::Refund => OrderMove::Refund(Input::from((|| {
            Ok(Refund {
                amount: f.money("amount")?,
                number: f.text("refund_no", 64)?,
            })
        })())),
        OrderAction::Close => OrderMove::Close,
        OrderAction::Done => OrderMove::Done,
    }
}

/// AD-07: the payer's `openid`, when given.
pub fn openid(f: &Fields) -> Result<Option<String>> {
    f.text("openid", 64)
}

/// AF-03: the `amount` to withdraw (all that is available when not given).
pub fn withdrawal(f: &Fields) -> Result<Option<Fen>> {
    f.money("amount")
}

// ---- tickets ----

/// AE-03.
pub fn new_ticket(f: &Fields, zone: Zone) -> Result<NewTicket> {
    let ttype = f.int("type", INSTALL, DISMANTLE)?.ok_or_else(|| {
        Error::invalid(
            "type",
            "type is required (1 install, 2 exchange, 3 return, 4 fault, 5 maintain, 6 dismantle)",
        )
    })?;
    Ok(NewTicket {
        ttype,
        detail: f.required("detail", 1000)?,
        device_id: f.text("device_id", 32)?.filter(|d| !d.is_empty()),
        order_id: Input::from(f.text("order_id", 32).map(|o| o.filter(|o| !o.is_empty()))),
        user_id: Input::from(f.text("user_id", 32).map(|u| u.filter(|u| !u.is_empty()))),
        appoint_at: Input::from(instant(f, "appoint_tms", zone).map(Option::flatten)),
    })
}

/// A ticket's approval, dispatch, status or rating, with what each carries.
pub fn ticket_move(action: TicketAction, f: &Fields, zone: Zone) -> TicketMove {
    match action {
        TicketAction::Approve => TicketMove::Approve(Input::from((|| {
            Ok(Approval {
                ok: f
                    .bool("check_result")?
                    .ok_or_else(|| Error::invalid("check_result", "check_result is required"))?,
                remark: f.text("remark", 500)?,
            })
        })())),
        TicketAction::Dispatch => TicketMove::Dispatch(Input::from((|| {
            Ok(Dispatch {
                handler: f
                    .required("installer_id", 64)
                    .or_else(|_| f.required("handler", 64))?,
                appoint: instant(f, "appoint_tms", zone)?,
            })
        })())),
        TicketAction::Status => TicketMove::Status(Input::from((|| {
            Ok(StatusMove {
                to: f.int("status", PROCESSING, DONE)?.ok_or_else(|| {
                    Error::invalid(
                        "status",
                        "status is 4 processing, 5 waiting for reply or 6 done",
                    )
                })?,
                reply: Input::from(f.text("reply", 1000)),
            })
        })())),
        TicketAction::Rate => TicketMove::Rate(Input::from((|| {
            Ok(Rating {
                value: f
                    .int("rate_value", 1, 5)?
                    .ok_or_else(|| Error::invalid("rate_value", "rate_value is 1 to 5"))?,
                detail: f.text("rate_detail", 1000)?.unwrap_or_default(),
            })
        })())),
    }
}
