//! Devices (section 二, AB-01..AB-16): batch registration by the platform, the vendor's
//! configuration, the user's configuration, service state, what devices report, binding to a
//! member, sharing, unbinding, factory reset and deletion.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::listing::{self, List, ListRequest, Listed, Scope};
use super::model::{Device, Object, Party, Product};
use super::shared::Shared;
use super::{Caller, Fields, Place, Range, Role, visible};
use crate::domain::{Clock, Entity, Error, Result, Settings};
use crate::store::Store;
use crate::store::iot::{self as store, DeviceRow};

/// A device's top-level state: registered, or activated by its first binding.
pub const REGISTERED: i64 = 0;
pub const ACTIVATED: i64 = 1;

/// What the vendor configures (AB-03/AB-04), besides `type`, `state` and `product_id`.
const VENDOR_TEXTS: [&str; 8] = [
    "brand",
    "model",
    "fw_version",
    "hw_version",
    "sw_version",
    "asm_tms",
    "manufacture_tms",
    "name",
];
const VENDOR_OBJECTS: [&str; 3] = ["manufacture", "installation", "basic"];
/// AB-01's device, every field (and `running`, where we show the running state).
const DEVICE_FIELDS: [&str; 24] = [
    "state",
    "type",
    "device_id",
    "brand",
    "model",
    "fw_version",
    "hw_version",
    "sw_version",
    "asm_tms",
    "manufacture_tms",
    "vendor_id",
    "name",
    "atv_tms",
    "user_id",
    "user_share",
    "manufacture",
    "installation",
    "service",
    "basic",
    "running",
    "statistics",
    "reg_tms",
    "product_id",
    "remark",
];

/// A registered device's service: none, without an end.
fn no_service() -> Object {
    serde_json::from_str(r#"{"state":0,"expire":null}"#).unwrap_or_default()
}

/// Where a device sits.
pub fn place_of(d: &Device) -> Place<'_> {
    Place {
        vid: &d.vid,
        agent: d.agent.as_deref(),
        dealer: d.dealer.as_deref(),
        owner: d.uid.as_deref(),
    }
}

