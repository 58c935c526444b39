//! The parties of the IoT platform and how they log in: platform operators, vendors (AX-01..13),
//! agents and dealers (section 六), members (AA-01..10).
//!
//! Operators, vendors, agents and dealers log in with a user name and the MD5 hex of their
//! password; members with their mobile and an SMS code, or with their mobile and password.
//! Stored is an argon2 hash of the MD5 form. Tokens are random, stored hashed, valid 7 days.

use serde_json::{Map, Value};

use super::{Caller, Fields, PLATFORM_CODE, Place, Range, Role, SURFACE, TOKEN_TTL_SECS};
use super::{object_of, password_digest, visible};
use crate::domain::codes::{Channel, CodeRequest};
use crate::domain::identity::Password;
use crate::domain::{AuthFailure, Core, Entity, Error, Forbidden, Result, ids};
use crate::store::iot::{self as store, UserRow};

/// Member states (section 一).
pub const DISABLED: i64 = 0;
pub const INACTIVE: i64 = 1;
pub const ACTIVE: i64 = 2;

/// Descriptive fields of a member anyone allowed may change.
const MEMBER_TEXTS: [&str; 6] = ["name", "avatar", "email", "area", "address", "remark"];
/// AA-01's member, every field.
const MEMBER_FIELDS: [&str; 19] = [
    "state",
    "type",
    "uid",
    "name",
    "avatar",
    "mobile",
    "email",
    "area",
    "address",
    "reg_tms",
    "remark",
    "vip",
    "bonus",
    "devices",
    "vid",
    "rid",
    "weixin",
    "agent_id",
    "dealer_id",
];
/// What AA-04's request may carry from a member (`uid`, `mobile` and `vid` unchanged).
const MEMBER_WRITABLE: [&str; 10] = [
    "uid", "name", "avatar", "mobile", "email", "area", "address", "remark", "vid", "rid",
];
/// ... and from the platform or the member's vendor.
const MEMBER_WRITABLE_BY_BRAND: [&str; 14] = [
    "uid", "name", "avatar", "mobile", "email", "area", "address", "remark", "vid", "rid", "state",
    "type", "vip", "bonus",
];
/// Descriptive fields of a vendor (AX-02, AX-04).
const VENDOR_TEXTS: [&str; 12] = [
    "name", "abbv", "logo", "domain", "contact", "wechat", "email", "area", "address", "remark",
    "reserved", "user",
];
/// The vendor's WeChat account fields that may be shown (AX-07).
const MXX_PUBLIC: [&str; 4] = ["mp_gid", "mp_appid", "mch_gid", "mch_appid"];
/// The ones never shown (the note after AX-01: "公众号和商户号的秘钥将不返回").
const MXX_SECRET: [&str; 2] = ["mp_secret", "mch_secret"];
/// Descriptive fields of an agent or dealer.
const AGENT_TEXTS: [&str; 7] = [
    "name", "contact", "wechat", "email", "area", "address", "remark",
];

/// A new live party with nothing but its id, kind, vendor, profile and registration time (the
/// rest is filled in with struct update syntax).
pub fn new_party(
    uid: String,
    kind: impl Into<String>,
    vid: Option<String>,
    profile: String,
    reg_at: i64,
) -> UserRow {
    UserRow {
        uid,
        kind: kind.into(),
        vid,
        code: None,
        agent: None,
        dealer: None,
        login: None,
        mobile: None,
        pwd_hash: None,
        state: ACTIVE,
        utype: 0,
        rid: None,
        openid: None,
        weixin: None,
        profile,
        secrets: None,
        withdrawn_at: None,
        reg_at,
        deleted_at: None,
    }
}

/// Where a party sits in the tree.
pub fn place_of(u: &UserRow) -> Place<'_> {
    Place {
        vid: u.vid.as_deref().unwrap_or(""),
        agent: u.agent.as_deref(),
        dealer: u.dealer.as_deref(),
        owner: Some(&u.uid),
    }
}

/// The caller a party is.
pub fn caller_of(u: &UserRow) -> Caller {
    Caller {
        uid: u.uid.clone(),
        role: Role::parse(&u.kind).unwrap_or(Role::Member),
        vid: u.vid.clone(),
        agent: u.agent.clone(),
        dealer: u.dealer.clone(),
    }
}

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

impl Core {
    async fn iot_hash(&self, digest: &str) -> Result<String> {
        self.passwords.hash(digest).await
    }

    async fn iot_token(&self, u: &UserRow) -> Result<String> {
        let token = ids::random_token();
        let now = self.now();
        store::insert_token(
            self.store.pool(),
            &ids::token_hash(&token),
            &u.uid,
            now.millis(),
            now.plus_secs(TOKEN_TTL_SECS).millis(),
        )
        .await?;
        Ok(token)
    }

    /// A party that may log in: live, not disabled, and its vendor live and not disabled.
    async fn iot_ensure_active(&self, u: &UserRow) -> Result<()> {
        if u.state == DISABLED || u.deleted_at.is_some() {
            return Err(Error::Forbidden(Forbidden::AccountDisabled));
        }
        if u.kind != "vendor"
            && let Some(vid) = &u.vid
        {
            let vendor = store::user(self.store.pool(), vid).await?;
            if vendor.is_none_or(|v| v.deleted_at.is_some() || v.state == DISABLED) {
                return Err(Error::Forbidden(Forbidden::AccountDisabled));
            }
        }
        Ok(())
    }

