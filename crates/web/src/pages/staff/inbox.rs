//! The inbox (收件箱): the active unit's cases, most urgent first, with filters (stage, light,
//! channel, statutory class, category, received dates, overdue), the count of each filter
//! value, and keyset pagination. Each row shows its deadline light with a word.

use axum::extract::{OriginalUri, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use huiyin_domain::case::Stage;
use huiyin_domain::petition::Channel;
use huiyin_store::{CaseSummary, InboxCounts, InboxFilter, NO_DEADLINE_MS};
use serde::Deserialize;

use super::forms::{Opt, parse_date_end, parse_date_start, show_date_ms, show_time};
use super::{Chrome, app_error_page, signed_at, url_encode};
use crate::WebState;
use crate::error::ApiError;
use crate::pages::{Ctx, Prefs, render};

/// Rows per page.
pub const PAGE_ROWS: u32 = 50;

/// The filters as the query string carries them.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct InboxQuery {
    #[serde(default)]
    pub stage: String,
    #[serde(default)]
    pub light: String,
    #[serde(default)]
    pub channel: String,
    #[serde(default)]
    pub class: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub overdue: String,
    /// Include cases that no longer wait for an organ.
    #[serde(default)]
    pub all: String,
    pub after_due: Option<i64>,
    #[serde(default)]
    pub after_id: String,
}

impl InboxQuery {
    /// The query string of these filters (without the page cursor), with one changed.
    pub fn with(&self, key: &str, value: &str) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("stage", &self.stage),
            ("light", &self.light),
            ("channel", &self.channel),
            ("class", &self.class),
            ("category", &self.category),
            ("from", &self.from),
            ("to", &self.to),
            ("overdue", &self.overdue),
            ("all", &self.all),
        ] {
            let v = if k == key { value } else { v.as_str() };
            if !v.is_empty() {
                parts.push(format!("{k}={}", url_encode(v)));
            }
        }
        if parts.is_empty() {
            "/staff".to_string()
        } else {
            format!("/staff?{}", parts.join("&"))
        }
    }

    fn any(&self) -> bool {
        self.with("", "") != "/staff"
    }
}

/// A row of the inbox.
pub struct Row {
    pub id: String,
    pub receipt: String,
    pub title: String,
    pub stage: &'static str,
    pub channel: &'static str,
    pub category: String,
    pub petitioner: String,
    pub received: String,
    pub light: &'static str,
    pub light_word: &'static str,
    pub due: String,
    pub due_kind: &'static str,
}

/// A filter value with its count and the link that applies it.
pub struct Facet {
    pub label: String,
    pub count: i64,
    pub href: String,
    pub active: bool,
}

#[derive(askama::Template)]
#[template(path = "staff/inbox.html")]
pub struct InboxPage {
    pub ctx: Ctx,
    pub chrome: Chrome,
    pub unit_name: String,
    pub q: InboxQuery,
    pub rows: Vec<Row>,
    pub total: i64,
    pub lights: Vec<Facet>,
    pub stages: Vec<Facet>,
    pub channels: Vec<Facet>,
    pub classes: Vec<Facet>,
    pub categories: Vec<Facet>,
    pub next: Option<String>,
    pub first: Option<String>,
    pub errors: Vec<String>,
    pub filtered: bool,
    pub stage_opts: Vec<Opt>,
    pub light_opts: Vec<Opt>,
    pub channel_opts: Vec<Opt>,
    pub class_opts: Vec<Opt>,
    /// The export links of this list with its filters (Excel, CSV).
    pub export_xlsx: String,
    pub export_csv: String,
}

/// Options of a filter select, labelled from the catalogue under `prefix`.
pub fn opts(ctx: &Ctx, prefix: &str, values: &[&str], current: &str) -> Vec<Opt> {
    values
        .iter()
        .map(|v| Opt {
            value: v.to_string(),
            label: ctx.t(&format!("{prefix}.{v}")).to_string(),
            selected: *v == current,
        })
        .collect()
}

pub const LIGHTS: [&str; 3] = ["red", "yellow", "green"];
pub const CLASSES: [&str; 3] = ["suggestion", "accusation", "appeal"];

pub fn stage_values() -> Vec<&'static str> {
    Stage::ALL.iter().map(|s| s.as_str()).collect()
}

pub fn channel_values() -> Vec<&'static str> {
    Channel::ALL.iter().map(|c| c.as_str()).collect()
}

