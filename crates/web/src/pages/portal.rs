//! The petitioner portal (公众端): home, submitting in steps, the receipt (受理凭证), tracking,
//! rating (双满意) and asking for review (复查), and filing by a proxy (代理员). Mobile first;
//! complete without JavaScript (htmx and `portal.js` only make it nicer).

pub mod body;
pub mod regions;
pub mod replies;
pub mod stats;
pub mod submit;
pub mod track;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use chrono::{FixedOffset, Offset};
use huiyin_app::AppError;
use huiyin_domain::Instant;

use super::{Ctx, Lang, Prefs, i18n, render};
use crate::WebState;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/", get(home))
        .route(
            "/submit",
            get(submit::start)
                .post(submit::post)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/submit/regions", get(submit::region_suggestions))
        .route(
            "/proxy/submit",
            get(submit::proxy_start)
                .post(submit::proxy_post)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/track", get(track::form).post(track::lookup))
        .route("/track/rate", axum::routing::post(track::rate))
        .route("/track/review", axum::routing::post(track::review))
        .route("/track/unpublish", axum::routing::post(track::unpublish))
        .route("/replies", get(replies::page))
        .route("/stats", get(stats::page))
}

#[derive(askama::Template)]
#[template(path = "portal/home.html")]
pub struct Home {
    pub ctx: Ctx,
    /// The deployment publishes its statistics (/stats).
    pub public_stats: bool,
}

async fn home(
    axum::extract::State(state): axum::extract::State<crate::WebState>,
    prefs: Prefs,
) -> Response {
    render(
        StatusCode::OK,
        &Home {
            ctx: Ctx::new(prefs, "/"),
            public_stats: state.app.publishes_stats(),
        },
    )
}

/// A message next to a field (and in the summary at the top of the form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldMsg {
    /// The form field's name (also the id of its input).
    pub field: String,
    pub message: String,
}

/// The message for a rejected value in the page's language: the parser's own specific message
/// (Chinese); in English the portal catalogue's text for its code where there is one, else the
/// domain messages' English ([`super::domain_text::english`]), so an English page never shows
/// a Chinese rejection.
pub fn field_message(lang: Lang, code: &str, message: &str) -> String {
    if lang != Lang::En {
        return message.to_string();
    }
    let key = format!("portal.err.{code}");
    if i18n::has(&key) {
        i18n::t(lang, &key).to_string()
    } else {
        super::domain_text::english(code, message)
    }
}

/// China Standard Time, as people read the clock.
fn cst() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| chrono::Utc.fix())
}

/// A date and time in China Standard Time, in the page's language.
pub fn date_time(lang: Lang, at: Instant) -> String {
    let t = at.with_timezone(&cst());
    match lang {
        Lang::Zh => t.format("%Y年%-m月%-d日 %H:%M").to_string(),
        Lang::En => t.format("%-d %b %Y, %H:%M").to_string(),
    }
}

/// A date in China Standard Time, in the page's language.
pub fn date(lang: Lang, at: Instant) -> String {
    let t = at.with_timezone(&cst());
    match lang {
        Lang::Zh => t.format("%Y年%-m月%-d日").to_string(),
        Lang::En => t.format("%-d %b %Y").to_string(),
    }
}

/// Whole days left until `due` (at least 0), counting a started day as one.
pub fn days_left(now: Instant, due: Instant) -> i64 {
    let secs = (due - now).num_seconds().max(0);
    (secs + 86_399) / 86_400
}

/// The page for a failure that is not the person's input: logged, and said plainly.
pub fn app_error_page(ctx: Ctx, err: &AppError) -> Response {
    tracing::error!(error = %err, "portal request failed");
    let (status, title) = match err {
        AppError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "error.internal.title"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "error.internal.title"),
    };
    let message = ctx.t("error.internal.body").to_string();
    super::error_page(ctx, status, title, message)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn an_english_page_gets_english_for_a_code_without_a_portal_text() {
        let zh = "收到时间不能晚于当前时间";
        assert_eq!(field_message(Lang::Zh, "invalid_command", zh), zh);
        assert_eq!(
            field_message(Lang::En, "invalid_command", zh),
            "The time received cannot be later than now"
        );
        assert_eq!(
            field_message(Lang::En, "some_new_code", "新的提示"),
            "新的提示",
            "unknown everywhere: the specific message rather than nothing"
        );
    }

    #[test]
    fn dates_are_in_china_time() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-05-03T16:30:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(date_time(Lang::Zh, at), "2026年5月4日 00:30");
        assert_eq!(date(Lang::En, at), "4 May 2026");
        assert_eq!(days_left(at, at + chrono::Duration::hours(25)), 2);
        assert_eq!(days_left(at, at - chrono::Duration::hours(1)), 0);
    }
}
