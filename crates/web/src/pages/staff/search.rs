//! The workbench search page (检索): full-text search over the cases in the user's scope,
//! with filters, counts per value that narrow the search in one click, highlighted fragments
//! and pages. It asks [`huiyin_app::App::search`], as `GET /api/v1/search` does, with the same
//! parameters ([`crate::search::SearchParams`]), so the scope (and Art. 30's protection of
//! 检举控告) is applied inside the query, never by filtering here.

use axum::extract::{OriginalUri, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use huiyin_app::search::{FacetValue, Highlight, SearchAnswer, SearchHitView};

use super::forms::show_date_ms;
use super::{Chrome, app_error_page, signed_at, url_encode};
use crate::WebState;
use crate::pages::{Ctx, Prefs, render};
use crate::search::SearchParams;

/// Hits per page.
const PAGE: usize = 20;

/// A piece of a highlighted fragment: the text and whether it matched.
pub struct Piece {
    pub text: String,
    pub hit: bool,
}

pub struct HitRow {
    pub id: String,
    pub receipt: String,
    pub title: String,
    pub stage: &'static str,
    pub category: String,
    pub received: String,
    pub petitioner: String,
    /// Highlighted fragments of the text and the reply (the title shows as it is).
    pub fragments: Vec<(&'static str, Vec<Piece>)>,
}

/// A filter value with its count and the link that applies (or, when applied, removes) it.
pub struct Chip {
    pub label: String,
    pub count: u64,
    pub href: String,
    pub on: bool,
}

pub struct ChipGroup {
    pub heading: &'static str,
    pub chips: Vec<Chip>,
}

#[derive(askama::Template)]
#[template(path = "staff/search.html")]
struct SearchPage {
    ctx: Ctx,
    chrome: Chrome,
    q: String,
    sort: String,
    open: bool,
    searched: bool,
    total: String,
    hits: Vec<HitRow>,
    groups: Vec<ChipGroup>,
    prev: Option<String>,
    next: Option<String>,
    errors: Vec<String>,
    behind: Option<String>,
    /// The export links of these results (Excel, CSV); empty before a search.
    export_xlsx: String,
    export_csv: String,
}

/// Splits a fragment at its highlighted byte ranges (ranges off a character boundary are
/// shown unmarked rather than cut).
pub fn pieces(h: &Highlight) -> Vec<Piece> {
    let f = h.fragment.as_str();
    let mut out = Vec::new();
    let mut at = 0;
    for &(start, end) in &h.highlighted {
        let (Some(before), Some(hit)) = (f.get(at..start), f.get(start..end)) else {
            continue;
        };
        if !before.is_empty() {
            out.push(Piece {
                text: before.to_string(),
                hit: false,
            });
        }
        out.push(Piece {
            text: hit.to_string(),
            hit: true,
        });
        at = end;
    }
    if let Some(rest) = f.get(at..)
        && !rest.is_empty()
    {
        out.push(Piece {
            text: rest.to_string(),
            hit: false,
        });
    }
    out
}

/// The page's query string as pairs, in a fixed order.
fn pairs(p: &SearchParams) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for (k, v) in [
        ("q", &p.q),
        ("stage", &p.stage),
        ("category", &p.category),
        ("class", &p.class),
        ("channel", &p.channel),
        ("region", &p.region),
        ("unit", &p.unit),
        ("light", &p.light),
        ("rating", &p.rating),
        ("from", &p.from),
        ("to", &p.to),
        ("open", &p.open),
        ("sort", &p.sort),
    ] {
        if let Some(v) = v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            out.push((k, v.to_string()));
        }
    }
    out
}

/// The link to this search with `key` set to `value` (removed when empty) and from page one.
fn link(p: &SearchParams, key: &str, value: &str, offset: usize) -> String {
    let mut parts: Vec<String> = pairs(p)
        .into_iter()
        .filter(|(k, _)| *k != key)
        .map(|(k, v)| format!("{k}={}", url_encode(&v)))
        .collect();
    if !value.is_empty() {
        parts.push(format!("{key}={}", url_encode(value)));
    }
    if offset > 0 {
        parts.push(format!("offset={offset}"));
    }
    format!("/staff/search?{}", parts.join("&"))
}

fn label(ctx: &Ctx, group: &str, value: &str) -> String {
    let key = match group {
        "stage" | "class" | "channel" => format!("{group}.{value}"),
        "rating" => format!("staff.search.rating.{value}"),
        _ => return value.to_string(),
    };
    ctx.t_opt(&key)
        .map_or_else(|| value.to_string(), str::to_string)
}

fn group(
    ctx: &Ctx,
    p: &SearchParams,
    answer: &SearchAnswer,
    key: &'static str,
    heading: &'static str,
) -> Option<ChipGroup> {
    let values: &Vec<FacetValue> = answer.facets.get(key)?;
    let current = pairs(p)
        .into_iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v);
    let chips: Vec<Chip> = values
        .iter()
        .take(12)
        .map(|v| {
            let on = current.as_deref() == Some(v.value.as_str());
            Chip {
                label: label(ctx, key, &v.value),
                count: v.count,
                href: link(p, key, if on { "" } else { &v.value }, 0),
                on,
            }
        })
        .collect();
    (!chips.is_empty()).then_some(ChipGroup { heading, chips })
}

