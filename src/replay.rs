//! `utilhall charging replay FILE`: timed station events run on a simulated clock, with the
//! table a station operator (or a course examiner) reads after each event.
//!
//! The file has one event per line (`#` starts a comment), times `HH:MM[:SS]` local, not going
//! backwards; an optional first line `start YYYY-MM-DD` sets the day (2026-01-05 by default):
//!
//! ```text
//! 06:00:00 arrive V1 fast 30      # driver V1 asks for 30 kWh (fast|slow, or F|T)
//! 06:05:00 change V1 kwh 20       # only in the waiting area
//! 06:05:00 change V2 mode slow    # a new number at the end of the slow line
//! 06:10:00 cancel V1
//! 06:30:00 fault F1               # also: recover F1, off T2, on T2
//! ```

use std::collections::HashMap;
use std::fmt::Write;

use crate::domain::charging::station::{
    CarId, EndReason, Event, Mode, PileState, Place, Station, StationConfig,
};
use crate::domain::money::fixed_string;

const MINUTE_MS: i64 = 60_000;

/// One timed event of the file.
#[derive(Debug, Clone, PartialEq)]
enum Action {
    Arrive { driver: String, mode: Mode, wh: i64 },
    ChangeEnergy { driver: String, wh: i64 },
    ChangeMode { driver: String, mode: Mode },
    Cancel { driver: String },
    Fault { pile: String },
    Recover { pile: String },
    Off { pile: String },
    On { pile: String },
}

fn mode(s: &str) -> Option<Mode> {
    match s.to_ascii_lowercase().as_str() {
        "fast" | "f" | "quick" => Some(Mode::Fast),
        "slow" | "t" | "common" | "trickle" => Some(Mode::Slow),
        _ => None,
    }
}

fn kwh(s: &str) -> Option<i64> {
    crate::domain::money::parse_fixed(s, 3).filter(|wh| *wh > 0)
}

fn clock(s: &str) -> Option<i64> {
    let mut parts = s.split(':').map(|p| p.parse::<i64>().ok());
    let h = parts.next()??;
    let m = parts.next()??;
    let sec = parts.next().unwrap_or(Some(0))?;
    if parts.next().is_some()
        || !(0..48).contains(&h)
        || !(0..60).contains(&m)
        || !(0..60).contains(&sec)
    {
        return None;
    }
    Some(((h * 60 + m) * 60 + sec) * 1000)
}

/// An event of the file: its time (ms after midnight), its text and what it does.
type Timed = (i64, String, Action);

/// Parses the file: the day's midnight in UTC ms, and the events.
fn parse(text: &str, utc_offset_secs: i64) -> Result<(i64, Vec<Timed>), String> {
    let mut day = time::macros::date!(2026 - 01 - 05);
    let mut events: Vec<Timed> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let err = |msg: &str| format!("line {}: {msg}: {line}", n + 1);
        let words: Vec<&str> = line.split_whitespace().collect();
        if words[0] == "start" {
            if !events.is_empty() || words.len() != 2 {
                return Err(err("`start YYYY-MM-DD` must come first"));
            }
            day = crate::domain::time::parse_date(words[1]).ok_or_else(|| err("bad date"))?;
            continue;
        }
        let at = clock(words[0]).ok_or_else(|| err("expected a time HH:MM[:SS]"))?;
        if events.last().is_some_and(|(t, _, _)| at < *t) {
            return Err(err("times must not go backwards"));
        }
        let arg = |i: usize| words.get(i).copied().ok_or_else(|| err("missing argument"));
        let action = match (words.get(1).copied(), words.len()) {
            (Some("arrive"), 5) => Action::Arrive {
                driver: arg(2)?.into(),
                mode: mode(arg(3)?).ok_or_else(|| err("mode is fast or slow"))?,
                wh: kwh(arg(4)?).ok_or_else(|| err("kWh must be positive"))?,
            },
            (Some("change"), 5) if words[3] == "kwh" => Action::ChangeEnergy {
                driver: arg(2)?.into(),
                wh: kwh(arg(4)?).ok_or_else(|| err("kWh must be positive"))?,
            },
            (Some("change"), 5) if words[3] == "mode" => Action::ChangeMode {
                driver: arg(2)?.into(),
                mode: mode(arg(4)?).ok_or_else(|| err("mode is fast or slow"))?,
            },
            (Some("cancel"), 3) => Action::Cancel {
                driver: arg(2)?.into(),
            },
            (Some("fault"), 3) => Action::Fault {
                pile: arg(2)?.into(),
            },
            (Some("recover"), 3) => Action::Recover {
                pile: arg(2)?.into(),
            },
            (Some("off"), 3) => Action::Off {
                pile: arg(2)?.into(),
            },
            (Some("on"), 3) => Action::On {
                pile: arg(2)?.into(),
            },
            _ => return Err(err("unknown event")),
        };
        events.push((at, line.to_owned(), action));
    }
    let midnight = time::PrimitiveDateTime::new(day, time::Time::MIDNIGHT)
        .assume_utc()
        .unix_timestamp()
        * 1000
        - utc_offset_secs * 1000;
    Ok((midnight, events))
}