    /// Log-in with a password: `user` + `pwd` for operators, vendors, agents and dealers;
    /// `vid` + `mobile` + `pwd` for members. Wrong passwords are limited per account.
    pub async fn iot_login(
        &self,
        f: &Fields,
        from: Option<std::net::IpAddr>,
    ) -> Result<(String, UserRow)> {
        let pwd = f.required("pwd", 256)?;
        let password = Password::presented(&password_digest(&pwd), "pwd")?;
        let row = if let Some(user) = f.text("user", 64)?.filter(|u| !u.is_empty()) {
            store::user_by_login(self.store.pool(), &user).await?
        } else {
            let vid = f.required("vid", 32)?;
            let mobile = f.required("mobile", 20)?;
            store::member_by_mobile(self.store.pool(), &vid, &mobile).await?
        };
        let Some(row) = row.filter(|r| r.pwd_hash.is_some()) else {
            self.passwords.waste_one_verification().await;
            return Err(Error::Unauthorized(AuthFailure::WrongPassword));
        };
        let hash = row.pwd_hash.clone().unwrap_or_default();
        self.guard
            .verify(&format!("iot:{}", row.uid), from, &password, &hash)
            .await?;
        self.iot_ensure_active(&row).await?;
        let token = self.iot_token(&row).await?;
        Ok((token, row))
    }

    /// Sends an SMS code to `mobile` for `purpose` (through the shared sender).
    pub async fn iot_send_code(&self, purpose: &str, mobile: &str) -> Result<()> {
        self.codes
            .send(CodeRequest {
                channel: Channel::Sms,
                recipient: mobile,
                purpose,
                surface: SURFACE,
            })
            .await?;
        Ok(())
    }

    fn iot_code_request<'a>(purpose: &'a str, mobile: &'a str) -> CodeRequest<'a> {
        CodeRequest {
            channel: Channel::Sms,
            recipient: mobile,
            purpose,
            surface: SURFACE,
        }
    }

    /// A vendor members may register with.
    async fn iot_live_vendor(&self, vid: &str) -> Result<UserRow> {
        store::user(self.store.pool(), vid)
            .await?
            .filter(|v| v.kind == "vendor" && v.deleted_at.is_none() && v.state != DISABLED)
            .ok_or_else(|| Error::invalid("vid", "vid is not a vendor of this platform"))
    }

    /// A member's log-in code (`vid` + `mobile` of a registered member).
    pub async fn iot_login_code(&self, f: &Fields) -> Result<()> {
        self.iot_member_code(f, "iot-login").await
    }

    /// A code to `mobile` of vendor `vid`: for log-in (the member must exist) or registration
    /// (it must not).
    async fn iot_member_code(&self, f: &Fields, purpose: &str) -> Result<()> {
        let vid = f.required("vid", 32)?;
        let mobile = f
            .mobile("mobile")?
            .ok_or_else(|| Error::invalid("mobile", "mobile is required"))?;
        self.iot_live_vendor(&vid).await?;
        let exists = store::member_by_mobile(self.store.pool(), &vid, &mobile)
            .await?
            .is_some();
        match (purpose, exists) {
            ("iot-login", false) => Err(Error::NotFound(Entity::User)),
            ("iot-register", true) => Err(Error::Conflict(Entity::User)),
            _ => self.iot_send_code(purpose, &mobile).await,
        }
    }

    /// A member's log-in with `vid` + `mobile` + SMS `code`.
    pub async fn iot_sms_login(&self, f: &Fields) -> Result<(String, UserRow)> {
        let vid = f.required("vid", 32)?;
        let mobile = f.required("mobile", 20)?;
        let code = f.required("code", 10)?;
        let code_id = self
            .codes
            .check(Self::iot_code_request("iot-login", &mobile), &code)
            .await?;
        let row = store::member_by_mobile(self.store.pool(), &vid, &mobile)
            .await?
            .ok_or(Error::Unauthorized(AuthFailure::WrongCode))?;
        self.iot_ensure_active(&row).await?;
        let mut tx = self.store.begin_write().await?;
        self.codes.consume(&mut tx, &code_id, self.now()).await?;
        tx.commit().await?;
        let token = self.iot_token(&row).await?;
        Ok((token, row))
    }

    /// The party behind a token.
    pub async fn iot_authenticate(&self, token: &str) -> Result<(Caller, UserRow)> {
        let token = token.trim();
        if token.is_empty() {
            return Err(Error::Unauthorized(AuthFailure::Missing));
        }
        let row = store::token_user(
            self.store.pool(),
            &ids::token_hash(token),
            self.now().millis(),
        )
        .await?
        .ok_or(Error::Unauthorized(AuthFailure::InvalidToken))?;
        self.iot_ensure_active(&row).await?;
        Ok((caller_of(&row), row))
    }

    /// Ends one log-in.
    pub async fn iot_logout(&self, token: &str) -> Result<()> {
        store::delete_token(self.store.pool(), &ids::token_hash(token.trim())).await?;
        Ok(())
    }

