//! What every IoT service needs, kept once: the ids of section 1.2, vendors' codes, and looking
//! up a party, a live vendor or a member in the caller's range.

use std::sync::Arc;

use super::Role;
use super::model::Party;
use super::parties::{DISABLED, place_of};
use super::{Caller, PLATFORM_CODE, visible};
use crate::domain::{Clock, Entity, Error, Result, Settings};
use crate::store::iot as store;
use crate::store::{Conn, Store};

/// The store, clock and settings of the IoT services, with the look-ups they all make.
pub struct Shared {
    pub store: Store,
    pub clock: Clock,
    pub settings: Arc<Settings>,
    /// Vendors' codes, as read once.
    codes: std::sync::RwLock<std::collections::HashMap<String, String>>,
}

impl Shared {
    pub fn new(store: Store, clock: Clock, settings: Arc<Settings>) -> Shared {
        Shared {
            store,
            clock,
            settings,
            codes: Default::default(),
        }
    }

    /// The next id of `kind` for the vendor with `code`: section 1.2's rules. Users and
    /// products are the code and a 16-digit serial; orders and tickets the local date, the code
    /// and a 12-digit serial.
    pub async fn id(&self, conn: &mut Conn, code: &str, kind: &str) -> Result<String> {
        let serial = store::next_serial(conn, &format!("{code}:{kind}")).await?;
        Ok(id_of(kind, code, serial, &self.id_date(self.clock.now())))
    }

    /// The local date of an id made at `at` (`yyyymmdd`).
    pub fn id_date(&self, at: crate::domain::Timestamp) -> String {
        at.local_date(self.settings.zone).replace('-', "")
    }

    /// The code of a vendor (the platform's for none).
    pub async fn vendor_code(&self, vid: Option<&str>) -> Result<String> {
        let Some(vid) = vid else {
            return Ok(PLATFORM_CODE.to_owned());
        };
        if let Some(code) = self.codes.read().ok().and_then(|c| c.get(vid).cloned()) {
            return Ok(code);
        }
        let code = store::user(&self.store, vid)
            .await?
            .and_then(|v| v.code)
            .ok_or(Error::NotFound(Entity::Vendor))?;
        // A vendor's code is set when it is made and never changes.
        if let Ok(mut codes) = self.codes.write() {
            codes.insert(vid.to_owned(), code.clone());
        }
        Ok(code)
    }

    /// A party, live or not.
    pub async fn party(&self, uid: &str) -> Result<Option<Party>> {
        Ok(store::user(&self.store, uid).await?.map(Party::from))
    }

    /// A vendor members may register with.
    pub async fn live_vendor(&self, vid: &str) -> Result<Party> {
        self.party(vid)
            .await?
            .filter(|v| v.is(Role::Vendor) && v.deleted_at.is_none() && v.state != DISABLED)
            .ok_or_else(|| Error::invalid("vid", "vid is not a vendor of this platform"))
    }

    /// AA-04 and the member checks of the others: a member in range (404 otherwise).
    pub async fn member(&self, caller: &Caller, uid: &str) -> Result<Party> {
        let row = self.party(uid).await?.filter(|u| u.is(Role::Member));
        visible(
            caller,
            row,
            Entity::User,
            |u| (place_of(u), u.deleted_at),
            false,
        )
    }
}

/// The id with `serial` of `kind` for the vendor with `code`, made on local date `date`
/// (`yyyymmdd`; used by orders, tickets and withdrawals).
pub fn id_of(kind: &str, code: &str, serial: i64, date: &str) -> String {
    match kind {
        "order" | "ticket" | "withdrawal" => format!("{date}{code}{serial:012}"),
        "vendor" => format!("{code}{serial:012}"),
        _ => format!("{code}{serial:016}"),
    }
}
