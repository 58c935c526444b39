//! The one clock everything reads: the system clock, or a simulated one under `--dev --sim-clock`.

use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::time::Timestamp;
use super::{Error, Result};

/// The server's clock; cheap to clone.
#[derive(Clone)]
pub enum Clock {
    System,
    Simulated(Arc<SimClock>),
}

impl Clock {
    /// A simulated clock that starts at `start` and runs at `speed` times real time (0 = frozen).
    pub fn simulated(start: Timestamp, speed: f64) -> Self {
        Clock::Simulated(Arc::new(SimClock {
            state: Mutex::new(SimState {
                anchor_sim_ms: start.millis(),
                anchor_real: Instant::now(),
                speed,
            }),
        }))
    }

    /// The current instant.
    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => {
                let ms = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_millis() as i64)
                    .unwrap_or(0);
                Timestamp::from_millis(ms)
            }
            Clock::Simulated(sim) => sim.now(),
        }
    }

    /// The simulated clock, if this is one.
    pub fn sim(&self) -> Option<&SimClock> {
        match self {
            Clock::System => None,
            Clock::Simulated(sim) => Some(sim),
        }
    }
}

/// A clock that moves only when told (and optionally at a multiple of real time).
pub struct SimClock {
    state: Mutex<SimState>,
}

struct SimState {
    anchor_sim_ms: i64,
    anchor_real: Instant,
    speed: f64,
}

impl SimState {
    fn now_ms(&self) -> i64 {
        let elapsed = self.anchor_real.elapsed().as_secs_f64() * 1000.0 * self.speed;
        self.anchor_sim_ms + elapsed as i64
    }
}

impl SimClock {
    fn lock(&self) -> std::sync::MutexGuard<'_, SimState> {
        // A poisoned lock only means another thread panicked mid-read; the state is still whole.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current simulated instant.
    pub fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.lock().now_ms())
    }

    /// Moves the clock forward by `seconds`.
    pub fn advance(&self, seconds: f64) -> Result<Timestamp> {
        if !seconds.is_finite() || seconds < 0.0 {
            return Err(Error::invalid(
                "advance_seconds",
                "must be a non-negative number of seconds",
            ));
        }
        let mut state = self.lock();
        let now = state.now_ms();
        let target = now as f64 + seconds * 1000.0;
        if target > Timestamp::MAX.millis() as f64 {
            return Err(Error::invalid(
                "advance_seconds",
                "the clock cannot go past the year 9000",
            ));
        }
        state.anchor_sim_ms = target as i64;
        state.anchor_real = Instant::now();
        Ok(Timestamp::from_millis(state.anchor_sim_ms))
    }

    /// Moves the clock to `to`; it never goes backwards.
    pub fn set(&self, to: Timestamp) -> Result<Timestamp> {
        let mut state = self.lock();
        if to.millis() < state.now_ms() {
            return Err(Error::invalid("to", "the clock never moves backwards"));
        }
        if to > Timestamp::MAX {
            return Err(Error::invalid(
                "to",
                "the clock cannot go past the year 9000",
            ));
        }
        state.anchor_sim_ms = to.millis();
        state.anchor_real = Instant::now();
        Ok(to)
    }

    /// How many times faster than real time the clock runs on its own.
    pub fn speed(&self) -> f64 {
        self.lock().speed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_clock_moves_only_when_told() {
        let clock = Clock::simulated(Timestamp::from_millis(1_000), 0.0);
        assert_eq!(clock.now().millis(), 1_000);
        let sim = clock.sim().expect("simulated");
        sim.advance(2.5).expect("advance");
        assert_eq!(clock.now().millis(), 3_500);
        assert!(sim.set(Timestamp::from_millis(10)).is_err());
        sim.set(Timestamp::from_millis(9_000)).expect("set");
        assert_eq!(clock.now().millis(), 9_000);
        assert!(sim.advance(-1.0).is_err());
        assert!(sim.advance(1e17).is_err());
        assert!(sim.set(Timestamp::from_millis(i64::MAX)).is_err());
        assert_eq!(clock.now().millis(), 9_000);
    }
}
