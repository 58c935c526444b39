//! The station's set-up in an operator's units (kW, yuan, `HH:MM`): the `[charging]` section
//! of the configuration file and the body of `GET/PUT /admin/v1/charging/config`.

use serde::{Deserialize, Serialize};

use super::station::{FaultPolicy, StationConfig};
use super::tariff::{Period, Tariff};
use crate::domain::money::{Fen, fixed_string};
use crate::domain::{Error, Result};

/// One price period: `from`-`to` local time (`to` may be `24:00`), yuan per kWh.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodSettings {
    pub from: String,
    pub to: String,
    pub price: f64,
}

/// The station's set-up. Defaults: 2 fast piles of 30 kW, 3 slow of 10 kW, 10 waiting places,
/// 3 places per pile queue, priority on faults, the course's tariff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StationSettings {
    pub fast_piles: usize,
    pub slow_piles: usize,
    pub fast_power_kw: f64,
    pub slow_power_kw: f64,
    /// Waiting-area places (N).
    pub waiting_capacity: usize,
    /// Places per pile queue, the charging car included (M).
    pub queue_len: usize,
    /// `priority` or `time` (time order).
    pub fault_policy: String,
    /// Service fee, yuan per kWh.
    pub service_fee: f64,
    /// Time-of-use prices covering the day in order.
    pub periods: Vec<PeriodSettings>,
}

impl Default for StationSettings {
    fn default() -> Self {
        StationSettings::from_config(&StationConfig::default())
    }
}

fn minutes(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 24 && m < 60 && (h < 24 || m == 0)).then_some(h * 60 + m)
}

fn hhmm(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

fn fen_per_kwh(yuan: f64, field: &'static str) -> Result<i64> {
    if !yuan.is_finite() || yuan < 0.0 {
        return Err(Error::invalid(field, "must be an amount of yuan >= 0"));
    }
    Fen::parse_yuan(&format!("{yuan}"))
        .map(|f| f.0)
        .ok_or_else(|| Error::invalid(field, "must be yuan with at most two decimals"))
}

fn watts(kw: f64, field: &'static str) -> Result<i64> {
    if !kw.is_finite() || kw <= 0.0 || kw > 1000.0 {
        return Err(Error::invalid(field, "must be 0.1-1000 kW"));
    }
    crate::domain::money::parse_fixed(&format!("{kw}"), 3)
        .filter(|w| *w >= 100)
        .ok_or_else(|| Error::invalid(field, "must be kW with at most three decimals, >= 0.1"))
}

impl StationSettings {
    /// Reads the settings as the scheduler's configuration; local times are `utc_offset_secs`
    /// ahead of UTC.
    pub fn to_config(&self, utc_offset_secs: i64) -> Result<StationConfig> {
        let fault_policy = match self.fault_policy.trim() {
            "priority" => FaultPolicy::Priority,
            "time" | "time_order" | "time-order" | "timeorder" => FaultPolicy::TimeOrder,
            _ => {
                return Err(Error::invalid(
                    "fault_policy",
                    "must be \"priority\" or \"time\"",
                ));
            }
        };
        let mut periods = Vec::with_capacity(self.periods.len());
        for p in &self.periods {
            let (Some(start), Some(end)) = (minutes(&p.from), minutes(&p.to)) else {
                return Err(Error::invalid(
                    "periods",
                    "times are HH:MM, from 00:00 to 24:00",
                ));
            };
            periods.push(Period {
                start_minute: start,
                end_minute: end,
                price: fen_per_kwh(p.price, "periods")?,
            });
        }
        Ok(StationConfig {
            fast_piles: self.fast_piles,
            slow_piles: self.slow_piles,
            fast_power_w: watts(self.fast_power_kw, "fast_power_kw")?,
            slow_power_w: watts(self.slow_power_kw, "slow_power_kw")?,
            waiting_capacity: self.waiting_capacity,
            queue_len: self.queue_len,
            fault_policy,
            tariff: Tariff {
                periods,
                service_fee: fen_per_kwh(self.service_fee, "service_fee")?,
                utc_offset_secs,
            },
            ocpp_piles: Default::default(),
        })
    }

    /// `config` with the keys of `changes` (in an operator's units) replaced; a whole document
    /// works too.
    pub fn patch(
        config: &StationConfig,
        changes: serde_json::Map<String, serde_json::Value>,
        utc_offset_secs: i64,
    ) -> Result<StationConfig> {
        let mut merged = match serde_json::to_value(StationSettings::from_config(config)) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        merged.extend(changes);
        let settings: StationSettings = serde_json::from_value(serde_json::Value::Object(merged))
            .map_err(|e| Error::invalid("config", e.to_string()))?;
        let mut new = settings.to_config(utc_offset_secs)?;
        // Which piles boxes drive is the charge boxes' business (`PUT .../boxes/{id}`).
        new.ocpp_piles = config.ocpp_piles.clone();
        Ok(new)
    }

    /// The scheduler's configuration in an operator's units.
    pub fn from_config(c: &StationConfig) -> StationSettings {
        let yuan = |fen: i64| fixed_string(fen, 2).parse::<f64>().unwrap_or(0.0);
        let kw = |w: i64| fixed_string(w, 3).parse::<f64>().unwrap_or(0.0);
        StationSettings {
            fast_piles: c.fast_piles,
            slow_piles: c.slow_piles,
            fast_power_kw: kw(c.fast_power_w),
            slow_power_kw: kw(c.slow_power_w),
            waiting_capacity: c.waiting_capacity,
            queue_len: c.queue_len,
            fault_policy: match c.fault_policy {
                FaultPolicy::Priority => "priority",
                FaultPolicy::TimeOrder => "time",
            }
            .to_owned(),
            service_fee: yuan(c.tariff.service_fee),
            periods: c
                .tariff
                .periods
                .iter()
                .map(|p| PeriodSettings {
                    from: hhmm(p.start_minute),
                    to: hhmm(p.end_minute),
                    price: yuan(p.price),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip() {
        let s = StationSettings::default();
        assert_eq!(s.periods[0].from, "00:00");
        assert_eq!(s.periods[6].to, "24:00");
        assert_eq!(s.fast_power_kw, 30.0);
        assert_eq!(s.service_fee, 0.8);
        assert_eq!(
            s.to_config(8 * 3600).expect("defaults are valid"),
            StationConfig::default()
        );
    }

    #[test]
    fn refuses_nonsense() {
        let s = StationSettings {
            fault_policy: "random".into(),
            ..Default::default()
        };
        assert!(s.to_config(0).is_err());
        let s = StationSettings {
            fast_power_kw: -1.0,
            ..Default::default()
        };
        assert!(s.to_config(0).is_err());
        let mut s = StationSettings::default();
        s.periods[0].to = "25:00".into();
        assert!(s.to_config(0).is_err());
        let s = StationSettings {
            service_fee: 0.123,
            ..Default::default()
        };
        assert!(s.to_config(0).is_err());
    }
}
