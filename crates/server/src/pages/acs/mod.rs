//! The sandbox issuer's 3-D Secure pages (`docs/protocol.md`, "3-D Secure"): the ACS at
//! `/acs/` and the merchant-side return, `POST /payments/cards/confirmPayment`.
//!
//! 1. `POST /acs/` ([`start`]): the browser form-posts `MD`, `PaReq`, `TermUrl` here, from the
//!    merchant's page or the hosted form, so no CSRF token can come with it: `PaReq`, the
//!    challenge's random secret, is what proves the browser was sent. It shows the challenge
//!    in the order's language and hands out the CSRF token its own form carries.
//! 2. `POST /acs/challenge` ([`answer`]), behind the CSRF check: a code or a cancel, counted in
//!    the database (`transfer::secure3d::answer`). A wrong code shows the page again with the
//!    attempts left; a decided challenge renders a form that posts `MD` and the sealed
//!    `PaRes` to `TermUrl` (sent by `assets/acs-return.js`, or by its button without script).
//! 3. confirmPayment ([`confirm_payment`]): finishes the operation (`ops::secure3d::confirm`)
//!    and answers 303 to the order's back link, or a small page of its own without one.
//!
//! `TermUrl` must be this server's own confirmPayment path (bare or under `/api`, on the host
//! the request came to), so that the ACS cannot be made to post a result anywhere else.

use crate::ops::secure3d::{self, Confirmation, Outcome, Refused};
use crate::pages::assets;
use crate::pages::csrf::{self, Csrf, CsrfToken};
use crate::pages::error::PageError;
use crate::pages::lang::Lang;
use crate::pages::payform::view::{self, Csp};
use crate::pages::payform::{words as payform_words, FormToken};
use crate::AppState;
use aqsha_core::store::ChallengeView;
use aqsha_core::transfer::secure3d::{Answered, Input, CONFIRM_PATH, SANDBOX_CODE};
use aqsha_core::vault::ct_eq;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use words::{words, Words};

mod words;

/// The fields ePay's flow posts to the ACS, and the challenge form's own.
#[derive(Deserialize, Default)]
struct AcsForm {
    #[serde(rename = "MD", default)]
    md: String,
    #[serde(rename = "PaReq", default)]
    pa_req: String,
    #[serde(rename = "TermUrl", default)]
    term_url: String,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    action: Option<String>,
    /// The widget's form token ([`widget_token`]); the cookie layer checks the page's own.
    #[serde(rename = "csrf_token", default)]
    token: String,
}

#[derive(Template)]
#[template(path = "acs.html")]
struct ChallengePage<'a> {
    lang: Lang,
    stylesheet: &'a str,
    t: &'static Words,
    csrf: &'a str,
    /// `/acs/challenge`, or `/acs/widget` inside the widget's frame.
    post_to: &'static str,
    view: &'a ChallengeView,
    form: &'a AcsForm,
    sandbox_code: &'a str,
    /// Attempts left after a wrong code.
    wrong_left: Option<u32>,
}

#[derive(Template)]
#[template(path = "acs_return.html")]
struct ReturnPage<'a> {
    lang: Lang,
    stylesheet: &'a str,
    script: &'a str,
    t: &'static Words,
    term_url: &'a str,
    md: &'a str,
    pa_res: &'a str,
}

#[derive(Template)]
#[template(path = "secure3d_result.html")]
struct ResultPage<'a> {
    lang: Lang,
    stylesheet: &'a str,
    t: &'static Words,
    outcome: &'a Outcome,
    /// Why it failed, in the page's language, with its code.
    reason: String,
}

/// `POST /acs/`: the challenge, for a browser that brings the operation's `MD` and `PaReq`.
pub async fn start(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let id = csrf::browser_id(&headers);
    let (token, cookie) = csrf::issue(&app, &Csrf::new(&app), id);
    let mut resp = match challenge(&app, &headers, &body, &token).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    if let Some(cookie) = cookie {
        resp.headers_mut().append(header::SET_COOKIE, cookie);
    }
    resp
}

