//! The merchant's time zone and language in the cabinet (issue 16, item 9): a merchant that
//! moves its cabinet to Europe/London sees London times in the list and the CSV, and the date
//! filter and the dashboard's "today" count London's days; reason codes read in the page's
//! language; the export's size is shown and sent as `X-Total-Rows`.

use crate::cabinet::{charge, Browser, LOGIN, PASSWORD};
use crate::common::*;
use chrono::{TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::json;

crate::tests! {
    both: [a_merchant_in_london_sees_london_times_and_days],
    sqlite: [reasons_read_in_the_page_language_and_the_export_is_counted],
}

/// Runs SQL behind the server's back, on whichever database it uses.
fn raw(s: &Server, sql: &str) {
    match &s.pg {
        Some(pg) => {
            pg.sql(sql);
        }
        None => {
            let db = rusqlite::Connection::open(s.data_dir().join("aqsha.db")).unwrap();
            db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
            db.execute_batch(sql).unwrap();
        }
    }
}

/// Moves an operation to another instant (its `day` is the UTC date, as the store writes it).
fn move_to(s: &Server, invoice: &str, at: chrono::DateTime<Utc>) {
    let created = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let day = at.format("%Y-%m-%d");
    raw(
        s,
        &format!(
            "UPDATE operations SET created_at = '{created}', day = '{day}' WHERE invoice_id = '{invoice}';"
        ),
    );
}

/// The dashboard's "today" figure of its first tile (the number of transfers).
fn transfers_today(html: &str) -> u64 {
    let mark = "<p class=\"big\"><span class=\"when\">";
    let at = html.find(mark).expect("a tile") + mark.len();
    let rest = &html[at..];
    let after = &rest[rest.find("</span>").unwrap() + "</span>".len()..];
    after[..after.find("</p>").unwrap()].trim().parse().unwrap()
}

async fn a_merchant_in_london_sees_london_times_and_days(backend: Backend) {
    let s = Server::start(backend);
    // 23:30 on 10 January 2025 in London is 04:30 on the 11th in Almaty.
    let old = charge(&s, json!(120)).await;
    move_to(&s, &old, Utc.with_ymd_and_hms(2025, 1, 10, 23, 30, 0).unwrap());
    // Half an hour before London's today began: yesterday there, today's date in Almaty.
    let london = chrono_tz::Europe::London;
    let today = Utc::now().with_timezone(&london).date_naive();
    let midnight = london
        .from_local_datetime(&today.and_hms_opt(0, 0, 0).unwrap())
        .earliest()
        .unwrap()
        .with_timezone(&Utc);
    let late = charge(&s, json!(130)).await;
    move_to(&s, &late, midnight - chrono::Duration::minutes(30));

    let mut b = Browser::new(&s);
    b.login(LOGIN, PASSWORD).await;
    let day = |d: &str| format!("/cabinet/operations?from={d}&to={d}");
    // Almaty, the default.
    let (_, _, html) = b.get(&day("2025-01-11")).await;
    assert!(html.contains(&old), "Almaty's 11 January holds it");
    let (_, _, html) = b.get(&day("2025-01-10")).await;
    assert!(!html.contains(&old), "Almaty's 10 January does not");
    let almaty = chrono_tz::Asia::Almaty;
    let almaty_today = Utc::now().with_timezone(&almaty).date_naive();
    let late_in_almaty = (midnight - chrono::Duration::minutes(30))
        .with_timezone(&almaty)
        .date_naive();
    let (_, _, html) = b.get("/cabinet/").await;
    assert_eq!(
        transfers_today(&html),
        u64::from(late_in_almaty == almaty_today),
        "Almaty's today"
    );

    // The merchant chooses London on the account page; a name that is no zone is refused.
    let (_, _, html) = b.get("/cabinet/password").await;
    assert!(html.contains("value=\"Asia/Almaty\""), "the default is shown");
    let t = crate::cabinet::token_in(&html);
    let (st, _, html) = b
        .post("/cabinet/time-zone", &[("csrf_token", &t), ("zone", "Mars/Olympus")])
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(html.contains("role=\"alert\""), "{html}");
    let (st, _, html) = b
        .post("/cabinet/time-zone", &[("csrf_token", &t), ("zone", "Europe/London")])
        .await;
    assert_eq!(st, StatusCode::OK);
    assert!(html.contains("id=\"zone-set\"") && html.contains("value=\"Europe/London\""));

    let (_, _, html) = b.get(&day("2025-01-10")).await;
    assert!(html.contains(&old), "London's 10 January holds it");
    assert!(html.contains("10.01.2025 23:30:00"), "shown in London time");
    let (_, _, html) = b.get(&day("2025-01-11")).await;
    assert!(!html.contains(&old), "London's 11 January does not");
    let (_, _, html) = b.get("/cabinet/").await;
    assert_eq!(transfers_today(&html), 0, "London's today begins after it");
    let (_, _, csv) = b.get("/cabinet/operations.csv").await;
    assert!(
        csv.contains(",2025-01-10T23:30:00.000+00:00,"),
        "the CSV in London time: {csv}"
    );
    // The choice is the merchant's, not the browser's: a new session keeps it.
    let mut again = Browser::new(&s);
    again.login(LOGIN, PASSWORD).await;
    let (_, _, html) = again.get(&day("2025-01-10")).await;
    assert!(html.contains(&old));
}

async fn reasons_read_in_the_page_language_and_the_export_is_counted(backend: Backend) {
    let s = Server::start(backend);
    charge(&s, json!(100)).await;
    // A wrong CVC: the sandbox issuer answers 466.
    let inv = invoice();
    let mut body = seed_like_body(&inv, json!(100));
    body["card"]["sender"]["cvc"] = json!("816");
    let token = s.token_for(&body["order"]).await;
    let (st, r) = s.transfer(&token, &body).await;
    assert_eq!((st, r["code"].as_u64()), (StatusCode::BAD_REQUEST, Some(466)), "{r}");

    let mut b = Browser::new(&s);
    b.login(LOGIN, PASSWORD).await;
    let (_, _, html) = b.get("/cabinet/").await;
    assert!(html.contains("Отклонено банком-эмитентом"), "the dashboard, in Russian");
    assert!(!html.contains("Declined by issuer"));
    let t = crate::cabinet::token_in(&html);
    b.post("/cabinet/language", &[("csrf_token", &t), ("lang", "kaz")])
        .await;
    let (_, _, html) = b.get("/cabinet/operations").await;
    assert!(html.contains("Эмитент банк қабылдамады"), "the list, in Kazakh");
    assert!(html.contains("id=\"export-size\""), "the export's size");
    assert!(html.contains("Жүктемедегі жолдар: 2"), "{html}");

    let (_, h, csv) = b.get("/cabinet/operations.csv?status=FAILED").await;
    assert_eq!(h["x-total-rows"], "1");
    assert_eq!(csv.lines().count(), 2, "the header and the row counted");
    let (_, h, _) = b.get("/cabinet/operations.csv").await;
    assert_eq!(h["x-total-rows"], "2");
}
