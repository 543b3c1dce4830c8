//! 网上公开: the published replies, searchable by anyone (`GET /replies`). Only cases whose
//! petitioner agreed to publication, never 检举控告, every text masked
//! (`huiyin_app::App::public_search`). Rate-limited like every public page.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{app_error_page, date};
use crate::pages::{Ctx, Prefs, render};
use crate::search::PublicSearchParams;
use crate::{ClientIp, WebState};

/// One published reply on the page.
pub struct ReplyItem {
    pub title: String,
    pub meta: String,
    pub decision: String,
    pub text: String,
    pub request: String,
    pub facts: String,
    pub reasons: String,
    pub legal_basis: String,
}

#[derive(askama::Template)]
#[template(path = "portal/replies.html")]
pub struct RepliesPage {
    pub ctx: Ctx,
    pub q: String,
    pub error: Option<String>,
    pub total: usize,
    pub items: Vec<ReplyItem>,
    /// Links to the previous and next page (empty: none).
    pub prev: String,
    pub next: String,
}

const PER_PAGE: usize = 10;

pub async fn page(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    prefs: Prefs,
    Query(params): Query<PublicSearchParams>,
) -> Response {
    let ctx = Ctx::new(prefs, "/replies");
    let q = params.q.clone().unwrap_or_default();
    let mut page = RepliesPage {
        ctx: ctx.clone(),
        q: q.clone(),
        error: None,
        total: 0,
        items: Vec::new(),
        prev: String::new(),
        next: String::new(),
    };
    if crate::limited(&state, ip).is_err() {
        page.error = Some(ctx.t("portal.replies.limited").to_string());
        return render(StatusCode::TOO_MANY_REQUESTS, &page);
    }
    let (q, sort, offset, _) = match params.parts() {
        Ok(p) => p,
        Err(e) => {
            page.error = Some(e.body.message.clone());
            return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let answer = match state.app.public_search(&q, sort, offset, PER_PAGE).await {
        Ok(a) => a,
        Err(huiyin_app::AppError::Invalid(errors)) => {
            page.error = errors.first().map(|(_, e)| e.message.to_string());
            return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
        Err(e) => return app_error_page(ctx, &e),
    };
    let lang = ctx.lang;
    page.total = answer.total;
    page.items = answer
        .items
        .into_iter()
        .map(|r| {
            let replied = r.replied_at.map(|t| date(lang, t)).unwrap_or_default();
            ReplyItem {
                title: r.title,
                meta: format!(
                    "{} · {} {} · {} {}",
                    r.unit_name,
                    ctx.t("portal.replies.received"),
                    date(lang, r.received_at),
                    ctx.t("portal.replies.replied"),
                    replied
                ),
                decision: ctx
                    .t(&format!("portal.decision.{}", decision_code(r.decision)))
                    .to_string(),
                text: r.text,
                request: r.request,
                facts: r.facts,
                reasons: r.reasons,
                legal_basis: r.legal_basis,
            }
        })
        .collect();
    let link = |offset: usize| {
        let mut url = form_urlencoded::Serializer::new(String::new());
        url.append_pair("q", &q);
        url.append_pair("offset", &offset.to_string());
        format!("/replies?{}", url.finish())
    };
    if offset > 0 {
        page.prev = link(offset.saturating_sub(PER_PAGE));
    }
    if offset + PER_PAGE < answer.total
        && offset + 2 * PER_PAGE <= huiyin_app::search::PUBLIC_MAX_DEPTH
    {
        page.next = link(offset + PER_PAGE);
    }
    render(StatusCode::OK, &page)
}

fn decision_code(d: huiyin_domain::case::Decision) -> &'static str {
    use huiyin_domain::case::Decision;
    match d {
        Decision::Support => "support",
        Decision::Explain => "explain",
        Decision::NotSupport => "not_support",
    }
}