/// A device id: 4 to 32 letters, digits, `-` or `_`.
pub fn parse_device_id(s: &str) -> Option<String> {
    let s = s.trim();
    ((4..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    .then(|| s.to_owned())
}

/// Devices: registration, configuration, service, reports, binding and sharing.
pub struct Devices {
    store: Store,
    clock: Clock,
    settings: Arc<Settings>,
    shared: Arc<Shared>,
}

impl Devices {
    pub fn new(shared: Arc<Shared>) -> Devices {
        Devices {
            store: shared.store.clone(),
            clock: shared.clock.clone(),
            settings: shared.settings.clone(),
            shared,
        }
    }

    async fn row(&self, caller: &Caller, did: &str) -> Result<Device> {
        let row = store::device(self.store.pool(), did)
            .await?
            .map(Device::from);
        let shared = match (&row, caller.role) {
            (Some(d), Role::Member) => store::shares_of(self.store.pool(), &d.did)
                .await?
                .contains(&caller.uid),
            _ => false,
        };
        visible(
            caller,
            row,
            Entity::Device,
            |d| (place_of(d), d.deleted_at),
            shared,
        )
    }

    /// AB-03 and the device checks of the others: a device in range, with its shares.
    pub async fn get(&self, caller: &Caller, did: &str) -> Result<(Device, Vec<String>)> {
        caller.require(Range::Anyone)?;
        let row = self.row(caller, did).await?;
        let shares = store::shares_of(self.store.pool(), did).await?;
        Ok((row, shares))
    }

    /// AB-01: the devices in the caller's range.
    pub async fn list(&self, caller: &Caller, req: &ListRequest) -> Result<Listed<Device>> {
        caller.require(Range::Admin)?;
        let planned = listing::plan(List::Devices, Scope::range_of(caller), req);
        listing::run::<DeviceRow, _>(&self.store, planned).await
    }

    /// AB-02: registers a batch of devices for a vendor; all or none (an id already registered
    /// refuses the whole batch, naming it).
    pub async fn register(&self, caller: &Caller, f: &Fields) -> Result<Vec<String>> {
        caller.require(Range::Platform)?;
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
            let did = id.as_str().and_then(parse_device_id).ok_or_else(|| {
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
        let vendor = store::user(self.store.pool(), &vid)
            .await?
            .map(Party::from)
            .filter(|v| v.is(Role::Vendor) && v.deleted_at.is_none())
            .ok_or_else(|| {
                Error::invalid("vendor_id", "vendor_id is not a vendor of this platform")
            })?;
        let product_id = self.product_of_vendor(f, &vendor.uid).await?;
        let dtype = f.int("type", 0, 255)?.unwrap_or(0);
        let mut profile = Map::new();
        f.copy_texts(&VENDOR_TEXTS, 128, &mut profile)?;
        let now = self.clock.now().millis();
        let mut tx = self.store.begin_write().await?;
        let mut taken = Vec::new();
        for did in &dids {
            let row = Device {
                did: did.clone(),
                vid: vendor.uid.clone(),
                agent: None,
                dealer: None,
                uid: None,
                product_id: product_id.clone(),
                dtype,
                state: REGISTERED,
                profile: profile.clone(),
                prof: Object::new(),
                service: no_service(),
                running: Object::new(),
                statistics: Object::new(),
                reg_at: now,
                atv_at: None,
                deleted_at: None,
            };
            if !store::insert_device(&mut tx, &DeviceRow::from(&row)).await? {
                taken.push(did.clone());
            }
        }
        if !taken.is_empty() {
            drop(tx);
            return Err(Error::invalid(
                "device_ids",
                format!("already registered: {}", taken.join(", ")),
            ));
        }
        tx.commit().await?;
        Ok(dids)
    }

    /// `product_id` when given: a live product of the vendor.
    async fn product_of_vendor(&self, f: &Fields, vid: &str) -> Result<Option<String>> {
        match f.text("product_id", 32)?.filter(|p| !p.is_empty()) {
            None => Ok(None),
            Some(pid) => store::product(self.store.pool(), &pid)
                .await?
                .map(Product::from)
                .filter(|p| p.vid == vid && p.deleted_at.is_none())
                .map(|p| Some(p.pid))
                .ok_or_else(|| {
                    Error::invalid("product_id", "product_id is not a product of this vendor")
                }),
        }
    }

    /// AB-04: the vendor's configuration. The platform and the vendor change everything; agents
    /// and dealers the installation, the basic information and the name; a member the name.
    pub async fn configure(&self, caller: &Caller, did: &str, f: &Fields) -> Result<Device> {
        caller.require(Range::Anyone)?;
        let mut row = self.row(caller, did).await?;
        if caller.role == Role::Member && row.uid.as_deref() != Some(caller.uid.as_str()) {
            // Shared with them, not theirs: they may look, not change.
            return Err(crate::domain::Error::Forbidden(
                crate::domain::Forbidden::NotAllowed,
            ));
        }
        let mut profile = row.profile.clone();
        let allowed: &[&str] = match caller.role {
            Role::Platform | Role::Vendor => &[
                "device_id",
                "brand",
                "model",
                "fw_version",
                "hw_version",
                "sw_version",
                "asm_tms",
                "manufacture_tms",
                "name",
                "manufacture",
                "installation",
                "basic",
                "type",
                "state",
                "product_id",
            ],
            Role::Agent | Role::Dealer => &["device_id", "name", "installation", "basic"],
            Role::Member => &["device_id", "name"],
        };
        super::only_writable(f, allowed, &DEVICE_FIELDS, "by this caller")?;
        if let Some(d) = f.text("device_id", 64)?
            && d != row.did
        {
            return Err(Error::invalid(
                "device_id",
                "device_id is the device in the path",
            ));
        }
        f.copy_texts(&VENDOR_TEXTS, 128, &mut profile)?;
        for key in VENDOR_OBJECTS {
            if let Some(obj) = f.object(key)? {
                let mut merged = profile
                    .get(key)
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                merged.extend(obj);
                profile.insert(key.into(), Value::Object(merged));
            }
        }
        if let Some(t) = f.int("type", 0, 255)? {
            row.dtype = t;
        }
        if let Some(s) = f.int("state", 0, 255)? {
            row.state = s;
        }
        if f.has("product_id") {
            row.product_id = self.product_of_vendor(f, &row.vid.clone()).await?;
        }
        row.profile = profile;
        store::update_device(self.store.pool(), &DeviceRow::from(&row)).await?;
        Ok(row)
    }

    /// AB-06: the user's configuration (any fields; merged).
    pub async fn set_prof(&self, caller: &Caller, did: &str, f: &Fields) -> Result<Device> {
        caller.require(Range::Brand)?;
        let mut row = self.row(caller, did).await?;
        let mut prof = row.prof.clone();
        for (k, v) in &f.0 {
            if k.chars().count() > 64 || v.to_string().len() > 4096 {
                return Err(Error::invalid("prof", "a field of the profile is too long"));
            }
            prof.insert(k.clone(), v.clone());
        }
        row.prof = prof;
        store::update_device(self.store.pool(), &DeviceRow::from(&row)).await?;
        Ok(row)
    }

    /// AB-08: the service state (`state`, `expire` as epoch seconds, ISO 8601 or `YYYYMMDD`).
    pub async fn set_service(&self, caller: &Caller, did: &str, f: &Fields) -> Result<Device> {
        caller.require(Range::Brand)?;
        let mut row = self.row(caller, did).await?;
        let mut svc = row.service.clone();
        if let Some(state) = f.int("state", 0, 255)? {
            svc.insert("state".into(), Value::from(state));
        }
        if let Some(expire) = super::instant(f, "expire", self.settings.zone)? {
            svc.insert("expire".into(), expire.map_or(Value::Null, Value::from));
        }
        row.service = svc;
        store::update_device(self.store.pool(), &DeviceRow::from(&row)).await?;
        Ok(row)
    }

    /// What a device reports through the platform's gateway: its running state (`state`
    /// object: `online_tms`, `offline_tms`, `lbs_coord`, ...) and statistics (merged).
    pub async fn report(&self, caller: &Caller, did: &str, f: &Fields) -> Result<Device> {
        caller.require(Range::Platform)?;
        let mut row = self.row(caller, did).await?;
        let running = f.object("state")?;
        let statistics = f.object("statistics")?;
        if running.is_none() && statistics.is_none() {
            return Err(Error::invalid(
                "state",
                "report a state object, a statistics object or both",
            ));
        }
        if let Some(r) = running {
            let mut merged = row.running.clone();
            merged.extend(r);
            row.running = merged;
        }
        if let Some(s) = statistics {
            let mut merged = row.statistics.clone();
            merged.extend(s);
            row.statistics = merged;
        }
        store::update_device(self.store.pool(), &DeviceRow::from(&row)).await?;
        Ok(row)
    }

    /// AB-11: binds a device to a member. A member binds an unbound device of their vendor to
    /// themselves; the platform, vendor, agent or dealer binds it to a member in range
    /// (`user_id`). The member's agent and dealer take the device into their range.
    pub async fn bind(&self, caller: &Caller, did: &str, f: &Fields) -> Result<Device> {
        caller.require(Range::Anyone)?;
        let member = match caller.role {
            Role::Member => self.shared.member(caller, &caller.uid).await?,
            _ => {
                let uid = f
                    .required("user_id", 32)
                    .or_else(|_| f.required("uid", 32))?;
                self.shared
                    .member(caller, &uid)
                    .await
                    .map_err(|_| Error::invalid("user_id", "user_id is not a member you manage"))?
            }
        };
        // A member binds a device nobody holds yet: they may not see it before, so look it up
        // directly, within their vendor.
        let mut row = store::device(self.store.pool(), did)
            .await?
            .map(Device::from)
            .filter(|d| d.deleted_at.is_none() && Some(d.vid.as_str()) == member.vid.as_deref())
            .ok_or(Error::NotFound(Entity::Device))?;
        if caller.role != Role::Member && !caller.sees(place_of(&row), false) {
            return Err(Error::NotFound(Entity::Device));
        }
        if let Some(owner) = &row.uid {
            if *owner == member.uid {
                return Ok(row);
            }
            // A member is not told whose device it is (nor that it exists beyond their range).
            if caller.role == Role::Member {
                return Err(Error::NotFound(Entity::Device));
            }
            return Err(Error::State(
                "this device is bound to another member".into(),
            ));
        }
        row.uid = Some(member.uid.clone());
        // The device comes under the member's agent and dealer (and leaves those it had).
        row.agent = member.agent.clone();
        row.dealer = member.dealer.clone();
        if row.atv_at.is_none() {
            row.atv_at = Some(self.clock.now().millis());
        }
        row.state = row.state.max(ACTIVATED);
        if !store::bind_device(self.store.pool(), &DeviceRow::from(&row)).await? {
            return Err(Error::State(
                "this device is bound to another member".into(),
            ));
        }
        Ok(row)
    }

    /// AB-15: the owner shares a device with another member of the vendor (`user_id` or
    /// `mobile`).
    pub async fn share(
        &self,
        caller: &Caller,
        did: &str,
        f: &Fields,
    ) -> Result<(Device, Vec<String>)> {
        caller.require(Range::Member)?;
        let row = self.row(caller, did).await?;
        if row.uid.as_deref() != Some(caller.uid.as_str()) {
            return Err(Error::State(
                "only the member the device is bound to shares it".into(),
            ));
        }
        let vid = row.vid.clone();
        let target = match f
            .text("user_id", 32)?
            .or(f.text("uid", 32)?)
            .filter(|u| !u.is_empty())
        {
            Some(uid) => store::user(self.store.pool(), &uid).await?.map(Party::from),
            None => {
                let mobile = f.mobile("mobile")?.ok_or_else(|| {
                    Error::invalid(
                        "user_id",
                        "name the member to share with: user_id or mobile",
                    )
                })?;
                store::member_by_mobile(self.store.pool(), &vid, &mobile)
                    .await?
                    .map(Party::from)
            }
        }
        .filter(|u| {
            u.is(Role::Member) && u.deleted_at.is_none() && u.vid.as_deref() == Some(vid.as_str())
        })
        .ok_or_else(|| {
            Error::invalid("user_id", "no member of this vendor has that id or mobile")
        })?;
        if target.uid == caller.uid {
            return Err(Error::invalid(
                "user_id",
                "a device is not shared with its owner",
            ));
        }
        store::add_share(
            self.store.pool(),
            did,
            &target.uid,
            self.clock.now().millis(),
        )
        .await?;
        let shares = store::shares_of(self.store.pool(), did).await?;
        Ok((row, shares))
    }

    /// AB-16: removes shares. A member the device is shared with removes their own; the owner
    /// and the admin side remove `user_id`'s share, or every share when none is named.
    pub async fn unshare(&self, caller: &Caller, did: &str, f: &Fields) -> Result<()> {
        caller.require(Range::Anyone)?;
        let row = self.row(caller, did).await?;
        let named = f
            .text("user_id", 32)?
            .or(f.text("uid", 32)?)
            .filter(|u| !u.is_empty());
        let target = match caller.role {
            Role::Member if row.uid.as_deref() != Some(caller.uid.as_str()) => {
                if named.as_deref().is_some_and(|n| n != caller.uid) {
                    return Err(Error::NotFound(Entity::Device));
                }
                Some(caller.uid.clone())
            }
            _ => named,
        };
        let removed = store::remove_shares(self.store.pool(), did, target.as_deref()).await?;
        if removed == 0 && target.is_some() {
            return Err(Error::NotFound(Entity::Other));
        }
        Ok(())
    }

    /// AB-13: unbinds a device from its member (the member, their vendor or the platform);
    /// its shares end with the binding.
    pub async fn unbind(&self, caller: &Caller, did: &str) -> Result<()> {
        caller.require(Range::BrandOrMember)?;
        let mut row = self.row(caller, did).await?;
        if caller.role == Role::Member && row.uid.as_deref() != Some(caller.uid.as_str()) {
            return Err(Error::State(
                "only the member the device is bound to unbinds it".into(),
            ));
        }
        if row.uid.is_none() {
            return Err(Error::State("this device is not bound".into()));
        }
        row.uid = None;
        row.agent = None;
        row.dealer = None;
        let mut tx = self.store.begin_write().await?;
        store::update_device(&mut *tx, &DeviceRow::from(&row)).await?;
        store::remove_shares(&mut *tx, did, None).await?;
        tx.commit().await?;
        Ok(())
    }

    /// AB-12: factory reset: the binding, shares, user configuration, service, running state
    /// and statistics are cleared; the vendor's configuration stays.
    pub async fn reset(&self, caller: &Caller, did: &str) -> Result<()> {
        caller.require(Range::Brand)?;
        let mut row = self.row(caller, did).await?;
        row.uid = None;
        row.agent = None;
        row.dealer = None;
        row.prof = Object::new();
        row.service = no_service();
        row.running = Object::new();
        row.statistics = Object::new();
        row.state = REGISTERED;
        row.atv_at = None;
        let mut tx = self.store.begin_write().await?;
        store::update_device(&mut *tx, &DeviceRow::from(&row)).await?;
        store::remove_shares(&mut *tx, did, None).await?;
        tx.commit().await?;
        Ok(())
    }

    /// AB-14: deletes a device (platform only).
    pub async fn delete(&self, caller: &Caller, did: &str) -> Result<()> {
        caller.require(Range::Platform)?;
        let mut row = self.row(caller, did).await?;
        row.deleted_at = Some(self.clock.now().millis());
        row.uid = None;
        row.agent = None;
        row.dealer = None;
        let mut tx = self.store.begin_write().await?;
        store::update_device(&mut *tx, &DeviceRow::from(&row)).await?;
        store::remove_shares(&mut *tx, did, None).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A member's devices (theirs, then those shared with them): `(device id, shared)`.
    pub async fn of_member(&self, uid: &str) -> Result<Vec<(String, bool)>> {
        Ok(store::member_devices(self.store.pool(), uid).await?)
    }

    /// The shares of these devices.
    pub async fn shares_of(
        &self,
        dids: &[String],
    ) -> Result<std::collections::HashMap<String, Vec<String>>> {
        let mut out: std::collections::HashMap<String, Vec<String>> =
            std::collections::HashMap::new();
        for chunk in dids.chunks(500) {
            for (did, uid) in store::shares_for(self.store.pool(), chunk).await? {
                out.entry(did).or_default().push(uid);
            }
        }
        Ok(out)
    }

    /// How many live devices each of these members has bound.
    pub async fn counts(
        &self,
        uids: &[String],
    ) -> Result<std::collections::HashMap<String, usize>> {
        let mut counts = std::collections::HashMap::new();
        for chunk in uids.chunks(500) {
            for (uid, n) in store::device_counts(self.store.pool(), chunk).await? {
                counts.insert(uid, n as usize);
            }
        }
        Ok(counts)
    }
}
