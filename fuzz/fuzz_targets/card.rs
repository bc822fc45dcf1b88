//! Card numbers, CVCs and expiry dates as every side reads them: wire's `Pan` (strict and as
//! typed), `mask`, the Luhn check, `Brand`, `Cvc`, `Expiry`; the client's `CardNumber` and
//! `Expiry` (as a person types them on the command line); the hosted form's posted card
//! fields. Properties: a parsed number's mask shows at most the first six and last four digits
//! and hides at least two; `Debug`/`Display` never show the number or the CVC; the Luhn check
//! digit is the only one that passes; an expiry read back from its display or its wire form
//! is the same expiry; the client and the hosted form agree with wire's rules.
#![no_main]

use aqsha_wire::card::{luhn_check_digit, luhn_ok, mask, Brand, Cvc, Expiry, Pan};
use libfuzzer_sys::fuzz_target;

fn check_pan(text: &str) {
    let Ok(pan) = Pan::parse(text) else {
        return;
    };
    let d = pan.expose();
    assert_eq!(d, text);
    assert!((12..=19).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()));
    let n = d.len();
    assert_eq!(pan.mask(), format!("{}...{}", &d[..6], &d[n - 4..]));
    assert!(!format!("{pan:?}").contains(d) && !pan.to_string().contains(d));
    assert_eq!(pan.luhn_ok(), luhn_ok(d));
    let _ = pan.brand().name();
}

/// Any text's mask hides at least two bytes of it: it is `...` alone, or at most six leading
/// and four trailing bytes of the text around `...` (the text may hold `...` itself).
fn check_mask(text: &str) {
    let m = mask(text);
    if m == "..." {
        return;
    }
    let n = text.len();
    let shown = (0..=6.min(n)).any(|head| {
        (0..=4.min(n - head)).any(|tail| {
            head + tail + 2 <= n
                && m.len() == head + 3 + tail
                && text.get(..head).is_some_and(|h| m.starts_with(h))
                && text.get(n - tail..).is_some_and(|t| m.ends_with(t))
                && m.get(head..head + 3) == Some("...")
        })
    });
    assert!(shown, "mask {m:?} of {text:?} shows too much");
}

fn check_luhn(text: &str) {
    if text.is_empty() || text.len() > 64 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return;
    }
    let check = luhn_check_digit(text);
    assert!(check <= 9);
    for digit in 0..=9u8 {
        let full = format!("{text}{digit}");
        assert_eq!(luhn_ok(&full), digit == check, "{full}");
    }
}

fn check_grouped(text: &str) {
    let wire = Pan::parse_grouped(text);
    if let Ok(pan) = &wire {
        let digits: String = text.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        assert_eq!(pan.expose(), digits);
    }
    let client = aqsha_client::CardNumber::parse(text);
    assert_eq!(client.is_ok(), wire.is_ok());
}

fn check_cvc(text: &str) {
    if let Ok(cvc) = Cvc::parse(text) {
        assert!((3..=4).contains(&cvc.expose().len()));
        assert_eq!(format!("{cvc:?}"), "Cvc(***)");
    }
    if let Ok(cvc) = aqsha_client::Cvc::parse(text) {
        assert!(!format!("{cvc:?}").contains(cvc.expose()));
    }
}

fn check_expiry(text: &str) {
    let (month, year) = text.split_once('/').unwrap_or((text, ""));
    if let Some(e) = Expiry::parse(month, year) {
        assert!((1..=12).contains(&e.month) && e.year <= 99);
        let shown = e.to_string();
        let (m, y) = shown.split_once('/').unwrap_or_else(|| panic!("{shown}"));
        assert_eq!(Expiry::parse(m, y), Some(e));
        let wire = e.to_wire();
        assert_eq!(Expiry::parse(&wire.month, &wire.year), Some(e));
        let _ = e.has_passed(2026, 12);
    }
    if let Ok(e) = aqsha_client::Expiry::parse(text) {
        assert_eq!(
            Expiry::new(e.month(), e.year()).map(|w| w.to_string()),
            Some(format!("{:02}/{:02}", e.month(), e.year()))
        );
    }
}

/// The hosted form's post: its card number is the typed one without spaces and dashes, and
/// an expiry it accepts is one wire accepts.
fn check_payform(body: &[u8]) {
    let Some(post) = aqsha_server::fuzzing::payform_post(body) else {
        return;
    };
    assert!(!post.number.contains([' ', '-']));
    if let Some((m, y)) = post.expiry {
        assert!(Expiry::parse(&m, &y).is_some());
        let digits: String = post
            .expire_text
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        assert!(digits.starts_with(m.as_str()) && digits.ends_with(y.as_str()));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    if kind % 2 == 1 {
        check_payform(rest);
        return;
    }
    let text = String::from_utf8_lossy(rest);
    check_pan(&text);
    check_mask(&text);
    check_luhn(&text);
    check_grouped(&text);
    check_cvc(&text);
    check_expiry(&text);
    let _ = Brand::of(&text).name();
    let _ = Brand::from_name(&text);
});