async fn challenge(
    app: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    token: &CsrfToken,
) -> Result<Response, PageError> {
    let (form, view, lang) = read(app, headers, body).await?;
    if let Some(result) = view.challenge.result {
        // Decided before (a refresh, the back button): its result goes on again.
        return Ok(return_page(app, &form, &view, result, lang));
    }
    render(app, lang, token, &view, &form, None)
}

/// `POST /acs/challenge`: a code or a cancel for the challenge.
pub async fn answer(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    // `csrf::protect` checked the cookie's token; the page shown again carries the same one.
    let (token, _) = csrf::issue(&app, &Csrf::new(&app), csrf::browser_id(&headers));
    let (form, view, lang) = read(&app, &headers, &body).await?;
    decide(&app, form, view, lang, &token).await
}

/// `POST /acs/widget`: the same inside the payment widget's frame, where no `SameSite=Strict`
/// cookie comes: its form carries a token tied to the challenge ([`widget_token`]) instead.
pub async fn widget_answer(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let (form, view, lang) = read(&app, &headers, &body).await?;
    let expected = widget_token(&app, &form.md, &form.pa_req);
    if widget_parent(&form, &view).is_none() || !ct_eq(&expected, form.token.trim()) {
        return Err(PageError::forbidden(lang));
    }
    decide(&app, form, view, lang, &CsrfToken(expected)).await
}

/// The widget's form token for a challenge: `MD` and `PaReq` under the widget forms' key
/// ([`FormToken`]), so only a page this server drew for the challenge can post it.
fn widget_token(app: &AppState, md: &str, pa_req: &str) -> String {
    FormToken::new(app).token(&format!("acs\0{}\0{}", md.trim(), pa_req.trim()), 0)
}

/// The origin that frames the ACS's pages when they run in the widget (its `TermUrl` carries
/// the payform's `isShortForm` mark): the merchant's, by the payform's own rule. `None`
/// outside the widget, or for an order without links, whose pages are never framed.
fn widget_parent(form: &AcsForm, view: &ChallengeView) -> Option<String> {
    if !view::is_widget(&form.term_url) {
        return None;
    }
    let c = &view.challenge;
    let post = view.operation.post_link.as_deref().unwrap_or("");
    view::frame_ancestor([&c.back_link, &c.failure_back_link, post])
}

async fn decide(
    app: &AppState,
    form: AcsForm,
    view: ChallengeView,
    lang: Lang,
    token: &CsrfToken,
) -> Result<Response, PageError> {
    let input = match form.action.as_deref() {
        Some("cancel") => Input::Cancel,
        _ => Input::Code(form.code.clone().unwrap_or_default()),
    };
    let answered = app
        .store
        .answer_challenge(&form.md, &form.pa_req, input, chrono::Utc::now())
        .await
        .map_err(|e| PageError::internal(lang, "answering a 3-D Secure challenge failed", e))?;
    match answered {
        Answered::Unknown => Err(unknown(lang)),
        Answered::Wrong { left } => render(app, lang, token, &view, &form, Some(left)),
        Answered::Decided(result) => Ok(return_page(app, &form, &view, result, lang)),
    }
}

