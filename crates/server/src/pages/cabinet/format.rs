//! How the cabinet shows money and time: tenge as a person in Kazakhstan writes it, and times
//! in the merchant's time zone.

use crate::pages::lang::Lang;
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The time zone a merchant's cabinet shows times in and counts days by: an IANA zone, with
/// its history (Almaty's move from UTC+6 to UTC+5 in 2024, London's summer time), from the
/// `chrono-tz` database. Asia/Almaty unless the merchant chose another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone(Tz);

impl Default for Zone {
    fn default() -> Self {
        Zone(Tz::Asia__Almaty)
    }
}

impl Zone {
    /// The zone of an IANA name (`Europe/London`); `None` for anything else.
    pub fn parse(name: &str) -> Option<Zone> {
        name.trim().parse::<Tz>().ok().map(Zone)
    }

    /// The stored name, or the default for one this build does not know (a name stored by a
    /// newer build): a merchant's pages never fail over it.
    pub fn from_stored(name: &str) -> Zone {
        Zone::parse(name).unwrap_or_default()
    }

    pub fn name(self) -> &'static str {
        self.0.name()
    }

    pub fn local(self, t: DateTime<Utc>) -> DateTime<Tz> {
        t.with_timezone(&self.0)
    }

    /// The instant a local date begins (its first existing minute where a clock change skips
    /// midnight).
    pub fn day_start(self, date: NaiveDate) -> DateTime<Utc> {
        self.to_utc(date.and_hms_opt(0, 0, 0).unwrap_or_default())
    }

    /// A local wall-clock time as an instant: the earlier one when the clock went back over
    /// it, the first one after the gap when the clock skipped it.
    pub fn to_utc(self, local: NaiveDateTime) -> DateTime<Utc> {
        let mut t = local;
        for _ in 0..4 {
            if let Some(at) = self.0.from_local_datetime(&t).earliest() {
                return at.with_timezone(&Utc);
            }
            t += Duration::minutes(30);
        }
        local.and_utc()
    }

    pub fn today(self) -> NaiveDate {
        self.local(Utc::now()).date_naive()
    }
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

/// A whole number with its thousands grouped: `1 000 000` (rus, kaz), `1,000,000` (eng).
pub fn grouped(n: u64, lang: Lang) -> String {
    let group = if lang == Lang::Eng { "," } else { "\u{a0}" };
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push_str(group);
        }
        out.push(c);
    }
    out
}

/// Minor units (tiyn) as tenge: `1 234,56 ₸` in Russian and Kazakh (a no-break space groups
/// thousands, a comma before the tiyn), `1,234.56 ₸` in English, the sign where it was.
pub fn tenge(minor: i64, lang: Lang) -> String {
    let point = if lang == Lang::Eng { "." } else { "," };
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let whole = grouped(abs / 100, lang);
    format!("{sign}{whole}{point}{:02}\u{a0}₸", abs % 100)
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
        let z = Zone::default();
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

    #[test]
    fn london_has_summer_time_and_names_are_checked() {
        let z = Zone::parse("Europe/London").unwrap();
        assert_eq!(z.name(), "Europe/London");
        let summer = Utc.with_ymd_and_hms(2025, 7, 1, 12, 0, 0).unwrap();
        assert_eq!(time(summer, z, Lang::Eng), "2025-07-01 13:00:00");
        let d = NaiveDate::from_ymd_opt(2025, 7, 1).unwrap();
        assert_eq!(
            z.day_start(d),
            Utc.with_ymd_and_hms(2025, 6, 30, 23, 0, 0).unwrap()
        );
        // Where the clock skips midnight (Santiago, September 2025), the day starts at 01:00.
        let santiago = Zone::parse("America/Santiago").unwrap();
        let d = NaiveDate::from_ymd_opt(2025, 9, 7).unwrap();
        assert_eq!(
            santiago.day_start(d),
            Utc.with_ymd_and_hms(2025, 9, 7, 4, 0, 0).unwrap()
        );
        assert_eq!(Zone::parse("Mars/Olympus"), None);
        assert_eq!(Zone::parse(""), None);
        assert_eq!(Zone::from_stored("nowhere"), Zone::default());
    }
}
