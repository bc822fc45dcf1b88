//! The vault's keys as an operator keeps them: a keyring of sealing keys (one active, older
//! ones still readable) and the deployment's index keys, with a plain text form.
//!
//! The text form is one line per entry, so an operator can read it, diff it and copy it into a
//! secret store:
//!
//! ```text
//! # comments and blank lines are ignored
//! index <fp key> <cvc key> <req key>      64 hex characters each; never rotate
//! key <id> <secret> active                the key everything new is sealed under
//! key <id> <secret> replaced <RFC 3339>   readable; stopped sealing at that time
//! key <id> <secret> staged                readable; not yet sealing (see below)
//! ```
//!
//! The index keys are stored as such, not as the master key they were derived from, so that
//! retiring the first master key really removes it: after that, nothing in the keyring can open
//! what was sealed under it (a backup, say), yet every fingerprint still matches.
//!
//! `replaced` records when a key stopped sealing tokens: a token lives at most the token TTL,
//! so from then plus the TTL no live token needs the key. `staged` lets a fleet of instances
//! learn a new key before any of them seals with it, so no instance meets a token it cannot
//! open while the fleet restarts one by one.

use crate::vault::{key_id_of, IndexKeys, Vault};
use chrono::{DateTime, Utc};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyringError {
    #[error("keyring line {line}: {reason}")]
    Malformed { line: usize, reason: String },
    #[error("keyring has no index line")]
    NoIndex,
    #[error("keyring must have exactly one active key, it has {0}")]
    Active(usize),
    #[error("keyring holds key {0} twice")]
    Duplicate(String),
    #[error("keyring holds no key {0}")]
    Unknown(String),
    #[error("key {0} is the active key: rotate to another key first")]
    IsActive(String),
}

/// Where a sealing key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Active,
    /// Stopped sealing at this time; still opens what it sealed.
    Replaced(DateTime<Utc>),
    /// Opens, but has not sealed anything yet.
    Staged,
}

#[derive(Clone)]
pub struct RingKey {
    pub id: String,
    secret: [u8; 32],
    pub state: KeyState,
}

impl std::fmt::Debug for RingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RingKey({}, {:?})", self.id, self.state)
    }
}

#[derive(Debug, Clone)]
pub struct Keyring {
    index: IndexKeys,
    keys: Vec<RingKey>,
}

const HEADER: &str = "\
# Aqsha vault keyring. Secret: it opens every stored card number. Written by `aqsha keys`;
# every instance on one database needs the same file (docs/api.md, \"Key rotation\").
";

fn parse_key(hex_text: &str, line: usize) -> Result<[u8; 32], KeyringError> {
    Vault::parse_master_key(hex_text).map_err(|_| KeyringError::Malformed {
        line,
        reason: "a key must be 64 hexadecimal characters".into(),
    })
}

impl Keyring {
    /// The keyring of a deployment that has had one master key so far.
    pub fn from_master(master: [u8; 32]) -> Keyring {
        Keyring {
            index: IndexKeys::derive(&master),
            keys: vec![RingKey {
                id: key_id_of(&master),
                secret: master,
                state: KeyState::Active,
            }],
        }
    }

