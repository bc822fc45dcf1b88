//! Reads that must be fresh but that many requests make at once: the token endpoint reads the
//! merchant's row on every call, so that a rotated secret or a disabled merchant is refused at
//! once. Requests for one key that arrive while a read of that key runs wait for the *next*
//! read, which starts when the running one ends and answers all of them. Every answer
//! therefore comes from a read that began after its request did (as fresh as a read of its
//! own), and under load one read serves many requests instead of one each.
//!
//! The request that runs a read hands the next read to one of those waiting; a request that
//! goes away (its client disconnected) in the middle passes its turn on, so nobody waits for
//! a read that will never run.

use aqsha_core::store::{StoreError, StoreResult};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use tokio::sync::oneshot;

type Waiter<V> = oneshot::Sender<Msg<V>>;

enum Msg<V> {
    /// The answer, read after the request arrived.
    Value(StoreResult<V>),
    /// Run the next read, and answer these requests with it as well.
    Turn(Vec<Waiter<V>>),
}

pub(crate) struct Coalesced<V> {
    /// A key is present while a read of it runs; its list holds the requests that arrived
    /// since, for the next read.
    waiting: Mutex<HashMap<String, Vec<Waiter<V>>>>,
}

impl<V: Clone> Coalesced<V> {
    pub(crate) fn new() -> Self {
        Coalesced {
            waiting: Mutex::new(HashMap::new()),
        }
    }

    /// A value of `key` that `read` fetched after this call began.
    pub(crate) async fn get<F, Fut>(&self, key: &str, read: F) -> StoreResult<V>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = StoreResult<V>>,
    {
        let rx = {
            let mut map = self.waiting.lock().map_err(|_| StoreError::Closed)?;
            match map.get_mut(key) {
                Some(list) => {
                    let (tx, rx) = oneshot::channel();
                    list.push(tx);
                    Some(rx)
                }
                None => {
                    map.insert(key.to_string(), Vec::new());
                    None
                }
            }
        };
        let also = match rx {
            None => Vec::new(),
            Some(rx) => {
                let mut wait = Wait {
                    owner: self,
                    key,
                    rx: Some(rx),
                };
                let msg = match wait.rx.as_mut() {
                    Some(rx) => rx.await,
                    None => return Err(StoreError::Closed),
                };
                wait.rx = None;
                match msg {
                    Ok(Msg::Value(v)) => return v,
                    Ok(Msg::Turn(also)) => also,
                    Err(_) => return Err(StoreError::Closed),
                }
            }
        };
        let mut turn = Turn {
            owner: self,
            key,
            also,
        };
        let result = read().await;
        for tx in turn.also.drain(..) {
            let copy = match &result {
                Ok(v) => Ok(v.clone()),
                Err(e) => Err(StoreError::Db(e.to_string())),
            };
            let _ = tx.send(Msg::Value(copy));
        }
        drop(turn);
        result
    }

    /// Ends a read of `key`: the requests that arrived meanwhile (with `stranded`, those a
    /// cancelled read was to answer) get the next read, run by the first of them still there.
    fn pass_on(&self, key: &str, stranded: Vec<Waiter<V>>) {
        let Ok(mut map) = self.waiting.lock() else {
            return;
        };
        let mut list = stranded;
        list.extend(map.remove(key).unwrap_or_default());
        while !list.is_empty() {
            let first = list.remove(0);
            map.insert(key.to_string(), Vec::new());
            match first.send(Msg::Turn(list)) {
                Ok(()) => return,
                Err(Msg::Turn(back)) => {
                    map.remove(key);
                    list = back;
                }
                Err(Msg::Value(_)) => return,
            }
        }
    }
}

/// The running read's turn: passed on when the read ends, or when its request is dropped.
struct Turn<'a, V: Clone> {
    owner: &'a Coalesced<V>,
    key: &'a str,
    also: Vec<Waiter<V>>,
}

impl<V: Clone> Drop for Turn<'_, V> {
    fn drop(&mut self) {
        self.owner.pass_on(self.key, std::mem::take(&mut self.also));
    }
}

/// A request waiting for the next read. If it is dropped after being handed the turn, it
/// passes the turn on.
struct Wait<'a, V: Clone> {
    owner: &'a Coalesced<V>,
    key: &'a str,
    rx: Option<oneshot::Receiver<Msg<V>>>,
}

impl<V: Clone> Drop for Wait<'_, V> {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            rx.close();
            if let Ok(Msg::Turn(also)) = rx.try_recv() {
                self.owner.pass_on(self.key, also);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn every_answer_is_read_after_its_request_and_reads_are_shared() {
        let c = Arc::new(Coalesced::<u64>::new());
        // The "database": a version that requests bump before they ask.
        let version = Arc::new(AtomicU64::new(0));
        let reads = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for _ in 0..200 {
            let (c, version, reads) = (c.clone(), version.clone(), reads.clone());
            tasks.push(tokio::spawn(async move {
                let seen = version.fetch_add(1, Ordering::SeqCst) + 1;
                let got = c
                    .get("k", || async {
                        reads.fetch_add(1, Ordering::SeqCst);
                        let v = version.load(Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        Ok(v)
                    })
                    .await
                    .unwrap();
                assert!(got >= seen, "a stale answer: {got} < {seen}");
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert!(reads.load(Ordering::SeqCst) < 200);
        assert!(c.waiting.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_request_that_goes_away_passes_its_turn_on() {
        let c = Arc::new(Coalesced::<u64>::new());
        let slow = {
            let c = c.clone();
            tokio::spawn(async move {
                c.get("k", || async {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    Ok(1)
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let waiting = {
            let c = c.clone();
            tokio::spawn(async move { c.get("k", || async { Ok(2) }).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        slow.abort();
        let got = tokio::time::timeout(Duration::from_secs(5), waiting).await;
        assert_eq!(got.unwrap().unwrap().unwrap(), 2);
        assert_eq!(c.get("k", || async { Ok(3) }).await.unwrap(), 3);
    }
}