fn hms(t: i64, midnight: i64) -> String {
    let s = (t - midnight).div_euclid(1000);
    let day = s.div_euclid(86_400);
    let (h, m, sec) = ((s % 86_400) / 3600, (s % 3600) / 60, s % 60);
    if day > 0 {
        format!("+{day}d {h:02}:{m:02}:{sec:02}")
    } else {
        format!("{h:02}:{m:02}:{sec:02}")
    }
}

/// kWh to two decimals, rounded half up (Wh are never negative).
fn kwh_text(wh: i64) -> String {
    fixed_string((wh + 5) / 10, 2)
}

fn yuan(fen: i64) -> String {
    fixed_string(fen, 2)
}

/// Runs the file on a station with `config`; the whole printed report, or with `summary` only
/// the totals and the scheduler's speed (for large files).
pub fn run(text: &str, config: StationConfig, summary: bool) -> Result<String, String> {
    let (midnight, events) = parse(text, config.tariff.utc_offset_secs)?;
    let count = events.len();
    let started = std::time::Instant::now();
    let mut totals = Totals::default();
    let start = events.first().map_or(midnight, |(t, _, _)| midnight + t);
    let mut station = Station::new(config, start);
    let mut drivers: HashMap<String, CarId> = HashMap::new();
    let mut names: HashMap<CarId, String> = HashMap::new();
    let mut out = String::new();
    for (offset, line, action) in events {
        let at = midnight + offset;
        let happened = station.advance_to(at);
        if summary {
            totals.add(&happened);
        } else {
            report_events(&mut out, &happened, &names, midnight);
            let _ = writeln!(out, "== {line}");
        }
        let car_of = |d: &str| drivers.get(d).copied();
        let result = match &action {
            Action::Arrive { driver, mode, wh } => match station.arrive(at, driver, *mode, *wh) {
                Ok((id, ev)) => {
                    drivers.insert(driver.clone(), id);
                    names.insert(id, driver.clone());
                    Ok(ev)
                }
                Err(e) => Err(e.to_string()),
            },
            Action::ChangeEnergy { driver, wh } => match car_of(driver) {
                Some(id) => station
                    .change_energy(at, id, *wh)
                    .map_err(|e| e.to_string()),
                None => Err(format!("no request of {driver}")),
            },
            Action::ChangeMode { driver, mode } => match car_of(driver) {
                Some(id) => station
                    .change_mode(at, id, *mode)
                    .map_err(|e| e.to_string()),
                None => Err(format!("no request of {driver}")),
            },
            Action::Cancel { driver } => match car_of(driver) {
                Some(id) => station.cancel(at, id).map_err(|e| e.to_string()),
                None => Err(format!("no request of {driver}")),
            },
            Action::Fault { pile } => station.take_down(at, pile, true).map_err(|e| e.to_string()),
            Action::Off { pile } => station
                .take_down(at, pile, false)
                .map_err(|e| e.to_string()),
            Action::Recover { pile } | Action::On { pile } => {
                station.bring_up(at, pile).map_err(|e| e.to_string())
            }
        };
        match result {
            Ok(ev) if summary => totals.add(&ev),
            Ok(ev) => report_events(&mut out, &ev, &names, midnight),
            Err(_) if summary => totals.refused += 1,
            Err(refusal) => {
                let _ = writeln!(out, "   refused: {refusal}");
            }
        }
        if !summary {
            table(&mut out, &station, &names);
        }
    }
    // Every car still at the station finishes (unless stuck behind a pile that stays down).
    let rest = station.advance_to(station.now() + 7 * 24 * 60 * MINUTE_MS);
    if summary {
        totals.add(&rest);
        let secs = started.elapsed().as_secs_f64();
        let _ = writeln!(
            out,
            "events {count}  refused {}  sessions {}  kWh {}  charge {}  service {}  \
             left at the station {}\nscheduler time {:.3} s  events per second {:.0}",
            totals.refused,
            totals.sessions,
            kwh_text(totals.wh),
            yuan(totals.charge),
            yuan(totals.service),
            station.cars().count(),
            secs,
            count as f64 / secs.max(1e-9),
        );
        return Ok(out);
    }
    if !rest.is_empty() {
        let _ = writeln!(out, "== until every car is through");
        report_events(&mut out, &rest, &names, midnight);
        table(&mut out, &station, &names);
    }
    Ok(out)
}

