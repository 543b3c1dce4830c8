//! Exports (导出) of the workbench's lists to Excel and CSV (issue 8): the inbox with its
//! filters, the search results with their query, and (in [`super::stats`]) the statistics
//! table. The rules and the writers are [`huiyin_app::export`]'s; here are the lists' columns,
//! their rows as the pages show them, and the routes:
//!
//! - `GET /staff/exports/new?list=inbox|search&format=xlsx|csv&<the page's filters>`: a list
//!   of at most [`huiyin_app::export::IMMEDIATE_ROWS`] rows downloads at once; a longer one starts a background
//!   export and goes to its progress page. (A link, like `/staff/stats.csv`: an export only
//!   reads, what it writes can be read by the one who asked alone, and one person may run at
//!   most two at a time.)
//! - `GET /staff/exports/{id}`: progress (rows written of the estimate), refreshed by htmx from
//!   `GET /staff/exports/{id}/progress`, with the download link when done;
//! - `GET /staff/exports/{id}/file`: the file, for the one who asked only.
//!
//! Rows come from the same scoped queries as the pages ([`huiyin_app::App::inbox_for`],
//! [`huiyin_app::App::search`]); the petitioner column is the masked name, and blank for every
//! 检举控告 whatever the caller's clearance.

use std::path::PathBuf;

use axum::body::Body;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use huiyin_app::export::{
    Cell, Column, ExportFormat, ExportSpec, ExportState, ExportStatus, RowSource, china_minute,
};
use huiyin_app::{App, AppError};
use huiyin_domain::case::Actor;
use huiyin_store::{CaseSummary, InboxFilter, NO_DEADLINE_MS};
use serde::Deserialize;

use super::inbox::{InboxQuery, light_of};
use super::{Chrome, app_error_page, signed_at, url_encode};
use crate::WebState;
use crate::error::ApiError;
use crate::pages::i18n::Lang;
use crate::pages::{Ctx, Prefs, render};
use crate::search::SearchParams;

/// Rows read from the store per page.
const PAGE_ROWS: u32 = 500;
/// Search hits per request (the search engine's page limit, `MAX_LIMIT` in `huiyin_search`).
const SEARCH_PAGE: usize = 100;
/// The most search hits an export carries (how deep the search engine pages, its
/// `MAX_DEPTH`).
pub const SEARCH_MAX_ROWS: usize = 1000;

pub const INBOX_COLUMNS: [Column; 11] = [
    Column {
        zh: "受理编号",
        en: "Receipt",
        width: 18.0,
    },
    Column {
        zh: "标题",
        en: "Title",
        width: 40.0,
    },
    Column {
        zh: "阶段",
        en: "Stage",
        width: 12.0,
    },
    Column {
        zh: "渠道",
        en: "Channel",
        width: 12.0,
    },
    Column {
        zh: "性质",
        en: "Class",
        width: 12.0,
    },
    Column {
        zh: "类别",
        en: "Category",
        width: 20.0,
    },
    Column {
        zh: "信访人",
        en: "Petitioner",
        width: 12.0,
    },
    Column {
        zh: "收到时间",
        en: "Received",
        width: 18.0,
    },
    Column {
        zh: "期限",
        en: "Time limit",
        width: 14.0,
    },
    Column {
        zh: "到期时间",
        en: "Due",
        width: 18.0,
    },
    Column {
        zh: "督办灯",
        en: "Light",
        width: 10.0,
    },
];

pub const SEARCH_COLUMNS: [Column; 7] = [
    Column {
        zh: "受理编号",
        en: "Receipt",
        width: 18.0,
    },
    Column {
        zh: "标题",
        en: "Title",
        width: 40.0,
    },
    Column {
        zh: "阶段",
        en: "Stage",
        width: 12.0,
    },
    Column {
        zh: "性质",
        en: "Class",
        width: 12.0,
    },
    Column {
        zh: "类别",
        en: "Category",
        width: 20.0,
    },
    Column {
        zh: "信访人",
        en: "Petitioner",
        width: 12.0,
    },
    Column {
        zh: "收到时间",
        en: "Received",
        width: 18.0,
    },
];

/// Which list, in which format.
#[derive(Debug, Default, Deserialize)]
pub struct ExportKind {
    #[serde(default)]
    pub list: String,
    #[serde(default)]
    pub format: String,
}

