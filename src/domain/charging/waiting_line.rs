//! One mode's cars in the waiting area, by their place in the waiting order, with how many wait
//! before a place counted in a logarithmic step (a driver's view shows it on every read, and
//! the waiting area may hold tens of thousands of cars).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::station::CarId;

/// The cars by place; stored as the plain map (snapshots written before the count was kept
/// read the same).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WaitingLine {
    cars: BTreeMap<u64, CarId>,
    /// Counts by place; built on first use (after loading), kept up to date after that.
    #[serde(skip)]
    ranks: Option<Ranks>,
}

impl WaitingLine {
    pub fn len(&self) -> usize {
        self.cars.len()
    }

    pub fn first(&self) -> Option<CarId> {
        self.cars.first_key_value().map(|(_, id)| *id)
    }

    pub fn pop_first(&mut self) -> Option<CarId> {
        self.ranks();
        let (place, id) = self.cars.pop_first()?;
        self.count(place, -1);
        Some(id)
    }

    /// Adds a car at `place`, which is after every place taken so far.
    pub fn insert(&mut self, place: u64, id: CarId) {
        self.ranks();
        if self.cars.insert(place, id).is_none() {
            self.count(place, 1);
        }
    }

    pub fn remove(&mut self, place: u64) {
        self.ranks();
        if self.cars.remove(&place).is_some() {
            self.count(place, -1);
        }
    }

    pub fn ids(&self) -> impl Iterator<Item = &CarId> {
        self.cars.values()
    }

    /// How many cars wait before `place`: counted once the line has changed since it was
    /// loaded, walked until then.
    pub fn before(&self, place: u64) -> usize {
        match &self.ranks {
            Some(ranks) => ranks.before(place),
            None => self.cars.range(..place).count(),
        }
    }

    /// Builds the count from the line as it is (before a change).
    fn ranks(&mut self) {
        if self.ranks.is_none() {
            self.ranks = Some(Ranks::build(&self.cars));
        }
    }

    fn count(&mut self, place: u64, delta: i64) {
        if let Some(ranks) = self.ranks.as_mut() {
            if !ranks.add(place, delta) {
                // The line has moved on far past where the count starts: it is built again
                // from the line before the next change.
                self.ranks = None;
            }
        }
    }
}

/// A Fenwick tree of the cars by place, over the places from `base`.
#[derive(Debug, Clone, Default)]
struct Ranks {
    base: u64,
    /// 1-based: `tree[i]` counts the places of `(i - lowbit(i), i]`.
    tree: Vec<i64>,
    cars: usize,
}

impl Ranks {
    fn build(cars: &BTreeMap<u64, CarId>) -> Ranks {
        let base = cars.first_key_value().map_or(0, |(p, _)| *p);
        let mut ranks = Ranks {
            base,
            tree: vec![0],
            cars: 0,
        };
        for place in cars.keys() {
            ranks.add(*place, 1);
        }
        ranks
    }

    /// Counts `delta` at `place`, growing the tree to reach it; false when the tree has grown
    /// much larger than the line (places long gone): build it again then.
    fn add(&mut self, place: u64, delta: i64) -> bool {
        let Some(offset) = place.checked_sub(self.base) else {
            return false;
        };
        let i = offset as usize + 1;
        while self.tree.len() <= i {
            self.grow();
        }
        let mut j = i;
        while j < self.tree.len() {
            self.tree[j] += delta;
            j += j & j.wrapping_neg();
        }
        self.cars = self.cars.saturating_add_signed(delta as isize);
        self.tree.len() <= 4 * self.cars + 1024
    }

    /// Appends an empty place: its node counts the places it covers, already counted.
    fn grow(&mut self) {
        let i = self.tree.len();
        let low = i & i.wrapping_neg();
        let covered = self.prefix(i - 1) - self.prefix(i - low);
        self.tree.push(covered);
    }

    /// The cars at places `1..=i` (1-based offsets).
    fn prefix(&self, mut i: usize) -> i64 {
        let mut sum = 0;
        while i > 0 {
            sum += self.tree[i];
            i -= i & i.wrapping_neg();
        }
        sum
    }

    fn before(&self, place: u64) -> usize {
        let Some(offset) = place.checked_sub(self.base) else {
            return 0;
        };
        let i = (offset as usize).min(self.tree.len() - 1);
        self.prefix(i).max(0) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_agrees_with_a_walk_under_random_changes() {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut line = WaitingLine::default();
        let mut place = 0u64;
        for step in 0..20_000u64 {
            match next() % 10 {
                0..=4 => {
                    // Places are shared with the other mode's line: some are skipped.
                    place += 1 + next() % 3;
                    line.insert(place, step);
                }
                5 | 6 => {
                    line.pop_first();
                }
                7 | 8 => {
                    let places: Vec<u64> = line.cars.keys().copied().collect();
                    if !places.is_empty() {
                        line.remove(places[(next() % places.len() as u64) as usize]);
                    }
                }
                _ => {
                    if step % 97 == 0 {
                        // As after loading a snapshot.
                        line = serde_json::from_str(&serde_json::to_string(&line).expect("json"))
                            .expect("json");
                    }
                }
            }
            let probe = next() % (place + 2);
            let walked = line.cars.range(..probe).count();
            assert_eq!(line.before(probe), walked, "step {step}");
        }
    }
}