    async fn iot_party(&self, uid: &str) -> Result<Option<UserRow>> {
        Ok(store::user(self.store.pool(), uid).await?)
    }

    // ---- members (section 一) ----

    /// AA-01: the members in the caller's range.
    pub async fn iot_members(&self, caller: &Caller) -> Result<Vec<UserRow>> {
        caller.require(Range::Admin)?;
        let rows = store::users_of(self.store.pool(), caller.vendor_filter(), &["member"]).await?;
        Ok(rows
            .into_iter()
            .filter(|u| caller.sees(place_of(u), false))
            .collect())
    }

    /// AA-04 and the member checks of the others: a member in range (404 otherwise).
    pub async fn iot_member(&self, caller: &Caller, uid: &str) -> Result<UserRow> {
        let row = self.iot_party(uid).await?.filter(|u| u.kind == "member");
        visible(
            caller,
            row,
            Entity::User,
            |u| (place_of(u), u.deleted_at),
            false,
        )
    }

    /// AA-02: a registration code for `mobile` with vendor `vid`.
    pub async fn iot_registration_code(&self, f: &Fields) -> Result<()> {
        self.iot_member_code(f, "iot-register").await
    }

    /// The agent and dealer a member referred by `rid` comes under; `rid` must be a live party
    /// of the same vendor.
    async fn iot_referrer(
        &self,
        vid: &str,
        rid: &str,
        uid: Option<&str>,
    ) -> Result<(Option<String>, Option<String>)> {
        let r = self
            .iot_party(rid)
            .await?
            .filter(|r| {
                r.deleted_at.is_none()
                    && r.vid.as_deref() == Some(vid)
                    && matches!(r.kind.as_str(), "member" | "agent" | "dealer")
                    && Some(r.uid.as_str()) != uid
            })
            .ok_or_else(|| {
                Error::invalid("rid", "rid is not a member, agent or dealer of this vendor")
            })?;
        // A referrer chain never loops back to the member.
        if let Some(uid) = uid {
            let mut next = r.rid.clone();
            for _ in 0..16 {
                let Some(id) = next else { break };
                if id == uid {
                    return Err(Error::invalid("rid", "rid would make a referral loop"));
                }
                next = self.iot_party(&id).await?.and_then(|p| p.rid);
            }
        }
        Ok(match r.kind.as_str() {
            "agent" => (Some(r.uid), None),
            "dealer" => (r.agent, Some(r.uid)),
            _ => (r.agent, r.dealer),
        })
    }

    /// AA-03: registers a member with the code sent to their mobile; returns a token too.
    pub async fn iot_register(&self, f: &Fields) -> Result<(String, UserRow)> {
        let vid = f.required("vid", 32)?;
        let mobile = f
            .mobile("mobile")?
            .ok_or_else(|| Error::invalid("mobile", "mobile is required"))?;
        let code = f.required("code", 10)?;
        let name = f.required("name", 64)?;
        let vendor = self.iot_live_vendor(&vid).await?;
        let pwd = match f.text("pwd", 64)? {
            Some(p) if !p.is_empty() => Some(self.iot_hash(&new_password(f, "pwd")?).await?),
            _ => None,
        };
        let (agent, dealer) = match f.text("rid", 32)?.filter(|r| !r.is_empty()) {
            Some(rid) => self.iot_referrer(&vid, &rid, None).await?,
            None => (None, None),
        };
        let mut profile = Map::new();
        f.copy_texts(&MEMBER_TEXTS, 256, &mut profile)?;
        profile.insert("name".into(), Value::String(name));
        let code_id = self
            .codes
            .check(Self::iot_code_request("iot-register", &mobile), &code)
            .await?;
        let now = self.now();
        let mut tx = self.store.begin_write().await?;
        let uid = self
            .iot_id(
                &mut tx,
                vendor.code.as_deref().unwrap_or(PLATFORM_CODE),
                "user",
            )
            .await?;
        let row = UserRow {
            agent,
            dealer,
            mobile: Some(mobile),
            pwd_hash: pwd,
            rid: f.text("rid", 32)?.filter(|r| !r.is_empty()),
            ..new_party(
                uid,
                "member",
                Some(vid),
                Value::Object(profile).to_string(),
                now.millis(),
            )
        };
        if !store::insert_user(&mut tx, &row)
            .await
            .map_err(conflict(Entity::User))?
        {
            return Err(Error::Conflict(Entity::User));
        }
        self.codes.consume(&mut tx, &code_id, now).await?;
        tx.commit().await?;
        let token = self.iot_token(&row).await?;
        Ok((token, row))
    }

