//! Members of the IoT platform (section 一, AA-01..AA-10) and how every party signs in:
//! [`Members`] owns log-in (password or SMS code), tokens, registration, the profile, the
//! password and its reset, the mobile number and the WeChat binding.
//!
//! Operators, vendors, agents and dealers log in with a user name and the MD5 hex of their
//! password; members with their mobile and an SMS code, or with their mobile and password.
//! Stored is an argon2 hash of the MD5 form. Tokens are random, stored hashed, valid 7 days.

use std::sync::Arc;

use serde_json::Value;

use super::listing::{self, List, ListRequest, Listed, Scope};
use super::model::{Object, Party};
use super::parties::{ACTIVE, DISABLED, INACTIVE, caller_of, conflict, new_party, written};
use super::password_digest;
use super::shared::Shared;
use super::{Caller, Input, PLATFORM_CODE, Range, Role, SURFACE, TOKEN_TTL_SECS};
use crate::domain::codes::{Channel, CodeRequest, Codes};
use crate::domain::guard::SignInGuard;
use crate::domain::identity::Password;
use crate::domain::passwords::PasswordHasher;
use crate::domain::{AuthFailure, Clock, Entity, Error, Forbidden, Result, ids};
use crate::store::Store;
use crate::store::iot::{self as store, UserRow};

/// A log-in with a password (its MD5 form, checked).
#[derive(Debug)]
pub struct LogIn {
    pub password: Password,
    pub who: Who,
}

/// Who logs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// An operator, vendor, agent or dealer, by user name.
    User(String),
    /// A member, by vendor and mobile.
    Member { vid: String, mobile: String },
}

/// A member's mobile at a vendor (to send a code to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberMobile {
    pub vid: String,
    /// 11 digits.
    pub mobile: String,
}

/// A member's log-in with an SMS code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsLogIn {
    pub vid: String,
    pub mobile: String,
    pub code: String,
}

/// AA-03's registration.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    pub vid: String,
    pub mobile: String,
    pub code: String,
    /// The MD5 form of the password, when one is set.
    pub pwd: Option<String>,
    /// The referrer.
    pub rid: Option<String>,
    /// The descriptive fields, `name` among them.
    pub profile: Object,
}

/// AA-05's change of a member: the fields given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemberChange {
    /// The member's own id, mobile and vendor may be sent back unchanged, nothing else.
    pub uid: Option<String>,
    pub mobile: Option<String>,
    pub vid: Option<String>,
    /// Descriptive fields.
    pub texts: Object,
    /// The platform's and the vendor's only.
    pub state: Option<i64>,
    pub utype: Option<i64>,
    pub vip: Option<bool>,
    pub bonus: Option<i64>,
    pub rid: Option<String>,
}

/// AA-06's new password (MD5 form), and the old one as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordChange {
    pub new: String,
    pub old: Option<String>,
}

/// AA-06B's new mobile, with its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MobileChange {
    pub mobile: String,
    pub code: Option<String>,
}

/// The member whose password is reset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResetTarget {
    Uid(String),
    Mobile { vid: String, mobile: String },
}

/// AA-07's new password (MD5 form) and the code sent for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordReset {
    pub pwd: String,
    pub code: String,
}

/// AA-08's WeChat identity, and who binds it when no member is logged in.
#[derive(Debug, Clone, PartialEq)]
pub struct WeixinBinding {
    pub openid: String,
    /// `OpenID`, `UnionID`, `nick`, `avatar`, `sex`, `sbc_tms`.
    pub weixin: Object,
    pub sign_in: Option<WeixinSignIn>,
}

/// A member binding WeChat without a log-in: vendor, mobile and its SMS code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeixinSignIn {
    pub vid: String,
    pub mobile: String,
    pub code: String,
}

/// Members, sign-in and tokens.
pub struct Members {
    store: Store,
    clock: Clock,
    shared: Arc<Shared>,
    passwords: PasswordHasher,
    codes: Arc<Codes>,
    guard: Arc<SignInGuard>,
}

/// The SMS code request of `purpose` to `mobile`.
fn code_request<'a>(purpose: &'a str, mobile: &'a str) -> CodeRequest<'a> {
    CodeRequest {
        channel: Channel::Sms,
        recipient: mobile,
        purpose,
        surface: SURFACE,
    }
}