/// The link that exports a list with the page's query string (`query` without `?`).
pub fn export_href(list: &str, format: &str, query: &str) -> String {
    let mut href = format!("/staff/exports/new?list={list}&format={format}");
    if !query.is_empty() {
        href.push('&');
        href.push_str(query);
    }
    href
}

fn label(ctx: &Ctx, prefix: &str, value: &str) -> String {
    ctx.t_opt(&format!("{prefix}.{value}"))
        .map_or_else(|| value.to_string(), str::to_string)
}

/// The petitioner as a list may show them: the masked name, never who filed a 检举控告.
fn petitioner(class: Option<&str>, masked: Option<String>) -> Cell {
    match (class, masked) {
        (Some("accusation"), _) | (_, None) => Cell::Empty,
        (_, Some(m)) => Cell::Text(m),
    }
}

fn inbox_row(ctx: &Ctx, s: CaseSummary, now_ms: i64) -> Vec<Cell> {
    let light = light_of(&s, now_ms);
    vec![
        Cell::Text(super::forms::show_receipt(s.receipt)),
        Cell::Text(s.title),
        Cell::Text(label(ctx, "stage", &s.stage)),
        Cell::Text(label(ctx, "channel", &s.channel)),
        s.class
            .as_deref()
            .map_or(Cell::Empty, |c| Cell::Text(label(ctx, "class", c))),
        s.category.map_or(Cell::Empty, Cell::Text),
        petitioner(s.class.as_deref(), s.petitioner_masked),
        Cell::Text(china_minute(s.received_at_ms)),
        s.next_due_kind
            .as_deref()
            .map_or(Cell::Empty, |k| Cell::Text(label(ctx, "clock", k))),
        s.next_due_at_ms
            .filter(|d| *d != NO_DEADLINE_MS)
            .map_or(Cell::Empty, |d| Cell::Text(china_minute(d))),
        Cell::Text(label(ctx, "light", light)),
    ]
}

/// The inbox, page by page on its keyset `(next_due_at, id)`, with the page's filters.
pub struct InboxSource {
    actor: Actor,
    filter: InboxFilter,
    ctx: Ctx,
    done: bool,
}

impl RowSource for InboxSource {
    async fn next_page(&mut self, app: &App) -> Result<Option<Vec<Vec<Cell>>>, AppError> {
        if self.done {
            return Ok(None);
        }
        let items = app.inbox_for(&self.actor, &self.filter).await?;
        self.done = (items.len() as u32) < self.filter.limit;
        match items.last() {
            Some(last) => {
                self.filter.after = Some((
                    last.next_due_at_ms.unwrap_or(NO_DEADLINE_MS),
                    last.id.clone(),
                ));
            }
            None => return Ok(None),
        }
        let now_ms = self.filter.now_ms;
        Ok(Some(
            items
                .into_iter()
                .map(|s| inbox_row(&self.ctx, s, now_ms))
                .collect(),
        ))
    }
}

/// The search results, a page of hits at a time, up to [`SEARCH_MAX_ROWS`].
pub struct SearchSource {
    actor: Actor,
    request: huiyin_app::search::SearchRequest,
    ctx: Ctx,
    done: bool,
}

impl RowSource for SearchSource {
    async fn next_page(&mut self, app: &App) -> Result<Option<Vec<Vec<Cell>>>, AppError> {
        if self.done || self.request.offset >= SEARCH_MAX_ROWS {
            return Ok(None);
        }
        self.request.limit = SEARCH_PAGE.min(SEARCH_MAX_ROWS - self.request.offset);
        let answer = app.search(&self.actor, self.request.clone()).await?;
        self.request.offset += self.request.limit;
        self.done = self.request.offset as u64 >= answer.total;
        let rows: Vec<Vec<Cell>> = answer
            .hits
            .into_iter()
            .map(|h| {
                vec![
                    Cell::Text(super::forms::show_receipt(h.receipt)),
                    Cell::Text(h.title),
                    Cell::Text(label(&self.ctx, "stage", &h.stage)),
                    h.class
                        .as_deref()
                        .map_or(Cell::Empty, |c| Cell::Text(label(&self.ctx, "class", c))),
                    h.category.map_or(Cell::Empty, Cell::Text),
                    petitioner(h.class.as_deref(), h.petitioner_masked),
                    Cell::Text(china_minute(h.received_at.timestamp_millis())),
                ]
            })
            .collect();
        Ok((!rows.is_empty()).then_some(rows))
    }
}

