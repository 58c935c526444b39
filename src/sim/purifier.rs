//! One simulated purifier: its counters, its probe readings, its faults, and what it does
//! with a command or a desired state. Pure: the caller says how much real time went by, so
//! the model can be tested without a clock or a broker.
//!
//! The model, in simulated hours (real time x `speed`):
//! - powered hours run while the power is on (always, here);
//! - working hours (making or dispensing water) are about a tenth of them, none while locked;
//! - water rises with the working hours at [`FLOW_ML_PER_H`], split between the kinds
//!   (mostly normal, some hot, cold and warm), plus whatever a `dispense` command poured;
//! - TDS in drifts in 150..300 ppm; TDS out is a few percent of it and rises as the filters
//!   age (the age starts over when a filter's cycle moves on);
//! - a fault code (`E01` leak, `E02` inlet pressure, `E03` high TDS) is raised with
//!   `fault_rate` chance per report and clears a few reports later.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use crate::domain::iot::protocol::{FilterCycle, Report, Water};

/// How fast a purifier makes water while working: 1 litre a minute.
pub const FLOW_ML_PER_H: f64 = 60_000.0;
/// Powered hours after which a filter set is spent (TDS out has doubled by then).
const FILTER_LIFE_H: f64 = 4_000.0;
/// The fault codes a purifier raises.
pub const FAULTS: [&str; 3] = ["E01", "E02", "E03"];
/// How the water made is split between the kinds (normal, cold, warm, hot).
const KIND_SHARE: [(&str, f64); 4] = [
    ("normal", 0.70),
    ("cold", 0.10),
    ("warm", 0.05),
    ("hot", 0.15),
];

/// What a command came to: the device's `result`, and what it does next.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub ok: bool,
    pub dispensed_ml: Option<i64>,
    pub error: Option<String>,
    /// How long the command takes in real time before its result (pouring water).
    pub takes: Duration,
    pub then: Then,
}

/// What the device does once it has sent a command's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    Nothing,
    /// Sends a report at once (its counters or state changed).
    Report,
    /// Says it goes offline, disconnects, and comes back a second later.
    Reboot,
}

impl Outcome {
    fn done(then: Then) -> Outcome {
        Outcome {
            ok: true,
            dispensed_ml: None,
            error: None,
            takes: Duration::ZERO,
            then,
        }
    }

    fn failed(error: &str) -> Outcome {
        Outcome {
            ok: false,
            dispensed_ml: None,
            error: Some(error.to_owned()),
            takes: Duration::ZERO,
            then: Then::Nothing,
        }
    }
}

/// A purifier's state.
#[derive(Debug)]
pub struct Purifier {
    rng: StdRng,
    speed: f64,
    fault_rate: f64,
    locked: bool,
    working: bool,
    powered_h: f64,
    working_h: f64,
    /// Cumulative water per kind, fractional so that slow use still adds up.
    water: [f64; 4],
    tds_in: f64,
    /// Powered hours since a filter's cycle last moved on.
    filter_age_h: f64,
    /// The filter cycles applied, by filter order.
    filters: BTreeMap<i64, i64>,
    /// Open fault codes and how many reports they still last.
    faults: Vec<(&'static str, u32)>,
    lbs: String,
}

impl Purifier {
    /// A purifier up to a month into its life (installed lately, its filters still good),
    /// its history drawn from `seed`.
    pub fn new(seed: u64, speed: f64, fault_rate: f64) -> Purifier {
        let mut rng = StdRng::seed_from_u64(seed);
        let powered_h = rng.gen_range(0.0..720.0);
        let working_h = powered_h * rng.gen_range(0.05..0.15);
        let made = working_h * FLOW_ML_PER_H;
        let water = KIND_SHARE.map(|(_, share)| made * share);
        Purifier {
            speed: speed.max(0.0),
            fault_rate: fault_rate.clamp(0.0, 1.0),
            locked: false,
            working: false,
            powered_h,
            working_h,
            water,
            tds_in: rng.gen_range(150.0..300.0),
            filter_age_h: powered_h,
            filters: BTreeMap::new(),
            faults: Vec::new(),
            lbs: format!(
                "{:.5},{:.5}",
                113.55 + rng.gen_range(-0.2..0.2),
                22.27 + rng.gen_range(-0.2..0.2)
            ),
            rng,
        }
    }

    pub fn locked(&self) -> bool {
        self.locked
    }

