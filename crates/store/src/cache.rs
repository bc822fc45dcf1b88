//! A small time-limited cache, shared by the store and its connections.

use std::collections::HashMap;
use std::sync::Mutex;

use std::time::Duration;

/// How long an entry is kept by default: a changed terminal takes effect within this time.
const CACHE_TTL: Duration = Duration::from_secs(5);

/// How long a merchant's row is kept: a rotated secret or a disabled merchant is refused
/// within this time on every instance. A read per token request instead (tried) cost about
/// an eighth of the SQLite throughput, through the reads' latency under load.
pub(crate) const MERCHANT_TTL: Duration = Duration::from_secs(1);

/// Records read on every request that change rarely (merchants, terminals), kept for a few
/// seconds.
pub(crate) struct TtlCache<V> {
    map: Mutex<HashMap<String, (std::time::Instant, V)>>,
    ttl: Duration,
}

impl<V: Clone> TtlCache<V> {
    pub(crate) fn new() -> Self {
        TtlCache::with_ttl(CACHE_TTL)
    }

    pub(crate) fn with_ttl(ttl: Duration) -> Self {
        TtlCache {
            map: Mutex::new(HashMap::new()),
            ttl,
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<V> {
        let map = self.map.lock().ok()?;
        map.get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    /// Forgets every entry: after a change to rows it may hold.
    pub(crate) fn clear(&self) {
        if let Ok(mut map) = self.map.lock() {
            map.clear();
        }
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