impl Members {
    pub fn new(
        shared: Arc<Shared>,
        passwords: PasswordHasher,
        codes: Arc<Codes>,
        guard: Arc<SignInGuard>,
    ) -> Members {
        Members {
            store: shared.store.clone(),
            clock: shared.clock.clone(),
            shared,
            passwords,
            codes,
            guard,
        }
    }

    /// AA-04 and the member checks of the others: a member in range (404 otherwise).
    pub async fn get(&self, caller: &Caller, uid: &str) -> Result<Party> {
        self.shared.member(caller, uid).await
    }

    async fn token(&self, u: &Party) -> Result<String> {
        let token = ids::random_token();
        let now = self.clock.now();
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
    async fn ensure_active(&self, u: &Party) -> Result<()> {
        let vendor_live = match (&u.vid, u.is(Role::Vendor)) {
            (Some(vid), false) => store::user(&self.store, vid)
                .await?
                .map(Party::from)
                .is_some_and(|v| v.deleted_at.is_none() && v.state != DISABLED),
            _ => true,
        };
        if standing(u, vendor_live) {
            Ok(())
        } else {
            Err(Error::Forbidden(Forbidden::AccountDisabled))
        }
    }

    /// Log-in with a password: `user` + `pwd` for operators, vendors, agents and dealers;
    /// `vid` + `mobile` + `pwd` for members. Wrong passwords are limited per account.
    pub async fn login(
        &self,
        input: LogIn,
        from: Option<std::net::IpAddr>,
    ) -> Result<(String, Party)> {
        let row = match &input.who {
            Who::User(user) => store::user_by_login(self.store.pool(), user).await?,
            Who::Member { vid, mobile } => {
                store::member_by_mobile(self.store.pool(), vid, mobile).await?
            }
        }
        .map(Party::from);
        let Some(row) = row.filter(|r| r.pwd_hash.is_some()) else {
            self.passwords.waste_one_verification().await;
            return Err(Error::Unauthorized(AuthFailure::WrongPassword));
        };
        let hash = row.pwd_hash.clone().unwrap_or_default();
        self.guard
            .verify(&format!("iot:{}", row.uid), from, &input.password, &hash)
            .await?;
        self.ensure_active(&row).await?;
        let token = self.token(&row).await?;
        Ok((token, row))
    }

    /// Sends an SMS code to `mobile` for `purpose` (through the shared sender).
    pub async fn send_code(&self, purpose: &str, mobile: &str) -> Result<()> {
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

    /// A member's log-in code (`vid` + `mobile` of a registered member).
    pub async fn login_code(&self, to: MemberMobile) -> Result<()> {
        self.member_code(to, "iot-login").await
    }

    /// A code to `mobile` of vendor `vid`: for log-in (the member must exist) or registration
    /// (it must not).
    async fn member_code(&self, to: MemberMobile, purpose: &str) -> Result<()> {
        let MemberMobile { vid, mobile } = to;
        self.shared.live_vendor(&vid).await?;
        let exists = store::member_by_mobile(self.store.pool(), &vid, &mobile)
            .await?
            .is_some();
        match (purpose, exists) {
            ("iot-login", false) => Err(Error::NotFound(Entity::User)),
            ("iot-register", true) => Err(Error::Conflict(Entity::User)),
            _ => self.send_code(purpose, &mobile).await,
        }
    }

    /// A member's log-in with `vid` + `mobile` + SMS `code`.
    pub async fn sms_login(&self, input: SmsLogIn) -> Result<(String, Party)> {
        let SmsLogIn { vid, mobile, code } = input;
        let code_id = self
            .codes
            .check(code_request("iot-login", &mobile), &code)
            .await?;
        let row = store::member_by_mobile(self.store.pool(), &vid, &mobile)
            .await?
            .map(Party::from)
            .ok_or(Error::Unauthorized(AuthFailure::WrongCode))?;
        self.ensure_active(&row).await?;
        let mut tx = self.store.begin_write().await?;
        self.codes
            .consume(&mut tx, &code_id, self.clock.now())
            .await?;
        tx.commit().await?;
        let token = self.token(&row).await?;
        Ok((token, row))
    }

    /// The party behind a token.
    pub async fn authenticate(&self, token: &str) -> Result<(Caller, Party)> {
        let hash = token_hash(token)?;
        let found = store::token_user(&self.store, &hash, self.clock.now().millis())
            .await?
            .ok_or(Error::Unauthorized(AuthFailure::InvalidToken))?;
        let vendor_live = vendor_live(
            found.vendor_found,
            found.vendor_state,
            found.vendor_deleted_at,
        );
        let row = Party::from(found.user);
        if !standing(&row, vendor_live) {
            return Err(Error::Forbidden(Forbidden::AccountDisabled));
        }
        Ok((caller_of(&row), row))
    }

    /// The caller behind a token: what [`Members::authenticate`] checks, without reading the
    /// party's documents (every authenticated request asks this).
    pub async fn caller(&self, token: &str) -> Result<Caller> {
        let hash = token_hash(token)?;
        let found = store::token_caller(&self.store, &hash, self.clock.now().millis())
            .await?
            .ok_or(Error::Unauthorized(AuthFailure::InvalidToken))?;
        let role = Role::parse(&found.kind).unwrap_or(Role::Member);
        let vendor_live = vendor_live(
            found.vendor_found,
            found.vendor_state,
            found.vendor_deleted_at,
        );
        // Read only when not deleted.
        if !standing_of(role, found.state, false, found.vid.is_some(), vendor_live) {
            return Err(Error::Forbidden(Forbidden::AccountDisabled));
        }
        Ok(Caller {
            uid: found.uid,
            role,
            vid: found.vid,
            agent: found.agent,
            dealer: found.dealer,
        })
    }

    /// Ends one log-in.
    pub async fn logout(&self, token: &str) -> Result<()> {
        store::delete_token(self.store.pool(), &ids::token_hash(token.trim())).await?;
        Ok(())
    }

    // ---- members (section 一) ----

    /// AA-01: the members in the caller's range.
    pub async fn list(&self, caller: &Caller, req: &ListRequest) -> Result<Listed<Party>> {
        caller.require(Range::Admin)?;
        let planned = listing::plan(List::Members, Scope::range_of(caller), req);
        listing::run::<UserRow, _>(&self.store, planned).await
    }

    /// AA-02: a registration code for `mobile` with vendor `vid`.
    pub async fn registration_code(&self, to: MemberMobile) -> Result<()> {
        self.member_code(to, "iot-register").await
    }

    /// The agent and dealer a member referred by `rid` comes under; `rid` must be a live party
    /// of the same vendor.
    async fn referrer(
        &self,
        vid: &str,
        rid: &str,
        uid: Option<&str>,
    ) -> Result<(Option<String>, Option<String>)> {
        let r = self
            .shared
            .party(rid)
            .await?
            .filter(|r| {
                r.deleted_at.is_none()
                    && r.vid.as_deref() == Some(vid)
                    && matches!(r.role, Role::Member | Role::Agent | Role::Dealer)
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
                next = self.shared.party(&id).await?.and_then(|p| p.rid);
            }
        }
        Ok(match r.role {
            Role::Agent => (Some(r.uid), None),
            Role::Dealer => (r.agent, Some(r.uid)),
            _ => (r.agent, r.dealer),
        })
    }

    /// AA-03: registers a member with the code sent to their mobile; returns a token too.
    pub async fn register(&self, input: Registration) -> Result<(String, Party)> {
        let Registration {
            vid,
            mobile,
            code,
            pwd,
            rid,
            profile,
        } = input;
        let vendor = self.shared.live_vendor(&vid).await?;
        let pwd = match pwd {
            Some(p) => Some(self.passwords.hash(&p).await?),
            None => None,
        };
        let (agent, dealer) = match &rid {
            Some(rid) => self.referrer(&vid, rid, None).await?,
            None => (None, None),
        };
        let code_id = self
            .codes
            .check(code_request("iot-register", &mobile), &code)
            .await?;
        let now = self.clock.now();
        let mut tx = self.store.begin_write().await?;
        let uid = self
            .shared
            .id(
                &mut tx,
                vendor.code.as_deref().unwrap_or(PLATFORM_CODE),
                "user",
            )
            .await?;
        let row = Party {
            agent,
            dealer,
            mobile: Some(mobile),
            pwd_hash: pwd,
            rid,
            ..new_party(uid, Role::Member, Some(vid), profile, now.millis())
        };
        if !store::insert_user(&mut tx, &UserRow::from(&row))
            .await
            .map_err(conflict(Entity::User))?
        {
            return Err(Error::Conflict(Entity::User));
        }
        self.codes.consume(&mut tx, &code_id, now).await?;
        tx.commit().await?;
        let token = self.token(&row).await?;
        Ok((token, row))
    }

    /// AA-05: a member's profile. Members change their descriptive fields (and set a referrer
    /// once); the platform and their vendor may also change the state, VIP, bonus and referrer.
    pub async fn update(
        &self,
        caller: &Caller,
        uid: &str,
        change: Input<MemberChange>,
    ) -> Result<Party> {
        caller.require(Range::BrandOrMember)?;
        let mut row = self.shared.member(caller, uid).await?;
        let was = row.state;
        let change = change.read()?;
        if let Some(u) = change.uid.filter(|u| !u.is_empty())
            && u != row.uid
        {
            return Err(Error::invalid("uid", "uid is the member in the path"));
        }
        if let Some(m) = change.mobile
            && row.mobile.as_deref() != Some(m.as_str())
        {
            return Err(Error::invalid(
                "mobile",
                "a mobile number is changed with its code: PUT /users/<UID>/mob",
            ));
        }
        if let Some(v) = change.vid.filter(|v| !v.is_empty())
            && row.vid.as_deref() != Some(v.as_str())
        {
            return Err(Error::invalid(
                "vid",
                "a member cannot move to another vendor",
            ));
        }
        let mut profile = row.profile.clone();
        profile.extend(change.texts);
        if caller.is_brand() {
            if let Some(state) = change.state {
                row.state = state;
            }
            if let Some(t) = change.utype {
                row.utype = t;
            }
            if let Some(vip) = change.vip {
                profile.insert("vip".into(), Value::Bool(vip));
            }
            if let Some(bonus) = change.bonus {
                profile.insert("bonus".into(), Value::from(bonus));
            }
        }
        if let Some(rid) = change.rid.filter(|r| !r.is_empty())
            && row.rid.as_deref() != Some(rid.as_str())
        {
            if !caller.is_brand() && row.rid.is_some() {
                return Err(Error::invalid(
                    "rid",
                    "the referrer is set once; ask the vendor to change it",
                ));
            }
            let vid = row.vid.clone().unwrap_or_default();
            let (agent, dealer) = self.referrer(&vid, &rid, Some(uid)).await?;
            row.rid = Some(rid);
            row.agent = agent;
            row.dealer = dealer;
        }
        row.profile = profile;
        written(store::update_user(self.store.pool(), &UserRow::from(&row), was).await?)?;
        if row.state == DISABLED {
            store::delete_tokens_of(self.store.pool(), uid).await?;
        }
        Ok(row)
    }

    /// AA-06: a member's password. The member gives the old one (when they have one); the
    /// platform and the vendor set a new one.
    pub async fn set_password(
        &self,
        caller: &Caller,
        uid: &str,
        change: Input<PasswordChange>,
        from: Option<std::net::IpAddr>,
    ) -> Result<()> {
        caller.require(Range::BrandOrMember)?;
        let mut row = self.shared.member(caller, uid).await?;
        let was = row.state;
        let change = change.read()?;
        if caller.role == Role::Member
            && let Some(hash) = row.pwd_hash.clone()
        {
            let old = change
                .old
                .filter(|o| !o.is_empty())
                .ok_or_else(|| Error::invalid("old_pwd", "old_pwd is required"))?;
            let old = Password::presented(&password_digest(&old), "old_pwd")?;
            self.guard
                .verify(&format!("iot:{uid}"), from, &old, &hash)
                .await?;
        }
        row.pwd_hash = Some(self.passwords.hash(&change.new).await?);
        written(store::update_user(self.store.pool(), &UserRow::from(&row), was).await?)?;
        Ok(())
    }

    /// AA-06A: a code to the new mobile number.
    pub async fn mobile_code(
        &self,
        caller: &Caller,
        uid: &str,
        mobile: Input<String>,
    ) -> Result<()> {
        caller.require(Range::BrandOrMember)?;
        let row = self.shared.member(caller, uid).await?;
        let mobile = mobile.read()?;
        let vid = row.vid.unwrap_or_default();
        if store::member_by_mobile(self.store.pool(), &vid, &mobile)
            .await?
            .is_some()
        {
            return Err(Error::Conflict(Entity::User));
        }
        self.send_code("iot-mobile", &mobile).await
    }

    /// AA-06B: the new mobile number with its code (the platform and vendor need no code).
    pub async fn change_mobile(
        &self,
        caller: &Caller,
        uid: &str,
        change: Input<MobileChange>,
    ) -> Result<Party> {
        caller.require(Range::BrandOrMember)?;
        let mut row = self.shared.member(caller, uid).await?;
        let was = row.state;
        let MobileChange { mobile, code } = change.read()?;
        let code_id = match (caller.role, code) {
            (Role::Member, None) => return Err(Error::invalid("code", "code is required")),
            (_, Some(code)) => Some(
                self.codes
                    .check(code_request("iot-mobile", &mobile), &code)
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
            store::update_user(&mut *tx, &UserRow::from(&row), was)
                .await
                .map_err(conflict(Entity::User))?,
        )?;
        if let Some(id) = code_id {
            self.codes.consume(&mut tx, &id, self.clock.now()).await?;
        }
        tx.commit().await?;
        Ok(row)
    }

    /// The member a password reset is for: `uid`, or `vid` + `mobile`.
    async fn reset_target(&self, target: &ResetTarget) -> Result<Party> {
        let row = match target {
            ResetTarget::Uid(uid) => self.shared.party(uid).await?,
            ResetTarget::Mobile { vid, mobile } => {
                store::member_by_mobile(self.store.pool(), vid, mobile)
                    .await?
                    .map(Party::from)
            }
        };
        row.filter(|u| u.is(Role::Member) && u.deleted_at.is_none() && u.mobile.is_some())
            .ok_or(Error::NotFound(Entity::User))
    }

    /// "获取找回密码验证码": a code to the member's own mobile.
    pub async fn reset_code(
        &self,
        target: ResetTarget,
        given: Input<Option<String>>,
    ) -> Result<()> {
        let row = self.reset_target(&target).await?;
        let mobile = row.mobile.unwrap_or_default();
        if let Some(given) = given.read()?.filter(|m| !m.is_empty())
            && given != mobile
        {
            return Err(Error::NotFound(Entity::User));
        }
        self.send_code("iot-reset", &mobile).await
    }

    /// AA-07: a new password with the code sent to the member's mobile.
    pub async fn reset_password(
        &self,
        target: ResetTarget,
        reset: Input<PasswordReset>,
    ) -> Result<()> {
        let mut row = self.reset_target(&target).await?;
        let was = row.state;
        let reset = reset.read()?;
        let mobile = row.mobile.clone().unwrap_or_default();
        let code_id = self
            .codes
            .check(code_request("iot-reset", &mobile), &reset.code)
            .await?;
        row.pwd_hash = Some(self.passwords.hash(&reset.pwd).await?);
        let mut tx = self.store.begin_write().await?;
        written(store::update_user(&mut *tx, &UserRow::from(&row), was).await?)?;
        store::delete_tokens_of(&mut *tx, &row.uid).await?;
        self.codes
            .consume(&mut tx, &code_id, self.clock.now())
            .await?;
        tx.commit().await?;
        self.guard
            .forgive_account(&format!("iot:{}", row.uid))
            .await
    }

    /// AA-08: binds a WeChat identity (`openid`, with `unionid`, `nick`, `avatar`, `sex`,
    /// `sbc_tms`) to a member. A logged-in member binds to themselves; otherwise `vid` +
    /// `mobile` + SMS `code` (purpose login) identify the member, who is registered if new.
    /// Returns a token when the member was not logged in.
    pub async fn bind_weixin(
        &self,
        caller: Option<&Caller>,
        binding: WeixinBinding,
    ) -> Result<(Option<String>, Party)> {
        let WeixinBinding {
            openid,
            weixin,
            sign_in,
        } = binding;
        let (mut row, code_id) = match caller {
            Some(c) => {
                c.require(Range::Member)?;
                (self.shared.member(c, &c.uid).await?, None)
            }
            None => {
                let WeixinSignIn { vid, mobile, code } = sign_in.ok_or_else(|| {
                    Error::invalid(
                        "mobile",
                        "mobile is required to bind WeChat without a log-in",
                    )
                })?;
                let vendor = self.shared.live_vendor(&vid).await?;
                let existing = store::member_by_mobile(self.store.pool(), &vid, &mobile)
                    .await?
                    .map(Party::from);
                // A member logs in with a log-in code; a new one registers with a registration
                // code (AA-02), as "不存在则注册" asks.
                let purpose = if existing.is_some() {
                    "iot-login"
                } else {
                    "iot-register"
                };
                let code_id = self
                    .codes
                    .check(code_request(purpose, &mobile), &code)
                    .await?;
                let row = match existing {
                    Some(r) => r,
                    None => {
                        let mut tx = self.store.begin_write().await?;
                        let uid = self
                            .shared
                            .id(
                                &mut tx,
                                vendor.code.as_deref().unwrap_or(PLATFORM_CODE),
                                "user",
                            )
                            .await?;
                        let nick = weixin
                            .get("nick")
                            .cloned()
                            .unwrap_or(Value::String(String::new()));
                        let row = Party {
                            mobile: Some(mobile),
                            ..new_party(
                                uid,
                                Role::Member,
                                Some(vid),
                                [("name".to_owned(), nick)].into_iter().collect(),
                                self.clock.now().millis(),
                            )
                        };
                        if !store::insert_user(&mut tx, &UserRow::from(&row))
                            .await
                            .map_err(conflict(Entity::User))?
                        {
                            return Err(Error::Conflict(Entity::User));
                        }
                        tx.commit().await?;
                        row
                    }
                };
                self.ensure_active(&row).await?;
                (row, Some(code_id))
            }
        };
        let was = row.state;
        row.openid = Some(openid);
        row.weixin = Some(weixin);
        let mut tx = self.store.begin_write().await?;
        written(
            store::update_user(&mut *tx, &UserRow::from(&row), was)
                .await
                .map_err(|e| {
                    if crate::store::is_unique_violation(&e) {
                        Error::invalid("openid", "this WeChat account is bound to another member")
                    } else {
                        e.into()
                    }
                })?,
        )?;
        if let Some(id) = &code_id {
            self.codes.consume(&mut tx, id, self.clock.now()).await?;
        }
        tx.commit().await?;
        let token = match code_id {
            Some(_) => Some(self.token(&row).await?),
            None => None,
        };
        Ok((token, row))
    }

    /// AA-09: removes a member's WeChat binding.
    pub async fn unbind_weixin(&self, caller: &Caller, uid: &str) -> Result<()> {
        caller.require(Range::BrandOrMember)?;
        let mut row = self.shared.member(caller, uid).await?;
        let was = row.state;
        if row.openid.is_none() {
            return Err(Error::State("this member has no WeChat binding".into()));
        }
        row.openid = None;
        row.weixin = None;
        written(store::update_user(self.store.pool(), &UserRow::from(&row), was).await?)?;
        Ok(())
    }

    /// AA-10: deletes a member (platform only); their logins end.
    pub async fn delete(&self, caller: &Caller, uid: &str) -> Result<()> {
        caller.require(Range::Platform)?;
        let mut row = self.shared.member(caller, uid).await?;
        let was = row.state;
        row.deleted_at = Some(self.clock.now().millis());
        let mut tx = self.store.begin_write().await?;
        written(store::update_user(&mut *tx, &UserRow::from(&row), was).await?)?;
        store::delete_tokens_of(&mut *tx, uid).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Whether a party may act: it is enabled and not deleted, and (but for a vendor) its vendor is
/// live (`vendor_live`).
fn standing(u: &Party, vendor_live: bool) -> bool {
    standing_of(
        u.role,
        u.state,
        u.deleted_at.is_some(),
        u.vid.is_some(),
        vendor_live,
    )
}

/// [`standing`] from a party's state, whether it is deleted and whether it has a vendor.
fn standing_of(role: Role, state: i64, deleted: bool, has_vendor: bool, vendor_live: bool) -> bool {
    state != DISABLED && !deleted && (role == Role::Vendor || !has_vendor || vendor_live)
}

/// Whether a vendor read beside its party (found, its state, when it was deleted) is live.
fn vendor_live(found: i64, state: Option<i64>, deleted_at: Option<i64>) -> bool {
    found == 1 && deleted_at.is_none() && state != Some(DISABLED)
}

/// The stored digest of a token sent (refused when none was).
fn token_hash(token: &str) -> Result<String> {
    let token = token.trim();
    if token.is_empty() {
        return Err(Error::Unauthorized(AuthFailure::Missing));
    }
    Ok(ids::token_hash(token))
}
