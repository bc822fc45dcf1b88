//! The cabinet's second half over a real socket (issue 16, items 4–8): the operation page
//! with its callback attempts and Resend seen at a receiver, another merchant refused on
//! every page and action, credential rotation refusing the old secret for tokens, and a
//! sandbox card issued from the page that then pays an API transfer.

use crate::cabinet::{linked_ids, token_in, Browser, LOGIN, PASSWORD};
use crate::callbacks::pay_with_links;
use crate::common::receiver::Receiver;
use crate::common::*;
use reqwest::StatusCode;
use serde_json::json;

crate::tests! {
    both: [
        the_operation_page_shows_attempts_and_resends_through_the_outbox,
    ],
    sqlite: [
        another_merchant_is_refused_on_every_page_and_action,
        rotating_the_client_secret_refuses_the_old_one_for_tokens,
        a_card_issued_on_the_sandbox_page_pays_a_transfer,
    ],
}

pub(crate) async fn signed_in(s: &Server) -> Browser {
    let mut b = Browser::new(s);
    let (st, _, _) = b.login(LOGIN, PASSWORD).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    b
}

/// The only operation's page, its id and its HTML.
async fn only_operation(b: &mut Browser) -> (String, String) {
    let (_, _, list) = b.get("/cabinet/operations").await;
    let id = linked_ids(&list).remove(0);
    let (st, _, html) = b.get(&format!("/cabinet/operations/{id}")).await;
    assert_eq!(st, StatusCode::OK);
    (id, html)
}

async fn the_operation_page_shows_attempts_and_resends_through_the_outbox(backend: Backend) {
    let s = Server::start(backend);
    let r = Receiver::start(&[]).await;
    let mut body = seed_like_body(&invoice(), json!(1000));
    let (st, resp) = pay_with_links(&s, &mut body, &r.url, &r.url, "x").await;
    assert_eq!(st, StatusCode::OK, "{resp}");
    r.wait_for(1, 30).await;
    let mut b = signed_in(&s).await;
    let html = eventually(
        "the attempt on the page",
        std::time::Duration::from_secs(30),
        || {
            let mut b = Browser::new(&s);
            async move {
                b.login(LOGIN, PASSWORD).await;
                let (_, html) = only_operation(&mut b).await;
                html.contains("answer 200").then_some(html)
            }
        },
    )
    .await;
    // The fee (0.95 % of 1000, at least 95), postings that balance, masked cards only.
    assert!(html.contains("id=\"op-fee\">95"), "the fee");
    assert!(html.contains("id=\"postings\""), "the postings");
    assert!(!html.contains(VISA) && html.contains("id=\"sender-mask\""));
    assert!(html.contains("\"statusName\"") || html.contains(">statusName<"));
    let (id, _) = only_operation(&mut b).await;
    let action = html
        .split("action=\"")
        .find(|a| a.contains("/resend\""))
        .map(|a| a.split('"').next().unwrap().to_string())
        .expect("a resend form");
    assert!(action.starts_with(&format!("/cabinet/operations/{id}/callbacks/")));
    let (_, _, page) = b.get(&format!("/cabinet/operations/{id}")).await;
    let t = token_in(&page);
    let (st, _, html) = b.post(&action, &[("csrf_token", &t)]).await;
    assert_eq!(st, StatusCode::OK);
    assert!(html.contains("id=\"outcome\""));
    let hits = r.wait_for(2, 30).await;
    assert_eq!(
        hits[0].header("x-aqsha-event-id"),
        hits[1].header("x-aqsha-event-id"),
        "the same event again"
    );
    // Without the form token the resend is refused.
    let (st, _, _) = b.post(&action, &[]).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}

