//! Card-number arithmetic that the server and the client both need: the Luhn check digit and
//! ePay's mask. Written once here, where both can reach it (the client does not depend on the
//! domain crate).

/// The Luhn sum of ASCII digits, doubling every second digit from the right (from the check
/// digit's neighbour when `with_check_digit`, from the last digit otherwise).
fn luhn_sum(digits: &[u8], with_check_digit: bool) -> u32 {
    let offset = usize::from(!with_check_digit);
    digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &b)| {
            let d = u32::from(b.wrapping_sub(b'0'));
            if (i + offset) % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum()
}

/// Whether a string of ASCII digits ends in the right Luhn check digit.
pub fn luhn_ok(digits: &str) -> bool {
    luhn_sum(digits.as_bytes(), true).is_multiple_of(10)
}

/// The check digit that makes `digits` followed by it pass the Luhn check.
pub fn luhn_check_digit(digits: &str) -> u8 {
    let sum = luhn_sum(digits.as_bytes(), false);
    ((10 - sum % 10) % 10) as u8
}

/// ePay's mask of a card number: the first six digits, three dots, the last four
/// (`440563...5096`). At least two digits stay hidden whatever the length: a shorter number
/// shows fewer leading digits.
pub fn mask(digits: &str) -> String {
    let n = digits.len();
    let last = 4.min(n.saturating_sub(2));
    let first = 6.min(n.saturating_sub(last + 2));
    match (digits.get(..first), digits.get(n - last..)) {
        (Some(head), Some(tail)) => format!("{head}...{tail}"),
        _ => "...".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_the_seed_cards_and_finds_check_digits() {
        for n in ["4405639704015096", "5522042705066736", "377514500004820"] {
            assert!(luhn_ok(n), "{n}");
            let (body, check) = n.split_at(n.len() - 1);
            assert_eq!(luhn_check_digit(body).to_string(), check, "{n}");
        }
        assert!(!luhn_ok("4405639704015097"));
    }

    #[test]
    fn masks_hide_at_least_two_digits() {
        assert_eq!(mask("4405639704015096"), "440563...5096");
        assert_eq!(mask("123456789012"), "123456...9012");
        for len in 12..=19 {
            let m = mask(&"4".repeat(len));
            let shown = m.replace("...", "").len();
            assert!(len - shown >= 2, "{m}");
        }
    }
}
