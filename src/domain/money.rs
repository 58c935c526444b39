//! Money: integer fen inside the program, rendered as each document renders it.

use serde::{Serialize, Serializer};

/// An amount of money in fen (1 yuan = 100 fen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Fen(pub i64);

impl Fen {
    /// `1250.50`, `-3.05`: yuan with exactly two decimals.
    pub fn yuan_string(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }

    /// Parses a yuan amount with at most two decimals (`"130"`, `"130.5"`, `"130.50"`).
    pub fn parse_yuan(s: &str) -> Option<Fen> {
        let s = s.trim();
        let (neg, digits) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (int, frac) = match digits.split_once('.') {
            Some((i, f)) => (i, f),
            None => (digits, ""),
        };
        if int.is_empty() || int.len() > 15 || frac.len() > 2 {
            return None;
        }
        if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let whole: i64 = int.parse().ok()?;
        let mut cents: i64 = if frac.is_empty() {
            0
        } else {
            frac.parse().ok()?
        };
        if frac.len() == 1 {
            cents *= 10;
        }
        let fen = whole.checked_mul(100)?.checked_add(cents)?;
        Some(Fen(if neg { -fen } else { fen }))
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