async fn another_merchant_is_refused_on_every_page_and_action(backend: Backend) {
    let s = Server::start(backend);
    let r = Receiver::start(&[]).await;
    let mut body = seed_like_body(&invoice(), json!(100));
    let (st, _) = pay_with_links(&s, &mut body, &r.url, &r.url, "x").await;
    assert_eq!(st, StatusCode::OK);
    r.wait_for(1, 30).await;
    let card = s.issue_card("12/30", "123", "100", false).await;
    let mut a = signed_in(&s).await;
    let (op, html) = only_operation(&mut a).await;
    let resend = html
        .split("action=\"")
        .find(|x| x.contains("/resend\""))
        .map(|x| x.split('"').next().unwrap().to_string())
        .unwrap();
    let other = s.add_merchant_with("shop-b", &["--cabinet-email", "owner@shop-b.kz"]);
    let mut b = Browser::new(&s);
    b.login(
        "owner@shop-b.kz",
        other["cabinet_password"].as_str().unwrap(),
    )
    .await;
    let (_, _, page) = b.get("/cabinet/").await;
    let t = token_in(&page);
    let (st, _, _) = b.get(&format!("/cabinet/operations/{op}")).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "the operation page");
    let terminal = TERMINAL_2;
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (resend, vec![]),
        (
            format!("/cabinet/cards/{SAVED_RECEIVER}/deactivate"),
            vec![],
        ),
        (
            format!("/cabinet/terminals/{terminal}/limits"),
            vec![("per_transfer", "10")],
        ),
        (
            format!("/cabinet/sandbox/cards/{card}/topup"),
            vec![("amount", "10")],
        ),
        (
            format!("/cabinet/sandbox/cards/{card}/lock"),
            vec![("locked", "true")],
        ),
    ];
    for (path, fields) in posts {
        let mut form = vec![("csrf_token", t.as_str())];
        form.extend(fields);
        let (st, _, _) = b.post(&path, &form).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{path}");
    }
    // B's own pages name none of A's things.
    for path in [
        "/cabinet/cards",
        "/cabinet/terminals",
        "/cabinet/credentials",
        "/cabinet/sandbox",
    ] {
        let (st, _, html) = b.get(path).await;
        assert_eq!(st, StatusCode::OK, "{path}");
        assert!(
            !html.contains(SAVED_RECEIVER) && !html.contains(TERMINAL_2) && !html.contains(&card),
            "{path}"
        );
    }
    // And nothing changed for A: its card still saved, its limits the defaults.
    let (_, _, cards) = a.get("/cabinet/cards").await;
    assert!(cards.contains(SAVED_RECEIVER));
    let (_, _, terms) = a.get("/cabinet/terminals").await;
    assert!(!terms.contains("value=\"10.00\"") && !terms.contains("value=\"10\""));
}

async fn rotating_the_client_secret_refuses_the_old_one_for_tokens(backend: Backend) {
    let s = Server::start(backend);
    let mut b = signed_in(&s).await;
    let (_, _, page) = b.get("/cabinet/credentials").await;
    assert!(page.contains(CLIENT_ID));
    let t = token_in(&page);
    let (st, _, html) = b
        .post("/cabinet/credentials/client-secret", &[("csrf_token", &t)])
        .await;
    assert_eq!(st, StatusCode::OK);
    let mark = "id=\"new-secret-value\">";
    let at = html.find(mark).expect("the new secret, once") + mark.len();
    let secret = html[at..].split('<').next().unwrap().to_string();
    assert_eq!(secret.len(), 36);
    let (st, _) = s.token_raw(&[]).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "the old secret");
    let (st, body) = s.token_raw(&[("client_secret", &secret)]).await;
    assert_eq!(st, StatusCode::OK, "the new secret: {body}");
    let (_, _, again) = b.get("/cabinet/credentials").await;
    assert!(!again.contains(&secret), "shown once");
}

async fn a_card_issued_on_the_sandbox_page_pays_a_transfer(backend: Backend) {
    let s = Server::start(backend);
    let mut b = signed_in(&s).await;
    let (st, _, page) = b.get("/cabinet/sandbox").await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains("id=\"sandbox-marker\""));
    let t = token_in(&page);
    let (st, _, html) = b
        .post(
            "/cabinet/sandbox/cards",
            &[
                ("csrf_token", &t),
                ("expire", "12/30"),
                ("cvc", "321"),
                ("balance", "5000"),
                ("currency", "KZT"),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let mark = "id=\"issued-pan\">";
    let at = html.find(mark).expect("the issued number, once") + mark.len();
    let pan = html[at..].split('<').next().unwrap().to_string();
    let (_, _, again) = b.get("/cabinet/sandbox").await;
    assert!(!again.contains(&pan), "shown once");
    let mut body = seed_like_body(&invoice(), json!(700));
    body["card"]["sender"]["cardCred"] = json!(pan);
    body["card"]["sender"]["cvc"] = json!("321");
    body["card"]["sender"]["expire"] = json!({"month": "12", "year": "30"});
    let token = s.token(&[]).await;
    let (st, r) = s.transfer(&token, &body).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    // The card paid the amount (and the fee): the page and the ledger agree.
    let mask = format!("{}...{}", &pan[..6], &pan[pan.len() - 4..]);
    let left = s.balance(&mask).await;
    assert!(left < 500_000 - 70_000, "{left}");
    let (_, _, after) = b.get("/cabinet/sandbox").await;
    let shown = format!("{}", left / 100);
    assert!(
        after.contains(&shown[1..]) && !after.contains("5\u{a0}000,00"),
        "the balance after"
    );
    s.assert_ledger_balanced().await;
}
