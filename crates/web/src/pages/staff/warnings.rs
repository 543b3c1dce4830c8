//! The early-warning page (预警): the warnings of the user's scope, open first, with kind,
//! region and status filters; each with its figures in words and links to its cases, a form
//! to acknowledge it with a note, and a form to send it to a broadcast group. Scoping and the
//! rules are the app's ([`huiyin_app::App::warnings`]).

use axum::extract::{Form, OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use huiyin_app::warnings::{WarningQuery, WarningView};
use huiyin_domain::access::UnitKind;
use huiyin_domain::case::Role;
use huiyin_domain::warning::WarningKind;
use serde::Deserialize;

use super::forms::{FormData, show_time};
use super::{Chrome, Signed, app_error_page, signed_at, signed_in, url_encode};
use crate::WebState;
use crate::error::ApiError;
use crate::pages::i18n::Lang;
use crate::pages::{Ctx, Prefs, render};

#[derive(Debug, Default, Deserialize)]
pub struct WarningsQuery {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub status: String,
}

/// One warning, formatted.
pub struct Row {
    pub id: String,
    pub kind: &'static str,
    pub kind_label: String,
    pub open: bool,
    pub status_label: String,
    pub place: String,
    pub unit: Option<String>,
    pub category: Option<String>,
    pub window: String,
    pub summary: String,
    pub cases: Vec<(String, String)>,
    pub more_cases: usize,
    pub created: String,
    pub acknowledged: Option<String>,
    pub note: Option<String>,
    pub broadcasts: Vec<String>,
}

#[derive(askama::Template)]
#[template(path = "staff/warnings.html")]
struct WarningsPage {
    ctx: Ctx,
    chrome: Chrome,
    region: String,
    status: String,
    kinds: Vec<(&'static str, String, bool)>,
    rows: Vec<Row>,
    may_acknowledge: bool,
    groups: Vec<(String, String)>,
    back: String,
    error: Option<String>,
}

fn num(w: &WarningView, key: &str) -> f64 {
    w.figures
        .get(key)
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(0.0)
}

fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

/// The figures in words, in the page's language.
pub fn summary(ctx: &Ctx, w: &WarningView) -> String {
    if ctx.lang != Lang::En {
        return w.summary_zh.clone();
    }
    let whole = |k: &str| format!("{:.0}", num(w, k));
    match w.kind {
        WarningKind::Spike => ctx.tf(
            "staff.warnings.summary.spike",
            &[
                ("days", &whole("days")),
                ("category", w.category.as_deref().unwrap_or("—")),
                ("recent", &whole("recent")),
                ("baseline_days", &whole("baseline_days")),
                ("baseline", &whole("baseline")),
                ("ratio", &format!("{:.1}", num(w, "ratio"))),
            ],
        ),
        WarningKind::Group => ctx.tf(
            "staff.warnings.summary.group",
            &[
                ("days", &whole("days")),
                ("petitioners", &whole("petitioners")),
                ("cases", &whole("cases")),
            ],
        ),
        WarningKind::RepeatPetitioner => ctx.tf(
            "staff.warnings.summary.repeat_petitioner",
            &[
                ("days", &whole("days")),
                ("unresolved", &whole("unresolved")),
                ("cases", &whole("cases")),
            ],
        ),
        WarningKind::FallingUnit => {
            let indicator = w
                .figures
                .get("indicator")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("on_time_completion_rate");
            ctx.tf(
                "staff.warnings.summary.falling_unit",
                &[
                    (
                        "indicator",
                        ctx.t(&format!("staff.warnings.indicator.{indicator}")),
                    ),
                    ("this", &pct(num(w, "this_rate"))),
                    ("this_n", &whole("this_denominator")),
                    ("last", &pct(num(w, "last_rate"))),
                    ("last_n", &whole("last_denominator")),
                    ("points", &format!("{:.1}", num(w, "points"))),
                ],
            )
        }
    }
}

fn row(ctx: &Ctx, w: &WarningView) -> Row {
    let place = match &w.region_name {
        Some(name) => format!("{name}（{}）", w.region),
        None => w.region.clone(),
    };
    Row {
        id: w.id.clone(),
        kind: w.kind.as_str(),
        kind_label: ctx
            .t(&format!("staff.warnings.kind.{}", w.kind.as_str()))
            .to_string(),
        open: w.status == "open",
        status_label: ctx
            .t(&format!("staff.warnings.status.{}", w.status))
            .to_string(),
        place,
        unit: w.unit_name.clone().or_else(|| w.unit_id.clone()),
        category: w.category.clone(),
        window: ctx.tf(
            "staff.warnings.window_range",
            &[("from", &w.window_from), ("to", &w.window_to)],
        ),
        summary: summary(ctx, w),
        cases: w
            .cases
            .iter()
            .map(|c| (c.id.clone(), c.receipt_code.clone()))
            .collect(),
        more_cases: w.case_count.saturating_sub(w.cases.len()),
        created: show_time(w.created_at),
        acknowledged: w.acknowledged_at.map(show_time),
        note: w.note.clone(),
        broadcasts: w.broadcasts.clone(),
    }
}

fn may_acknowledge(signed: &Signed, kind: UnitKind) -> bool {
    signed.actor.has(Role::Supervisor)
        || signed.actor.has(Role::Leader)
        || (signed.actor.has(Role::UnitHead) && kind == UnitKind::PetitionBureau)
}

fn may_send(signed: &Signed) -> bool {
    signed.actor.has(Role::Supervisor) || signed.actor.has(Role::Leader)
}

async fn page_of(
    state: &WebState,
    signed: &Signed,
    ctx: Ctx,
    q: WarningsQuery,
    error: Option<(StatusCode, String)>,
) -> Response {
    let query = WarningQuery {
        kind: Some(q.kind.trim().to_string()).filter(|k| !k.is_empty()),
        region: Some(q.region.trim().to_string()).filter(|r| !r.is_empty()),
        status: Some(q.status.trim().to_string()).filter(|s| !s.is_empty()),
        limit: 100,
    };
    let (status, list, error) = match state.app.warnings(&signed.actor, &query).await {
        Ok(list) => (
            error.as_ref().map_or(StatusCode::OK, |e| e.0),
            list,
            error.map(|e| e.1),
        ),
        Err(e) => {
            let err = crate::pages::domain_text::localize(ctx.lang, ApiError::from(e));
            if err.status == StatusCode::FORBIDDEN || err.status.is_server_error() {
                return app_error_page(ctx, err);
            }
            let message = err
                .body
                .fields
                .first()
                .map_or_else(|| err.body.message.clone(), |f| f.message.clone());
            (StatusCode::UNPROCESSABLE_ENTITY, Vec::new(), Some(message))
        }
    };
    let unit_kind = match state.app.principal(&signed.actor).await {
        Ok(p) => p.unit_kind,
        Err(e) => return app_error_page(ctx, ApiError::from(e)),
    };
    let groups = if may_send(signed) {
        match state.app.broadcast_groups(&signed.actor).await {
            Ok(g) => g
                .into_iter()
                .filter(|(g, _)| g.retired_at_ms.is_none())
                .map(|(g, n)| {
                    let label = ctx.tf(
                        "staff.warnings.group_option",
                        &[("name", &g.name), ("n", &n.to_string())],
                    );
                    (g.id, label)
                })
                .collect(),
            Err(e) => return app_error_page(ctx, ApiError::from(e)),
        }
    } else {
        Vec::new()
    };
    let back = format!(
        "/staff/warnings?kind={}&region={}&status={}",
        url_encode(q.kind.trim()),
        url_encode(q.region.trim()),
        url_encode(q.status.trim())
    );
    let page = WarningsPage {
        chrome: signed.chrome(&ctx, "warnings"),
        kinds: WarningKind::ALL
            .iter()
            .map(|k| {
                (
                    k.as_str(),
                    ctx.t(&format!("staff.warnings.kind.{}", k.as_str()))
                        .to_string(),
                    q.kind.trim() == k.as_str(),
                )
            })
            .collect(),
        rows: list.iter().map(|w| row(&ctx, w)).collect(),
        may_acknowledge: may_acknowledge(signed, unit_kind),
        groups,
        region: q.region,
        status: q.status,
        back,
        error,
        ctx,
    };
    render(status, &page)
}

/// `GET /staff/warnings[?kind=…&region=…&status=…]`.
pub async fn page(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<WarningsQuery>,
) -> Response {
    let (signed, here) = match signed_at(&state, &headers, &uri, "/staff/warnings").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let ctx = signed.ctx(prefs, here);
    page_of(&state, &signed, ctx, q, None).await
}

/// Back to the list as it was (only to the list: no open redirect).
fn back_of(form: &FormData) -> String {
    let back = form.get("back");
    if back.starts_with("/staff/warnings") && !back.contains("//") {
        back.to_string()
    } else {
        "/staff/warnings".to_string()
    }
}

async fn post_common(
    state: &WebState,
    headers: &HeaderMap,
    prefs: Prefs,
    form: &FormData,
) -> Result<(Signed, Ctx), Response> {
    let signed = signed_in(state, headers, "/staff/warnings").await?;
    signed.check_csrf(prefs, form)?;
    let ctx = signed.ctx(prefs, "/staff/warnings");
    Ok((signed, ctx))
}

async fn after(
    state: &WebState,
    signed: &Signed,
    ctx: Ctx,
    form: &FormData,
    id: &str,
    result: Result<(), huiyin_app::AppError>,
) -> Response {
    match result {
        Ok(()) => Redirect::to(&format!("{}#w-{id}", back_of(form))).into_response(),
        Err(e) => {
            let err = crate::pages::domain_text::localize(ctx.lang, ApiError::from(e));
            if err.status == StatusCode::FORBIDDEN
                || err.status == StatusCode::NOT_FOUND
                || err.status.is_server_error()
            {
                return app_error_page(ctx, err);
            }
            let message = err
                .body
                .fields
                .first()
                .map_or_else(|| err.body.message.clone(), |f| f.message.clone());
            let status = err.status;
            page_of(
                state,
                signed,
                ctx,
                WarningsQuery::default(),
                Some((status, message)),
            )
            .await
        }
    }
}

/// `POST /staff/warnings/{id}/acknowledge` (`note`).
pub async fn acknowledge(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<FormData>,
) -> Response {
    let (signed, ctx) = match post_common(&state, &headers, prefs, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let result = state
        .app
        .acknowledge_warning(&signed.actor, &id, form.get("note"))
        .await
        .map(|_| ());
    after(&state, &signed, ctx, &form, &id, result).await
}

/// `POST /staff/warnings/{id}/send` (`group_id`, `note`): to a broadcast group.
pub async fn send(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<FormData>,
) -> Response {
    let (signed, ctx) = match post_common(&state, &headers, prefs, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let result = state
        .app
        .send_warning(&signed.actor, &id, form.get("group_id"), form.get("note"))
        .await
        .map(|_| ());
    after(&state, &signed, ctx, &form, &id, result).await
}