    pub fn parse(text: &str) -> Result<Keyring, KeyringError> {
        let mut index = None;
        let mut keys: Vec<RingKey> = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let line = n + 1;
            let bad = |reason: &str| KeyringError::Malformed {
                line,
                reason: reason.to_string(),
            };
            let words: Vec<&str> = raw.split_whitespace().collect();
            match words.as_slice() {
                [] => {}
                [first, ..] if first.starts_with('#') => {}
                ["index", fp, cvc, req] => {
                    if index.is_some() {
                        return Err(bad("a second index line"));
                    }
                    index = Some(IndexKeys {
                        fp: parse_key(fp, line)?,
                        cvc: parse_key(cvc, line)?,
                        req: parse_key(req, line)?,
                    });
                }
                ["key", id, secret, state @ ..] => {
                    let secret = parse_key(secret, line)?;
                    if key_id_of(&secret) != *id {
                        return Err(bad("the key id does not belong to this key"));
                    }
                    let state = match state {
                        ["active"] => KeyState::Active,
                        ["staged"] => KeyState::Staged,
                        ["replaced", at] => KeyState::Replaced(
                            DateTime::parse_from_rfc3339(at)
                                .map_err(|_| bad("`replaced` needs an RFC 3339 time"))?
                                .with_timezone(&Utc),
                        ),
                        _ => return Err(bad("state must be active, staged or replaced TIME")),
                    };
                    if keys.iter().any(|k| k.id == *id) {
                        return Err(KeyringError::Duplicate(id.to_string()));
                    }
                    keys.push(RingKey {
                        id: id.to_string(),
                        secret,
                        state,
                    });
                }
                _ => return Err(bad("expected `index FP CVC REQ` or `key ID SECRET STATE`")),
            }
        }
        let ring = Keyring {
            index: index.ok_or(KeyringError::NoIndex)?,
            keys,
        };
        let active = ring.keys.iter().filter(|k| k.state == KeyState::Active);
        match active.count() {
            1 => Ok(ring),
            n => Err(KeyringError::Active(n)),
        }
    }

    pub fn render(&self) -> String {
        let mut out = HEADER.to_string();
        let i = &self.index;
        out.push_str(&format!(
            "index {} {} {}\n",
            hex::encode(i.fp),
            hex::encode(i.cvc),
            hex::encode(i.req)
        ));
        for k in &self.keys {
            let state = match k.state {
                KeyState::Active => "active".to_string(),
                KeyState::Staged => "staged".to_string(),
                KeyState::Replaced(at) => format!(
                    "replaced {}",
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
            };
            out.push_str(&format!("key {} {} {state}\n", k.id, hex::encode(k.secret)));
        }
        out
    }

    /// The vault these keys make: sealing under the active key, opening under any.
    pub fn vault(&self) -> Vault {
        let secrets: Vec<[u8; 32]> = self.keys.iter().map(|k| k.secret).collect();
        let active = self
            .keys
            .iter()
            .position(|k| k.state == KeyState::Active)
            .unwrap_or(0);
        Vault::with_keys(&self.index, &secrets, active)
    }

    pub fn keys(&self) -> &[RingKey] {
        &self.keys
    }

    pub fn active_id(&self) -> &str {
        self.keys
            .iter()
            .find(|k| k.state == KeyState::Active)
            .map(|k| k.id.as_str())
            .unwrap_or_default()
    }

    /// Whether `secret` is one of this ring's sealing keys.
    pub fn holds_secret(&self, secret: &[u8; 32]) -> bool {
        self.keys.iter().any(|k| k.secret == *secret)
    }

    /// Adds a sealing key: active at once (the previous active key is replaced now), or staged.
    /// Returns its id.
    pub fn add(
        &mut self,
        secret: [u8; 32],
        activate: bool,
        now: DateTime<Utc>,
    ) -> Result<String, KeyringError> {
        let id = key_id_of(&secret);
        if self.keys.iter().any(|k| k.id == id) {
            return Err(KeyringError::Duplicate(id));
        }
        self.keys.push(RingKey {
            id: id.clone(),
            secret,
            state: KeyState::Staged,
        });
        if activate {
            self.activate(&id, now)?;
        }
        Ok(id)
    }

    /// Makes a held key the active one; the previous active key is replaced now.
    pub fn activate(&mut self, id: &str, now: DateTime<Utc>) -> Result<(), KeyringError> {
        if !self.keys.iter().any(|k| k.id == id) {
            return Err(KeyringError::Unknown(id.to_string()));
        }
        for k in &mut self.keys {
            if k.id == id {
                k.state = KeyState::Active;
            } else if k.state == KeyState::Active {
                k.state = KeyState::Replaced(now);
            }
        }
        Ok(())
    }

    /// Until when tokens sealed under this key may still be live, given the longest token
    /// lifetime: never past `replaced` + `ttl`; `None` for a key that never sealed one.
    pub fn tokens_live_until(
        &self,
        id: &str,
        ttl: chrono::Duration,
    ) -> Result<Option<DateTime<Utc>>, KeyringError> {
        match self.get(id)?.state {
            KeyState::Active => Err(KeyringError::IsActive(id.to_string())),
            KeyState::Replaced(at) => Ok(Some(at + ttl)),
            KeyState::Staged => Ok(None),
        }
    }

    fn get(&self, id: &str) -> Result<&RingKey, KeyringError> {
        self.keys
            .iter()
            .find(|k| k.id == id)
            .ok_or_else(|| KeyringError::Unknown(id.to_string()))
    }

    /// Removes a key that is not active. What it sealed can no longer be opened.
    pub fn remove(&mut self, id: &str) -> Result<(), KeyringError> {
        if self.get(id)?.state == KeyState::Active {
            return Err(KeyringError::IsActive(id.to_string()));
        }
        self.keys.retain(|k| k.id != id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::Pan;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn rotation_round_trips_through_text_and_keeps_fingerprints() {
        let pan = Pan::parse("4405639704015096").unwrap_or_else(|e| panic!("{e}"));
        let first = crate::vault::Vault::new([1u8; 32]);
        let mut ring = Keyring::from_master([1u8; 32]);
        let old_id = ring.active_id().to_string();
        assert_eq!(old_id, first.key_id());
        let t = at("2030-01-02T03:04:05Z");
        let new_id = ring
            .add([2u8; 32], true, t)
            .unwrap_or_else(|e| panic!("{e}"));
        let text = ring.render();
        assert!(
            text.contains(&format!("key {old_id} "))
                && text.contains("replaced 2030-01-02T03:04:05Z")
        );
        let back = Keyring::parse(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.render(), text);
        assert_eq!(back.active_id(), new_id);
        let v = back.vault();
        assert_eq!(v.key_id(), new_id);
        assert_eq!(v.fingerprint(&pan), first.fingerprint(&pan));
        assert!(v.open(&first.seal(&pan)).is_ok());
        // Retiring the first key keeps the fingerprints: the index keys stand on their own.
        let mut ring = back;
        assert_eq!(
            ring.remove(&new_id),
            Err(KeyringError::IsActive(new_id.clone()))
        );
        ring.remove(&old_id).unwrap_or_else(|e| panic!("{e}"));
        let v = Keyring::parse(&ring.render())
            .unwrap_or_else(|e| panic!("{e}"))
            .vault();
        assert_eq!(v.fingerprint(&pan), first.fingerprint(&pan));
        assert!(v.open(&first.seal(&pan)).is_err());
        assert!(!ring.render().contains(&hex::encode([1u8; 32])));
    }

    #[test]
    fn token_window_and_staging() {
        let mut ring = Keyring::from_master([1u8; 32]);
        let old_id = ring.active_id().to_string();
        let t = at("2030-01-02T03:04:05Z");
        let staged = ring
            .add([2u8; 32], false, t)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ring.active_id(), old_id, "a staged key does not seal");
        assert_eq!(
            ring.tokens_live_until(&staged, chrono::Duration::hours(2)),
            Ok(None)
        );
        ring.activate(&staged, t).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            ring.tokens_live_until(&old_id, chrono::Duration::hours(2)),
            Ok(Some(at("2030-01-02T05:04:05Z")))
        );
        assert!(ring.add([2u8; 32], true, t).is_err(), "same key twice");
        assert!(ring.activate("ffffffff", t).is_err());
    }

    #[test]
    fn malformed_keyrings_are_refused() {
        let ring = Keyring::from_master([1u8; 32]).render();
        let no_index: String = ring
            .lines()
            .filter(|l| !l.starts_with("index"))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(Keyring::parse(&no_index).err(), Some(KeyringError::NoIndex));
        let no_active = ring.replace(" active", " staged");
        assert_eq!(
            Keyring::parse(&no_active).err(),
            Some(KeyringError::Active(0))
        );
        let wrong_id = ring.replace(&key_id_of(&[1u8; 32]), "00000000");
        assert!(matches!(
            Keyring::parse(&wrong_id),
            Err(KeyringError::Malformed { .. })
        ));
        assert!(matches!(
            Keyring::parse(&format!("{ring}junk\n")),
            Err(KeyringError::Malformed { .. })
        ));
    }
}