/// The form and its challenge, checked: a `PaReq` that is the challenge's, a `TermUrl` that is
/// this server's confirmPayment. The page's language is the order's.
async fn read(
    app: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(AcsForm, ChallengeView, Lang), PageError> {
    let lang = Lang::from_headers(headers);
    let form: AcsForm = serde_urlencoded::from_bytes(body)
        .map_err(|_| PageError::new(StatusCode::BAD_REQUEST, lang))?;
    let view = app
        .store
        .challenge_view(form.md.trim())
        .await
        .map_err(|e| PageError::internal(lang, "reading a 3-D Secure challenge failed", e))?
        .filter(|v| ct_eq(&v.challenge.pa_req, form.pa_req.trim()))
        .ok_or_else(|| unknown(lang))?;
    let lang = Lang::parse(&view.operation.language).unwrap_or(lang);
    if !own_term_url(
        &form.term_url,
        crate::ops::base_url(app, headers).as_deref(),
    ) {
        return Err(PageError::new(StatusCode::BAD_REQUEST, lang).with_detail(
            [
                "TermUrl должен вести на confirmPayment этого сервера.",
                "TermUrl осы сервердің confirmPayment мекенжайына апаруы керек.",
                "TermUrl must be this server's confirmPayment address.",
            ][lang.index()],
        ));
    }
    Ok((form, view, lang))
}

fn unknown(lang: Lang) -> PageError {
    PageError::new(StatusCode::BAD_REQUEST, lang).with_detail(
        [
            "Нет такой проверки 3-D Secure.",
            "Мұндай 3-D Secure тексерісі жоқ.",
            "There is no such 3-D Secure check.",
        ][lang.index()],
    )
}

/// Whether `term_url` is this server's confirmPayment: a path, or an absolute URL on `base`,
/// whose path is `/payments/cards/confirmPayment` or the same under `/api`. Its query (Halyk's
/// SDK adds `Access=<token>`) is kept as given.
fn own_term_url(term_url: &str, base: Option<&str>) -> bool {
    let t = term_url.trim();
    let rest = if t.starts_with('/') && !t.starts_with("//") {
        t
    } else {
        match base.and_then(|b| t.strip_prefix(b)) {
            Some(rest) if rest.starts_with('/') => rest,
            _ => return false,
        }
    };
    let path = rest.split(['?', '#']).next().unwrap_or("");
    path == CONFIRM_PATH || path.strip_prefix("/api") == Some(CONFIRM_PATH)
}

fn render(
    app: &AppState,
    lang: Lang,
    token: &CsrfToken,
    view: &ChallengeView,
    form: &AcsForm,
    wrong_left: Option<u32>,
) -> Result<Response, PageError> {
    let stylesheet = assets::url("pages.css");
    let parent = widget_parent(form, view);
    let (csrf, post_to) = match parent {
        Some(_) => (widget_token(app, &form.md, &form.pa_req), "/acs/widget"),
        None => (token.0.clone(), "/acs/challenge"),
    };
    let page = ChallengePage {
        lang,
        stylesheet: &stylesheet,
        t: words(lang),
        csrf: &csrf,
        post_to,
        view,
        form,
        sandbox_code: SANDBOX_CODE,
        wrong_left,
    };
    let html = page
        .render()
        .map_err(|e| PageError::internal(lang, "rendering the ACS page failed", e))?;
    let csp = Csp {
        form_targets: Vec::new(),
        frame_ancestor: parent,
    };
    Ok(with_csp(Html(html).into_response(), &csp))
}

fn with_csp(mut resp: Response, csp: &Csp) -> Response {
    if let Ok(v) = HeaderValue::from_str(&csp.header()) {
        resp.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
    }
    resp
}

/// The form that takes `MD` and the sealed result to `TermUrl`. Its CSP lets the form's post
/// end at the order's back links: a browser applies `form-action` to the redirect that
/// confirmPayment answers with.
fn return_page(
    app: &AppState,
    form: &AcsForm,
    view: &ChallengeView,
    result: u32,
    lang: Lang,
) -> Response {
    let pa_res = secure3d::seal_pa_res(&app.vault, &view.challenge.operation_id, result);
    let (stylesheet, script) = (assets::url("pages.css"), assets::url("acs-return.js"));
    let page = ReturnPage {
        lang,
        stylesheet: &stylesheet,
        script: &script,
        t: words(lang),
        term_url: form.term_url.trim(),
        md: &view.challenge.operation_id,
        pa_res: &pa_res,
    };
    let links = [&view.challenge.back_link, &view.challenge.failure_back_link];
    let csp = Csp {
        form_targets: links.iter().filter_map(|l| view::origin_of(l)).collect(),
        frame_ancestor: widget_parent(form, view),
    };
    with_csp(
        Html(page.render().unwrap_or_default()).into_response(),
        &csp,
    )
}

/// The fields confirmPayment takes.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct ConfirmForm {
    #[serde(rename = "MD", default)]
    md: String,
    #[serde(rename = "PaRes", default)]
    pa_res: String,
}

