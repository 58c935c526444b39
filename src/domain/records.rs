//! Records: the read side the operators' console lists, searches, sorts and exports, over every
//! area, and who may read which of it.
//!
//! An operator (an admin account) reads every table. A vendor, agent, dealer or platform
//! account of the IoT platform reads the IoT tables only, each row in its range as
//! [`Scope::range_of`] gives it (the same rule the IoT document's lists apply); a table without
//! the column a range needs shows such an account nothing.

use crate::domain::iot::listing::Scope;
use crate::domain::iot::{Caller, Role};
use crate::domain::{Clock, Result, Settings, Timestamp};
use crate::store::Store;
use crate::store::records::{self as store, Condition, Listing, Select, Value};
use std::sync::Arc;

pub use crate::store::records::{Column, Kind, Listing as Table, Rows, Value as Cell};

/// Each area's tables, as the console shows them (their SQL is the store's).
pub mod tables {
    pub use crate::store::charging::console as charging;
    pub use crate::store::heating::console as heating;
    pub use crate::store::iot::console as iot;
    pub use crate::store::meter::console as meter;
    pub use crate::store::retail::console as retail;
}

/// Who reads.
#[derive(Debug, Clone)]
pub enum Reader {
    /// An operator: every table, every row.
    Operator,
    /// An account of the IoT platform: the IoT tables, in its range.
    Iot(Caller),
}

impl Reader {
    /// Whether the reader may see this area's tables at all.
    pub fn sees_area(&self, iot_area: bool) -> bool {
        match self {
            Reader::Operator => true,
            Reader::Iot(c) => iot_area && c.role != Role::Member,
        }
    }
}

/// A figure charted by hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hourly {
    /// Meter consumption: units used and money.
    MeterUse,
    /// Heating money received (payments and imported payments, from the journal).
    HeatingReceived,
}

