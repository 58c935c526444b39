//! The platform's partners: [`Partners`] owns platform operators (A*), vendors (运营用户,
//! AX-01..AX-13) with their WeChat accounts and signing records, and the agents and dealers
//! under them (section 六).

use std::sync::Arc;

use serde_json::{Map, Value};

use super::listing::{self, List, ListRequest, Listed, Scope};
use super::model::{self, Party, Signing};
use super::parties::{
    ACTIVE, AGENT_TEXTS, DISABLED, MXX_PUBLIC, MXX_SECRET, VENDOR_TEXTS, conflict, login_name,
    new_party, new_password, place_of, written,
};
use super::shared::Shared;
use super::{Caller, Fields, PLATFORM_CODE, Range, Role, visible};
use crate::domain::passwords::PasswordHasher;
use crate::domain::{Clock, Entity, Error, Forbidden, Result, ids};
use crate::store::Store;
use crate::store::iot::{self as store, SigningRow, UserRow};

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
    pub async fn create_operator(&self, f: &Fields) -> Result<Party> {
        let login = login_name(f)?;
        let pwd = self.passwords.hash(&new_password(f, "pwd")?).await?;
        let mut profile = Map::new();
        f.copy_texts(&["name"], 64, &mut profile)?;
        let mut tx = self.store.begin_write().await?;
        let uid = self.shared.id(&mut tx, PLATFORM_CODE, "user").await?;
        let row = Party {
            login: Some(login),
            pwd_hash: Some(pwd),
            ..new_party(
                uid,
                Role::Platform,
                None,
                profile,
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
        caller.require(Range::Platform)?;
        let planned = listing::plan(List::Vendors, Scope::default(), req);
        listing::run::<UserRow, _>(&self.store, planned).await
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
    pub async fn create_vendor(&self, caller: &Caller, f: &Fields) -> Result<Party> {
        caller.require(Range::Platform)?;
        let login = login_name(f)?;
        let pwd = self.passwords.hash(&new_password(f, "pwd")?).await?;
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
        let vid = self.shared.id(&mut tx, &code, "vendor").await?;
        let row = Party {
            code: Some(code),
            login: Some(login),
            mobile,
            pwd_hash: Some(pwd),
            state: f.int("state", 0, 2)?.unwrap_or(ACTIVE),
            utype: f.int("type", 0, 1000)?.unwrap_or(0),
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
        part: &str,
        f: &Fields,
    ) -> Result<Party> {
        let mut row = self.vendor(caller, vid).await?;
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
                let (profile, _) = vendor_fields(f, row.profile.clone(), Map::new())?;
                row.profile = profile;
            }
            "pwd" => {
                row.pwd_hash = Some(self.passwords.hash(&new_password(f, "pwd")?).await?);
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
                    row.profile.clone(),
                    row.secrets.clone().unwrap_or_default(),
                )?;
                row.profile = profile;
                row.secrets = Some(secrets);
            }
            _ => {
                let mut profile = row.profile.clone();
                let mut cfg = f.0.clone();
                // Secrets have their own call (AX-07) and are never shown: none hides in here.
                for key in MXX_SECRET.iter().chain(&["pwd", "password", "secret"]) {
                    cfg.remove(*key);
                }
                profile.insert("cfg".into(), Value::Object(cfg));
                row.profile = profile;
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
        if part == "pwd" || row.state == DISABLED {
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

    pub async fn add_signing(&self, caller: &Caller, vid: &str, f: &Fields) -> Result<Signing> {
        self.vendor(caller, vid).await?;
        let mut doc = f.0.clone();
        doc.remove("sid");
        let row = Signing {
            sid: ids::random_hex_id(),
            vid: vid.to_owned(),
            doc,
            created_at: self.clock.now().millis(),
        };
        store::insert_signing(self.store.pool(), &SigningRow::from(&row)).await?;
        Ok(row)
    }

    pub async fn change_signing(
        &self,
        caller: &Caller,
        vid: &str,
        f: &Fields,
        delete: bool,
    ) -> Result<()> {
        self.vendor(caller, vid).await?;
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
    pub async fn create_agent(&self, caller: &Caller, f: &Fields) -> Result<Party> {
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
        let login = login_name(f)?;
        let pwd = self.passwords.hash(&new_password(f, "pwd")?).await?;
        let name = f.required("name", 128)?;
        let mut profile = Map::new();
        f.copy_texts(&AGENT_TEXTS, 256, &mut profile)?;
        profile.insert("name".into(), Value::String(name));
        let mobile = f.mobile("mobile")?;
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
            login: Some(login),
            mobile,
            pwd_hash: Some(pwd),
            ..new_party(uid, kind, Some(vid), profile, self.clock.now().millis())
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
