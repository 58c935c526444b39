//! Instants (UTC milliseconds), calendar dates, and the formats the documents render them in.

use time::{
    Date, OffsetDateTime, UtcOffset, format_description::well_known::Rfc3339,
    macros::format_description,
};

/// Parses a calendar date `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<Date> {
    Date::parse(s.trim(), format_description!("[year]-[month]-[day]")).ok()
}

/// `YYYY-MM-DD`
pub fn date_string(d: Date) -> String {
    d.format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

/// A calendar date as the heating document renders it: `2024-11-30T00:00:00.000Z`.
pub fn date_iso(d: Date) -> String {
    format!("{}T00:00:00.000Z", date_string(d))
}

/// An instant, as milliseconds since the Unix epoch (UTC). This is what the database stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The latest instant the server handles (9000-01-01T00:00:00Z): far enough for any real
    /// date, and every format below stays valid up to it in every zone.
    pub const MAX: Timestamp = Timestamp(221_845_392_000_000);

    pub const fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    pub const fn millis(self) -> i64 {
        self.0
    }

    pub const fn secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    pub const fn plus_secs(self, secs: i64) -> Self {
        Timestamp(self.0 + secs * 1000)
    }

    fn datetime(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(self.0.clamp(0, Self::MAX.0) as i128 * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// ISO 8601 in UTC with milliseconds: `2024-01-01T12:00:00.000Z`.
    pub fn iso_utc_ms(self) -> String {
        let fmt = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        self.datetime().format(fmt).unwrap_or_default()
    }

    /// ISO 8601 in UTC to the second: `2024-01-01T12:00:00Z`.
    pub fn iso_utc_secs(self) -> String {
        self.iso_utc_secs_fmt().to_string()
    }

    /// [`Timestamp::iso_utc_secs`] as a `Display`, written where it goes (no `String` of its own:
    /// replies write many of them).
    pub fn iso_utc_secs_fmt(self) -> impl std::fmt::Display {
        struct IsoUtcSecs(OffsetDateTime);
        impl std::fmt::Display for IsoUtcSecs {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let d = self.0;
                write!(
                    f,
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                    d.year(),
                    u8::from(d.month()),
                    d.day(),
                    d.hour(),
                    d.minute(),
                    d.second()
                )
            }
        }
        IsoUtcSecs(self.datetime())
    }

    /// RFC 3339 to the second with the zone's offset: `2018-06-08T10:34:56+08:00`.
    pub fn rfc3339_local(self, zone: Zone) -> String {
        let fmt = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory]:[offset_minute]"
        );
        self.datetime()
            .to_offset(zone.0)
            .format(fmt)
            .unwrap_or_default()
    }

    /// `YYYY-MM-DD HH:MM:SS` in the given zone.
    pub fn local_datetime(self, zone: Zone) -> String {
        let fmt = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
        self.datetime()
            .to_offset(zone.0)
            .format(fmt)
            .unwrap_or_default()
    }

    /// `YYYY-MM-DD` in the given zone.
    pub fn local_date(self, zone: Zone) -> String {
        let fmt = format_description!("[year]-[month]-[day]");
        self.datetime()
            .to_offset(zone.0)
            .format(fmt)
            .unwrap_or_default()
    }

    /// The calendar date in the given zone.
    pub fn local_calendar_date(self, zone: Zone) -> time::Date {
        self.datetime().to_offset(zone.0).date()
    }

    /// The instant a local calendar date begins, in the given zone.
    pub fn start_of_local_date(date: time::Date, zone: Zone) -> Timestamp {
        let dt = date.midnight().assume_offset(zone.0);
        Timestamp((dt.unix_timestamp_nanos() / 1_000_000) as i64)
    }

    /// The local calendar day, as days since the epoch, in the given zone.
    pub fn local_day_number(self, zone: Zone) -> i64 {
        (self.0 + zone.0.whole_seconds() as i64 * 1000).div_euclid(86_400_000)
    }

    /// Parses `YYYY-MM-DD HH:MM:SS` written in the given zone.
    pub fn parse_local_datetime(s: &str, zone: Zone) -> Option<Self> {
        let fmt = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
        let dt = time::PrimitiveDateTime::parse(s.trim(), fmt)
            .ok()?
            .assume_offset(zone.0);
        Some(Timestamp((dt.unix_timestamp_nanos() / 1_000_000) as i64))
    }

    /// Parses an instant in any of the forms the documents write: RFC 3339 / ISO 8601 with a
    /// zone (`2018-01-05T03:04:05Z`), and, in the given zone, `2018-01-05T03:04:05`,
    /// `2018-01-05 03:04:05`, `2018-01-05`, `20180105` and `20180105030405`.
    pub fn parse_any(s: &str, zone: Zone) -> Option<Self> {
        let s = s.trim();
        if let Some(t) = Self::parse_rfc3339(s) {
            return Some(t);
        }
        if let Some(t) = Self::parse_local_datetime(&s.replacen('T', " ", 1), zone) {
            return Some(t);
        }
        let local = |dt: time::PrimitiveDateTime| {
            let dt = dt.assume_offset(zone.0);
            Timestamp((dt.unix_timestamp_nanos() / 1_000_000) as i64)
        };
        let date = |fmt: &[time::format_description::BorrowedFormatItem<'_>]| {
            time::Date::parse(s, fmt).ok().map(|d| local(d.midnight()))
        };
        if let Some(t) = date(format_description!("[year]-[month]-[day]")) {
            return Some(t);
        }
        if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
            return date(format_description!("[year][month][day]"));
        }
        if s.len() == 14 && s.bytes().all(|b| b.is_ascii_digit()) {
            let fmt = format_description!("[year][month][day][hour][minute][second]");
            return time::PrimitiveDateTime::parse(s, fmt).ok().map(local);
        }
        None
    }

    /// Parses RFC 3339 (`2026-01-01T00:00:00Z`, `2026-01-01T08:00:00+08:00`).
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        let dt = OffsetDateTime::parse(s.trim(), &Rfc3339).ok()?;
        Some(Timestamp((dt.unix_timestamp_nanos() / 1_000_000) as i64))
    }
}

