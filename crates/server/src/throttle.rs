//! Failed client authentications, limited per client and per source address (issue 12).
//!
//! A client secret is 36 random characters, so guessing one is hopeless; the limits are there
//! so that a guesser costs itself, not the server or the merchant. Two counters, each over a
//! fixed window:
//! - per source address: an address with too many failures (for any clients) is refused
//!   outright until its window ends;
//! - per client: a client with too many failures is refused to every address except those that
//!   authenticated as that client successfully in the last hour, so an attacker cannot lock a
//!   merchant's own servers out by failing on purpose.
//!
//! The counters live in this process's memory: each instance limits what reaches it. A
//! refused attempt answers 429 with `Retry-After`, whether or not its secret was right.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many failures a window allows.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleSettings {
    pub per_client: u32,
    pub per_address: u32,
    pub window: Duration,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        ThrottleSettings {
            per_client: 10,
            per_address: 30,
            window: Duration::from_secs(60),
        }
    }
}

/// Entries kept at most per map; past it, expired entries are dropped, and if that is not
/// enough the oldest half goes (an attacker with that many addresses is not stopped here).
const MAX_ENTRIES: usize = 100_000;
/// How long a successful address stays trusted for its client.
const TRUSTED_FOR: Duration = Duration::from_secs(3600);
/// A trusted address's time is renewed at most this often.
const REFRESH_AFTER: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

#[derive(Default)]
struct Client {
    window: Option<Window>,
    /// Addresses that authenticated as this client, with when they last did.
    trusted: HashMap<IpAddr, Instant>,
}

pub struct Throttle {
    settings: ThrottleSettings,
    clients: Mutex<HashMap<String, Client>>,
    addresses: Mutex<HashMap<IpAddr, Window>>,
}

impl Throttle {
    pub fn new(settings: ThrottleSettings) -> Throttle {
        Throttle {
            settings,
            clients: Mutex::new(HashMap::new()),
            addresses: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(retry_after)` when this attempt must be refused without looking at its secret.
    pub fn check(&self, client_id: &str, peer: Option<IpAddr>) -> Result<(), Duration> {
        let now = Instant::now();
        let s = self.settings;
        if let Some(ip) = peer {
            let addresses = self.addresses.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(wait) = addresses
                .get(&ip)
                .and_then(|w| over(w, s.per_address, s.window, now))
            {
                return Err(wait);
            }
        }
        let clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        let Some(c) = clients.get(client_id) else {
            return Ok(());
        };
        let trusted = peer
            .and_then(|ip| c.trusted.get(&ip))
            .is_some_and(|at| now.duration_since(*at) < TRUSTED_FOR);
        match c.window.and_then(|w| over(&w, s.per_client, s.window, now)) {
            Some(wait) if !trusted => Err(wait),
            _ => Ok(()),
        }
    }

    pub fn failed(&self, client_id: &str, peer: Option<IpAddr>) {
        let now = Instant::now();
        let window = self.settings.window;
        if let Some(ip) = peer {
            let mut addresses = self.addresses.lock().unwrap_or_else(|e| e.into_inner());
            prune(&mut addresses, |w| now.duration_since(w.started) >= window);
            count(addresses.entry(ip).or_insert(fresh(now)), window, now);
        }
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        prune(&mut clients, |c| {
            c.trusted.is_empty()
                && c.window
                    .is_none_or(|w| now.duration_since(w.started) >= window)
        });
        let c = clients.entry(client_id.to_string()).or_default();
        count(c.window.get_or_insert(fresh(now)), window, now);
    }

    pub fn succeeded(&self, client_id: &str, peer: Option<IpAddr>) {
        let Some(ip) = peer else { return };
        let now = Instant::now();
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        // The common case, on every token request: an address already trusted not long ago.
        if let Some(at) = clients
            .get_mut(client_id)
            .and_then(|c| c.trusted.get_mut(&ip))
        {
            if now.duration_since(*at) < REFRESH_AFTER {
                return;
            }
        }
        let c = clients.entry(client_id.to_string()).or_default();
        c.trusted
            .retain(|_, at| now.duration_since(*at) < TRUSTED_FOR);
        if c.trusted.len() < 64 {
            c.trusted.insert(ip, now);
        }
    }
}

fn fresh(now: Instant) -> Window {
    Window {
        started: now,
        failures: 0,
    }
}

fn count(w: &mut Window, window: Duration, now: Instant) {
    if now.duration_since(w.started) >= window {
        *w = fresh(now);
    }
    w.failures = w.failures.saturating_add(1);
}

/// How long to wait, when the window holds `limit` failures already.
fn over(w: &Window, limit: u32, window: Duration, now: Instant) -> Option<Duration> {
    let age = now.duration_since(w.started);
    (age < window && w.failures >= limit).then(|| window - age)
}

fn prune<K: std::hash::Hash + Eq + Clone, V>(
    map: &mut HashMap<K, V>,
    expired: impl Fn(&V) -> bool,
) {
    if map.len() < MAX_ENTRIES {
        return;
    }
    map.retain(|_, v| !expired(v));
    if map.len() >= MAX_ENTRIES {
        let drop: Vec<K> = map.keys().take(map.len() / 2).cloned().collect();
        for k in drop {
            map.remove(&k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> Option<IpAddr> {
        Some(IpAddr::from([10, 0, 0, n]))
    }

    #[test]
    fn a_client_is_refused_to_strangers_after_its_limit_but_not_to_its_own_servers() {
        let t = Throttle::new(ThrottleSettings {
            per_client: 3,
            per_address: 100,
            window: Duration::from_secs(60),
        });
        t.succeeded("shop", ip(1));
        for n in 2..5 {
            assert!(t.check("shop", ip(n)).is_ok());
            t.failed("shop", ip(n));
        }
        assert!(t.check("shop", ip(9)).is_err(), "a stranger is refused");
        assert!(
            t.check("shop", ip(1)).is_ok(),
            "the shop's own server is not"
        );
        assert!(
            t.check("other", ip(9)).is_ok(),
            "other clients are not affected"
        );
    }

    #[test]
    fn an_address_is_refused_after_its_limit_for_any_client() {
        let t = Throttle::new(ThrottleSettings {
            per_client: 100,
            per_address: 2,
            window: Duration::from_secs(60),
        });
        t.failed("a", ip(7));
        t.failed("b", ip(7));
        let wait = t.check("c", ip(7)).err().unwrap_or_default();
        assert!(wait > Duration::from_secs(50) && wait <= Duration::from_secs(60));
        assert!(t.check("c", ip(8)).is_ok());
    }

    #[test]
    fn windows_end() {
        let t = Throttle::new(ThrottleSettings {
            per_client: 1,
            per_address: 1,
            window: Duration::from_millis(20),
        });
        t.failed("a", ip(1));
        assert!(t.check("a", ip(1)).is_err());
        std::thread::sleep(Duration::from_millis(30));
        assert!(t.check("a", ip(1)).is_ok());
    }
}
