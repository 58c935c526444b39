//! Money: integer fen inside the program, rendered as each document renders it.

use serde::{Serialize, Serializer};

/// An amount of money in fen (1 yuan = 100 fen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Fen(pub i64);

impl Fen {
    /// `1250.50`, `-3.05`: yuan with exactly two decimals.
    pub fn yuan_string(self) -> String {
        fixed_string(self.0, 2)
    }

    /// Parses a yuan amount with at most two decimals (`"130"`, `"130.5"`, `"130.50"`).
    pub fn parse_yuan(s: &str) -> Option<Fen> {
        parse_fixed(s, 2).map(Fen)
    }
}

/// `value` in units of 10^-`places`, written with exactly `places` decimals (`500.0000`).
pub fn fixed_string(value: i64, places: u32) -> String {
    let sign = if value < 0 { "-" } else { "" };
    let abs = value.unsigned_abs();
    let unit = 10u64.pow(places);
    if places == 0 {
        return format!("{sign}{abs}");
    }
    format!(
        "{sign}{}.{:0width$}",
        abs / unit,
        abs % unit,
        width = places as usize
    )
}

/// Parses a decimal with at most `places` decimals (optional `-`) into units of 10^-`places`.
pub fn parse_fixed(s: &str, places: u32) -> Option<i64> {
    let s = s.trim();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, f),
        None => (digits, ""),
    };
    if int.is_empty() || int.len() > 14 || frac.len() > places as usize {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: i64 = int.parse().ok()?;
    let mut part: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    part *= 10i64.pow(places - frac.len() as u32);
    let value = whole.checked_mul(10i64.pow(places))?.checked_add(part)?;
    Some(if neg { -value } else { value })
}

/// A JSON *number* with exactly as many decimals as the document shows (`30.0000`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedNumber(pub i64, pub u32);

impl Serialize for FixedNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw = serde_json::value::RawValue::from_string(fixed_string(self.0, self.1))
            .map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

/// Money rendered as a JSON *number* with two decimals (`1250.50`), as the heating document does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YuanNumber(pub Fen);

impl Serialize for YuanNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw = serde_json::value::RawValue::from_string(self.0.yuan_string())
            .map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_decimals_round_trip() {
        assert_eq!(fixed_string(5_000_000, 4), "500.0000");
        assert_eq!(fixed_string(-1_000_000, 4), "-100.0000");
        assert_eq!(parse_fixed("28.34", 4), Some(283_400));
        assert_eq!(parse_fixed("-100", 4), Some(-1_000_000));
        assert_eq!(parse_fixed("1.00001", 4), None);
        assert_eq!(parse_fixed("1e3", 4), None);
        assert_eq!(
            serde_json::to_string(&FixedNumber(300_000, 4)).expect("json"),
            "30.0000"
        );
    }

    #[test]
    fn renders_and_parses_yuan() {
        assert_eq!(Fen(125_050).yuan_string(), "1250.50");
        assert_eq!(Fen(-305).yuan_string(), "-3.05");
        assert_eq!(Fen(0).yuan_string(), "0.00");
        assert_eq!(Fen::parse_yuan("130.5"), Some(Fen(13_050)));
        assert_eq!(Fen::parse_yuan("130"), Some(Fen(13_000)));
        assert_eq!(Fen::parse_yuan("1.234"), None);
        assert_eq!(Fen::parse_yuan("abc"), None);
        assert_eq!(Fen::parse_yuan(".5"), None);
        let json = serde_json::to_string(&YuanNumber(Fen(125_050))).expect("json");
        assert_eq!(json, "1250.50");
    }
}