    /// AA-05: a member's profile. Members change their descriptive fields (and set a referrer
    /// once); the platform and their vendor may also change the state, VIP, bonus and referrer.
    pub async fn iot_update_member(
        &self,
        caller: &Caller,
        uid: &str,
        f: &Fields,
    ) -> Result<UserRow> {
        caller.require(Range::BrandOrMember)?;
        let mut row = self.iot_member(caller, uid).await?;
        let was = row.state;
        if caller.is_brand() {
            super::only_writable(
                f,
                &MEMBER_WRITABLE_BY_BRAND,
                &MEMBER_FIELDS,
                "(AA-01 shows it)",
            )?;
        } else {
            super::only_writable(f, &MEMBER_WRITABLE, &MEMBER_FIELDS, "by a member")?;
        }
        if let Some(u) = f.text("uid", 64)?
            && !u.is_empty()
            && u != row.uid
        {
            return Err(Error::invalid("uid", "uid is the member in the path"));
        }
        if let Some(m) = f.mobile("mobile")?
            && row.mobile.as_deref() != Some(m.as_str())
        {
            return Err(Error::invalid(
                "mobile",
                "a mobile number is changed with its code: PUT /users/<UID>/mob",
            ));
        }
        if let Some(v) = f.text("vid", 32)?
            && !v.is_empty()
            && row.vid.as_deref() != Some(v.as_str())
        {
            return Err(Error::invalid(
                "vid",
                "a member cannot move to another vendor",
            ));
        }
        let mut profile = object_of(&row.profile);
        f.copy_texts(&MEMBER_TEXTS, 256, &mut profile)?;
        if caller.is_brand() {
            if let Some(state) = f.int("state", 0, 2)? {
                row.state = state;
            }
            if let Some(t) = f.int("type", 0, 1_000)? {
                row.utype = t;
            }
            if let Some(vip) = f.bool("vip")? {
                profile.insert("vip".into(), Value::Bool(vip));
            }
            if let Some(bonus) = f.int("bonus", 0, 1_000_000_000)? {
                profile.insert("bonus".into(), Value::from(bonus));
            }
        }
        if let Some(rid) = f.text("rid", 32)?.filter(|r| !r.is_empty())
            && row.rid.as_deref() != Some(rid.as_str())
        {
            if !caller.is_brand() && row.rid.is_some() {
                return Err(Error::invalid(
                    "rid",
                    "the referrer is set once; ask the vendor to change it",
                ));
            }
            let vid = row.vid.clone().unwrap_or_default();
            let (agent, dealer) = self.iot_referrer(&vid, &rid, Some(uid)).await?;
            row.rid = Some(rid);
            row.agent = agent;
            row.dealer = dealer;
        }
        row.profile = Value::Object(profile).to_string();
        written(store::update_user(self.store.pool(), &row, was).await?)?;
        if row.state == DISABLED {
            store::delete_tokens_of(self.store.pool(), uid).await?;
        }
        Ok(row)
    }

    /// AA-06: a member's password. The member gives the old one (when they have one); the
    /// platform and the vendor set a new one.
    pub async fn iot_member_password(
        &self,
        caller: &Caller,
        uid: &str,
        f: &Fields,
        from: Option<std::net::IpAddr>,
    ) -> Result<()> {
        caller.require(Range::BrandOrMember)?;
        let mut row = self.iot_member(caller, uid).await?;
        let was = row.state;
        let new = new_password(f, "new_pwd")?;
        if caller.role == Role::Member
            && let Some(hash) = row.pwd_hash.clone()
        {
            let old = f.required("old_pwd", 256)?;
            let old = Password::presented(&password_digest(&old), "old_pwd")?;
            self.guard
                .verify(&format!("iot:{uid}"), from, &old, &hash)
                .await?;
        }
        row.pwd_hash = Some(self.iot_hash(&new).await?);
        written(store::update_user(self.store.pool(), &row, was).await?)?;
        Ok(())
    }

    /// AA-06A: a code to the new mobile number.
    pub async fn iot_mobile_code(&self, caller: &Caller, uid: &str, f: &Fields) -> Result<()> {
        caller.require(Range::BrandOrMember)?;
        let row = self.iot_member(caller, uid).await?;
        let mobile = f
            .mobile("mobile")?
            .ok_or_else(|| Error::invalid("mobile", "mobile is required"))?;
        let vid = row.vid.unwrap_or_default();
        if store::member_by_mobile(self.store.pool(), &vid, &mobile)
            .await?
            .is_some()
        {
            return Err(Error::Conflict(Entity::User));
        }
        self.iot_send_code("iot-mobile", &mobile).await
    }

    /// AA-06B: the new mobile number with its code (the platform and vendor need no code).
    pub async fn iot_member_mobile(
        &self,
        caller: &Caller,
        uid: &str,
        f: &Fields,
    ) -> Result<UserRow> {
        caller.require(Range::BrandOrMember)?;
        let mut row = self.iot_member(caller, uid).await?;
        let was = row.state;
        let mobile = f
            .mobile("mobile")?
            .ok_or_else(|| Error::invalid("mobile", "mobile is required"))?;
        let code_id = match (caller.role, f.text("code", 10)?.filter(|c| !c.is_empty())) {
            (Role::Member, None) => return Err(Error::invalid("code", "code is required")),
            (_, Some(code)) => Some(
                self.codes
                    .check(Self::iot_code_request("iot-mobile", &mobile), &code)
                    .await?,
            ),
            _ => None,
        };
        row.mobile = Some(mobile);
        if row.state == INACTIVE {
            row.state = ACTIVE;
        }
        let mut tx = self.store.begin_write().await?;
        written(
            store::update_user(&mut *tx, &row, was)
                .await
                .map_err(conflict(Entity::User))?,
        )?;
        if let Some(id) = code_id {
            self.codes.consume(&mut tx, &id, self.now()).await?;
        }
        tx.commit().await?;
        Ok(row)
    }

