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

    fn int_reference(&mut self) -> String {
        format!("{:016X}", rand::thread_rng().gen::<u64>())
    }

    fn approval_code(&mut self) -> String {
        format!("{:06}", rand::thread_rng().gen_range(0..1_000_000))
    }
}