    /// The filter cycles applied, by order.
    pub fn filters(&self) -> Vec<FilterCycle> {
        self.filters
            .iter()
            .map(|(&order, &cycle)| FilterCycle { order, cycle })
            .collect()
    }

    /// Cumulative water as reported (whole millilitres).
    pub fn water(&self) -> Water {
        let [normal, cold, warm, hot] = self.water.map(|ml| ml.floor() as i64);
        Water {
            normal,
            cold,
            warm,
            hot,
        }
    }

    /// Lets `real` time go by: hours, water, TDS drift.
    pub fn advance(&mut self, real: Duration) {
        let hours = real.as_secs_f64() * self.speed / 3600.0;
        if hours <= 0.0 {
            return;
        }
        self.powered_h += hours;
        self.filter_age_h += hours;
        if !self.locked {
            let worked = hours * self.rng.gen_range(0.05..0.15);
            self.working_h += worked;
            let made = worked * FLOW_ML_PER_H;
            for (w, (_, share)) in self.water.iter_mut().zip(KIND_SHARE) {
                *w += made * share;
            }
        }
        self.working = !self.locked && self.rng.gen_bool(0.1);
        self.tds_in = (self.tds_in + self.rng.gen_range(-5.0..5.0)).clamp(150.0, 300.0);
    }

    /// The report of the moment; also where faults come and go (one step per report).
    pub fn report(&mut self) -> Report {
        self.faults.retain_mut(|(_, left)| {
            *left = left.saturating_sub(1);
            *left > 0
        });
        if self.fault_rate > 0.0 && self.rng.gen_bool(self.fault_rate) {
            let code = FAULTS[self.rng.gen_range(0..FAULTS.len())];
            if !self.faults.iter().any(|(c, _)| *c == code) {
                let lasts = self.rng.gen_range(3..=12);
                self.faults.push((code, lasts));
            }
        }
        // Spent filters let more through: 3 % of TDS in when new, twice that at end of life.
        let wear = (self.filter_age_h / FILTER_LIFE_H).min(3.0);
        let tds_out = self.tds_in * 0.03 * (1.0 + wear);
        // Hours to the 1/1000: rounding keeps a non-decreasing value non-decreasing.
        let hours = |h: f64| (h * 1000.0).round() / 1000.0;
        Report {
            power: true,
            working: self.working,
            locked: self.locked,
            errors: self.faults.iter().map(|(c, _)| (*c).to_owned()).collect(),
            lbs: Some(self.lbs.clone()),
            powered_h: hours(self.powered_h),
            working_h: hours(self.working_h),
            water_ml: self.water(),
            tds_in: self.tds_in.round() as i64,
            tds_out: tds_out.round() as i64,
            filters: self.filters(),
        }
    }

    /// Carries out command `op` with `args`.
    pub fn obey(&mut self, op: &str, args: &Value) -> Outcome {
        match op {
            "lock" => {
                self.locked = true;
                self.working = false;
                Outcome::done(Then::Report)
            }
            "unlock" => {
                self.locked = false;
                Outcome::done(Then::Report)
            }
            "dispense" => self.dispense(args),
            "reset_filter" => {
                let (Some(order), Some(cycle)) = (int(args, "order"), int(args, "cycle")) else {
                    return Outcome::failed("reset_filter needs order and cycle");
                };
                self.set_filter(order, cycle, true);
                Outcome::done(Then::Report)
            }
            "reboot" => Outcome::done(Then::Reboot),
            _ => Outcome::failed("unknown op"),
        }
    }

    fn dispense(&mut self, args: &Value) -> Outcome {
        let Some(ml) = int(args, "ml").filter(|ml| *ml > 0) else {
            return Outcome::failed("dispense needs ml > 0");
        };
        if self.locked {
            return Outcome {
                dispensed_ml: Some(0),
                ..Outcome::failed("locked")
            };
        }
        let kind = args.get("kind").and_then(Value::as_str).unwrap_or("normal");
        let Some(slot) = KIND_SHARE.iter().position(|(k, _)| *k == kind) else {
            return Outcome {
                dispensed_ml: Some(0),
                ..Outcome::failed("unknown kind")
            };
        };
        // Now and then the tank runs short.
        let poured = if self.rng.gen_bool(0.05) {
            (ml as f64 * self.rng.gen_range(0.8..1.0)).floor() as i64
        } else {
            ml
        };
        self.water[slot] += poured as f64;
        self.working_h += poured as f64 / FLOW_ML_PER_H;
        let real_secs = if self.speed > 0.0 {
            poured as f64 / FLOW_ML_PER_H * 3600.0 / self.speed
        } else {
            0.0
        };
        Outcome {
            dispensed_ml: Some(poured),
            takes: Duration::from_secs_f64(real_secs.min(5.0)),
            ..Outcome::done(Then::Report)
        }
    }

