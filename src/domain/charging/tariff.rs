//! Time-of-use prices and the fee of a charging session, split across tariff boundaries.
//!
//! Energy is in Wh, power in W, time in UTC milliseconds, prices in fen per kWh. A session that
//! delivers power `p` from `start` to `stop` has delivered `E(t) = p * (t - start) / 3.6e6` Wh by
//! `t` (rounded down); each tariff piece gets `E(end) - E(begin)`, so the pieces add up to the
//! session's energy exactly. Fees are summed in thousandths of a fen and rounded half up once.

use serde::{Deserialize, Serialize};

/// One price period of the day, in local minutes since midnight (`end` may be 1440).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub start_minute: u32,
    pub end_minute: u32,
    /// Fen per kWh.
    pub price: i64,
}

/// The station's prices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tariff {
    /// Covers the whole day, in order, without gaps.
    pub periods: Vec<Period>,
    /// Service fee, fen per kWh.
    pub service_fee: i64,
    /// The local zone's offset from UTC, seconds.
    pub utc_offset_secs: i64,
}

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

impl Tariff {
    /// The course's tariff: peak 1.00 (10-15, 18-21), flat 0.70 (7-10, 15-18, 21-23), valley
    /// 0.40 (23-7); service 0.80 per kWh; China time.
    pub fn standard() -> Tariff {
        let p = |from: u32, to: u32, price: i64| Period {
            start_minute: from * 60,
            end_minute: to * 60,
            price,
        };
        Tariff {
            periods: vec![
                p(0, 7, 40),
                p(7, 10, 70),
                p(10, 15, 100),
                p(15, 18, 70),
                p(18, 21, 100),
                p(21, 23, 70),
                p(23, 24, 40),
            ],
            service_fee: 80,
            utc_offset_secs: 8 * 3600,
        }
    }

    /// Checks that the periods cover the day in order.
    pub fn validate(&self) -> Result<(), String> {
        let mut at = 0;
        for p in &self.periods {
            if p.start_minute != at || p.end_minute <= p.start_minute || p.price < 0 {
                return Err(format!(
                    "the price periods must cover 00:00-24:00 in order without gaps (at minute {at})"
                ));
            }
            at = p.end_minute;
        }
        if at != 1440 || self.service_fee < 0 {
            return Err("the price periods must end at 24:00".into());
        }
        Ok(())
    }

    /// The price at `t` and when that price period ends (UTC ms).
    fn price_at(&self, t: i64) -> (i64, i64) {
        let local = t + self.utc_offset_secs * 1000;
        let day_start = local.div_euclid(DAY_MS) * DAY_MS;
        let minute = (local - day_start) / MINUTE_MS;
        for p in &self.periods {
            if minute < i64::from(p.end_minute) {
                let end = day_start + i64::from(p.end_minute) * MINUTE_MS;
                return (p.price, end - self.utc_offset_secs * 1000);
            }
        }
        (0, t + DAY_MS)
    }

    /// `(charging fee, service fee)` in fen of a session at `power_w` from `start` to `stop`.
    pub fn fees(&self, power_w: i64, start: i64, stop: i64) -> (i64, i64) {
        let energy = |t: i64| energy_wh(power_w, t - start);
        let mut milli_fen = 0i128;
        let mut at = start;
        while at < stop {
            let (price, period_end) = self.price_at(at);
            let until = period_end.min(stop);
            let wh = i128::from(energy(until) - energy(at));
            milli_fen += wh * i128::from(price);
            at = until;
        }
        let total_wh = i128::from(energy(stop));
        (
            fen_of_milli(milli_fen),
            fen_of_milli(total_wh * i128::from(self.service_fee)),
        )
    }

    /// The charge fee, in thousandths of a fen, of `e1 - e0` Wh metered between the readings
    /// at `t0` and `t1`: the energy is taken as spread evenly over that time (rounded down at
    /// each tariff boundary, so the pieces add up exactly) and each piece priced at its period.
    /// Readings at one instant price the energy at that instant's price.
    pub fn metered_milli_fen(&self, t0: i64, e0: i64, t1: i64, e1: i64) -> i128 {
        let total = i128::from((e1 - e0).max(0));
        if t1 <= t0 {
            return total * i128::from(self.price_at(t1).0);
        }
        let span = i128::from(t1 - t0);
        let energy = |t: i64| total * i128::from(t - t0) / span;
        let mut milli_fen = 0i128;
        let mut at = t0;
        while at < t1 {
            let (price, period_end) = self.price_at(at);
            let until = period_end.min(t1);
            milli_fen += (energy(until) - energy(at)) * i128::from(price);
            at = until;
        }
        milli_fen
    }
}

/// Thousandths of a fen rounded half up to fen.
pub fn fen_of_milli(v: i128) -> i64 {
    ((v + 500).div_euclid(1000)) as i64
}

/// Wh delivered at `power_w` in `ms` (rounded down).
pub fn energy_wh(power_w: i64, ms: i64) -> i64 {
    (i128::from(power_w) * i128::from(ms.max(0)) / 3_600_000) as i64
}

/// How long `wh` takes at `power_w` (ms, rounded up).
pub fn duration_ms(power_w: i64, wh: i64) -> i64 {
    if power_w <= 0 {
        return i64::MAX / 4;
    }
    ((i128::from(wh.max(0)) * 3_600_000 + i128::from(power_w) - 1) / i128::from(power_w)) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-01-05 00:00 in China, as UTC ms.
    const MIDNIGHT: i64 = 1_767_542_400_000;
    const H: i64 = 3_600_000;

    #[test]
    fn the_standard_tariff_is_valid() {
        assert!(Tariff::standard().validate().is_ok());
    }

    #[test]
    fn a_session_inside_one_period() {
        // 30 kWh at 30 kW from 10:00 to 11:00: peak 1.00 -> 30.00 + service 24.00.
        let t = Tariff::standard();
        assert_eq!(
            t.fees(30_000, MIDNIGHT + 10 * H, MIDNIGHT + 11 * H),
            (3000, 2400)
        );
    }

    #[test]
    fn a_session_across_boundaries_is_priced_piece_by_piece() {
        // 30 kW from 06:30 to 07:30: 15 kWh valley (6.00) + 15 kWh flat (10.50).
        let t = Tariff::standard();
        assert_eq!(
            t.fees(30_000, MIDNIGHT + 6 * H + H / 2, MIDNIGHT + 7 * H + H / 2),
            (1650, 2400)
        );
        // 10 kW from 22:00 to 01:00 next day: 10 kWh flat (7.00) + 20 kWh valley (8.00).
        assert_eq!(
            t.fees(10_000, MIDNIGHT + 22 * H, MIDNIGHT + 25 * H),
            (1500, 2400)
        );
    }

    #[test]
    fn durations_and_energy_agree() {
        assert_eq!(duration_ms(30_000, 10_000), 1_200_000);
        assert_eq!(energy_wh(30_000, 1_200_000), 10_000);
        // 7 kW: a duration rounded up still delivers at least what was asked.
        let d = duration_ms(7_000, 10_000);
        assert!(energy_wh(7_000, d) >= 10_000 && energy_wh(7_000, d - 1) < 10_000);
    }
}
