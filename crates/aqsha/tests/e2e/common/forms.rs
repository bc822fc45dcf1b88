//! A browser without a browser: form posts that carry a page's cookie by hand and read each
//! redirect, for tests of the pages' server side (the hosted form, the ACS) that need no
//! JavaScript. The Chromium tests in `browser/` drive the same pages for real.

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;

/// A browser: no redirects followed (the test reads each 303), one cookie jar slot for the
/// ACS's CSRF cookie.
pub struct Browser {
    http: reqwest::Client,
    cookie: Option<String>,
}

impl Browser {
    pub fn new() -> Browser {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Browser { http, cookie: None }
    }

    /// `GET url` with the cookie: (status, body).
    pub async fn get(&mut self, url: &str) -> (StatusCode, String) {
        let mut req = self.http.get(url);
        if let Some(c) = &self.cookie {
            req = req.header(COOKIE, c.as_str());
        }
        let resp = req.send().await.unwrap();
        self.keep_cookie(&resp);
        (resp.status(), resp.text().await.unwrap())
    }

    fn keep_cookie(&mut self, resp: &reqwest::Response) {
        if let Some(set) = resp.headers().get(SET_COOKIE) {
            let pair = set.to_str().unwrap().split(';').next().unwrap();
            self.cookie = Some(pair.to_string());
        }
    }

    /// Form-posts `fields` to `url`: (status, Location, body).
    pub async fn post(
        &mut self,
        url: &str,
        fields: &[(&str, &str)],
    ) -> (StatusCode, String, String) {
        let mut req = self.http.post(url).form(fields);
        if let Some(c) = &self.cookie {
            req = req.header(COOKIE, c.as_str());
        }
        let resp = req.send().await.unwrap();
        self.keep_cookie(&resp);
        let status = resp.status();
        let location = resp
            .headers()
            .get(LOCATION)
            .map(|l| l.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, location, resp.text().await.unwrap())
    }
}

/// The value of the hidden input `name` in a page (askama escapes attribute values).
pub fn hidden(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no input {name} in {html}"));
    let rest = &html[at + name.len() + 15..];
    let value = &rest[..rest.find('"').unwrap()];
    value
        .replace("&#x2f;", "/")
        .replace("&#47;", "/")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
