//! How the cabinet shows money and time: tenge as a person in Kazakhstan writes it, and times
//! in the merchant's time zone.

use crate::pages::lang::Lang;
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// A time zone the cabinet shows times in. Only Asia/Almaty (the default) for now: Aqsha
/// carries no time zone database, and Almaty's rules are two lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Zone {
    #[default]
    AsiaAlmaty,
}

impl Zone {
    pub fn name(self) -> &'static str {
        match self {
            Zone::AsiaAlmaty => "Asia/Almaty",
        }
    }

    /// The offset from UTC at an instant: Kazakhstan moved from UTC+6 to UTC+5 at midnight
    /// of 1 March 2024, local time (18:00 UTC on 29 February).
    pub fn offset_at(self, t: DateTime<Utc>) -> FixedOffset {
        let switch = Utc.with_ymd_and_hms(2024, 2, 29, 18, 0, 0).single();
        let hours = if switch.is_some_and(|s| t < s) { 6 } else { 5 };
        whole_hours(hours)
    }

    pub fn local(self, t: DateTime<Utc>) -> DateTime<FixedOffset> {
        t.with_timezone(&self.offset_at(t))
    }

    /// The instant a local date begins.
    pub fn day_start(self, date: NaiveDate) -> DateTime<Utc> {
        let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
        self.to_utc(midnight)
    }

    /// A local wall-clock time as an instant (the offset of the instant it names).
    pub fn to_utc(self, local: NaiveDateTime) -> DateTime<Utc> {
        // Read with the later offset first; if that instant falls before the switch, the
        // earlier offset applied.
        let late = whole_hours(5);
        let guess = (local - Duration::hours(5)).and_utc();
        let offset = self.offset_at(guess);
        if offset == late {
            guess
        } else {
            (local - Duration::seconds(i64::from(offset.local_minus_utc()))).and_utc()
        }
    }

    pub fn today(self) -> NaiveDate {
        self.local(Utc::now()).date_naive()
    }
}

fn whole_hours(h: i32) -> FixedOffset {
    FixedOffset::east_opt(h * 3600).unwrap_or_else(|| unreachable!("an offset under a day"))
}

/// A time as the tables show it: `31.01.2026 14:05:09` (rus, kaz) or `2026-01-31 14:05:09`.
pub fn time(t: DateTime<Utc>, zone: Zone, lang: Lang) -> String {
    let local = zone.local(t);
    match lang {
        Lang::Eng => local.format("%Y-%m-%d %H:%M:%S").to_string(),
        _ => local.format("%d.%m.%Y %H:%M:%S").to_string(),
    }
}

/// A date: `31.01` or `01-31` in charts, short.
pub fn short_date(d: NaiveDate, lang: Lang) -> String {
    match lang {
        Lang::Eng => d.format("%m-%d").to_string(),
        _ => d.format("%d.%m").to_string(),
    }
}

/// Minor units (tiyn) as tenge: `1 234,56 ₸` in Russian and Kazakh (a no-break space groups
/// thousands, a comma before the tiyn), `1,234.56 ₸` in English, the sign where it was.
pub fn tenge(minor: i64, lang: Lang) -> String {
    let (group, point) = match lang {
        Lang::Eng => (",", "."),
        _ => ("\u{a0}", ","),
    };
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let whole = (abs / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push_str(group);
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}{point}{:02}\u{a0}₸", abs % 100)
}

/// A share as a percentage with one decimal: `97,5 %` or `97.5%`.
pub fn percent(part: u64, whole: u64, lang: Lang) -> String {
    if whole == 0 {
        return "—".into();
    }
    let tenths = (part * 1000 + whole / 2) / whole;
    match lang {
        Lang::Eng => format!("{}.{}%", tenths / 10, tenths % 10),
        _ => format!("{},{}\u{a0}%", tenths / 10, tenths % 10),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenge_is_grouped_per_language() {
        assert_eq!(tenge(123_456, Lang::Rus), "1\u{a0}234,56\u{a0}₸");
        assert_eq!(tenge(123_456_789, Lang::Eng), "1,234,567.89\u{a0}₸");
        assert_eq!(tenge(5, Lang::Kaz), "0,05\u{a0}₸");
        assert_eq!(tenge(-100_000, Lang::Eng), "-1,000.00\u{a0}₸");
        assert_eq!(percent(39, 40, Lang::Eng), "97.5%");
        assert_eq!(percent(0, 0, Lang::Rus), "—");
    }

    #[test]
    fn almaty_moved_from_utc_plus_6_to_plus_5_in_2024() {
        let z = Zone::AsiaAlmaty;
        let before = Utc.with_ymd_and_hms(2024, 1, 10, 12, 0, 0).unwrap();
        let after = Utc.with_ymd_and_hms(2025, 1, 10, 12, 0, 0).unwrap();
        assert_eq!(time(before, z, Lang::Eng), "2024-01-10 18:00:00");
        assert_eq!(time(after, z, Lang::Rus), "10.01.2025 17:00:00");
        let d = NaiveDate::from_ymd_opt(2025, 1, 10).unwrap();
        assert_eq!(
            z.day_start(d),
            Utc.with_ymd_and_hms(2025, 1, 9, 19, 0, 0).unwrap()
        );
        let d = NaiveDate::from_ymd_opt(2024, 1, 10).unwrap();
        assert_eq!(
            z.day_start(d),
            Utc.with_ymd_and_hms(2024, 1, 9, 18, 0, 0).unwrap()
        );
    }
}
