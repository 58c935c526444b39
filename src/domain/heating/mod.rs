//! District heating: the registry of heat accounts, their bills, binding a user to an account,
//! late fees. (Payments build on this.)
//!
//! Dates: `bill_date` is an instant; `due_date`, the payment deadline and the season's start and
//! end are calendar dates in the server's zone, rendered as the document's backend did
//! (`2024-11-30T00:00:00.000Z`), so a client that shows the date part shows the right day.

pub mod accounts;
pub mod bills;
pub mod content;
pub mod demo;
pub mod import;
pub mod orders;
pub mod sessions;
pub mod users;

use std::sync::Arc;

use serde::{Serialize, Serializer};
use time::Date;

/// The heating area's services, as the handlers reach them (`state.heating.orders.create(..)`).
#[derive(Clone)]
pub struct Heating {
    /// The document's users and their sessions.
    pub users: Arc<users::Users>,
    /// Heat accounts and their bills.
    pub accounts: Arc<accounts::Accounts>,
    /// Payment orders for bills.
    pub orders: Arc<orders::Orders>,
    /// Agreements and the system configuration.
    pub content: Arc<content::Content>,
}

/// An area in hundredths of a square metre (85.5 m² = 8550).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Area(pub i64);

impl Area {
    /// Parses `85.5`, `85.50`, `100`: positive, at most two decimals, at most 1,000,000 m².
    pub fn parse(s: &str) -> Option<Area> {
        let fen = crate::domain::money::Fen::parse_yuan(s)?;
        (fen.0 > 0 && fen.0 <= 100_000_000).then_some(Area(fen.0))
    }

    /// `85.5`, `100`, `12.25`: no trailing zeros.
    pub fn to_decimal(self) -> String {
        let whole = self.0 / 100;
        match self.0 % 100 {
            0 => whole.to_string(),
            f if f % 10 == 0 => format!("{whole}.{}", f / 10),
            f => format!("{whole}.{f:02}"),
        }
    }
}

impl Serialize for Area {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw = serde_json::value::RawValue::from_string(self.to_decimal())
            .map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

/// A heating season `2024-2025`: the first year and the next.
pub fn parse_season(s: &str) -> Option<i32> {
    let (a, b) = s.trim().split_once('-')?;
    let (a, b): (i32, i32) = (a.parse().ok()?, b.parse().ok()?);
    (a.to_string().len() == 4 && b == a + 1 && (2000..=2998).contains(&a)).then_some(a)
}

/// The late fee rule: `per_day_bp` basis points of the bill per day after its due date, at most
/// `cap_percent` percent of the bill. Zero rate: no late fees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LateFeeRule {
    pub per_day_bp: i64,
    pub cap_percent: i64,
}

impl LateFeeRule {
    /// The late fee (fen, rounded down) of `amount` fen due on `due`, as of `today`.
    pub fn fee(self, amount: i64, due: Date, today: Date) -> i64 {
        let days = i64::from((today - due).whole_days().max(0) as i32);
        if self.per_day_bp <= 0 || days == 0 || amount <= 0 {
            return 0;
        }
        let fee = i128::from(amount) * i128::from(self.per_day_bp) * i128::from(days) / 10_000;
        let cap = i128::from(amount) * i128::from(self.cap_percent.max(0)) / 100;
        fee.min(cap) as i64
    }
}

/// When heating seasons start and end (month, day), e.g. 11-01 to 03-31.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeasonCalendar {
    pub start: (u8, u8),
    pub end: (u8, u8),
}

impl Default for SeasonCalendar {
    fn default() -> Self {
        SeasonCalendar {
            start: (11, 1),
            end: (3, 31),
        }
    }
}

impl SeasonCalendar {
    /// Parses `MM-DD`.
    pub fn parse_month_day(s: &str) -> Option<(u8, u8)> {
        let (m, d) = s.trim().split_once('-')?;
        let (m, d): (u8, u8) = (m.parse().ok()?, d.parse().ok()?);
        let month = time::Month::try_from(m).ok()?;
        (d >= 1 && d <= month.length(2023)).then_some((m, d))
    }

    fn date(year: i32, (m, d): (u8, u8)) -> Option<Date> {
        Date::from_calendar_date(year, time::Month::try_from(m).ok()?, d).ok()
    }

    /// First and last day of the season that starts in `first_year`.
    pub fn bounds(self, first_year: i32) -> Option<(Date, Date)> {
        let start = Self::date(first_year, self.start)?;
        let end_year = if self.end <= self.start {
            first_year + 1
        } else {
            first_year
        };
        Some((start, Self::date(end_year, self.end)?))
    }

    /// Whole months a season spans (11-01 to 03-31: 5), at least 1.
    pub fn months_per_season(self) -> i64 {
        let (sm, em) = (i64::from(self.start.0), i64::from(self.end.0));
        let months = if self.end <= self.start {
            12 - sm + em + 1
        } else {
            em - sm + 1
        };
        months.clamp(1, 12)
    }

    /// The season `today` belongs to (by the start date), as `YYYY-YYYY`.
    pub fn season_of(self, today: Date) -> String {
        let year = today.year();
        let first = match Self::date(year, self.start) {
            Some(start) if today >= start => year,
            _ => year - 1,
        };
        format!("{first}-{}", first + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::time::date_iso;
    use time::macros::date;

    #[test]
    fn areas_dates_seasons() {
        assert_eq!(
            Area::parse("85.5").map(Area::to_decimal).as_deref(),
            Some("85.5")
        );
        assert_eq!(
            Area::parse("100").map(Area::to_decimal).as_deref(),
            Some("100")
        );
        assert_eq!(
            Area::parse("12.25").map(Area::to_decimal).as_deref(),
            Some("12.25")
        );
        assert!(
            Area::parse("0").is_none()
                && Area::parse("-3").is_none()
                && Area::parse("1.234").is_none()
        );
        assert_eq!(date_iso(date!(2024 - 11 - 30)), "2024-11-30T00:00:00.000Z");
        assert_eq!(parse_season("2024-2025"), Some(2024));
        assert!(parse_season("2024-2026").is_none() && parse_season("24-25").is_none());
        let cal = SeasonCalendar::default();
        assert_eq!(
            cal.bounds(2024),
            Some((date!(2024 - 11 - 01), date!(2025 - 03 - 31)))
        );
        assert_eq!(cal.season_of(date!(2025 - 01 - 05)), "2024-2025");
        assert_eq!(cal.season_of(date!(2025 - 11 - 01)), "2025-2026");
    }

    #[test]
    fn late_fees_follow_the_rule() {
        let rule = LateFeeRule {
            per_day_bp: 5,
            cap_percent: 10,
        };
        let due = date!(2024 - 11 - 30);
        assert_eq!(rule.fee(125_050, due, date!(2024 - 11 - 30)), 0);
        // 3 days x 0.05% of 1250.50 = 1.87575 yuan -> 187 fen.
        assert_eq!(rule.fee(125_050, due, date!(2024 - 12 - 03)), 187);
        // Capped at 10%.
        assert_eq!(rule.fee(125_050, due, date!(2026 - 12 - 03)), 12_505);
        assert_eq!(
            LateFeeRule::default().fee(125_050, due, date!(2026 - 12 - 03)),
            0
        );
    }
}