    /// The member a password reset is for: `uid`, or `vid` + `mobile`.
    async fn iot_reset_target(&self, f: &Fields) -> Result<UserRow> {
        let row = match f.text("uid", 32)?.filter(|u| !u.is_empty()) {
            Some(uid) => self.iot_party(&uid).await?,
            None => {
                let vid = f.required("vid", 32)?;
                let mobile = f.required("mobile", 20)?;
                store::member_by_mobile(self.store.pool(), &vid, &mobile).await?
            }
        };
        row.filter(|u| u.kind == "member" && u.deleted_at.is_none() && u.mobile.is_some())
            .ok_or(Error::NotFound(Entity::User))
    }

    /// "获取找回密码验证码": a code to the member's own mobile.
    pub async fn iot_reset_code(&self, f: &Fields) -> Result<()> {
        let row = self.iot_reset_target(f).await?;
        let mobile = row.mobile.unwrap_or_default();
        if let Some(given) = f.text("mobile", 20)?.filter(|m| !m.is_empty())
            && given != mobile
        {
            return Err(Error::NotFound(Entity::User));
        }
        self.iot_send_code("iot-reset", &mobile).await
    }

    /// AA-07: a new password with the code sent to the member's mobile.
    pub async fn iot_reset_password(&self, f: &Fields) -> Result<()> {
        let mut row = self.iot_reset_target(f).await?;
        let was = row.state;
        let pwd = new_password(f, "pwd")?;
        let code = f.required("code", 10)?;
        let mobile = row.mobile.clone().unwrap_or_default();
        let code_id = self
            .codes
            .check(Self::iot_code_request("iot-reset", &mobile), &code)
            .await?;
        row.pwd_hash = Some(self.iot_hash(&pwd).await?);
        let mut tx = self.store.begin_write().await?;
        written(store::update_user(&mut *tx, &row, was).await?)?;
        store::delete_tokens_of(&mut *tx, &row.uid).await?;
        self.codes.consume(&mut tx, &code_id, self.now()).await?;
        tx.commit().await?;
        self.guard
            .forgive_account(&format!("iot:{}", row.uid))
            .await
    }

    /// AA-08: binds a WeChat identity (`openid`, with `unionid`, `nick`, `avatar`, `sex`,
    /// `sbc_tms`) to a member. A logged-in member binds to themselves; otherwise `vid` +
    /// `mobile` + SMS `code` (purpose login) identify the member, who is registered if new.
    /// Returns a token when the member was not logged in.
    pub async fn iot_bind_weixin(
        &self,
        caller: Option<&Caller>,
        f: &Fields,
    ) -> Result<(Option<String>, UserRow)> {
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
        let (mut row, code_id) = match caller {
            Some(c) => {
                c.require(Range::Member)?;
                (self.iot_member(c, &c.uid).await?, None)
            }
            None => {
                let vid = f.required("vid", 32)?;
                let mobile = f.mobile("mobile")?.ok_or_else(|| {
                    Error::invalid(
                        "mobile",
                        "mobile is required to bind WeChat without a log-in",
                    )
                })?;
                let code = f.required("code", 10)?;
                let vendor = self.iot_live_vendor(&vid).await?;
                let existing = store::member_by_mobile(self.store.pool(), &vid, &mobile).await?;
                // A member logs in with a log-in code; a new one registers with a registration
                // code (AA-02), as "不存在则注册" asks.
                let purpose = if existing.is_some() {
                    "iot-login"
                } else {
                    "iot-register"
                };
                let code_id = self
                    .codes
                    .check(Self::iot_code_request(purpose, &mobile), &code)
                    .await?;
                let row = match existing {
                    Some(r) => r,
                    None => {
                        let mut tx = self.store.begin_write().await?;
                        let uid = self
                            .iot_id(
                                &mut tx,
                                vendor.code.as_deref().unwrap_or(PLATFORM_CODE),
                                "user",
                            )
                            .await?;
                        let nick = weixin
                            .get("nick")
                            .cloned()
                            .unwrap_or(Value::String(String::new()));
                        let row = UserRow {
                            mobile: Some(mobile),
                            ..new_party(
                                uid,
                                "member",
                                Some(vid),
                                serde_json::json!({"name": nick}).to_string(),
                                self.now().millis(),
                            )
                        };
                        if !store::insert_user(&mut tx, &row)
                            .await
                            .map_err(conflict(Entity::User))?
                        {
                            return Err(Error::Conflict(Entity::User));
                        }
                        tx.commit().await?;
                        row
                    }
                };
                self.iot_ensure_active(&row).await?;
                (row, Some(code_id))
            }
        };
        let was = row.state;
        row.openid = Some(openid);
        row.weixin = Some(Value::Object(weixin).to_string());
        let mut tx = self.store.begin_write().await?;
        written(store::update_user(&mut *tx, &row, was).await.map_err(|e| {
            if crate::store::is_unique_violation(&e) {
                Error::invalid("openid", "this WeChat account is bound to another member")
            } else {
                e.into()
            }
        })?)?;
        if let Some(id) = &code_id {
            self.codes.consume(&mut tx, id, self.now()).await?;
        }
        tx.commit().await?;
        let token = match code_id {
            Some(_) => Some(self.iot_token(&row).await?),
            None => None,
        };
        Ok((token, row))
    }

