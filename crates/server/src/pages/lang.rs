//! The pages' languages: ePay's `rus`, `kaz` and `eng`.

use axum::http::{header, HeaderMap};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// ePay's default when a merchant names none.
    #[default]
    Rus,
    Kaz,
    Eng,
}

impl Lang {
    /// ePay's code (`language` in the hosted form's params): `rus`, `kaz`, `eng`.
    pub fn parse(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().as_str() {
            "rus" | "ru" => Some(Lang::Rus),
            "kaz" | "kk" | "kz" => Some(Lang::Kaz),
            "eng" | "en" => Some(Lang::Eng),
            _ => None,
        }
    }

    /// The position of this language in per-language tables: rus, kaz, eng.
    pub fn index(self) -> usize {
        match self {
            Lang::Rus => 0,
            Lang::Kaz => 1,
            Lang::Eng => 2,
        }
    }

    /// The BCP 47 code for `<html lang>`.
    pub fn html_code(self) -> &'static str {
        match self {
            Lang::Rus => "ru",
            Lang::Kaz => "kk",
            Lang::Eng => "en",
        }
    }

    /// The browser's first preference among ours (`Accept-Language`, in the order sent;
    /// weights are not read), for pages that have no language of their own yet, such as an
    /// error before the page knew its parameters. [`Lang::default`] when none matches.
    pub fn from_headers(headers: &HeaderMap) -> Lang {
        let Some(accept) = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
        else {
            return Lang::default();
        };
        accept
            .split(',')
            .filter_map(|item| {
                let tag = item.split(';').next()?.trim();
                Lang::parse(tag.split('-').next()?)
            })
            .next()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_first_of_ours() {
        let mut h = HeaderMap::new();
        assert_eq!(Lang::from_headers(&h), Lang::Rus);
        h.insert(
            header::ACCEPT_LANGUAGE,
            "de-DE, kk-KZ;q=0.8, en;q=0.5".parse().unwrap(),
        );
        assert_eq!(Lang::from_headers(&h), Lang::Kaz);
        h.insert(header::ACCEPT_LANGUAGE, "fr".parse().unwrap());
        assert_eq!(Lang::from_headers(&h), Lang::Rus);
        assert_eq!(Lang::parse("ENG"), Some(Lang::Eng));
    }
}
