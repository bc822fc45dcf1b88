//! `GET /cabinet/`: today and the last 30 days in the merchant's time zone: transfers, the
//! money charged, the success rate, fees, declines by reason code, and two charts.
//!
//! The store groups the merchant's operations by UTC hour, status and reason code
//! ([`aqsha_core::store::Store::operation_stats`]); the hours are put into local days here, so
//! a day is the merchant's, not UTC's.

use super::charts;
use super::format::{self, Zone};
use super::session::CabinetMerchant;
use super::{render, Layout};
use crate::pages::assets;
use crate::pages::csrf::CsrfToken;
use crate::pages::error::PageError;
use crate::pages::lang::Lang;
use crate::AppState;
use aqsha_core::cabinet::StatRow;
use askama::Template;
use axum::extract::State;
use axum::response::Html;
use chrono::{Duration, NaiveDate};
use std::collections::BTreeMap;

/// Days the dashboard covers, today included.
pub const DAYS: i64 = 30;

/// Sums over some operations.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub count: u64,
    pub charged: u64,
    /// Money charged, in tiyn.
    pub volume: i64,
    pub fees: i64,
}

impl Totals {
    fn add(&mut self, r: &StatRow) {
        self.count += r.count;
        if r.charged {
            self.charged += r.count;
            self.volume += r.amount;
            self.fees += r.fee;
        }
    }
}

/// The dashboard's figures: per local day (oldest first), and declines per code.
#[derive(Debug, Default)]
pub struct Figures {
    pub days: Vec<(NaiveDate, Totals)>,
    pub declines: Vec<(u32, u64)>,
}

/// The figures of the `DAYS` days that end with `today`.
pub fn figures(rows: &[StatRow], zone: Zone, today: NaiveDate) -> Figures {
    let first = today - Duration::days(DAYS - 1);
    let mut days: BTreeMap<NaiveDate, Totals> = (0..DAYS)
        .map(|i| (first + Duration::days(i), Totals::default()))
        .collect();
    let mut declines: BTreeMap<u32, u64> = BTreeMap::new();
    for r in rows {
        let day = zone.local(r.hour).date_naive();
        // An hour that started before the local midnight belongs partly to the day before:
        // hours are whole in Asia/Almaty (UTC+5, +6), so this never splits one.
        let Some(t) = days.get_mut(&day) else {
            continue;
        };
        t.add(r);
        if !r.charged {
            *declines.entry(r.reason_code).or_default() += r.count;
        }
    }
    let mut declines: Vec<(u32, u64)> = declines.into_iter().collect();
    declines.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Figures {
        days: days.into_iter().collect(),
        declines,
    }
}

/// One figure box.
pub struct Tile {
    pub label: &'static str,
    pub today: String,
    pub month: String,
}

pub struct Decline {
    pub code: u32,
    pub reason: String,
    pub count: u64,
    pub share: String,
}

#[derive(Template)]
#[template(path = "cabinet_dashboard.html")]
struct DashboardPage {
    lang: Lang,
    stylesheet: String,
    layout: Layout,
    today_label: &'static str,
    month_label: &'static str,
    tiles: Vec<Tile>,
    volume_title: &'static str,
    volume_svg: String,
    declines_title: &'static str,
    declines_svg: Option<String>,
    declines: Vec<Decline>,
    no_declines: &'static str,
    code_label: &'static str,
    count_label: &'static str,
}

