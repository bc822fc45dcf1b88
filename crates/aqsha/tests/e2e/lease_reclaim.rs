//! A restarted instance takes back at once the leases its previous run held (issue 17, item
//! 8): a callback whose attempt was in flight at a SIGKILL is sent again as soon as the
//! instance is back, a resolution its resolver held is carried out, and another instance's
//! leases are left alone. The callback timeout is 600 s in these tests (a lease of 1,205 s),
//! so only the release at start can explain a second attempt within the test.

use crate::callbacks::pay_with_links;
use crate::common::pg::PgDb;
use crate::common::receiver::{Answer, Receiver};
use crate::common::*;
use crate::outcomes::{body_from, issue, status_of, token_with_links};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

crate::tests! {
    both: [
        a_callback_in_flight_at_a_kill_is_sent_again_when_the_instance_restarts,
        a_resolution_held_by_a_killed_run_is_carried_out_when_the_instance_restarts,
    ],
    postgres: [
        a_restarted_instance_takes_back_only_its_own_leases,
        two_processes_with_one_instance_id_are_reported,
    ],
}

/// Attempts never time out within a test, and their lease (twice that plus 5 s) never runs out.
const SLOW: &[&str] = &["--callback-timeout", "600s"];
/// A first attempt that hangs for longer than any test.
const HANG: Answer = Answer::Hang(Duration::from_secs(3600));
const KEY: &str = "6b1f0e2d3c4a59687766554433221100ffeeddccbbaa99887766554433221100";

async fn a_callback_in_flight_at_a_kill_is_sent_again_when_the_instance_restarts(
    backend: Backend,
) {
    let mut s = Server::start_with(backend, SLOW);
    let r = Receiver::start(&[HANG]).await;
    let inv = pay(&s, &r).await;
    r.wait_for(1, 30).await;
    s.crash();
    let restarted = Instant::now();
    // Same data directory, so the same instance id (`<data-dir>/instance-id`).
    s.restart();
    let listening = restarted.elapsed();
    let hits = r.wait_for(2, 60).await;
    // A figure for the report, not an assertion: the machine's load decides it.
    eprintln!(
        "lease_reclaim on {backend:?}: restart to listening {listening:?}, to the second \
         attempt {:?}",
        restarted.elapsed()
    );
    assert_eq!(
        hits[1].header("x-aqsha-event-id"),
        hits[0].header("x-aqsha-event-id"),
        "the same event, sent again"
    );
    assert_eq!(hits[1].header("x-aqsha-attempt"), "2");
    delivered(&s, &inv).await;
    let log = s.log();
    assert!(
        log.contains("released the leases") && log.contains("callbacks=1 "),
        "{log}"
    );
}

/// A resolution whose resolver was killed while holding it (the lease forged in the database,
/// as a kill inside the few milliseconds of one resolution cannot be arranged): the restarted
/// instance carries it out once its due time comes, not an hour later; one held by another
/// instance's run stays held.
async fn a_resolution_held_by_a_killed_run_is_carried_out_when_the_instance_restarts(
    backend: Backend,
) {
    let mut s = Server::process(backend);
    let r = Receiver::start(&[]).await;
    let fields = json!({"outcome": 454, "resolve_to": "CHARGE", "resolve_after_ms": 5_000});
    let (ours, theirs) = (pending(&s, &r, &fields).await, pending(&s, &r, &fields).await);
    s.crash();
    let instance = std::fs::read_to_string(s.data_dir().join("instance-id")).unwrap();
    let hour_later = chrono::Utc::now().timestamp_millis() + 3_600_000;
    for ((operation, _), who) in [(&ours, instance.trim()), (&theirs, "another-instance")] {
        let forged = sql(
            &s,
            &format!(
                "UPDATE pending_resolutions SET lease_instance = '{who}', lease_boot = 'killed',
                 claim = 'killed', lease_until = {hour_later} WHERE operation_id = '{operation}'
                 RETURNING operation_id"
            ),
        );
        assert_eq!(forged.len(), 1, "{operation} pending");
    }
    s.restart();
    let st = eventually("our resolution is carried out", EVENTUALLY, || {
        let (s, inv) = (&s, &ours.1);
        async move {
            let st = status_of(s, inv).await;
            (st["resultCode"] != "107").then_some(st)
        }
    })
    .await;
    assert_eq!(st["transaction"]["statusName"], "CHARGE", "{st}");
    r.wait_for(1, 30).await;
    // Released before the resolver's first claim, so by now the other lease would be gone.
    let left = sql(
        &s,
        &format!(
            "SELECT lease_instance || '|' || lease_until FROM pending_resolutions
             WHERE operation_id = '{}'",
            theirs.0
        ),
    );
    assert_eq!(left, [format!("another-instance|{hour_later}")]);
    assert_eq!(status_of(&s, &theirs.1).await["resultCode"], "107");
    s.assert_ledger_balanced().await;
}