/// A filter on one column, by its key.
#[derive(Debug, Clone)]
pub enum Filter {
    Equals(&'static str, Cell),
    AtLeast(&'static str, i64),
    Below(&'static str, i64),
    IsNull(&'static str),
    NotNull(&'static str),
}

/// What a reader asked of a table.
#[derive(Debug, Clone, Default)]
pub struct Ask {
    pub search: Option<String>,
    /// A column key; one that is not sortable is ignored.
    pub sort: Option<String>,
    pub descending: bool,
    /// From 1.
    pub page: i64,
    pub size: i64,
    pub filters: Vec<Filter>,
}

/// Largest page a table shows.
pub const MAX_PAGE: i64 = 200;
/// Rows the CSV export reads per query.
const EXPORT_BATCH: i64 = 2000;

/// The service.
pub struct Records {
    store: Store,
    clock: Clock,
    settings: Arc<Settings>,
}

impl Records {
    pub fn new(store: Store, clock: Clock, settings: Arc<Settings>) -> Records {
        Records {
            store,
            clock,
            settings,
        }
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn zone(&self) -> crate::domain::Zone {
        self.settings.zone
    }

    /// The range conditions for a reader on a table; none when it may see no row.
    fn range(reader: &Reader, table: &Listing) -> Option<Vec<(&'static str, String)>> {
        let caller = match reader {
            Reader::Operator => return Some(Vec::new()),
            Reader::Iot(c) => c,
        };
        if caller.role == Role::Member || table.range.vendor.is_none() {
            return None;
        }
        let scope = Scope::range_of(caller);
        let mut out = Vec::new();
        for (want, column) in [
            (scope.vendor, table.range.vendor),
            (scope.agent, table.range.agent),
            (scope.dealer, table.range.dealer),
            (scope.owner, table.range.owner),
        ] {
            if let Some(value) = want {
                out.push((column?, value));
            }
        }
        Some(out)
    }

    fn select(table: &Listing, ask: &Ask, range: Vec<(&'static str, String)>) -> Select {
        let index = |key: &str| table.columns.iter().position(|c| c.key == key);
        let sort = ask
            .sort
            .as_deref()
            .and_then(index)
            .filter(|&i| table.columns[i].sort)
            .map(|i| (i, ask.descending));
        let conditions = ask
            .filters
            .iter()
            .filter_map(|f| {
                Some(match f {
                    Filter::Equals(k, v) => Condition::Equals(index(k)?, v.clone()),
                    Filter::AtLeast(k, v) => Condition::AtLeast(index(k)?, *v),
                    Filter::Below(k, v) => Condition::Below(index(k)?, *v),
                    Filter::IsNull(k) => Condition::IsNull(index(k)?),
                    Filter::NotNull(k) => Condition::NotNull(index(k)?),
                })
            })
            .collect();
        let size = ask.size.clamp(1, MAX_PAGE);
        let page = ask.page.max(1);
        Select {
            search: ask
                .search
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| s.chars().take(100).collect()),
            conditions,
            range,
            sort,
            limit: size,
            offset: (page - 1).saturating_mul(size),
        }
    }

    /// A page of a table as the reader may see it, with the count of all matching rows.
    pub async fn page(&self, reader: &Reader, table: &Listing, ask: &Ask) -> Result<Rows> {
        let Some(range) = Self::range(reader, table) else {
            return Ok(Rows::default());
        };
        let select = Self::select(table, ask, range);
        Ok(store::page(&self.store, table, &select).await?)
    }

    /// Every matching row the reader may see, in order, handed over a batch at a time (the CSV
    /// export), at most `cap` rows.
    pub async fn export(
        &self,
        reader: &Reader,
        table: &Listing,
        ask: &Ask,
        cap: i64,
        mut each: impl FnMut(Vec<Vec<Value>>),
    ) -> Result<()> {
        let Some(range) = Self::range(reader, table) else {
            return Ok(());
        };
        let mut select = Self::select(table, ask, range);
        select.offset = 0;
        select.limit = EXPORT_BATCH;
        let planned = store::planned(&self.store, table, &select).await?;
        while select.offset < cap {
            let rows = store::rows(&self.store, table, &select, &planned).await?;
            let n = rows.len() as i64;
            each(rows);
            if n < EXPORT_BATCH {
                break;
            }
            select.offset += EXPORT_BATCH;
        }
        Ok(())
    }

    /// A figure the console charts by hour, over `[from, to)`: one row per UTC hour (hours
    /// since the epoch) that has any, the hour first, then the figure's values (meter use:
    /// units in hundredths and fen; heating received: fen). Operators only.
    pub async fn hourly(
        &self,
        reader: &Reader,
        what: Hourly,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Vec<Value>>> {
        if !matches!(reader, Reader::Operator) {
            return Ok(Vec::new());
        }
        let (from, to) = (from.millis(), to.millis());
        let cells = |row: &[i64]| row.iter().copied().map(Value::Int).collect();
        Ok(match what {
            Hourly::MeterUse => tables::meter::use_by_hour(&self.store, from, to)
                .await?
                .iter()
                .map(|r| cells(r))
                .collect(),
            Hourly::HeatingReceived => tables::heating::received_by_hour(&self.store, from, to)
                .await?
                .iter()
                .map(|r| cells(r))
                .collect(),
        })
    }

    /// When the first and the last applied meter readings were taken, if any.
    pub async fn reading_span(&self) -> Result<Option<(Timestamp, Timestamp)>> {
        Ok(tables::meter::reading_span(&self.store)
            .await?
            .map(|(a, b)| (Timestamp::from_millis(a), Timestamp::from_millis(b))))
    }

    /// What the overview shows, as of now.
    pub async fn overview(&self) -> Result<Overview> {
        let zone = self.settings.zone;
        let now = self.clock.now();
        let today = now.local_calendar_date(zone);
        let day_start = Timestamp::start_of_local_date(today, zone);
        let month_start =
            Timestamp::start_of_local_date(today.replace_day(1).unwrap_or(today), zone);
        let end = day_start.plus_secs(86_400);
        let first_day = day_start.plus_secs(-29 * 86_400);
        // One read of the journal by day covers the chart, today and the month so far.
        let from = if month_start < first_day {
            month_start
        } else {
            first_day
        };
        let offset_ms = zone.offset_secs() * 1000;
        let daily =
            store::received_daily(&self.store, from.millis(), end.millis(), offset_ms).await?;
        let first = first_day.local_day_number(zone);
        let today_no = day_start.local_day_number(zone);
        let month_no = month_start.local_day_number(zone);
        let mut days: Vec<(String, [i64; 4])> = (0..30)
            .map(|i| {
                let at = first_day.plus_secs(i * 86_400);
                (at.local_date(zone)[5..].to_owned(), [0; 4])
            })
            .collect();
        let (mut today, mut month) = ([0i64; 4], [0i64; 4]);
        for (area, day, fen) in daily {
            let Some(k) = area_index(&area) else {
                continue;
            };
            if day == today_no {
                today[k] += fen;
            }
            if day >= month_no {
                month[k] += fen;
            }
            if let Some(d) = usize::try_from(day - first)
                .ok()
                .and_then(|i| days.get_mut(i))
            {
                d.1[k] += fen;
            }
        }
        let [online, offline, open_tickets, unpaid_bills, unpaid_fen] =
            store::counts(&self.store).await?;
        Ok(Overview {
            today,
            month,
            days,
            devices_online: online,
            devices_offline: offline,
            open_tickets,
            unpaid_bills,
            unpaid_fen,
        })
    }
}

/// The areas money is received in, in the overview's order.
pub const AREAS: [&str; 4] = ["heating", "meter", "charging", "iot"];

fn area_index(area: &str) -> Option<usize> {
    AREAS.iter().position(|a| *a == area)
}

/// The overview's figures. Money is in fen, by [`AREAS`].
#[derive(Debug, Clone)]
pub struct Overview {
    pub today: [i64; 4],
    pub month: [i64; 4],
    /// The last 30 local days (`MM-DD`), oldest first.
    pub days: Vec<(String, [i64; 4])>,
    pub devices_online: i64,
    pub devices_offline: i64,
    pub open_tickets: i64,
    pub unpaid_bills: i64,
    pub unpaid_fen: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::RangeColumns;

    const T: Listing = Listing {
        from: "t",
        filter: "",
        columns: &[Column::text("id", "id")],
        order: "id",
        key: "id",
        range: RangeColumns {
            vendor: Some("vid"),
            agent: Some("agent"),
            dealer: None,
            owner: None,
        },
    };

    fn caller(role: Role) -> Caller {
        Caller {
            uid: "u1".into(),
            role,
            vid: Some("v1".into()),
            agent: None,
            dealer: None,
        }
    }

    #[test]
    fn ranges_follow_the_iot_rule() {
        assert_eq!(Records::range(&Reader::Operator, &T), Some(vec![]));
        assert_eq!(
            Records::range(&Reader::Iot(caller(Role::Vendor)), &T),
            Some(vec![("vid", "v1".to_owned())])
        );
        assert_eq!(
            Records::range(&Reader::Iot(caller(Role::Agent)), &T),
            Some(vec![("vid", "v1".to_owned()), ("agent", "u1".to_owned())])
        );
        // No dealer column: a dealer sees nothing rather than its vendor's rows.
        assert_eq!(Records::range(&Reader::Iot(caller(Role::Dealer)), &T), None);
        assert_eq!(Records::range(&Reader::Iot(caller(Role::Member)), &T), None);
        let mut no_range = T;
        no_range.range = RangeColumns::default();
        assert_eq!(
            Records::range(&Reader::Iot(caller(Role::Platform)), &no_range),
            None
        );
    }
}
