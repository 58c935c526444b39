//! Devices (section 二, AB-01..AB-16): batch registration by the platform, the vendor's
//! configuration, the user's configuration, service state, what devices report, binding to a
//! member, sharing, unbinding, factory reset and deletion.

use std::sync::Arc;

use serde_json::Value;

use super::listing::{self, List, ListRequest, Listed, Scope};
use super::model::{Device, Object, Party, Product};
use super::shared::Shared;
use super::{Caller, Input, Place, Range, Role, visible};
use crate::domain::{Clock, Entity, Error, Result};
use crate::store::Store;
use crate::store::iot::{self as store, DeviceRow};

/// A device's top-level state: registered, or activated by its first binding.
pub const REGISTERED: i64 = 0;
pub const ACTIVATED: i64 = 1;

/// What the vendor configures (AB-03/AB-04), besides `type`, `state` and `product_id`.
pub const VENDOR_TEXTS: [&str; 8] = [
    "brand",
    "model",
    "fw_version",
    "hw_version",
    "sw_version",
    "asm_tms",
    "manufacture_tms",
    "name",
];
pub const VENDOR_OBJECTS: [&str; 3] = ["manufacture", "installation", "basic"];
/// AB-01's device, every field (and `running`, where we show the running state).
pub const DEVICE_FIELDS: [&str; 24] = [
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

/// AB-02's batch: device ids (checked, each once), the vendor, and what the vendor configures.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDevices {
    pub dids: Vec<String>,
    pub vid: String,
    pub product_id: Option<String>,
    pub dtype: i64,
    /// Brand, model, versions, times and name.
    pub profile: Object,
}

/// AB-04's configuration: the fields given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceConfig {
    /// The device's own id may be sent back unchanged.
    pub device_id: Option<String>,
    /// Brand, model, versions, times and name.
    pub texts: Object,
    /// `manufacture`, `installation`, `basic`: merged into what they were.
    pub objects: Vec<(&'static str, Object)>,
    pub dtype: Option<i64>,
    pub state: Option<i64>,
    /// The product (none: no product), when given.
    pub product_id: Option<Option<String>>,
}

/// AB-08's service: its state, and its end (an instant in milliseconds, or none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceChange {
    pub state: Option<i64>,
    pub expire: Option<Option<i64>>,
}

/// What a device reports: its running state, its statistics, or both.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub running: Option<Object>,
    pub statistics: Option<Object>,
}

/// AB-15: whom a device is shared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShareWith {
    Member(String),
    Mobile(String),
}

/// What AB-04 lets each caller change: the platform and the vendor everything; agents and
/// dealers the installation, the basic information and the name; a member the name.
pub fn writable_by(role: Role) -> &'static [&'static str] {
    match role {
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
    }
}

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
    shared: Arc<Shared>,
}

