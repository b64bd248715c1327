//! An in-process cache whose entries hold while a shared epoch stays what
//! it was when they were read. Other instances announce a change by moving
//! the epoch in the token store; a request reads the epoch in its store
//! round, before it reads anything the entry stands for, so an entry read
//! before a change is never kept under an epoch from after it. Entries are
//! also read again after `ttl`, whatever the epoch says: what a lost epoch
//! move can cost. Used for clients (`oauth::gate`) and grants
//! (`registry::consents`); each tells its owner whether a lookup hit
//! (`tessera_cache_lookups_total`).
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;
use std::time::{Duration, Instant};

pub struct EpochCache<K, V, E> {
    /// Told of every lookup: whether it found a valid entry.
    on_lookup: fn(bool),
    map: RwLock<HashMap<K, Entry<V, E>>>,
    ttl: Duration,
    /// Past this many entries the cache starts again from empty.
    max: usize,
}

struct Entry<V, E> {
    value: V,
    epoch: E,
    read_at: Instant,
}

impl<K: Hash + Eq, V: Clone, E: PartialEq> EpochCache<K, V, E> {
    pub fn new(ttl: Duration, max: usize, on_lookup: fn(bool)) -> Self {
        EpochCache { on_lookup, map: RwLock::default(), ttl, max }
    }

    /// The value kept for `key`, if it was read at `epoch` less than `ttl` ago.
    pub fn get<Q>(&self, key: &Q, epoch: &E) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let map = self.map.read().ok()?;
        let found = map.get(key).filter(|e| e.epoch == *epoch && e.read_at.elapsed() < self.ttl).map(|e| e.value.clone());
        (self.on_lookup)(found.is_some());
        found
    }

    /// Keep `value`, read at `epoch` (an epoch read before the value was).
    pub fn put(&self, key: K, value: V, epoch: E) {
        if let Ok(mut map) = self.map.write() {
            if map.len() >= self.max {
                map.clear();
            }
            map.insert(key, Entry { value, epoch, read_at: Instant::now() });
        }
    }

    /// Forget everything (the store may have missed a change).
    pub fn clear(&self) {
        if let Ok(mut map) = self.map.write() {
            map.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_holds_only_at_its_epoch_and_within_its_ttl() {
        let c: EpochCache<String, u32, &str> = EpochCache::new(Duration::from_secs(60), 2, |_| {});
        c.put("a".into(), 1, "e1");
        assert_eq!(c.get("a", &"e1"), Some(1));
        assert_eq!(c.get("a", &"e2"), None, "another epoch: read again");
        assert_eq!(c.get("b", &"e1"), None);
        c.put("b".into(), 2, "e1");
        c.put("c".into(), 3, "e1");
        assert_eq!((c.get("a", &"e1"), c.get("c", &"e1")), (None, Some(3)), "full: started again");
        c.clear();
        assert_eq!(c.get("c", &"e1"), None);
        let stale: EpochCache<String, u32, &str> = EpochCache::new(Duration::ZERO, 2, |_| {});
        stale.put("a".into(), 1, "e1");
        assert_eq!(stale.get("a", &"e1"), None, "past its ttl");
    }
}
