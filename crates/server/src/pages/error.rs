//! Page errors: an HTML page with the right HTTP status, in the page's language, never JSON and
//! never an internal message or a stack trace (those go to the log, under the request id the
//! page shows).

use crate::pages::assets;
use crate::pages::lang::Lang;
use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

/// A failed page request. A handler returns `Result<_, PageError>`; the middleware and the
/// fallbacks of [`crate::pages`] answer with one as well.
#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub lang: Lang,
    /// One more sentence for the person, already in `lang` (e.g. "this payment link has
    /// expired"). Never a card number, a token or an internal error's text.
    pub detail: Option<String>,
}

impl PageError {
    pub fn new(status: StatusCode, lang: Lang) -> PageError {
        PageError {
            status,
            lang,
            detail: None,
        }
    }

    pub fn not_found(lang: Lang) -> PageError {
        PageError::new(StatusCode::NOT_FOUND, lang)
    }

    /// A form post without a valid CSRF token ([`crate::pages::csrf`]).
    pub fn forbidden(lang: Lang) -> PageError {
        PageError::new(StatusCode::FORBIDDEN, lang)
    }

    /// Something failed on our side: logged here with the request id, shown as a plain 500.
    pub fn internal(lang: Lang, context: &str, err: impl std::fmt::Display) -> PageError {
        tracing::error!(request = %crate::request_id(), error = %err, "{context}");
        PageError::new(StatusCode::INTERNAL_SERVER_ERROR, lang)
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> PageError {
        self.detail = Some(detail.into());
        self
    }
}

/// The words of an error page in one language.
pub struct ErrorText {
    pub title: &'static str,
    pub message: &'static str,
    pub request_label: &'static str,
}

/// What a status means to the person reading the page. Unlisted statuses read as the nearest
/// class: any other 4xx as a bad request, any other 5xx as our failure.
pub fn text(status: StatusCode, lang: Lang) -> ErrorText {
    let words = match status.as_u16() {
        403 => &FORBIDDEN,
        404 => &NOT_FOUND,
        405 => &NOT_ALLOWED,
        413 | 414 | 431 => &TOO_LARGE,
        503 => &BUSY,
        400..=499 => &BAD_REQUEST,
        _ => &FAILED,
    };
    let [title, message] = words[lang.index()];
    ErrorText {
        title,
        message,
        request_label: ["Номер запроса", "Сұрау нөмірі", "Request id"][lang.index()],
    }
}

/// A title and a message in each language, in [`Lang::index`] order: rus, kaz, eng.
type Words = [[&'static str; 2]; 3];

const FORBIDDEN: Words = [
    ["Форма устарела", "Срок действия формы истёк или она отправлена не с этой страницы. Обновите страницу и попробуйте снова."],
    ["Форманың мерзімі өтті", "Форманың мерзімі өтті немесе ол осы беттен жіберілмеген. Бетті жаңартып, қайталап көріңіз."],
    ["This form has expired", "The form has expired or was not sent from this page. Reload the page and try again."],
];

const NOT_FOUND: Words = [
    ["Страница не найдена", "По этому адресу страницы нет."],
    ["Бет табылмады", "Бұл мекенжайда бет жоқ."],
    ["Page not found", "There is no page at this address."],
];

const NOT_ALLOWED: Words = [
    [
        "Действие недоступно",
        "Эта страница не принимает такой запрос.",
    ],
    ["Әрекет қолжетімсіз", "Бұл бет мұндай сұрауды қабылдамайды."],
    [
        "Not allowed",
        "This page does not accept that kind of request.",
    ],
];

const TOO_LARGE: Words = [
    [
        "Слишком большой запрос",
        "Запрос больше, чем принимает эта страница.",
    ],
    [
        "Сұрау тым үлкен",
        "Сұрау бұл бет қабылдайтын көлемнен үлкен.",
    ],
    [
        "Request too large",
        "The request is larger than this page accepts.",
    ],
];

const BUSY: Words = [
    [
        "Сервис занят",
        "Ничего не выполнено. Повторите попытку через несколько секунд.",
    ],
    [
        "Қызмет бос емес",
        "Ештеңе орындалған жоқ. Бірнеше секундтан кейін қайталап көріңіз.",
    ],
    [
        "Service busy",
        "Nothing was done. Try again in a few seconds.",
    ],
];

const BAD_REQUEST: Words = [
    [
        "Неверный запрос",
        "Страница не смогла разобрать этот запрос.",
    ],
    ["Қате сұрау", "Бет бұл сұрауды түсіне алмады."],
    ["Bad request", "The page could not understand this request."],
];

const FAILED: Words = [
    [
        "Что-то пошло не так",
        "На нашей стороне произошла ошибка. Повторите попытку позже.",
    ],
    [
        "Бірдеңе дұрыс болмады",
        "Біз жақта қате орын алды. Кейінірек қайталап көріңіз.",
    ],
    [
        "Something went wrong",
        "An error occurred on our side. Try again later.",
    ],
];

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    lang: Lang,
    stylesheet: &'a str,
    status: u16,
    text: ErrorText,
    detail: Option<&'a str>,
    request_id: &'a str,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let request_id = crate::request_id();
        let stylesheet = assets::url("pages.css");
        let page = ErrorPage {
            lang: self.lang,
            stylesheet: &stylesheet,
            status: self.status.as_u16(),
            text: text(self.status, self.lang),
            detail: self.detail.as_deref(),
            request_id: &request_id,
        };
        // A template over static text and escaped strings cannot fail to render; if it ever
        // did, the status still reaches the browser.
        let body = page.render().unwrap_or_default();
        let mut resp = (self.status, Html(body)).into_response();
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        // Also when the error comes from a fallback or the request limits, outside the
        // pages' own layers.
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(crate::pages::CSP),
        );
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            // Sent before the body was read: the connection cannot carry another request.
            h.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}