/// The light of a row at `now`: the rule of `clock::Deadline::light` for a running deadline.
pub fn light_of(s: &CaseSummary, now_ms: i64) -> &'static str {
    match (s.next_due_at_ms, s.yellow_at_ms) {
        (Some(due), _) if now_ms > due => "red",
        (_, Some(yellow)) if now_ms >= yellow => "yellow",
        _ => "green",
    }
}

pub fn light_word(ctx: &Ctx, light: &str) -> &'static str {
    ctx.t(&format!("light.{light}"))
}

pub fn row_of(ctx: &Ctx, s: CaseSummary, now_ms: i64) -> Row {
    let light = light_of(&s, now_ms);
    Row {
        light,
        light_word: light_word(ctx, light),
        due: s
            .next_due_at_ms
            .and_then(|d| huiyin_store::from_ms(d).ok())
            .map(show_time)
            .unwrap_or_else(|| ctx.t("staff.inbox.no_deadline").to_string()),
        due_kind: s
            .next_due_kind
            .as_deref()
            .map_or("", |k| ctx.t(&format!("clock.{k}"))),
        stage: ctx.t(&format!("stage.{}", s.stage)),
        channel: ctx.t(&format!("channel.{}", s.channel)),
        category: s.category.unwrap_or_default(),
        petitioner: s
            .petitioner_masked
            .unwrap_or_else(|| ctx.t("staff.inbox.hidden_petitioner").to_string()),
        received: show_date_ms(s.received_at_ms),
        id: s.id,
        receipt: super::forms::show_receipt(s.receipt),
        title: s.title,
    }
}

fn facets(
    ctx: &Ctx,
    q: &InboxQuery,
    key: &str,
    counts: &[(String, i64)],
    label: impl Fn(&str) -> String,
) -> Vec<Facet> {
    let current = match key {
        "stage" => &q.stage,
        "light" => &q.light,
        "channel" => &q.channel,
        "class" => &q.class,
        _ => &q.category,
    };
    let mut out: Vec<Facet> = counts
        .iter()
        .map(|(value, n)| Facet {
            label: label(value),
            count: *n,
            href: q.with(key, value),
            active: current == value,
        })
        .collect();
    if key == "light" {
        // Always red, yellow, green, in that order, also when a count is zero.
        out = ["red", "yellow", "green"]
            .iter()
            .map(|l| Facet {
                label: label(l),
                count: counts.iter().find(|(v, _)| v == l).map_or(0, |(_, n)| *n),
                href: q.with("light", l),
                active: current == l,
            })
            .collect();
    }
    let _ = ctx;
    out
}

/// Parses the filters; a bad value becomes a message and is ignored.
pub(crate) fn filter_of(
    ctx: &Ctx,
    q: &InboxQuery,
    unit: &str,
    now_ms: i64,
) -> (InboxFilter, Vec<String>) {
    let mut errors = Vec::new();
    let mut f = InboxFilter {
        unit: unit.to_string(),
        open_only: q.all.is_empty() && q.stage.is_empty(),
        now_ms,
        limit: PAGE_ROWS,
        ..InboxFilter::default()
    };
    if !q.stage.is_empty() {
        match Stage::parse(&q.stage) {
            Some(s) => f.stage = Some(s.as_str().to_string()),
            None => errors.push(ctx.tf("staff.inbox.bad_stage", &[("value", &q.stage)])),
        }
    }
    let light = if q.overdue == "1" { "red" } else { &q.light };
    if !light.is_empty() {
        if matches!(light, "red" | "yellow" | "green") {
            f.light = Some(light.to_string());
        } else {
            errors.push(ctx.tf("staff.inbox.bad_light", &[("value", light)]));
        }
    }
    if !q.channel.is_empty() {
        match Channel::ALL.iter().find(|c| c.as_str() == q.channel) {
            Some(c) => f.channel = Some(c.as_str().to_string()),
            None => errors.push(ctx.tf("staff.inbox.bad_channel", &[("value", &q.channel)])),
        }
    }
    if !q.class.is_empty() {
        if matches!(q.class.as_str(), "suggestion" | "accusation" | "appeal") {
            f.class = Some(q.class.clone());
        } else {
            errors.push(ctx.tf("staff.inbox.bad_class", &[("value", &q.class)]));
        }
    }
    if !q.category.is_empty() {
        f.category = Some(q.category.chars().take(100).collect());
    }
    if !q.from.is_empty() {
        match parse_date_start(&q.from) {
            Some(t) => f.received_from_ms = Some(t.timestamp_millis()),
            None => errors.push(ctx.tf("staff.inbox.bad_date", &[("value", &q.from)])),
        }
    }
    if !q.to.is_empty() {
        match parse_date_end(&q.to) {
            Some(t) => f.received_before_ms = Some(t.timestamp_millis() + 1000),
            None => errors.push(ctx.tf("staff.inbox.bad_date", &[("value", &q.to)])),
        }
    }
    if let Some(due) = q.after_due
        && !q.after_id.is_empty()
    {
        f.after = Some((due, q.after_id.clone()));
    }
    (f, errors)
}

