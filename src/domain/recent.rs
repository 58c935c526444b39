//! Objects read lately, each as of the version the database gave it.
//!
//! An object whose every write bumps a version column (in the same statement, so in the same
//! transaction) is the same object for as long as its version is: `(id, version)` names one
//! committed state, on every instance sharing the database. [`Recent`] keeps what was made of
//! such a state (an order read and parsed, an order's reply written) so that the next read that
//! finds the same version in the database reuses it instead of making it again. Nothing is ever
//! served on trust: a caller always reads the current version first, and a stale entry is simply
//! not found. Only committed reads may fill it: a transaction's own reads see versions that may
//! still roll back.
//!
//! Bounded: the least recently used entry leaves when the cache is full.

use std::sync::{Arc, Mutex};

use hashlink::LruCache;

/// At most `capacity` values, each under an id and the version it was made from.
pub struct Recent<V: ?Sized> {
    entries: Mutex<LruCache<String, (i64, Arc<V>)>>,
}

impl<V: ?Sized> Recent<V> {
    pub fn new(capacity: usize) -> Recent<V> {
        Recent {
            entries: Mutex::new(LruCache::new(capacity.max(1))),
        }
    }

    /// What was made of `id` at exactly `version`.
    pub fn get(&self, id: &str, version: i64) -> Option<Arc<V>> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(id) {
            Some((v, value)) if *v == version => Some(value.clone()),
            _ => None,
        }
    }

    /// Keeps `value`, made of `id` at `version`, unless a later version is kept already.
    pub fn put(&self, id: &str, version: i64, value: Arc<V>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get_mut(id) {
            Some(kept) if kept.0 > version => {}
            Some(kept) => *kept = (version, value),
            None => {
                entries.insert(id.to_owned(), (version, value));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_found_at_its_own_version_only() {
        let recent = Recent::<str>::new(2);
        recent.put("a", 1, Arc::from("a1"));
        assert_eq!(recent.get("a", 1).as_deref(), Some("a1"));
        assert_eq!(recent.get("a", 0), None);
        assert_eq!(recent.get("a", 2), None);
        // A later version replaces it; an earlier one (a slower reader) does not.
        recent.put("a", 2, Arc::from("a2"));
        recent.put("a", 1, Arc::from("a1"));
        assert_eq!(recent.get("a", 2).as_deref(), Some("a2"));
        assert_eq!(recent.get("a", 1), None);
    }

    #[test]
    fn the_least_recently_used_entry_leaves_first() {
        let recent = Recent::<str>::new(2);
        recent.put("a", 0, Arc::from("a"));
        recent.put("b", 0, Arc::from("b"));
        assert!(recent.get("a", 0).is_some());
        recent.put("c", 0, Arc::from("c"));
        assert!(recent.get("b", 0).is_none());
        assert!(recent.get("a", 0).is_some());
        assert!(recent.get("c", 0).is_some());
    }
}
