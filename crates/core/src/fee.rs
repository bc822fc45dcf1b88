//! Terminal fee schedules.

use crate::money::Money;

/// A fee of `percent_bps` basis points of the amount, rounded half up to the minor unit, but
/// never less than `min_fee`. The sandbox terminals charge 0.95 % with a 95 KZT minimum, which
/// gives the seed's `"fee": 95` on a 100 KZT transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeSchedule {
    pub percent_bps: i64,
    pub min_fee: Money,
}

impl FeeSchedule {
    /// The sandbox's schedule: 0.95 %, at least 95 KZT.
    pub const DEFAULT: FeeSchedule = FeeSchedule {
        percent_bps: 95,
        min_fee: Money::from_minor(9_500),
    };

    pub fn fee_for(&self, amount: Money) -> Option<Money> {
        let pct = amount
            .minor()
            .checked_mul(self.percent_bps)?
            .checked_add(5_000)?
            / 10_000;
        Some(Money::from_minor(pct.max(self.min_fee.minor())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schedule_matches_the_seed() {
        let s = FeeSchedule {
            percent_bps: 95,
            min_fee: Money::from_minor(9_500),
        };
        assert_eq!(
            s.fee_for(Money::from_minor(10_000)),
            Some(Money::from_minor(9_500))
        );
        // 0.95 % of 100,000 KZT = 950 KZT.
        assert_eq!(
            s.fee_for(Money::from_minor(10_000_000)),
            Some(Money::from_minor(95_000))
        );
        // 0.95 % of 12,345.67 = 117.283865 -> 117.28
        assert_eq!(
            s.fee_for(Money::from_minor(1_234_567)),
            Some(Money::from_minor(11_728))
        );
    }
}
