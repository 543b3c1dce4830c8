//! The leader's view (领导): cases awaiting instruction (待阅批), the cases this leader has
//! taken personal charge of (包案), and cases already instructed. Each list is one scoped query
//! ([`huiyin_app::App::leader_desk`]); the page reads no case one by one.

use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::inbox::{Row, row_of};
use super::{Chrome, app_error_page, signed_in};
use crate::WebState;
use crate::error::ApiError;
use crate::pages::{Ctx, Prefs, render};

#[derive(askama::Template)]
#[template(path = "staff/leader_desk.html")]
struct LeaderDeskPage {
    ctx: Ctx,
    chrome: Chrome,
    lists: Vec<LeaderSection>,
}

/// One list of the view.
struct LeaderSection {
    id: &'static str,
    heading: &'static str,
    /// Where a row's link lands on the case page.
    anchor: &'static str,
    rows: Vec<Row>,
}

/// `GET /staff/leader`.
pub async fn page(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let signed = match signed_in(&state, &headers, uri.path()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let ctx = signed.ctx(prefs, "/staff/leader");
    let desk = match state.app.leader_desk(&signed.actor).await {
        Ok(d) => d,
        Err(e) => return app_error_page(ctx, ApiError::from(e)),
    };
    let now = state.app.now().timestamp_millis();
    let rows = |items: Vec<huiyin_store::CaseSummary>| -> Vec<Row> {
        items.into_iter().map(|i| row_of(&ctx, i, now)).collect()
    };
    let lists = vec![
        // The leader's own 包案 cases first: a few, and theirs; then what awaits instruction
        // (often long), most urgent first.
        LeaderSection {
            id: "in-charge",
            heading: ctx.t("staff.leader.in_charge"),
            anchor: "#h-in-charge",
            rows: rows(desk.in_charge),
        },
        LeaderSection {
            id: "awaiting",
            heading: ctx.t("staff.leader.awaiting"),
            anchor: "#act-instruct",
            rows: rows(desk.awaiting),
        },
        LeaderSection {
            id: "instructed",
            heading: ctx.t("staff.leader.instructed"),
            anchor: "",
            rows: rows(desk.instructed),
        },
    ];
    render(
        StatusCode::OK,
        &LeaderDeskPage {
            chrome: signed.chrome(&ctx, "leader"),
            lists,
            ctx,
        },
    )
}
