//! The ids and codes a transfer makes up. Injected, so that tests can fix them; in service they
//! are random ([`RandomIds`]). The retrieval reference is not here: it must be unique in the
//! database, so the store hands it out ([`crate::tx::Tx::next_reference`]).

use rand::Rng;

pub trait Ids {
    /// A new operation's id.
    fn operation_id(&mut self) -> String;
    /// A new callback event's id.
    fn callback_id(&mut self) -> String;
    /// The id of a card saved for the first time.
    fn saved_card_id(&mut self) -> String;
    /// A charge's internal reference: 16 upper-case hex digits.
    fn int_reference(&mut self) -> String;
    /// A charge's approval code, sent in its callback: 6 digits.
    fn approval_code(&mut self) -> String;
    /// A secret a browser is handed (a 3-D Secure challenge's `paReq`): 122 random bits.
    fn secret(&mut self) -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }
}

/// Fresh ids: time-ordered UUIDs (v7) for operations and events, random (v4) for saved cards.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomIds;

impl Ids for RandomIds {
    // Time-ordered ids keep each commit's new rows (and their postings) on a few B-tree pages
    // instead of scattering them, which is most of what a durable commit writes.
    fn operation_id(&mut self) -> String {
        uuid::Uuid::now_v7().to_string()
    }

    fn callback_id(&mut self) -> String {
        uuid::Uuid::now_v7().to_string()
    }

    fn saved_card_id(&mut self) -> String {
        uuid::Uuid::new_v4().to_string()
    }

    // Time-ordered, for the same reason as the operation ids: the cabinet's search indexes
    // `int_reference`, and a random key dirtied a page of that index anywhere in the tree on
    // every charge (about 9 % of the transfer path's throughput, BENCHMARKS.md "Session 9").
    // The top 42 bits are the milliseconds since the Unix epoch (enough until 2109), the low
    // 22 a counter that starts at a random value in each process: unique within a process,
    // and two instances collide only if their counters meet in the same millisecond.
    fn int_reference(&mut self) -> String {
        static NEXT: std::sync::OnceLock<std::sync::atomic::AtomicU64> = std::sync::OnceLock::new();
        let next = NEXT.get_or_init(|| rand::thread_rng().gen::<u64>().into());
        let low = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) & ((1 << 22) - 1);
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        format!("{:016X}", (millis << 22) | low)
    }

    fn approval_code(&mut self) -> String {
        format!("{:06}", rand::thread_rng().gen_range(0..1_000_000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_references_are_distinct_hex_and_lead_with_the_time() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let refs: Vec<String> = (0..10_000).map(|_| RandomIds.int_reference()).collect();
        let distinct: std::collections::HashSet<&String> = refs.iter().collect();
        assert_eq!(distinct.len(), refs.len());
        for r in &refs {
            assert_eq!(r.len(), 16, "{r}");
            assert!(
                r.chars()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()),
                "{r}"
            );
            let millis = u64::from_str_radix(r, 16).unwrap() >> 22;
            // Within a minute of the clock: the index stays ordered by time.
            assert!(millis.abs_diff(now) < 60_000, "{r}: {millis} against {now}");
        }
    }
}
