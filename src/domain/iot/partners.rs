//! The platform's partners: [`Partners`] owns platform operators (A*), vendors (运营用户,
//! AX-01..AX-13) with their WeChat accounts and signing records, and the agents and dealers
//! under them (section 六).

use std::sync::Arc;

use serde_json::Value;

use super::listing::{self, List, ListRequest, Listed, Scope};
use super::model::{self, Object, Party, Signing};
use super::parties::{ACTIVE, DISABLED, MXX_SECRET, conflict, new_party, place_of, written};
use super::shared::Shared;
use super::{Caller, Input, PLATFORM_CODE, Range, Role, visible};
use crate::domain::passwords::PasswordHasher;
use crate::domain::{Clock, Entity, Error, Forbidden, Result, ids};
use crate::store::Store;
use crate::store::iot::{self as store, SigningRow, UserRow};

/// A platform operator: user name, password (MD5 form) and `name`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOperator {
    pub login: String,
    pub pwd: String,
    pub profile: Object,
}

/// A vendor's descriptive fields and WeChat account (AX-02, AX-04, AX-07).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VendorDetails {
    /// Name, abbreviation, logo, domain, contact...
    pub texts: Object,
    /// The WeChat account's public fields (`mp_gid`, `mp_appid`, `mch_gid`, `mch_appid`).
    pub wechat: Object,
    /// Its secrets (`mp_secret`, `mch_secret`), never shown.
    pub secrets: Object,
    /// Whether `mch_appid` was given (even empty).
    pub mch_appid_given: bool,
}

/// AX-02's vendor.
#[derive(Debug, Clone, PartialEq)]
pub struct NewVendor {
    pub login: String,
    /// MD5 form.
    pub pwd: String,
    /// 4 letters or digits, upper case; none: taken from the user name.
    pub code: Option<String>,
    pub mobile: Option<String>,
    pub details: VendorDetails,
    pub state: Option<i64>,
    pub utype: Option<i64>,
}

/// What AX-04..AX-08 change of a vendor.
#[derive(Debug, Clone, PartialEq)]
pub enum VendorChange {
    /// AX-04: user name, mobile, state, descriptive fields.
    Info {
        login: Option<String>,
        mobile: Option<String>,
        state: Option<i64>,
        details: VendorDetails,
    },
    /// AX-05: the password (MD5 form).
    Password(String),
    /// AX-06: the mobile.
    Mobile(String),
    /// AX-07: the WeChat account.
    Wechat(VendorDetails),
    /// AX-08: the configuration (any fields).
    Config(Object),
}

/// AX-11's signing record: which, and its new document.
#[derive(Debug, Clone, PartialEq)]
pub struct SigningChange {
    pub sid: String,
    pub doc: Object,
}

/// An agent, or a dealer under one.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAgent {
    /// The vendor, when the platform adds one.
    pub vid: Option<String>,
    /// The agent a dealer comes under, when the platform or the vendor adds one.
    pub parent: Option<String>,
    pub login: String,
    /// MD5 form.
    pub pwd: String,
    /// Descriptive fields, `name` among them.
    pub profile: Object,
    pub mobile: Option<String>,
}

/// Operators, vendors, agents and dealers.
pub struct Partners {
    store: Store,
    clock: Clock,
    shared: Arc<Shared>,
    passwords: PasswordHasher,
}

impl Partners {
    pub fn new(shared: Arc<Shared>, passwords: PasswordHasher) -> Partners {
        Partners {
            store: shared.store.clone(),
            clock: shared.clock.clone(),
            shared,
            passwords,
        }
    }
    // ---- platform operators ----