/// A file as a download.
pub fn attachment(format: ExportFormat, name: &str, body: Body) -> Response {
    let mut res = (StatusCode::OK, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn spec(ctx: &Ctx, list: &str, filters: String, format: ExportFormat) -> ExportSpec {
    let (sheet, columns): (&str, &[Column]) = match list {
        "inbox" => (ctx.t("staff.export.sheet_inbox"), &INBOX_COLUMNS),
        _ => (ctx.t("staff.export.sheet_search"), &SEARCH_COLUMNS),
    };
    ExportSpec {
        list: list.to_string(),
        filters,
        format,
        sheet: sheet.to_string(),
        columns: columns.to_vec(),
        english: ctx.lang == Lang::En,
    }
}

/// A 422 page listing what is wrong with the request.
fn bad_request(ctx: Ctx, messages: Vec<String>) -> Response {
    let message = messages.join("；");
    crate::pages::error_page(
        ctx,
        StatusCode::UNPROCESSABLE_ENTITY,
        "staff.export.bad_title",
        message,
    )
}

/// `GET /staff/exports/new?list=…&format=…&…`.
pub async fn start(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(kind): Query<ExportKind>,
    Query(inbox_q): Query<InboxQuery>,
    Query(search_p): Query<SearchParams>,
) -> Response {
    let (signed, here) = match signed_at(&state, &headers, &uri, "/staff").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let ctx = signed.ctx(prefs, here);
    let format = match ExportFormat::parse(&kind.format) {
        Ok(f) => f,
        Err(e) => return app_error_page(ctx, e.into()),
    };
    let result = match kind.list.trim() {
        "inbox" => {
            let Some(unit) = signed.unit().map(str::to_string) else {
                let message = ctx.t("staff.inbox.no_unit").to_string();
                return crate::pages::error_page(
                    ctx,
                    StatusCode::FORBIDDEN,
                    "staff.forbidden.title",
                    message,
                );
            };
            let now_ms = state.app.now().timestamp_millis();
            let (mut filter, errors) = super::inbox::filter_of(&ctx, &inbox_q, &unit, now_ms);
            if !errors.is_empty() {
                return bad_request(ctx, errors);
            }
            // The whole list, not the page the person was looking at.
            filter.after = None;
            filter.limit = PAGE_ROWS;
            let query = inbox_q.with("", "");
            let filters = query.split_once('?').map_or("", |(_, q)| q).to_string();
            export_inbox(&state, &signed.actor, &ctx, filter, filters, format).await
        }
        "search" => {
            let mut request = match search_p.to_request() {
                Ok(r) => r,
                Err(e) => return app_error_page(ctx, e),
            };
            request.offset = 0;
            let filters = uri.query().unwrap_or("").to_string();
            let spec = spec(&ctx, "search", filters, format);
            let source = SearchSource {
                actor: signed.actor.clone(),
                request,
                ctx: ctx.clone(),
                done: false,
            };
            state
                .app
                .export_now(&signed.actor, &spec, source)
                .await
                .map(|(bytes, name, _)| attachment(format, &name, Body::from(bytes)))
                .map_err(ApiError::from)
        }
        other => Err(ApiError::field(
            "list",
            "list_unknown",
            format!("没有可导出的列表「{other}」，可导出 inbox（收件箱）或 search（检索结果）"),
        )),
    };
    match result {
        Ok(r) => r,
        Err(e) => app_error_page(ctx, e),
    }
}

async fn export_inbox(
    state: &WebState,
    actor: &Actor,
    ctx: &Ctx,
    filter: InboxFilter,
    filters: String,
    format: ExportFormat,
) -> Result<Response, ApiError> {
    let estimate = state.app.inbox_count_for(actor, &filter).await?;
    let spec = spec(ctx, "inbox", filters, format);
    let source = InboxSource {
        actor: actor.clone(),
        filter,
        ctx: ctx.clone(),
        done: false,
    };
    if estimate <= state.app.export_immediate_rows() {
        let (bytes, name, _) = state.app.export_now(actor, &spec, source).await?;
        return Ok(attachment(format, &name, Body::from(bytes)));
    }
    let id = state
        .app
        .start_export(actor, spec, estimate, source)
        .await?;
    Ok(Redirect::to(&format!("/staff/exports/{}", url_encode(&id))).into_response())
}

#[derive(askama::Template)]
#[template(path = "staff/export.html")]
struct ExportPage {
    ctx: Ctx,
    chrome: Chrome,
    p: Progress,
}

#[derive(askama::Template)]
#[template(path = "staff/export_progress.html")]
struct ProgressFragment {
    ctx: Ctx,
    p: Progress,
}

/// What the progress box shows.
pub struct Progress {
    pub id: String,
    pub list: &'static str,
    pub written: String,
    pub estimate: String,
    /// 0–100.
    pub percent: u64,
    pub running: bool,
    pub done: bool,
    pub failed: Option<String>,
    pub file_name: String,
    pub expires: String,
}

fn progress(ctx: &Ctx, s: ExportStatus) -> Progress {
    let percent = match (&s.state, s.estimate) {
        (ExportState::Done { .. }, _) => 100,
        (_, 0) => 0,
        (_, n) => (s.written.saturating_mul(100) / n).min(99),
    };
    Progress {
        list: match s.list.as_str() {
            "inbox" => ctx.t("staff.export.sheet_inbox"),
            "search" => ctx.t("staff.export.sheet_search"),
            _ => ctx.t("staff.export.sheet_stats"),
        },
        written: s.written.to_string(),
        estimate: s.estimate.to_string(),
        percent,
        running: s.state == ExportState::Running,
        done: matches!(s.state, ExportState::Done { .. }),
        failed: match s.state {
            ExportState::Failed { message } => Some(
                crate::pages::domain_text::localize(
                    ctx.lang,
                    ApiError::new(StatusCode::CONFLICT, "conflict", message),
                )
                .body
                .message,
            ),
            _ => None,
        },
        file_name: s.file_name,
        expires: china_minute(s.expires_at_ms),
        id: s.id,
    }
}

/// `GET /staff/exports/{id}`: the progress page.
pub async fn page(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
) -> Response {
    let (signed, here) = match signed_at(&state, &headers, &uri, "/staff").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let ctx = signed.ctx(prefs, here);
    let chrome = signed.chrome(&ctx, "inbox");
    match state.app.export_status(&signed.actor, &id) {
        Ok(s) => {
            let p = progress(&ctx, s);
            render(StatusCode::OK, &ExportPage { ctx, chrome, p })
        }
        Err(e) => app_error_page(ctx, e.into()),
    }
}

/// `GET /staff/exports/{id}/progress`: the progress box alone (htmx polls it).
pub async fn fragment(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
) -> Response {
    let (signed, here) = match signed_at(&state, &headers, &uri, "/staff").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let ctx = signed.ctx(prefs, here);
    match state.app.export_status(&signed.actor, &id) {
        Ok(s) => {
            let p = progress(&ctx, s);
            render(StatusCode::OK, &ProgressFragment { ctx, p })
        }
        Err(e) => app_error_page(ctx, e.into()),
    }
}

/// `GET /staff/exports/{id}/file`: the finished file, streamed from disk.
pub async fn file(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
) -> Response {
    let (signed, here) = match signed_at(&state, &headers, &uri, "/staff").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let ctx = signed.ctx(prefs, here);
    let (path, name, format): (PathBuf, String, ExportFormat) =
        match state.app.export_file(&signed.actor, &id) {
            Ok(f) => f,
            Err(e) => return app_error_page(ctx, e.into()),
        };
    match tokio::fs::File::open(&path).await {
        Ok(f) => attachment(format, &name, Body::from_stream(chunks(f))),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "export file missing");
            app_error_page(ctx, ApiError::not_found("导出文件已不存在，请重新导出"))
        }
    }
}

/// A file as a stream of 64 KiB chunks.
fn chunks(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = std::io::Result<Vec<u8>>> + Send {
    futures_util::stream::unfold(Some(file), |f| async move {
        use tokio::io::AsyncReadExt;
        let mut f = f?;
        let mut buf = vec![0u8; 64 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(buf), Some(f)))
            }
            // The error ends the stream.
            Err(e) => Some((Err(e), None)),
        }
    })
}