fn tri(words: [&'static str; 3], lang: Lang) -> &'static str {
    words[lang.index()]
}

/// `GET /cabinet/`.
pub async fn page(
    State(app): State<AppState>,
    m: CabinetMerchant,
    csrf: CsrfToken,
) -> Result<Html<String>, PageError> {
    let lang = m.lang;
    let today = m.zone.today();
    let since = m.zone.day_start(today - Duration::days(DAYS - 1));
    let rows = app
        .store
        .operation_stats(&m.merchant_id, since)
        .await
        .map_err(|e| PageError::internal(lang, "reading the dashboard figures failed", e))?;
    let f = figures(&rows, m.zone, today);
    let now = f.days.last().map(|d| d.1).unwrap_or_default();
    let mut month = Totals::default();
    for (_, t) in &f.days {
        month.count += t.count;
        month.charged += t.charged;
        month.volume += t.volume;
        month.fees += t.fees;
    }
    let money = |v: i64| format::tenge(v, lang);
    let tiles = vec![
        Tile {
            label: tri(["Переводов", "Аударымдар", "Transfers"], lang),
            today: now.count.to_string(),
            month: month.count.to_string(),
        },
        Tile {
            label: tri(["Сумма проведённых", "Өткізілген сома", "Charged"], lang),
            today: money(now.volume),
            month: money(month.volume),
        },
        Tile {
            label: tri(["Успешных", "Сәтті", "Success rate"], lang),
            today: format::percent(now.charged, now.count, lang),
            month: format::percent(month.charged, month.count, lang),
        },
        Tile {
            label: tri(["Комиссии", "Комиссиялар", "Fees"], lang),
            today: money(now.fees),
            month: money(month.fees),
        },
        Tile {
            label: tri(["Отклонённых", "Қабылданбағандар", "Declined"], lang),
            today: (now.count - now.charged).to_string(),
            month: (month.count - month.charged).to_string(),
        },
    ];
    let volume_title = tri(
        [
            "Сумма проведённых по дням, 30 дней",
            "Күн сайынғы өткізілген сома, 30 күн",
            "Charged per day, 30 days",
        ],
        lang,
    );
    let max = f.days.iter().map(|d| d.1.volume).max().unwrap_or(0);
    let bars: Vec<(String, i64, String)> = f
        .days
        .iter()
        .map(|(d, t)| (format::short_date(*d, lang), t.volume, money(t.volume)))
        .collect();
    let declines_title = tri(
        [
            "Отказы по кодам причин, 30 дней",
            "Себеп кодтары бойынша бас тартулар, 30 күн",
            "Declines by reason code, 30 days",
        ],
        lang,
    );
    let total_declines: u64 = f.declines.iter().map(|d| d.1).sum();
    let declines: Vec<Decline> = f
        .declines
        .iter()
        .map(|(code, count)| Decline {
            code: *code,
            reason: crate::pages::reasons::merchant(*code, lang).to_string(),
            count: *count,
            share: format::percent(*count, total_declines, lang),
        })
        .collect();
    let hrows: Vec<(String, u64)> = declines
        .iter()
        .map(|d| (format!("{} {}", d.code, d.reason), d.count))
        .collect();
    let page = DashboardPage {
        lang,
        stylesheet: assets::url("pages.css"),
        layout: Layout::new(&m, &csrf.0, "/cabinet/", "/cabinet/"),
        today_label: tri(["Сегодня", "Бүгін", "Today"], lang),
        month_label: tri(["30 дней", "30 күн", "30 days"], lang),
        tiles,
        volume_title,
        volume_svg: charts::bars(volume_title, &bars, &money(max)),
        declines_title,
        declines_svg: (!hrows.is_empty()).then(|| charts::hbars(declines_title, &hrows)),
        declines,
        no_declines: tri(
            [
                "Отказов не было.",
                "Бас тартулар болған жоқ.",
                "No declines.",
            ],
            lang,
        ),
        code_label: tri(["Код", "Код", "Code"], lang),
        count_label: tri(["Количество", "Саны", "Count"], lang),
    };
    render(&page, lang)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn hours_fall_into_the_merchants_days() {
        let zone = Zone::default();
        let today = NaiveDate::from_ymd_opt(2025, 6, 10).unwrap();
        let row = |h: u32, charged: bool, code: u32| StatRow {
            hour: chrono::Utc.with_ymd_and_hms(2025, 6, 9, h, 0, 0).unwrap(),
            charged,
            reason_code: code,
            count: 2,
            amount: 1000,
            fee: 10,
        };
        // 18:00 UTC on the 9th is 23:00 local on the 9th; 19:00 UTC is midnight of the 10th.
        let f = figures(
            &[row(18, true, 0), row(19, true, 0), row(19, false, 484)],
            zone,
            today,
        );
        assert_eq!(f.days.len(), 30);
        let (d, t) = f.days[29];
        assert_eq!(d, today);
        assert_eq!((t.count, t.charged, t.volume, t.fees), (4, 2, 1000, 10));
        assert_eq!(f.days[28].1.count, 2);
        assert_eq!(f.declines, vec![(484, 2)]);
    }
}