    /// Creates a platform operator (A*) with a user name and password (admin API, demo).
    pub async fn create_operator(&self, new: NewOperator) -> Result<Party> {
        let pwd = self.passwords.hash(&new.pwd).await?;
        let mut tx = self.store.begin_write().await?;
        let uid = self.shared.id(&mut tx, PLATFORM_CODE, "user").await?;
        let row = Party {
            login: Some(new.login),
            pwd_hash: Some(pwd),
            ..new_party(
                uid,
                Role::Platform,
                None,
                new.profile,
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
        Ok(row)
    }

    // ---- vendors (运营用户, AX) ----

    /// AX-01.
    pub async fn vendors(&self, caller: &Caller, req: &ListRequest) -> Result<Listed<Party>> {
        Self::may_list_vendors(caller)?;
        let planned = listing::plan(List::Vendors, Scope::default(), req);
        listing::run::<UserRow, _>(&self.store, planned).await
    }

    /// Who lists vendors (AX-01): the platform only. Asked by surfaces that read the list
    /// elsewhere (the console's table), so that the rule is this one.
    pub fn may_list_vendors(caller: &Caller) -> Result<()> {
        caller.require(Range::Platform)
    }

    /// AX-03 and the vendor checks of the others.
    pub async fn vendor(&self, caller: &Caller, vid: &str) -> Result<Party> {
        caller.require(Range::Platform)?;
        let row = self.shared.party(vid).await?.filter(|u| u.is(Role::Vendor));
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
    pub async fn create_vendor(&self, caller: &Caller, new: Input<NewVendor>) -> Result<Party> {
        caller.require(Range::Platform)?;
        let new = new.read()?;
        let pwd = self.passwords.hash(&new.pwd).await?;
        let code = new.code.unwrap_or_else(|| {
            let mut c: String = new
                .login
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(4)
                .collect::<String>()
                .to_ascii_uppercase();
            while c.len() < 4 {
                c.push('X');
            }
            c
        });
        if code == PLATFORM_CODE {
            return Err(Error::invalid("code", "code 0000 is the platform's"));
        }
        let (profile, secrets) = merge_details(new.details, Object::new(), Object::new());
        let mut tx = self.store.begin_write().await?;
        let vid = self.shared.id(&mut tx, &code, "vendor").await?;
        let row = Party {
            code: Some(code),
            login: Some(new.login),
            mobile: new.mobile,
            pwd_hash: Some(pwd),
            state: new.state.unwrap_or(ACTIVE),
            utype: new.utype.unwrap_or(0),
            secrets: Some(secrets),
            ..new_party(
                vid.clone(),
                Role::Vendor,
                Some(vid),
                profile,
                self.clock.now().millis(),
            )
        };
        match store::insert_user(&mut tx, &UserRow::from(&row)).await {
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
    pub async fn update_vendor(
        &self,
        caller: &Caller,
        vid: &str,
        change: Input<VendorChange>,
    ) -> Result<Party> {
        let mut row = self.vendor(caller, vid).await?;
        let was = row.state;
        let change = change.read()?;
        let new_password = matches!(change, VendorChange::Password(_));
        match change {
            VendorChange::Info {
                login,
                mobile,
                state,
                details,
            } => {
                if let Some(login) = login {
                    row.login = Some(login);
                }
                if let Some(m) = mobile {
                    row.mobile = Some(m);
                }
                if let Some(state) = state {
                    row.state = state;
                }
                let (profile, _) = merge_details(details, row.profile.clone(), Object::new());
                row.profile = profile;
            }
            VendorChange::Password(pwd) => {
                row.pwd_hash = Some(self.passwords.hash(&pwd).await?);
            }
            VendorChange::Mobile(mobile) => row.mobile = Some(mobile),
            VendorChange::Wechat(details) => {
                let (profile, secrets) = merge_details(
                    details,
                    row.profile.clone(),
                    row.secrets.clone().unwrap_or_default(),
                );
                row.profile = profile;
                row.secrets = Some(secrets);
            }
            VendorChange::Config(mut cfg) => {
                // Secrets have their own call (AX-07) and are never shown: none hides in here.
                for key in MXX_SECRET.iter().chain(&["pwd", "password", "secret"]) {
                    cfg.remove(*key);
                }
                row.profile.insert("cfg".into(), Value::Object(cfg));
            }
        }
        written(
            store::update_user(self.store.pool(), &UserRow::from(&row), was)
                .await
                .map_err(|e| {
                    if crate::store::is_unique_violation(&e) {
                        Error::invalid("user", "this user name is taken")
                    } else {
                        e.into()
                    }
                })?,
        )?;
        if new_password || row.state == DISABLED {
            store::delete_tokens_of(self.store.pool(), vid).await?;
        }
        Ok(row)
    }

    /// AX-13: deletes a vendor; it, its agents, dealers and members can no longer log in.
    pub async fn delete_vendor(&self, caller: &Caller, vid: &str) -> Result<()> {
        let mut row = self.vendor(caller, vid).await?;
        let was = row.state;
        row.deleted_at = Some(self.clock.now().millis());
        let mut tx = self.store.begin_write().await?;
        written(store::update_user(&mut *tx, &UserRow::from(&row), was).await?)?;
        store::delete_tokens_of(&mut *tx, vid).await?;
        tx.commit().await?;
        Ok(())
    }

    /// AX-09..AX-12: a vendor's signing records.
    pub async fn signings(
        &self,
        caller: &Caller,
        vid: &str,
        req: &ListRequest,
    ) -> Result<Listed<Signing>> {
        self.vendor(caller, vid).await?;
        let planned = listing::plan(List::Signings, Scope::vendor(vid), req);
        listing::run::<SigningRow, _>(&self.store, planned).await
    }

    /// AX-10: a signing record (whatever the platform keeps of it).
    pub async fn add_signing(
        &self,
        caller: &Caller,
        vid: &str,
        doc: Input<Object>,
    ) -> Result<Signing> {
        self.vendor(caller, vid).await?;
        let row = Signing {
            sid: ids::random_hex_id(),
            vid: vid.to_owned(),
            doc: doc.read()?,
            created_at: self.clock.now().millis(),
        };
        store::insert_signing(self.store.pool(), &SigningRow::from(&row)).await?;
        Ok(row)
    }

    /// AX-11: replaces a signing record's document.
    pub async fn change_signing(
        &self,
        caller: &Caller,
        vid: &str,
        change: Input<SigningChange>,
    ) -> Result<()> {
        self.vendor(caller, vid).await?;
        let change = change.read()?;
        found(
            store::update_signing(
                self.store.pool(),
                vid,
                &change.sid,
                &model::text(&change.doc),
            )
            .await?,
        )
    }

    /// AX-12: deletes a signing record (`sid`).
    pub async fn delete_signing(
        &self,
        caller: &Caller,
        vid: &str,
        sid: Input<String>,
    ) -> Result<()> {
        self.vendor(caller, vid).await?;
        let sid = sid.read()?;
        found(store::delete_signing(self.store.pool(), vid, &sid).await?)
    }

    // ---- agents and dealers (section 六) ----

    /// The agents in the caller's range, and the dealers whose agent is not (a vendor: its
    /// agents; an agent: itself; a dealer: itself). The others are listed under their agent
    /// ([`Partners::dealers_of`]).
    pub async fn agents(&self, caller: &Caller, req: &ListRequest) -> Result<Listed<Party>> {
        caller.require(Range::Admin)?;
        let planned = listing::plan(List::Agents, Scope::range_of(caller), req);
        listing::run::<UserRow, _>(&self.store, planned).await
    }

    /// The dealers in the caller's range under these agents, oldest first.
    pub async fn dealers_of(&self, caller: &Caller, agents: &[String]) -> Result<Vec<Party>> {
        caller.require(Range::Admin)?;
        let rows: Vec<UserRow> =
            store::dealers_of(&self.store, &Scope::range_of(caller), agents).await?;
        Ok(model::all(rows))
    }

    pub async fn agent(&self, caller: &Caller, uid: &str) -> Result<Party> {
        caller.require(Range::Admin)?;
        let row = self
            .shared
            .party(uid)
            .await?
            .filter(|u| matches!(u.role, Role::Agent | Role::Dealer));
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
    pub async fn create_agent(&self, caller: &Caller, new: Input<NewAgent>) -> Result<Party> {
        caller.require(Range::Admin)?;
        if !matches!(caller.role, Role::Platform | Role::Vendor | Role::Agent) {
            return Err(Error::Forbidden(Forbidden::NotAllowed));
        }
        let new = new.read()?;
        let (vid, parent) = match caller.role {
            Role::Platform => (new.vid.unwrap_or_default(), new.parent),
            Role::Vendor => (caller.uid.clone(), new.parent),
            _ => (
                caller.vid.clone().unwrap_or_default(),
                Some(caller.uid.clone()),
            ),
        };
        let vendor = self.shared.live_vendor(&vid).await?;
        let (kind, agent, dealer_of_self) = match parent {
            Some(p) => {
                let parent = self
                    .shared
                    .party(&p)
                    .await?
                    .filter(|u| {
                        u.is(Role::Agent)
                            && u.deleted_at.is_none()
                            && u.vid.as_deref() == Some(vid.as_str())
                    })
                    .ok_or_else(|| {
                        Error::invalid("parent", "parent is not an agent of this vendor")
                    })?;
                (Role::Dealer, Some(parent.uid), true)
            }
            None => (Role::Agent, None, false),
        };
        let pwd = self.passwords.hash(&new.pwd).await?;
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
            agent: if dealer_of_self {
                agent
            } else {
                Some(uid.clone())
            },
            dealer: dealer_of_self.then(|| uid.clone()),
            login: Some(new.login),
            mobile: new.mobile,
            pwd_hash: Some(pwd),
            ..new_party(uid, kind, Some(vid), new.profile, self.clock.now().millis())
        };
        match store::insert_user(&mut tx, &UserRow::from(&row)).await {
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
    pub async fn delete_agent(&self, caller: &Caller, uid: &str) -> Result<()> {
        let mut row = self.agent(caller, uid).await?;
        let was = row.state;
        if row.uid == caller.uid {
            return Err(Error::State("an agent cannot remove itself".into()));
        }
        let is_dealer = row.is(Role::Dealer);
        if !is_dealer {
            let dealers =
                store::users_of(self.store.pool(), row.vid.as_deref(), &["dealer"]).await?;
            if dealers.iter().any(|d| d.agent.as_deref() == Some(uid)) {
                return Err(Error::State("remove this agent's dealers first".into()));
            }
        }
        row.deleted_at = Some(self.clock.now().millis());
        let mut tx = self.store.begin_write().await?;
        written(store::update_user(&mut *tx, &UserRow::from(&row), was).await?)?;
        store::delete_tokens_of(&mut *tx, uid).await?;
        store::rehome(&mut tx, uid, is_dealer).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// A vendor's descriptive fields and WeChat secrets, merged over what it had.
fn merge_details(
    details: VendorDetails,
    mut profile: Object,
    mut secrets: Object,
) -> (Object, Object) {
    profile.extend(details.texts);
    profile.remove("user");
    profile.extend(details.wechat);
    if details.mch_appid_given {
        // Kept with the secrets before it was shown; the public copy is the one now.
        secrets.remove("mch_appid");
    }
    secrets.extend(details.secrets);
    (profile, secrets)
}

/// A signing record written, or 404 when there is none with its `sid`.
fn found(ok: bool) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::NotFound(Entity::Other))
    }
}