/// What a summary adds up.
#[derive(Default)]
struct Totals {
    refused: usize,
    sessions: usize,
    wh: i64,
    charge: i64,
    service: i64,
}

impl Totals {
    fn add(&mut self, events: &[Event]) {
        for e in events {
            if let Event::Ended { record, .. } = e {
                self.sessions += 1;
                self.wh += record.wh;
                self.charge += record.charge_fee;
                self.service += record.service_fee;
            }
        }
    }
}

fn report_events(
    out: &mut String,
    events: &[Event],
    names: &HashMap<CarId, String>,
    midnight: i64,
) {
    let name = |id: &CarId| names.get(id).cloned().unwrap_or_else(|| format!("#{id}"));
    for e in events {
        let _ = match e {
            Event::Ended { record: r, done } => writeln!(
                out,
                "   {} {} {} on {}: {} kWh {}-{} charge {} service {} total {}{}",
                hms(r.stop, midnight),
                match r.reason {
                    EndReason::Finished => "finished",
                    EndReason::Cancelled => "cancelled",
                    EndReason::Fault => "interrupted (fault)",
                    EndReason::SwitchedOff => "interrupted (pile off)",
                },
                r.number,
                r.pile,
                kwh_text(r.wh),
                hms(r.start, midnight),
                hms(r.stop, midnight),
                yuan(r.charge_fee),
                yuan(r.service_fee),
                yuan(r.total()),
                if *done { "" } else { "; still needs the rest" },
            ),
            Event::Queued { car, number } => writeln!(out, "   {} gets {number}", name(car)),
            Event::Renumbered { car, number } => writeln!(out, "   {} is now {number}", name(car)),
            Event::Revised { car, wh } => {
                writeln!(out, "   {} now asks for {} kWh", name(car), kwh_text(*wh))
            }
            Event::Called { car, pile, moved } => {
                let how = if *moved { "moved" } else { "called" };
                writeln!(out, "   {} {how} to {pile}", name(car))
            }
            Event::Left { car } => writeln!(out, "   {} left", name(car)),
            Event::Started { .. } | Event::Metered { .. } => Ok(()),
        };
    }
}

