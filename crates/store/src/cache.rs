//! A small time-limited cache, shared by the store and its connections.

use std::collections::HashMap;
use std::sync::Mutex;

/// How long an entry is kept: a changed secret or terminal takes effect within this time.
const CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// Records read on every request that change rarely (merchants, terminals), kept for a few
/// seconds.
pub(crate) struct TtlCache<V> {
    map: Mutex<HashMap<String, (std::time::Instant, V)>>,
}

impl<V: Clone> TtlCache<V> {
    pub(crate) fn new() -> Self {
        TtlCache {
            map: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<V> {
        let map = self.map.lock().ok()?;
        map.get(key)
            .filter(|(at, _)| at.elapsed() < CACHE_TTL)
            .map(|(_, v)| v.clone())
    }

    pub(crate) fn put(&self, key: &str, value: V) {
        if let Ok(mut map) = self.map.lock() {
            // Bounded: unknown keys (e.g. wrong client ids) cannot grow it without limit.
            if map.len() > 10_000 {
                map.clear();
            }
            map.insert(key.to_string(), (std::time::Instant::now(), value));
        }
    }
}