/// Two instances on one PostgreSQL, each with one attempt in flight (one attempt per merchant
/// at a time on each, so neither can take both). A is killed and restarted: A's event is sent
/// again, B's stays leased to B, untouched.
async fn a_restarted_instance_takes_back_only_its_own_leases(_: Backend) {
    let pg = PgDb::create();
    let args = |id: &'static str| {
        let mut a = SLOW.to_vec();
        a.extend(["--callback-per-merchant", "1", "--instance-id", id]);
        a
    };
    let mut a = Server::start_instance(&pg.url, KEY, &args("instance-a"));
    let b = Server::start_instance(&pg.url, KEY, &args("instance-b"));
    let r = Receiver::start(&[HANG, HANG]).await;
    pay(&a, &r).await;
    r.wait_for(1, 30).await;
    pay(&b, &r).await;
    let hits = r.wait_for(2, 30).await;
    let leases = |pg: &PgDb| {
        pg.sql(
            "SELECT id || '|' || lease_instance || '|' || lease_boot || '|' || lease_until
             FROM callback_events ORDER BY lease_instance",
        )
    };
    let before = leases(&pg);
    let rows: Vec<Vec<&str>> = before.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(rows.len(), 2, "{before}");
    assert_eq!((rows[0][1], rows[1][1]), ("instance-a", "instance-b"), "{before}");
    let (a_event, b_row) = (rows[0][0].to_string(), before.lines().nth(1).unwrap().to_string());
    assert!(hits.iter().any(|h| h.header("x-aqsha-event-id") == a_event));

    a.crash();
    a.restart();
    let hits = r.wait_for(3, 60).await;
    assert_eq!(hits[2].header("x-aqsha-event-id"), a_event, "A's event again");
    // A released its leases before it claimed anything, and has claimed since: B's lease is
    // as B took it.
    let after = leases(&pg);
    assert!(after.lines().any(|l| l == b_row), "{b_row} in\n{after}");
    assert_eq!(r.hits().len(), 3, "B's event not sent again");
    assert!(a.log().contains("callbacks=1 "), "{}", a.log());
    assert!(!b.log().contains("callbacks=1 "), "{}", b.log());
}

/// The operator error: a second process started with the same `--instance-id` releases the
/// first one's lease (its event is sent a second time, which at-least-once allows), and their
/// checks report it.
async fn two_processes_with_one_instance_id_are_reported(_: Backend) {
    let pg = PgDb::create();
    let mut args = SLOW.to_vec();
    args.extend(["--instance-id", "twin", "--lease-check-interval", "200ms"]);
    let first = Server::start_instance(&pg.url, KEY, &args);
    let r = Receiver::start(&[HANG, HANG]).await;
    pay(&first, &r).await;
    r.wait_for(1, 30).await;
    let second = Server::start_instance(&pg.url, KEY, &args);
    let hits = r.wait_for(2, 60).await;
    assert_eq!(
        hits[0].header("x-aqsha-event-id"),
        hits[1].header("x-aqsha-event-id")
    );
    // Whichever of the two holds the lease now, the other one sees it under its id.
    eventually("a warning", EVENTUALLY, || {
        let logs = first.log() + &second.log();
        async move { logs.contains("another running process holds leases").then_some(()) }
    })
    .await;
}

/// A transfer through `s` with both links at `r`; returns its invoice.
async fn pay(s: &Server, r: &Receiver) -> String {
    let inv = invoice();
    let mut body = seed_like_body(&inv, json!(100));
    let (ok, fail) = (format!("{}/ok", r.url), format!("{}/fail", r.url));
    let (st, answer) = pay_with_links(s, &mut body, &ok, &fail, "x").await;
    assert_eq!(st, StatusCode::OK, "{answer}");
    inv
}

/// A transfer answered pending (454) by a scenario card; returns (operation id, invoice).
async fn pending(s: &Server, r: &Receiver, fields: &Value) -> (String, String) {
    let pan = issue(s, fields.clone()).await;
    let body = body_from(&pan, "1000");
    let token = token_with_links(s, &body, r).await;
    let (_, answer) = s.transfer(&token, &body).await;
    assert_eq!(answer["code"], 454, "{answer}");
    let id = answer["id"].as_str().unwrap().to_string();
    (id, body["order"]["id"].as_str().unwrap().to_string())
}

async fn delivered(s: &Server, inv: &str) {
    eventually("the event is delivered", EVENTUALLY, || async move {
        let events = s
            .sandbox_get(&format!("/sandbox/callbacks?invoiceId={inv}"))
            .await;
        (events[0]["status"] == "delivered").then_some(())
    })
    .await;
}

/// One statement on the server's database, behind its back; each row's single column.
fn sql(s: &Server, statement: &str) -> Vec<String> {
    if let Some(pg) = &s.pg {
        return pg.sql(statement).lines().map(str::to_string).collect();
    }
    let db = rusqlite::Connection::open(s.data_dir().join("aqsha.db")).unwrap();
    let mut st = db.prepare(statement).unwrap();
    let rows = st
        .query_map([], |row| {
            Ok(match row.get_ref(0)? {
                rusqlite::types::ValueRef::Integer(n) => n.to_string(),
                v => v.as_str()?.to_string(),
            })
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}