pub async fn page(
    axum::extract::State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<InboxQuery>,
) -> Response {
    let (signed, here) = match signed_at(&state, &headers, &uri, "/staff").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    // Analysts read figures, not cases: their start page is the overview.
    if !signed.actor.roles.is_empty()
        && signed
            .actor
            .roles
            .iter()
            .all(|r| *r == huiyin_domain::case::Role::Analyst)
    {
        return axum::response::IntoResponse::into_response(axum::response::Redirect::to(
            "/staff/dashboard",
        ));
    }
    let ctx = signed.ctx(prefs, here);
    let chrome = signed.chrome(&ctx, "inbox");
    let Some(unit) = signed.unit().map(str::to_string) else {
        let message = ctx.t("staff.inbox.no_unit").to_string();
        return crate::pages::error_page(
            ctx,
            StatusCode::FORBIDDEN,
            "staff.forbidden.title",
            message,
        );
    };
    match build(&state, &signed.actor, ctx.clone(), chrome, &unit, q).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => app_error_page(ctx, e),
    }
}

/// Builds the inbox page (also used by the benchmark).
pub async fn build(
    state: &WebState,
    actor: &huiyin_domain::case::Actor,
    ctx: Ctx,
    chrome: Chrome,
    unit: &str,
    q: InboxQuery,
) -> Result<InboxPage, ApiError> {
    let now_ms = state.app.now().timestamp_millis();
    let (filter, errors) = filter_of(&ctx, &q, unit, now_ms);
    let items = state.app.inbox_for(actor, &filter).await?;
    let counts: InboxCounts = state
        .app
        .inbox_counts_for(actor, unit, filter.open_only)
        .await?;
    let next = (items.len() as u32 == PAGE_ROWS)
        .then(|| items.last())
        .flatten()
        .map(|last| {
            let base = q.with("", "");
            let sep = if base.contains('?') { '&' } else { '?' };
            format!(
                "{base}{sep}after_due={}&after_id={}",
                last.next_due_at_ms.unwrap_or(NO_DEADLINE_MS),
                url_encode(&last.id)
            )
        });
    let first = filter.after.is_some().then(|| q.with("", ""));
    let unit_name = chrome
        .units
        .iter()
        .find(|u| u.active)
        .map(|u| u.name.clone())
        .unwrap_or_default();
    let t = |prefix: &str| {
        let ctx = ctx.clone();
        let prefix = prefix.to_string();
        move |v: &str| ctx.t(&format!("{prefix}.{v}")).to_string()
    };
    let query = q.with("", "");
    let query = query.split_once('?').map_or("", |(_, q)| q);
    Ok(InboxPage {
        export_xlsx: super::exports::export_href("inbox", "xlsx", query),
        export_csv: super::exports::export_href("inbox", "csv", query),
        stage_opts: opts(&ctx, "stage", &stage_values(), &q.stage),
        light_opts: opts(&ctx, "light", &LIGHTS, &q.light),
        channel_opts: opts(&ctx, "channel", &channel_values(), &q.channel),
        class_opts: opts(&ctx, "class", &CLASSES, &q.class),
        lights: facets(&ctx, &q, "light", &counts.by_light, t("light")),
        stages: facets(&ctx, &q, "stage", &counts.by_stage, t("stage")),
        channels: facets(&ctx, &q, "channel", &counts.by_channel, t("channel")),
        classes: facets(&ctx, &q, "class", &counts.by_class, t("class")),
        categories: facets(&ctx, &q, "category", &counts.by_category, |v| v.to_string())
            .into_iter()
            .take(12)
            .collect(),
        total: counts.total,
        rows: items.into_iter().map(|s| row_of(&ctx, s, now_ms)).collect(),
        filtered: q.any(),
        next,
        first,
        errors,
        unit_name,
        chrome,
        q,
        ctx,
    })
}