    /// AA-09: removes a member's WeChat binding.
    pub async fn iot_unbind_weixin(&self, caller: &Caller, uid: &str) -> Result<()> {
        caller.require(Range::BrandOrMember)?;
        let mut row = self.iot_member(caller, uid).await?;
        let was = row.state;
        if row.openid.is_none() {
            return Err(Error::State("this member has no WeChat binding".into()));
        }
        row.openid = None;
        row.weixin = None;
        written(store::update_user(self.store.pool(), &row, was).await?)?;
        Ok(())
    }

    /// AA-10: deletes a member (platform only); their logins end.
    pub async fn iot_delete_member(&self, caller: &Caller, uid: &str) -> Result<()> {
        caller.require(Range::Platform)?;
        let mut row = self.iot_member(caller, uid).await?;
        let was = row.state;
        row.deleted_at = Some(self.now().millis());
        let mut tx = self.store.begin_write().await?;
        written(store::update_user(&mut *tx, &row, was).await?)?;
        store::delete_tokens_of(&mut *tx, uid).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- platform operators ----

    /// Creates a platform operator (A*) with a user name and password (admin API, demo).
    pub async fn iot_create_operator(&self, f: &Fields) -> Result<UserRow> {
        let login = login_name(f)?;
        let pwd = self.iot_hash(&new_password(f, "pwd")?).await?;
        let mut profile = Map::new();
        f.copy_texts(&["name"], 64, &mut profile)?;
        let mut tx = self.store.begin_write().await?;
        let uid = self.iot_id(&mut tx, PLATFORM_CODE, "user").await?;
        let row = UserRow {
            login: Some(login),
            pwd_hash: Some(pwd),
            ..new_party(
                uid,
                "platform",
                None,
                Value::Object(profile).to_string(),
                self.now().millis(),
            )
        };
        if !store::insert_user(&mut tx, &row)
            .await
            .map_err(conflict(Entity::User))?
        {
            return Err(Error::Conflict(Entity::User));
        }
        tx.commit().await?;
        Ok(row)
    }

    // ---- vendors (运营用户, AX) ----

    /// AX-01.
    pub async fn iot_vendors(&self, caller: &Caller) -> Result<Vec<UserRow>> {
        caller.require(Range::Platform)?;
        Ok(store::users_of(self.store.pool(), None, &["vendor"]).await?)
    }

    /// AX-03 and the vendor checks of the others.
    pub async fn iot_vendor(&self, caller: &Caller, vid: &str) -> Result<UserRow> {
        caller.require(Range::Platform)?;
        let row = self.iot_party(vid).await?.filter(|u| u.kind == "vendor");
        visible(
            caller,
            row,
            Entity::Vendor,
            |u| (place_of(u), u.deleted_at),
            false,
        )
    }

    /// AX-02: a vendor with its log-in. Its code (4 letters or digits, the prefix of its ids)
    /// is `code` when given, else taken from its user name.
    pub async fn iot_create_vendor(&self, caller: &Caller, f: &Fields) -> Result<UserRow> {
        caller.require(Range::Platform)?;
        let login = login_name(f)?;
        let pwd = self.iot_hash(&new_password(f, "pwd")?).await?;
        f.required("name", 128)?;
        let code = match f.text("code", 8)?.filter(|c| !c.is_empty()) {
            Some(c) if c.len() == 4 && c.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                c.to_ascii_uppercase()
            }
            Some(_) => return Err(Error::invalid("code", "code must be 4 letters or digits")),
            None => {
                let mut c: String = login
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .take(4)
                    .collect::<String>()
                    .to_ascii_uppercase();
                while c.len() < 4 {
                    c.push('X');
                }
                c
            }
        };
        if code == PLATFORM_CODE {
            return Err(Error::invalid("code", "code 0000 is the platform's"));
        }
        let mobile = f.mobile("mobile")?;
        let (profile, secrets) = vendor_fields(f, Map::new(), Map::new())?;
        let mut tx = self.store.begin_write().await?;
        let vid = self.iot_id(&mut tx, &code, "vendor").await?;
        let row = UserRow {
            code: Some(code),
            login: Some(login),
            mobile,
            pwd_hash: Some(pwd),
            state: f.int("state", 0, 2)?.unwrap_or(ACTIVE),
            utype: f.int("type", 0, 1000)?.unwrap_or(0),
            secrets: Some(Value::Object(secrets).to_string()),
            ..new_party(
                vid.clone(),
                "vendor",
                Some(vid),
                Value::Object(profile).to_string(),
                self.now().millis(),
            )
        };
        match store::insert_user(&mut tx, &row).await {
            Ok(true) => {}
            Ok(false) => return Err(Error::Conflict(Entity::Vendor)),
            Err(e) if crate::store::is_unique_violation(&e) => {
                return Err(Error::invalid(
                    "user",
                    "this user name or vendor code is taken (give another `user` or a `code`)",
                ));
            }
            Err(e) => return Err(e.into()),
        }
        tx.commit().await?;
        Ok(row)
    }