fn hit_row(ctx: &Ctx, h: SearchHitView) -> HitRow {
    HitRow {
        fragments: h
            .highlights
            .iter()
            .filter(|x| x.field != "title")
            .map(|x| {
                let which = if x.field == "reply" {
                    ctx.t("staff.search.in_reply")
                } else {
                    ctx.t("staff.search.in_text")
                };
                (which, pieces(x))
            })
            .collect(),
        stage: ctx.t(&format!("stage.{}", h.stage)),
        category: h.category.unwrap_or_default(),
        received: show_date_ms(h.received_at.timestamp_millis()),
        petitioner: h
            .petitioner_masked
            .unwrap_or_else(|| ctx.t("staff.inbox.hidden_petitioner").to_string()),
        receipt: super::forms::show_receipt(h.receipt),
        id: h.case_id,
        title: h.title,
    }
}

/// `GET /staff/search?q=…&stage=…&…&offset=…`.
pub async fn page(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(mut p): Query<SearchParams>,
) -> Response {
    let (signed, here) = match signed_at(&state, &headers, &uri, "/staff/search").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let ctx = signed.ctx(prefs, here);
    let chrome = signed.chrome(&ctx, "search");
    p.limit = Some(PAGE.to_string());
    let searched = !pairs(&p).is_empty();
    let offset = p
        .offset
        .as_deref()
        .and_then(|o| o.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut errors = Vec::new();
    let mut answer = None;
    if searched {
        let result = match p.to_request() {
            Ok(request) => state
                .app
                .search(&signed.actor, request)
                .await
                .map_err(crate::error::ApiError::from),
            Err(e) => Err(e),
        };
        match result {
            Ok(a) => answer = Some(a),
            Err(e) if e.status.is_server_error() => return app_error_page(ctx, e),
            Err(e) => {
                let e = crate::pages::domain_text::localize(ctx.lang, e);
                errors.extend(e.body.fields.iter().map(|f| f.message.clone()));
                if errors.is_empty() {
                    errors.push(e.body.message);
                }
            }
        }
    }
    let (total, hits, groups, prev, next, behind) = match answer {
        None => (String::new(), Vec::new(), Vec::new(), None, None, None),
        Some(a) => {
            let total = ctx.tf("staff.search.total", &[("n", &a.total.to_string())]);
            let groups = [
                ("stage", ctx.t("staff.search.f_stage")),
                ("category", ctx.t("staff.search.f_category")),
                ("class", ctx.t("staff.search.f_class")),
                ("channel", ctx.t("staff.search.f_channel")),
                ("rating", ctx.t("staff.search.f_rating")),
            ]
            .into_iter()
            .filter_map(|(k, h)| group(&ctx, &p, &a, k, h))
            .collect();
            let prev = (offset > 0).then(|| link(&p, "", "", offset.saturating_sub(PAGE)));
            let next =
                ((offset + PAGE) < a.total as usize).then(|| link(&p, "", "", offset + PAGE));
            let behind = (a.index.behind_events > 0).then(|| {
                ctx.tf(
                    "staff.search.behind",
                    &[("n", &a.index.behind_events.to_string())],
                )
            });
            let hits = a.hits.into_iter().map(|h| hit_row(&ctx, h)).collect();
            (total, hits, groups, prev, next, behind)
        }
    };
    let query = link(&p, "", "", 0);
    let query = query.split_once('?').map_or("", |(_, q)| q);
    let (export_xlsx, export_csv) = if hits.is_empty() {
        (String::new(), String::new())
    } else {
        (
            super::exports::export_href("search", "xlsx", query),
            super::exports::export_href("search", "csv", query),
        )
    };
    render(
        StatusCode::OK,
        &SearchPage {
            export_xlsx,
            export_csv,
            q: p.q.clone().unwrap_or_default(),
            sort: p.sort.clone().unwrap_or_default(),
            open: p.open.as_deref() == Some("1") || p.open.as_deref() == Some("true"),
            searched,
            total,
            hits,
            groups,
            prev,
            next,
            errors,
            behind,
            chrome,
            ctx,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_split_at_the_highlights_and_survive_bad_ranges() {
        let h = Highlight {
            field: "text",
            fragment: "小区路灯坏了，路灯".to_string(),
            highlighted: vec![(6, 12), (21, 27), (1, 2)],
        };
        let p = pieces(&h);
        let shown: Vec<(String, bool)> = p.into_iter().map(|x| (x.text, x.hit)).collect();
        assert_eq!(
            shown,
            vec![
                ("小区".to_string(), false),
                ("路灯".to_string(), true),
                ("坏了，".to_string(), false),
                ("路灯".to_string(), true),
            ]
        );
    }
}