/// `POST /payments/cards/confirmPayment` (and under `/api`): the `Access` query parameter that
/// Halyk's SDK adds is accepted and not needed, since the sealed `PaRes` names the operation.
#[utoipa::path(
    post,
    path = "/payments/cards/confirmPayment",
    tag = "transfers",
    summary = "The browser's form post back from the 3-D Secure ACS: answered as a page",
    request_body(content = ConfirmForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The outcome page", body = String, content_type = "text/html"),
        (status = 303, description = "To the merchant's `backLink` or `failureBackLink`"),
        (status = 400, description = "A form or `PaRes` not accepted: an error page", body = String, content_type = "text/html"),
        (status = 500, description = "An error page", body = String, content_type = "text/html"),
    )
)]
pub async fn confirm_payment(
    State(app): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let lang = Lang::from_headers(&headers);
    let form: ConfirmForm = serde_urlencoded::from_bytes(&body)
        .map_err(|_| PageError::new(StatusCode::BAD_REQUEST, lang))?;
    let done: Confirmation = match secure3d::confirm(&app, &form.md, &form.pa_res).await {
        Ok(done) => done,
        Err(Refused::NotOurs) => {
            return Err(PageError::new(StatusCode::BAD_REQUEST, lang).with_detail(
                [
                    "Результат проверки 3-D Secure не принят.",
                    "3-D Secure тексерісінің нәтижесі қабылданбады.",
                    "The 3-D Secure result was not accepted.",
                ][lang.index()],
            ))
        }
        Err(Refused::Store(e)) => {
            return Err(PageError::internal(
                lang,
                "confirming a 3-D Secure payment failed",
                e,
            ))
        }
    };
    if query.as_deref().is_some_and(view::is_widget) {
        return widget_end(&done);
    }
    if let Some(to) = done
        .redirect
        .as_deref()
        .and_then(|l| HeaderValue::from_str(l).ok())
    {
        return Ok((StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response());
    }
    let lang = Lang::parse(&done.language).unwrap_or(lang);
    let stylesheet = assets::url("pages.css");
    let page = ResultPage {
        lang,
        stylesheet: &stylesheet,
        t: words(lang),
        outcome: &done.outcome,
        reason: match done.outcome {
            Outcome::Failed(code) => crate::pages::reasons::payer(i64::from(code), lang),
            Outcome::Charged(_) => String::new(),
        },
    };
    let html = page
        .render()
        .map_err(|e| PageError::internal(lang, "rendering the payment result failed", e))?;
    Ok(Html(html).into_response())
}

/// The widget's end after 3-D Secure: the payform's last page, which tells the merchant's
/// page `{success}` instead of leaving the frame for a back link.
fn widget_end(done: &Confirmation) -> Result<Response, PageError> {
    let lang = Lang::parse(&done.language).unwrap_or_default();
    let [back, failure, post] = &done.links;
    let parent = view::frame_ancestor([back, failure, post]);
    match &done.outcome {
        Outcome::Charged(_) => {
            view::widget_end(lang, parent, true, payform_words::labels(lang).paid)
        }
        Outcome::Failed(code) => {
            let title = crate::pages::reasons::payer(i64::from(*code), lang);
            view::widget_end(lang, parent, false, &title)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::own_term_url;

    #[test]
    fn only_our_confirm_payment_is_a_term_url() {
        let base = Some("https://aqsha.kz");
        for ok in [
            "/payments/cards/confirmPayment",
            "/api/payments/cards/confirmPayment?Access=abc%2B",
            "https://aqsha.kz/payments/cards/confirmPayment",
        ] {
            assert!(own_term_url(ok, base), "{ok}");
        }
        for bad in [
            "https://evil.kz/payments/cards/confirmPayment",
            "//evil.kz/payments/cards/confirmPayment",
            "https://aqsha.kz.evil.kz/payments/cards/confirmPayment",
            "https://aqsha.kz/payments/cards/auth",
            "/payments/cards/confirmPayment/../auth",
            "",
        ] {
            assert!(!own_term_url(bad, base), "{bad}");
        }
    }
}