    /// AX-04..AX-08: what `part` names changes (`info`, `pwd`, `mob`, `mxx`, `cfg`, `state`).
    pub async fn iot_update_vendor(
        &self,
        caller: &Caller,
        vid: &str,
        part: &str,
        f: &Fields,
    ) -> Result<UserRow> {
        let mut row = self.iot_vendor(caller, vid).await?;
        let was = row.state;
        match part {
            "info" => {
                if let Some(user) = f.text("user", 32)?.filter(|u| !u.is_empty()) {
                    row.login = Some(login_name(&Fields(
                        [("user".to_owned(), Value::String(user))]
                            .into_iter()
                            .collect(),
                    ))?);
                }
                if let Some(m) = f.mobile("mobile")? {
                    row.mobile = Some(m);
                }
                if let Some(state) = f.int("state", 0, 2)? {
                    row.state = state;
                }
                let (profile, _) = vendor_fields(f, object_of(&row.profile), Map::new())?;
                row.profile = Value::Object(profile).to_string();
            }
            "pwd" => {
                row.pwd_hash = Some(self.iot_hash(&new_password(f, "pwd")?).await?);
            }
            "mob" => {
                row.mobile = Some(
                    f.mobile("mobile")?
                        .ok_or_else(|| Error::invalid("mobile", "mobile is required"))?,
                );
            }
            "mxx" => {
                let (profile, secrets) = vendor_fields(
                    f,
                    object_of(&row.profile),
                    object_of(row.secrets.as_deref().unwrap_or("{}")),
                )?;
                row.profile = Value::Object(profile).to_string();
                row.secrets = Some(Value::Object(secrets).to_string());
            }
            _ => {
                let mut profile = object_of(&row.profile);
                let mut cfg = f.0.clone();
                // Secrets have their own call (AX-07) and are never shown: none hides in here.
                for key in MXX_SECRET.iter().chain(&["pwd", "password", "secret"]) {
                    cfg.remove(*key);
                }
                profile.insert("cfg".into(), Value::Object(cfg));
                row.profile = Value::Object(profile).to_string();
            }
        }
        written(
            store::update_user(self.store.pool(), &row, was)
                .await
                .map_err(|e| {
                    if crate::store::is_unique_violation(&e) {
                        Error::invalid("user", "this user name is taken")
                    } else {
                        e.into()
                    }
                })?,
        )?;
        if part == "pwd" || row.state == DISABLED {
            store::delete_tokens_of(self.store.pool(), vid).await?;
        }
        Ok(row)
    }

    /// AX-13: deletes a vendor; it, its agents, dealers and members can no longer log in.
    pub async fn iot_delete_vendor(&self, caller: &Caller, vid: &str) -> Result<()> {
        let mut row = self.iot_vendor(caller, vid).await?;
        let was = row.state;
        row.deleted_at = Some(self.now().millis());
        let mut tx = self.store.begin_write().await?;
        written(store::update_user(&mut *tx, &row, was).await?)?;
        store::delete_tokens_of(&mut *tx, vid).await?;
        tx.commit().await?;
        Ok(())
    }

    /// AX-09..AX-12: a vendor's signing records.
    pub async fn iot_signings(&self, caller: &Caller, vid: &str) -> Result<Vec<store::SigningRow>> {
        self.iot_vendor(caller, vid).await?;
        Ok(store::signings(self.store.pool(), vid).await?)
    }

    pub async fn iot_add_signing(
        &self,
        caller: &Caller,
        vid: &str,
        f: &Fields,
    ) -> Result<store::SigningRow> {
        self.iot_vendor(caller, vid).await?;
        let mut doc = f.0.clone();
        doc.remove("sid");
        let row = store::SigningRow {
            sid: ids::random_hex_id(),
            vid: vid.to_owned(),
            doc: Value::Object(doc).to_string(),
            created_at: self.now().millis(),
        };
        store::insert_signing(self.store.pool(), &row).await?;
        Ok(row)
    }

    pub async fn iot_change_signing(
        &self,
        caller: &Caller,
        vid: &str,
        f: &Fields,
        delete: bool,
    ) -> Result<()> {
        self.iot_vendor(caller, vid).await?;
        let sid = f.required("sid", 64)?;
        let found = if delete {
            store::delete_signing(self.store.pool(), vid, &sid).await?
        } else {
            let mut doc = f.0.clone();
            doc.remove("sid");
            store::update_signing(
                self.store.pool(),
                vid,
                &sid,
                &Value::Object(doc).to_string(),
            )
            .await?
        };
        if found {
            Ok(())
        } else {
            Err(Error::NotFound(Entity::Other))
        }
    }

    // ---- agents and dealers (section 六) ----

    /// The agents and dealers in the caller's range (a vendor: its agents and their dealers; an
    /// agent: itself and its dealers; a dealer: itself).
    pub async fn iot_agents(&self, caller: &Caller) -> Result<Vec<UserRow>> {
        caller.require(Range::Admin)?;
        let rows = store::users_of(
            self.store.pool(),
            caller.vendor_filter(),
            &["agent", "dealer"],
        )
        .await?;
        Ok(rows
            .into_iter()
            .filter(|u| caller.sees(place_of(u), false))
            .collect())
    }

    pub async fn iot_agent(&self, caller: &Caller, uid: &str) -> Result<UserRow> {
        caller.require(Range::Admin)?;
        let row = self
            .iot_party(uid)
            .await?
            .filter(|u| matches!(u.kind.as_str(), "agent" | "dealer"));
        visible(
            caller,
            row,
            Entity::Agent,
            |u| (place_of(u), u.deleted_at),
            false,
        )
    }