    /// Applies a filter cycle (an older one is ignored); whether it was applied. A cycle that
    /// moves on is a new filter; one not known before is too when a command says so (a
    /// desired state met for the first time only tells where the count stands).
    fn set_filter(&mut self, order: i64, cycle: i64, new_if_unknown: bool) -> bool {
        let known = self.filters.get(&order).copied();
        if known.is_some_and(|before| cycle <= before) {
            return false;
        }
        self.filters.insert(order, cycle);
        if known.is_some() || new_if_unknown {
            self.filter_age_h = 0.0;
        }
        true
    }

    /// Holds the state the server wants; whether anything changed.
    pub fn apply_desired(&mut self, locked: bool, filters: &[FilterCycle]) -> bool {
        let mut changed = locked != self.locked;
        self.locked = locked;
        if locked {
            self.working = false;
        }
        for f in filters {
            changed |= self.set_filter(f.order, f.cycle, false);
        }
        changed
    }
}

fn int(args: &Value, key: &str) -> Option<i64> {
    args.get(key).and_then(Value::as_i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counters_never_go_back_and_readings_stay_plausible() {
        let mut p = Purifier::new(7, 60.0, 0.2);
        let mut last = p.report();
        for _ in 0..500 {
            p.advance(Duration::from_secs(10));
            let r = p.report();
            assert!(r.plausible(), "{r:?}");
            assert!(r.powered_h > last.powered_h);
            assert!(r.working_h >= last.working_h);
            assert!(
                r.water_ml
                    .kinds()
                    .iter()
                    .zip(last.water_ml.kinds())
                    .all(|(a, b)| *a >= b)
            );
            assert!((150..=300).contains(&r.tds_in));
            assert!(r.errors.iter().all(|e| FAULTS.contains(&e.as_str())));
            last = r;
        }
        // 500 reports 10 s apart at x60: about 83 simulated hours.
        assert!(last.powered_h > 80.0);
    }

    #[test]
    fn faults_come_and_clear() {
        let mut p = Purifier::new(1, 60.0, 0.5);
        let reports: Vec<_> = (0..200).map(|_| p.report()).collect();
        assert!(reports.iter().any(|r| !r.errors.is_empty()));
        let mut q = Purifier::new(1, 60.0, 0.0);
        assert!((0..200).all(|_| q.report().errors.is_empty()));
    }

    #[test]
    fn commands_change_what_is_reported() {
        let mut p = Purifier::new(3, 60.0, 0.0);
        assert_eq!(p.obey("lock", &json!({})).then, Then::Report);
        assert!(p.report().locked);
        let refused = p.obey("dispense", &json!({"ml": 500}));
        assert!(!refused.ok);
        assert_eq!(refused.dispensed_ml, Some(0));
        p.obey("unlock", &json!({}));
        let hot = p.water().hot;
        let done = p.obey("dispense", &json!({"ml": 500, "kind": "hot"}));
        assert!(done.ok);
        let poured = done.dispensed_ml.unwrap_or_default();
        assert!((400..=500).contains(&poured));
        assert_eq!(p.water().hot, hot + poured);
        assert!(!p.obey("dispense", &json!({"ml": -1})).ok);
        assert!(!p.obey("fly", &json!({})).ok);
        assert_eq!(p.obey("reboot", &json!({})).then, Then::Reboot);
    }

    #[test]
    fn a_new_filter_cycle_brings_tds_out_down() {
        let mut p = Purifier::new(5, 60.0, 0.0);
        p.advance(Duration::from_secs(3600 * 50)); // 3,000 simulated hours on top
        let worn = p.report().tds_out;
        assert!(p.obey("reset_filter", &json!({"order": 1, "cycle": 1})).ok);
        let fresh = p.report();
        assert!(fresh.tds_out < worn, "{} < {worn}", fresh.tds_out);
        assert_eq!(fresh.filters, vec![FilterCycle { order: 1, cycle: 1 }]);
        // An older cycle is ignored; the desired state applies newer ones and the lock.
        assert!(!p.apply_desired(false, &[FilterCycle { order: 1, cycle: 0 }]));
        assert!(p.apply_desired(true, &[FilterCycle { order: 2, cycle: 0 }]));
        assert!(p.locked());
        assert_eq!(p.filters().len(), 2);
    }
}