/// The zone that times written without one are in (fixed offset; `Asia/Shanghai` by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone(UtcOffset);

impl Zone {
    /// Parses a zone name this server knows (`Asia/Shanghai`, `UTC`, ...) or a fixed offset `+08:00`.
    pub fn parse(s: &str) -> Option<Zone> {
        let hours = match s.trim() {
            "Asia/Shanghai" | "Asia/Chongqing" | "Asia/Harbin" | "PRC" | "Asia/Hong_Kong"
            | "Asia/Macau" | "Asia/Taipei" | "Asia/Singapore" => Some(8),
            "Asia/Urumqi" | "Asia/Almaty" => Some(6),
            "Asia/Tokyo" | "Asia/Seoul" => Some(9),
            "UTC" | "Etc/UTC" | "Z" => Some(0),
            _ => None,
        };
        if let Some(h) = hours {
            return UtcOffset::from_hms(h, 0, 0).ok().map(Zone);
        }
        let fmt = format_description!("[offset_hour sign:mandatory]:[offset_minute]");
        UtcOffset::parse(s.trim(), fmt).ok().map(Zone)
    }

    /// How far local time is ahead of UTC, seconds.
    pub fn offset_secs(self) -> i64 {
        i64::from(self.0.whole_seconds())
    }

    pub fn shanghai() -> Zone {
        Zone(UtcOffset::from_hms(8, 0, 0).unwrap_or(UtcOffset::UTC))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documents_forms_of_an_instant() {
        let z = Zone::shanghai();
        let want = Timestamp::parse_rfc3339("2018-01-04T16:00:00Z").map(|t| t.0);
        for s in [
            "20180105",
            "2018-01-05",
            "2018-01-05 00:00:00",
            "2018-01-05T00:00:00",
            "2018-01-05T00:00:00+08:00",
            "20180105000000",
        ] {
            assert_eq!(Timestamp::parse_any(s, z).map(|t| t.0), want, "{s}");
        }
        for s in [
            "",
            "2018013",
            "201801050",
            "2018-13-01",
            "20181301",
            "tomorrow",
        ] {
            assert!(Timestamp::parse_any(s, z).is_none(), "{s}");
        }
    }

    #[test]
    fn formats_like_the_documents() {
        assert_eq!(Timestamp::MAX.iso_utc_ms(), "9000-01-01T00:00:00.000Z");
        assert_eq!(Timestamp::MAX.local_date(Zone::shanghai()), "9000-01-01");
        let t = Timestamp::from_millis(1_734_508_168_024);
        assert_eq!(t.iso_utc_ms(), "2024-12-18T07:49:28.024Z");
        assert_eq!(t.iso_utc_secs(), "2024-12-18T07:49:28Z");
        assert_eq!(t.local_datetime(Zone::shanghai()), "2024-12-18 15:49:28");
        assert_eq!(t.local_date(Zone::shanghai()), "2024-12-18");
        assert_eq!(
            Timestamp::parse_rfc3339("2024-12-18T15:49:28.024+08:00"),
            Some(t)
        );
        assert_eq!(Zone::parse("+08:00"), Some(Zone::shanghai()));
        assert!(Zone::parse("Mars/Olympus").is_none());
    }
}