    /// Adds an agent (by a vendor, or the platform naming `vid`) or a dealer (by an agent, or by
    /// its vendor naming the agent as `parent`).
    pub async fn iot_create_agent(&self, caller: &Caller, f: &Fields) -> Result<UserRow> {
        caller.require(Range::Admin)?;
        let (vid, parent) = match caller.role {
            Role::Platform => (
                f.required("vid", 32)?,
                f.text("parent", 32)?.filter(|p| !p.is_empty()),
            ),
            Role::Vendor => (
                caller.uid.clone(),
                f.text("parent", 32)?.filter(|p| !p.is_empty()),
            ),
            Role::Agent => (
                caller.vid.clone().unwrap_or_default(),
                Some(caller.uid.clone()),
            ),
            _ => return Err(Error::Forbidden(Forbidden::NotAllowed)),
        };
        let vendor = self.iot_live_vendor(&vid).await?;
        let (kind, agent, dealer_of_self) = match parent {
            Some(p) => {
                let parent = self
                    .iot_party(&p)
                    .await?
                    .filter(|u| {
                        u.kind == "agent"
                            && u.deleted_at.is_none()
                            && u.vid.as_deref() == Some(vid.as_str())
                    })
                    .ok_or_else(|| {
                        Error::invalid("parent", "parent is not an agent of this vendor")
                    })?;
                ("dealer", Some(parent.uid), true)
            }
            None => ("agent", None, false),
        };
        let login = login_name(f)?;
        let pwd = self.iot_hash(&new_password(f, "pwd")?).await?;
        let name = f.required("name", 128)?;
        let mut profile = Map::new();
        f.copy_texts(&AGENT_TEXTS, 256, &mut profile)?;
        profile.insert("name".into(), Value::String(name));
        let mobile = f.mobile("mobile")?;
        let mut tx = self.store.begin_write().await?;
        let uid = self
            .iot_id(
                &mut tx,
                vendor.code.as_deref().unwrap_or(PLATFORM_CODE),
                "user",
            )
            .await?;
        let row = UserRow {
            agent: if dealer_of_self {
                agent
            } else {
                Some(uid.clone())
            },
            dealer: dealer_of_self.then(|| uid.clone()),
            login: Some(login),
            mobile,
            pwd_hash: Some(pwd),
            ..new_party(
                uid,
                kind,
                Some(vid),
                Value::Object(profile).to_string(),
                self.now().millis(),
            )
        };
        match store::insert_user(&mut tx, &row).await {
            Ok(true) => {}
            Ok(false) => return Err(Error::Conflict(Entity::Agent)),
            Err(e) if crate::store::is_unique_violation(&e) => {
                return Err(Error::invalid("user", "this user name is taken"));
            }
            Err(e) => return Err(e.into()),
        }
        tx.commit().await?;
        Ok(row)
    }

    /// Removes an agent (which must have no dealers left) or a dealer. What was under it
    /// (members, devices, orders, tickets) comes under the level above.
    pub async fn iot_delete_agent(&self, caller: &Caller, uid: &str) -> Result<()> {
        let mut row = self.iot_agent(caller, uid).await?;
        let was = row.state;
        if row.uid == caller.uid {
            return Err(Error::State("an agent cannot remove itself".into()));
        }
        let is_dealer = row.kind == "dealer";
        if !is_dealer {
            let dealers =
                store::users_of(self.store.pool(), row.vid.as_deref(), &["dealer"]).await?;
            if dealers.iter().any(|d| d.agent.as_deref() == Some(uid)) {
                return Err(Error::State("remove this agent's dealers first".into()));
            }
        }
        row.deleted_at = Some(self.now().millis());
        let mut tx = self.store.begin_write().await?;
        written(store::update_user(&mut *tx, &row, was).await?)?;
        store::delete_tokens_of(&mut *tx, uid).await?;
        store::rehome(&mut tx, uid, is_dealer).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// A vendor's descriptive fields and WeChat secrets, merged over what it had.
fn vendor_fields(
    f: &Fields,
    mut profile: Map<String, Value>,
    mut secrets: Map<String, Value>,
) -> Result<(Map<String, Value>, Map<String, Value>)> {
    f.copy_texts(&VENDOR_TEXTS, 256, &mut profile)?;
    profile.remove("user");
    f.copy_texts(&MXX_PUBLIC, 128, &mut profile)?;
    if f.has("mch_appid") {
        // Kept with the secrets before it was shown; the public copy is the one now.
        secrets.remove("mch_appid");
    }
    f.copy_texts(&MXX_SECRET, 256, &mut secrets)?;
    Ok((profile, secrets))
}

/// A party written back, or the refusal when it changed meanwhile (disabled or deleted).
fn written(ok: bool) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::State(
            "this account changed meanwhile (disabled or deleted): read it again".into(),
        ))
    }
}

/// A unique violation is the entity's conflict; anything else an internal error.
fn conflict(entity: Entity) -> impl Fn(crate::store::Error) -> Error {
    move |e| {
        if crate::store::is_unique_violation(&e) {
            Error::Conflict(entity)
        } else {
            e.into()
        }
    }
}
