//! The HTML pages: the petitioner portal (公众端, `portal`) and the staff workbench
//! (工作台, `staff`), server-rendered with askama (auto-escaped), progressively enhanced with
//! htmx where present, and complete without JavaScript for the core flows.
//!
//! This module owns what every page shares: the request's display preferences (language and
//! the large-type 适老化 mode, kept in a cookie), the page context [`Ctx`] every template gets,
//! rendering with the security headers, the static files, and the HTML error pages. Strings
//! come from the catalogue in [`i18n`].

pub mod assets;
pub mod domain_text;
pub mod i18n;
pub mod portal;
pub mod staff;

use axum::Router;
use axum::extract::{Form, FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::WebState;
pub use i18n::Lang;

/// The preference cookie: `{lang}.{large}`, e.g. `zh.1`.
pub const PREFS_COOKIE: &str = "hy_prefs";

/// How a person wants pages shown: language and large type (适老化). Read from the cookie;
/// the defaults are Chinese and normal type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prefs {
    pub lang: Lang,
    pub large: bool,
}

impl Prefs {
    pub fn from_headers(headers: &HeaderMap) -> Prefs {
        cookie(headers, PREFS_COOKIE)
            .map(|v| Prefs::parse(&v))
            .unwrap_or_default()
    }

    fn parse(value: &str) -> Prefs {
        let (lang, large) = value.split_once('.').unwrap_or((value, "0"));
        Prefs {
            lang: Lang::parse(lang).unwrap_or_default(),
            large: large == "1",
        }
    }

    fn cookie_value(self) -> String {
        format!(
            "{PREFS_COOKIE}={}.{}; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly",
            self.lang.code(),
            if self.large { 1 } else { 0 }
        )
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Prefs {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Prefs::from_headers(&parts.headers))
    }
}

/// The value of cookie `name` in the request, if present (one parser for the whole crate).
pub use crate::auth::cookie;

/// The signed-in staff member as the page header shows them.
#[derive(Debug, Clone, Default)]
pub struct StaffNav {
    pub display_name: String,
    pub unit_name: String,
    /// The session's CSRF token: every staff form carries it as `_csrf`.
    pub csrf: String,
}

/// What every template gets: the preferences, where the page is, who is signed in.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub lang: Lang,
    pub large: bool,
    /// The path and query of this page (for the preference forms' way back).
    pub here: String,
    pub staff: Option<StaffNav>,
}

impl Ctx {
    pub fn new(prefs: Prefs, here: impl Into<String>) -> Ctx {
        Ctx {
            lang: prefs.lang,
            large: prefs.large,
            here: here.into(),
            staff: None,
        }
    }

    pub fn with_staff(mut self, staff: StaffNav) -> Ctx {
        self.staff = Some(staff);
        self
    }

    /// The catalogue text for `key` in the page's language.
    pub fn t(&self, key: &str) -> &'static str {
        i18n::t(self.lang, key)
    }

    /// The catalogue text of a key made from data, `None` when there is none.
    pub fn t_opt(&self, key: &str) -> Option<&'static str> {
        i18n::lookup(self.lang, key)
    }

    /// The catalogue text with `{name}` placeholders filled.
    pub fn tf(&self, key: &str, args: &[(&str, &str)]) -> String {
        i18n::fill(self.t(key), args)
    }

    /// The versioned URL of a static file.
    pub fn asset(&self, name: &str) -> String {
        assets::url(name)
    }

    pub fn lang_tag(&self) -> &'static str {
        self.lang.tag()
    }

    pub fn is_en(&self) -> bool {
        self.lang == Lang::En
    }

    /// The staff session's CSRF token (empty on public pages).
    pub fn csrf(&self) -> &str {
        self.staff.as_ref().map_or("", |s| s.csrf.as_str())
    }
}

/// The Content-Security-Policy of every page: only our own files, no inline script, no
/// framing, forms post only to us.
pub const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
     script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// Renders a template with the page headers; a template error is logged and answered with a
/// plain 500 that says nothing internal.
pub fn render<T: askama::Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(html) => {
            let mut res = (status, html).into_response();
            let h = res.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            );
            // Pages may show personal data: never kept by a shared cache or the back button.
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            h.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("same-origin"),
            );
            h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "服务器内部错误，请稍后再试。/ Internal error, please try again later.",
            )
                .into_response()
        }
    }
}

/// A same-site path to go back to, or `/` for anything else (no open redirects).
pub fn safe_back(back: Option<&str>) -> String {
    match back {
        Some(b)
            if b.starts_with('/')
                && !b.starts_with("//")
                && !b.contains('\\')
                && !b.chars().any(char::is_control) =>
        {
            b.to_string()
        }
        _ => "/".to_string(),
    }
}

#[derive(Deserialize)]
struct PrefsForm {
    lang: Option<String>,
    large: Option<String>,
    back: Option<String>,
}

/// `POST /prefs`: switch the language or the large-type mode; it sticks for a year.
async fn set_prefs(headers: HeaderMap, Form(form): Form<PrefsForm>) -> Response {
    let mut prefs = Prefs::from_headers(&headers);
    if let Some(lang) = form.lang.as_deref().and_then(Lang::parse) {
        prefs.lang = lang;
    }
    if let Some(large) = form.large.as_deref() {
        prefs.large = large == "1";
    }
    let mut res = Redirect::to(&safe_back(form.back.as_deref())).into_response();
    if let Ok(v) = HeaderValue::from_str(&prefs.cookie_value()) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

#[derive(askama::Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub ctx: Ctx,
    pub title: &'static str,
    pub message: String,
}

/// An HTML error page in the page's language.
pub fn error_page(ctx: Ctx, status: StatusCode, title_key: &str, message: String) -> Response {
    let title = ctx.t(title_key);
    render(
        status,
        &ErrorPage {
            ctx,
            title,
            message,
        },
    )
}

/// The fallback for paths that are not API paths: an HTML 404.
pub async fn not_found_page(prefs: Prefs, OriginalUri(uri): OriginalUri) -> Response {
    let ctx = Ctx::new(prefs, uri.path().to_string());
    let message = ctx.t("error.not_found.body").to_string();
    error_page(ctx, StatusCode::NOT_FOUND, "error.not_found.title", message)
}

/// The page routes, merged into the application router.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/static/{name}", get(assets::serve))
        .route("/prefs", post(set_prefs))
        .merge(portal::routes())
        .merge(staff::routes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefs_round_trip_and_default() {
        assert_eq!(
            Prefs::parse("en.1"),
            Prefs {
                lang: Lang::En,
                large: true
            }
        );
        assert_eq!(Prefs::parse("garbage"), Prefs::default());
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; hy_prefs=zh.1"),
        );
        assert_eq!(
            Prefs::from_headers(&h),
            Prefs {
                lang: Lang::Zh,
                large: true
            }
        );
    }

    #[test]
    fn back_is_same_site_only() {
        assert_eq!(safe_back(Some("/track?x=1")), "/track?x=1");
        assert_eq!(safe_back(Some("//evil.example/")), "/");
        assert_eq!(safe_back(Some("https://evil.example/")), "/");
        assert_eq!(safe_back(Some("/\\evil")), "/");
        assert_eq!(safe_back(None), "/");
    }
}