fn table(out: &mut String, station: &Station, names: &HashMap<CarId, String>) {
    let name = |id: &CarId| names.get(id).cloned().unwrap_or_else(|| format!("#{id}"));
    for pile in &station.piles {
        let state = match pile.state {
            PileState::Working => "working",
            PileState::Off => "off",
            PileState::Fault => "fault",
        };
        let cars: Vec<String> = pile
            .queue
            .iter()
            .enumerate()
            .filter_map(|(i, id)| {
                let car = station.car(*id)?;
                let (got, fee) = station.progress(*id)?;
                Some(if i == 0 && pile.charging_since.is_some() {
                    format!(
                        "{} {} charging {}/{} kWh {} yuan",
                        car.number,
                        name(id),
                        kwh_text(got),
                        kwh_text(car.delivered_wh + car.remaining_wh),
                        yuan(fee)
                    )
                } else {
                    format!(
                        "{} {} {} kWh",
                        car.number,
                        name(id),
                        kwh_text(car.remaining_wh)
                    )
                })
            })
            .collect();
        let _ = writeln!(
            out,
            "   {:<4} {:<8} {:>3} sessions {:>8} kWh | {}",
            pile.id,
            state,
            pile.sessions,
            kwh_text(pile.charged_wh),
            if cars.is_empty() {
                "-".to_owned()
            } else {
                cars.join(" | ")
            }
        );
    }
    let waiting: Vec<String> = station
        .waiting()
        .iter()
        .map(|c| {
            format!(
                "{} {} {} kWh",
                c.number,
                name(&c.id),
                kwh_text(c.remaining_wh)
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "   waiting: {}",
        if waiting.is_empty() {
            "-".to_owned()
        } else {
            waiting.join(", ")
        }
    );
    for mode in [Mode::Fast, Mode::Slow] {
        let displaced: Vec<String> = station
            .displaced(mode)
            .iter()
            .filter(|c| c.place == Place::Displaced)
            .map(|c| {
                format!(
                    "{} {} {} kWh",
                    c.number,
                    name(&c.id),
                    kwh_text(c.remaining_wh)
                )
            })
            .collect();
        if !displaced.is_empty() {
            let _ = writeln!(
                out,
                "   to re-dispatch ({}): {}",
                mode.letter(),
                displaced.join(", ")
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_day_replays_with_fees_and_refusals() {
        let text = "start 2026-01-05\n\
                    06:00 arrive V1 fast 30\n\
                    06:00 arrive V2 slow 5   # T1\n\
                    06:10 change V1 kwh 20   # refused: V1 is charging\n\
                    06:30 fault F1\n\
                    06:45 recover F1\n";
        let out = run(text, StationConfig::default(), false).expect("runs");
        assert!(out.contains("V1 gets F1"), "{out}");
        assert!(out.contains("refused: 只有在等候区"), "{out}");
        // 06:00-06:30 at 30 kW: 15 kWh valley (6.00) + service (12.00).
        assert!(
            out.contains("interrupted (fault) F1 on F1: 15.00 kWh 06:00:00-06:30:00 charge 6.00 service 12.00 total 18.00"),
            "{out}"
        );
        // V2: 5 kWh at 10 kW, 06:00-06:30 valley: 2.00 + 4.00.
        assert!(
            out.contains(
                "finished T1 on T1: 5.00 kWh 06:00:00-06:30:00 charge 2.00 service 4.00 total 6.00"
            ),
            "{out}"
        );
        assert!(out.contains("until every car is through"), "{out}");
    }

    #[test]
    fn a_summary_adds_up_the_sessions() {
        let text = "06:00 arrive V1 fast 30\n06:00 arrive V2 slow 10\n06:30 arrive V3 fast 0.5\n";
        let out = run(text, StationConfig::default(), true).expect("runs");
        // 30 kWh in the valley (06:00-07:00): 12.00 + 24.00; 10 kWh: 4.00 + 8.00; 0.5 kWh at
        // 06:30: 0.20 + 0.40.
        assert!(
            out.starts_with(
                "events 3  refused 0  sessions 3  kWh 40.50  charge 16.20  service 32.40"
            ),
            "{out}"
        );
        assert!(out.contains("events per second"), "{out}");
    }

    #[test]
    fn bad_lines_name_their_number() {
        let err = run(
            "06:00 arrive V1 fast 30\n05:00 cancel V1\n",
            StationConfig::default(),
            false,
        )
        .expect_err("backwards");
        assert!(err.starts_with("line 2:"), "{err}");
        let err = run("06:00 launch V1\n", StationConfig::default(), false).expect_err("unknown");
        assert!(err.contains("unknown event"), "{err}");
    }
}
