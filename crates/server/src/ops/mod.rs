//! Operations: what the server does once a request is understood, callable from any front.
//!
//! A route in `src/routes/` reads the HTTP request (headers, body, JSON rules) and answers
//! in the API's shape; a page in [`crate::pages`] reads a form and answers in HTML. Both call the
//! same function here with typed input and [`crate::App`], so a rule is written once and the
//! hosted payment form (issue 15) charges exactly as `POST /payments/cards/auth` does.
//!
//! - [`card`]: a card number turned into what the rest of the system may hold (the merchant's
//!   fingerprint, a sealed blob, a CVC check value). The plain number goes no further.
//! - [`transfer`]: open the token, build both card sides, run the transfer in the store; AFT
//!   and OCT with the merchant's account as one side.
//! - [`phone`]: a receiver named by phone number and IIN, as keyed values.
//! - [`callbacks`]: an event sent again on demand.
//! - [`limits`]: a terminal's limits as a request gives them, checked.
//! - [`credentials`]: rotation of a merchant's client secret and callback secret.
//! - [`sandbox`]: the sandbox network's cards, terminals and settlement funding.
//! - [`check_callback_links`]: the one rule for `postLink`/`failurePostLink`, wherever given.
//!
//! Errors are [`EpayError`](crate::error::EpayError)s: they carry the reason code and HTTP
//! status the API sends, and a page maps the code to a message in its own language.

pub mod callbacks;
pub mod card;
pub mod credentials;
pub mod limits;
pub mod login;
pub mod phone;
pub mod sandbox;
pub mod secure3d;
pub mod transfer;

/// The URL a request came in on, scheme and host (`https://aqsha.example:8443`): the base of
/// the links a browser must follow back to this server (a 3-D Secure challenge's). `None`
/// when the `Host` header is absent or holds anything but a host name or address and a port.
pub fn base_url(app: &crate::App, headers: &axum::http::HeaderMap) -> Option<String> {
    let host = headers.get(axum::http::header::HOST)?.to_str().ok()?;
    let host_like = !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b));
    host_like.then(|| format!("{}://{host}", app.scheme()))
}

/// Longest callback URL taken. Links travel inside the token, so they are kept to what a URL
/// reasonably needs.
pub const MAX_LINK_LEN: usize = 2048;

/// The one rule for a `postLink` / `failurePostLink`, wherever it is given (token request,
/// transfer order): an http or https URL of at most [`MAX_LINK_LEN`] characters. An empty one
/// counts as absent, because the seed's own example sends `postLink: ""`. Says what is wrong.
pub fn check_callback_links(links: [(&str, &Option<String>); 2]) -> Result<(), String> {
    for (name, link) in links {
        let Some(l) = link.as_deref().filter(|l| !l.is_empty()) else {
            continue;
        };
        if !(l.starts_with("http://") || l.starts_with("https://")) {
            return Err(format!("{name} must be an http or https URL"));
        }
        if l.len() > MAX_LINK_LEN {
            return Err(format!("{name} is longer than {MAX_LINK_LEN} characters"));
        }
    }
    Ok(())
}
