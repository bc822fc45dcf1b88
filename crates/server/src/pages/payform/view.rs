//! What the hosted form sends back: the card form, the 3-D Secure hand-off, the result page,
//! and the Content-Security-Policy each carries.

use super::open::Opened;
use super::params::{Mode, PayParams};
use super::words::{self, FieldError, Labels};
use crate::pages::assets;
use crate::pages::error::PageError;
use crate::pages::lang::Lang;
use askama::Template;
use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse, Response};

/// The field messages the script shows, from the same table the server uses.
pub struct Messages {
    pub number: &'static str,
    pub luhn: &'static str,
    pub expiry: &'static str,
    pub cvc: &'static str,
    pub holder: &'static str,
}

/// Server-side field errors, shown under their fields.
#[derive(Default)]
pub struct FieldErrors {
    pub sender_number: Option<&'static str>,
    pub expiry: Option<&'static str>,
    pub cvc: Option<&'static str>,
    pub holder: Option<&'static str>,
    pub receiver_number: Option<&'static str>,
}

impl FieldErrors {
    pub fn any(&self) -> bool {
        self.sender_number.is_some()
            || self.expiry.is_some()
            || self.cvc.is_some()
            || self.holder.is_some()
            || self.receiver_number.is_some()
    }
}

#[derive(Template)]
#[template(path = "payform.html")]
struct FormPage<'a> {
    lang: Lang,
    stylesheet: &'a str,
    script: &'a str,
    t: Labels,
    msg: Messages,
    merchant: &'a str,
    description: Option<&'a str>,
    amount: String,
    fee: String,
    total: String,
    currency: &'static str,
    message: Option<String>,
    errors: FieldErrors,
    action: &'static str,
    csrf: &'a str,
    params: &'a str,
    mode: &'static str,
    attempt: u8,
    attempts: u8,
    short: bool,
    has_sender: bool,
    has_receiver: bool,
    fixed_receiver: bool,
}

/// Everything a form page is drawn from.
pub struct FormView<'a> {
    pub params: &'a PayParams,
    pub raw_params: &'a str,
    pub mode: Mode,
    pub short: bool,
    pub opened: &'a Opened,
    pub csrf: &'a str,
    /// A decline or another sentence above the form.
    pub message: Option<String>,
    pub errors: FieldErrors,
}

/// Where the form posts: the widget has its own route, outside the cookie CSRF check (a
/// framed page gets no `SameSite=Strict` cookie), with a token tied to the form instead.
pub fn action(short: bool) -> &'static str {
    if short {
        "/payform/widget"
    } else {
        "/payform/"
    }
}

pub fn form(v: FormView<'_>) -> Result<Response, PageError> {
    let lang = v.params.language;
    let (stylesheet, script) = (assets::url("pages.css"), assets::url("payform/payform.js"));
    let o = v.opened;
    let total = o.amount.checked_add(o.fee).unwrap_or(o.amount);
    let page = FormPage {
        lang,
        stylesheet: &stylesheet,
        script: &script,
        t: words::labels(lang),
        msg: Messages {
            number: FieldError::Number.text(lang),
            luhn: FieldError::Luhn.text(lang),
            expiry: FieldError::Expiry.text(lang),
            cvc: FieldError::Cvc.text(lang),
            holder: FieldError::Holder.text(lang),
        },
        merchant: &o.merchant,
        description: v.params.description.as_deref(),
        amount: o.amount.to_string(),
        fee: o.fee.to_string(),
        total: total.to_string(),
        currency: o.currency.code(),
        message: v.message,
        errors: v.errors,
        action: action(v.short),
        csrf: v.csrf,
        params: v.raw_params,
        mode: v.mode.flag(),
        attempt: o.next_attempt,
        attempts: aqsha_core::transfer::PAGE_ATTEMPTS,
        short: v.short,
        has_sender: v.mode.has_sender(),
        has_receiver: v.mode.has_receiver(),
        fixed_receiver: v.params.receiver_card_id.is_some(),
    };
    render(&page, lang, &Csp::for_params(v.params, v.short))
}

#[derive(Template)]
#[template(path = "payform_3ds.html")]
struct SecurePage<'a> {
    lang: Lang,
    stylesheet: &'a str,
    script: &'a str,
    action: &'a str,
    md: &'a str,
    pa_req: &'a str,
    term_url: &'a str,
    continue_label: &'static str,
}