impl Devices {
    pub fn new(shared: Arc<Shared>) -> Devices {
        Devices {
            store: shared.store.clone(),
            clock: shared.clock.clone(),
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
    pub async fn register(&self, caller: &Caller, new: Input<NewDevices>) -> Result<Vec<String>> {
        caller.require(Range::Platform)?;
        let NewDevices {
            dids,
            vid,
            product_id,
            dtype,
            profile,
        } = new.read()?;
        let vendor = store::user(&self.store, &vid)
            .await?
            .map(Party::from)
            .filter(|v| v.is(Role::Vendor) && v.deleted_at.is_none())
            .ok_or_else(|| {
                Error::invalid("vendor_id", "vendor_id is not a vendor of this platform")
            })?;
        let product_id = self.product_of_vendor(product_id, &vendor.uid).await?;
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
                online: false,
                online_at: None,
                offline_at: None,
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
    async fn product_of_vendor(&self, pid: Option<String>, vid: &str) -> Result<Option<String>> {
        match pid {
            None => Ok(None),
            Some(pid) => store::product(&self.store, &pid)
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
    pub async fn configure(
        &self,
        caller: &Caller,
        did: &str,
        config: Input<DeviceConfig>,
    ) -> Result<Device> {
        caller.require(Range::Anyone)?;
        let mut row = self.row(caller, did).await?;
        if caller.role == Role::Member && row.uid.as_deref() != Some(caller.uid.as_str()) {
            // Shared with them, not theirs: they may look, not change.
            return Err(crate::domain::Error::Forbidden(
                crate::domain::Forbidden::NotAllowed,
            ));
        }
        let config = config.read()?;
        if let Some(d) = config.device_id
            && d != row.did
        {
            return Err(Error::invalid(
                "device_id",
                "device_id is the device in the path",
            ));
        }
        let mut profile = row.profile.clone();
        profile.extend(config.texts);
        for (key, obj) in config.objects {
            let mut merged = profile
                .get(key)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            merged.extend(obj);
            profile.insert(key.into(), Value::Object(merged));
        }
        if let Some(t) = config.dtype {
            row.dtype = t;
        }
        if let Some(s) = config.state {
            row.state = s;
        }
        if let Some(pid) = config.product_id {
            row.product_id = self.product_of_vendor(pid, &row.vid.clone()).await?;
        }
        row.profile = profile;
        store::update_device(self.store.pool(), &DeviceRow::from(&row)).await?;
        Ok(row)
    }

    /// AB-06: the user's configuration (any fields; merged).
    pub async fn set_prof(
        &self,
        caller: &Caller,
        did: &str,
        prof: Input<Object>,
    ) -> Result<Device> {
        caller.require(Range::Brand)?;
        let mut row = self.row(caller, did).await?;
        row.prof.extend(prof.read()?);
        store::update_device(self.store.pool(), &DeviceRow::from(&row)).await?;
        Ok(row)
    }

    /// AB-08: the service state (`state`, and `expire` as an instant, or cleared).
    pub async fn set_service(
        &self,
        caller: &Caller,
        did: &str,
        change: Input<ServiceChange>,
    ) -> Result<Device> {
        caller.require(Range::Brand)?;
        let mut row = self.row(caller, did).await?;
        let change = change.read()?;
        if let Some(state) = change.state {
            row.service.insert("state".into(), Value::from(state));
        }
        if let Some(expire) = change.expire {
            row.service
                .insert("expire".into(), expire.map_or(Value::Null, Value::from));
        }
        store::update_device(self.store.pool(), &DeviceRow::from(&row)).await?;
        Ok(row)
    }

    /// What a device reports through the platform's gateway: its running state (`state`
    /// object: `online_tms`, `offline_tms`, `lbs_coord`, ...) and statistics (merged).
    pub async fn report(
        &self,
        caller: &Caller,
        did: &str,
        report: Input<Report>,
    ) -> Result<Device> {
        caller.require(Range::Platform)?;
        let mut row = self.row(caller, did).await?;
        let report = report.read()?;
        if let Some(r) = report.running {
            row.running.extend(r);
        }
        if let Some(s) = report.statistics {
            row.statistics.extend(s);
        }
        store::set_reported(
            self.store.pool(),
            did,
            &super::model::text(&row.running),
            &super::model::text(&row.statistics),
        )
        .await?;
        Ok(row)
    }

    /// AB-11: binds a device to a member. A member binds an unbound device of their vendor to
    /// themselves; the platform, vendor, agent or dealer binds it to a member in range
    /// (`user_id`). The member's agent and dealer take the device into their range.
    pub async fn bind(
        &self,
        caller: &Caller,
        did: &str,
        member: Input<Option<String>>,
    ) -> Result<Device> {
        caller.require(Range::Anyone)?;
        let member = match caller.role {
            Role::Member => self.shared.member(caller, &caller.uid).await?,
            _ => {
                let uid = member.read()?.unwrap_or_default();
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
        with: Input<ShareWith>,
    ) -> Result<(Device, Vec<String>)> {
        caller.require(Range::Member)?;
        let row = self.row(caller, did).await?;
        if row.uid.as_deref() != Some(caller.uid.as_str()) {
            return Err(Error::State(
                "only the member the device is bound to shares it".into(),
            ));
        }
        let vid = row.vid.clone();
        let target = match with.read()? {
            ShareWith::Member(uid) => store::user(&self.store, &uid).await?,
            ShareWith::Mobile(mobile) => {
                store::member_by_mobile(self.store.pool(), &vid, &mobile).await?
            }
        }
        .map(Party::from)
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
    pub async fn unshare(
        &self,
        caller: &Caller,
        did: &str,
        named: Input<Option<String>>,
    ) -> Result<()> {
        caller.require(Range::Anyone)?;
        let row = self.row(caller, did).await?;
        let named = named.read()?;
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
        store::set_reported(&mut *tx, did, "{}", "{}").await?;
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