/// The hand-off to the ACS named by a `secure3D` answer (contract point 1).
pub fn secure(p: &PayParams, short: bool, s3d: &serde_json::Value) -> Result<Response, PageError> {
    let lang = p.language;
    let field = |k: &str| s3d.get(k).and_then(|v| v.as_str()).unwrap_or("");
    let (stylesheet, script) = (assets::url("pages.css"), assets::url("payform/3ds.js"));
    // In the widget the ACS and confirmPayment run inside the merchant's frame: the mark on
    // `TermUrl` tells them so (`pages::acs`), which they pass on to confirmPayment's query.
    let term_url = if short {
        widget_term_url(field("termURL"))
    } else {
        field("termURL").to_string()
    };
    let page = SecurePage {
        lang,
        stylesheet: &stylesheet,
        script: &script,
        action: field("action"),
        md: field("md"),
        pa_req: field("paReq"),
        term_url: &term_url,
        continue_label: words::labels(lang).continue_3ds,
    };
    let mut csp = Csp::for_params(p, short);
    // The ACS is Aqsha's own page today; an absolute action on another origin is allowed
    // for the hand-off too, as a browser must follow it.
    csp.form_targets.extend(origin_of(page.action));
    render(&page, lang, &csp)
}

/// The query parameter that marks a `TermUrl` as the widget's (the payform's own flag).
pub const WIDGET_MARK: &str = "isShortForm";

/// `term_url` with `isShortForm=true` added to its query.
fn widget_term_url(term_url: &str) -> String {
    let sep = if term_url.contains('?') { '&' } else { '?' };
    format!("{term_url}{sep}{WIDGET_MARK}=true")
}

/// Whether a `TermUrl` (or confirmPayment's query) carries the widget's mark.
pub fn is_widget(url_or_query: &str) -> bool {
    let query = url_or_query
        .split_once('?')
        .map_or(url_or_query, |(_, q)| q);
    let query = query.split('#').next().unwrap_or("");
    query
        .split('&')
        .any(|pair| pair == format!("{WIDGET_MARK}=true"))
}

#[derive(Template)]
#[template(path = "payform_result.html")]
struct ResultPage<'a> {
    lang: Lang,
    stylesheet: &'a str,
    script: Option<String>,
    title: &'a str,
    message: &'a str,
    success: bool,
    parent_origin: &'a str,
    link: Option<&'a str>,
    link_label: &'static str,
}

/// The end of a payment shown by the page itself. In the widget, its script posts
/// `{"success":…}` to the parent, at the origin the widget may be framed by.
pub fn result(
    p: &PayParams,
    short: bool,
    success: bool,
    title: &str,
    message: &str,
    link: Option<&str>,
) -> Result<Response, PageError> {
    let csp = Csp::for_params(p, short);
    end_page(p.language, short, csp, success, title, message, link)
}

/// The widget's last page after 3-D Secure (confirmPayment, `pages::acs`): `{success}` to
/// the parent at `parent`, the origin the widget was framed by.
pub fn widget_end(
    lang: Lang,
    parent: Option<String>,
    success: bool,
    title: &str,
) -> Result<Response, PageError> {
    let csp = Csp {
        form_targets: Vec::new(),
        frame_ancestor: parent,
    };
    end_page(lang, true, csp, success, title, "", None)
}

fn end_page(
    lang: Lang,
    short: bool,
    csp: Csp,
    success: bool,
    title: &str,
    message: &str,
    link: Option<&str>,
) -> Result<Response, PageError> {
    let stylesheet = assets::url("pages.css");
    let parent = csp.frame_ancestor.clone().unwrap_or_default();
    let page = ResultPage {
        lang,
        stylesheet: &stylesheet,
        script: short.then(|| assets::url("payform/widget.js")),
        title,
        message,
        success,
        parent_origin: &parent,
        link,
        link_label: words::labels(lang).back_to_shop,
    };
    render(&page, lang, &csp)
}

fn render(page: &impl Template, lang: Lang, csp: &Csp) -> Result<Response, PageError> {
    let body = page
        .render()
        .map_err(|e| PageError::internal(lang, "payform: template failed", e))?;
    let mut resp = Html(body).into_response();
    if let Ok(v) = HeaderValue::from_str(&csp.header()) {
        resp.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
    }
    Ok(resp)
}

/// The payform's policy: the pages' own ([`crate::pages::CSP`]) with two openings. Forms may
/// also go to the merchant's return links' origins, because a browser applies `form-action`
/// to the redirect that follows a post, and the post ends in a 303 to `backLink`. The widget
/// alone may be framed, and only by the origin of the merchant's `backLink` (else its
/// `failureBackLink`, else its `postLink`): the page that gave those links is the one that
/// frames it. Any other page keeps `frame-ancestors 'none'`.
pub struct Csp {
    pub form_targets: Vec<String>,
    pub frame_ancestor: Option<String>,
}

impl Csp {
    pub fn for_params(p: &PayParams, short: bool) -> Csp {
        let links = [&p.back_link, &p.failure_back_link, &p.post_link];
        let mut form_targets: Vec<String> = links[..2]
            .iter()
            .filter_map(|l| l.as_deref().and_then(origin_of))
            .collect();
        form_targets.dedup();
        let frame_ancestor = short
            .then(|| frame_ancestor(links.map(|l| l.as_deref().unwrap_or(""))))
            .flatten();
        Csp {
            form_targets,
            frame_ancestor,
        }
    }

    pub fn header(&self) -> String {
        let forms = std::iter::once("'self'".to_string())
            .chain(self.form_targets.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ");
        let frames = self.frame_ancestor.as_deref().unwrap_or("'none'");
        format!(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action {forms}; frame-ancestors {frames}; \
             base-uri 'none'; object-src 'none'"
        )
    }
}

/// The origin that may frame the widget: that of the merchant's `backLink`, else its
/// `failureBackLink`, else its `postLink` (empty for a link not given).
pub fn frame_ancestor(links: [&str; 3]) -> Option<String> {
    links.iter().find_map(|l| origin_of(l))
}

/// `scheme://host[:port]` of an http(s) URL; `None` for anything else. The url crate writes
/// it, so nothing but an origin reaches the header.
pub fn origin_of(link: &str) -> Option<String> {
    let url = url::Url::parse(link).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let origin = url.origin().ascii_serialization();
    // The url crate lets some punctuation (`;`, `,`) through in a host; none of it may reach a
    // CSP header, where `;` would start another directive.
    let host = origin.split_once("://").map_or("", |(_, h)| h);
    host.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b))
        .then_some(origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_widget_is_framed_and_only_by_the_merchants_origin() {
        let p = PayParams {
            back_link: Some("https://shop.example:8443/ok?a=1".into()),
            failure_back_link: Some("https://pay.shop.example/fail".into()),
            ..PayParams::default()
        };
        let page = Csp::for_params(&p, false).header();
        assert!(page.contains("frame-ancestors 'none'"), "{page}");
        assert!(
            page.contains("form-action 'self' https://shop.example:8443 https://pay.shop.example;")
        );
        let widget = Csp::for_params(&p, true).header();
        assert!(
            widget.contains("frame-ancestors https://shop.example:8443;"),
            "{widget}"
        );
        assert_eq!(origin_of("javascript:alert(1)"), None);
        assert_eq!(origin_of("https://a.example; script-src *"), None);
        let bare = Csp::for_params(&PayParams::default(), true).header();
        assert!(bare.contains("frame-ancestors 'none'"));
    }

    #[test]
    fn origins_are_scheme_host_and_port() {
        let o = |l| origin_of(l);
        assert_eq!(
            o("https://s.kz:8443/a?b").as_deref(),
            Some("https://s.kz:8443")
        );
        assert_eq!(o("http://s.kz").as_deref(), Some("http://s.kz"));
        assert_eq!(o("https://s.kz;x/"), None);
        assert_eq!(o("ftp://s.kz/"), None);
        assert_eq!(o("https://s.kz,frame-ancestors/"), None);
        assert_eq!(
            frame_ancestor(["", "not a url", "https://post.kz/cb"]).as_deref(),
            Some("https://post.kz")
        );
    }

    #[test]
    fn the_widget_mark_is_found_in_a_term_url_or_a_query() {
        let t = widget_term_url("https://a.kz/payments/cards/confirmPayment?Access=x");
        assert_eq!(
            t,
            "https://a.kz/payments/cards/confirmPayment?Access=x&isShortForm=true"
        );
        assert!(is_widget(&t));
        assert!(is_widget("isShortForm=true"));
        assert!(is_widget(&widget_term_url(
            "/payments/cards/confirmPayment"
        )));
        assert!(!is_widget("https://a.kz/p?notisShortForm=true"));
        assert!(!is_widget("https://a.kz/p?isShortForm=false"));
        assert!(!is_widget("https://a.kz/p#isShortForm=true"));
    }
}
