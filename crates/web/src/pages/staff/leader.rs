//! The leader's view (领导): the cases this leader has taken personal charge of (包案), cases
//! awaiting instruction (待阅批) and cases already instructed. The overview shows each list's
//! first rows and size; each list opens whole a page at a time (keyset paging, so a deep page
//! costs what the first does). Each list is one scoped query
//! ([`huiyin_app::App::leader_desk`], [`huiyin_app::App::leader_page`]); the page reads no
//! case one by one.

use axum::extract::{OriginalUri, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use huiyin_app::leader::{DeskList, DeskSection};
use huiyin_store::LeaderCursor;
use serde::Deserialize;

use super::inbox::{Row, row_of};
use super::{Chrome, app_error_page, signed_at, url_encode};
use crate::WebState;
use crate::error::ApiError;
use crate::pages::{Ctx, Prefs, render};

#[derive(Debug, Default, Deserialize)]
pub struct LeaderQuery {
    /// One whole list (`in-charge`, `awaiting`, `instructed`); the overview without.
    #[serde(default)]
    pub list: String,
    pub after_closed: Option<i64>,
    pub after_due: Option<i64>,
    #[serde(default)]
    pub after_id: String,
}

#[derive(askama::Template)]
#[template(path = "staff/leader_desk.html")]
struct LeaderDeskPage {
    ctx: Ctx,
    chrome: Chrome,
    /// The view's title and its overview's address.
    title: &'static str,
    home: &'static str,
    back: &'static str,
    lists: Vec<LeaderSection>,
    /// Showing one whole list (with paging) rather than the overview.
    single: bool,
    /// On a later page of one list: the link to its first page.
    first: Option<String>,
}

/// One list of the view.
struct LeaderSection {
    id: &'static str,
    heading: &'static str,
    /// Where a row's link lands on the case page.
    anchor: &'static str,
    rows: Vec<Row>,
    /// The list's size, worded ("共 N 件", for 包案 with how many are open).
    count: String,
    /// The link to the whole list (overview) or to the next page (one list).
    more: Option<(String, String)>,
}

/// The address of a view's overview.
fn home_of(list: DeskList) -> &'static str {
    if DeskList::SUPERVISION.contains(&list) {
        "/staff/supervision"
    } else {
        "/staff/leader"
    }
}

fn list_link(list: DeskList, after: Option<&LeaderCursor>) -> String {
    let base = format!("{}?list={}", home_of(list), list.code());
    match after {
        Some(c) => format!(
            "{base}&after_closed={}&after_due={}&after_id={}",
            c.closed,
            c.due_ms,
            url_encode(&c.id)
        ),
        None => base,
    }
}

fn section(ctx: &Ctx, s: DeskSection, now: i64, single: bool) -> LeaderSection {
    let (id, heading, anchor) = match s.list {
        DeskList::InCharge => ("in-charge", ctx.t("staff.leader.in_charge"), "#h-in-charge"),
        DeskList::Awaiting => ("awaiting", ctx.t("staff.leader.awaiting"), "#act-instruct"),
        DeskList::Instructed => ("instructed", ctx.t("staff.leader.instructed"), ""),
        DeskList::Named => ("named", ctx.t("staff.supervision.named"), "#supervision"),
        DeskList::OpenOrders => (
            "open-orders",
            ctx.t("staff.supervision.open_orders"),
            "#supervision",
        ),
        DeskList::Overdue => ("overdue", ctx.t("staff.supervision.overdue"), ""),
        DeskList::Stalled => ("stalled", ctx.t("staff.supervision.stalled"), ""),
        DeskList::SentBack => ("sent-back", ctx.t("staff.supervision.sent_back"), ""),
        DeskList::Unsatisfied => ("unsatisfied", ctx.t("staff.supervision.unsatisfied"), ""),
        DeskList::FollowUps => (
            "follow-ups",
            ctx.t("staff.supervision.follow_ups"),
            "#follow-up",
        ),
    };
    let total = s.total.to_string();
    let count = if s.list == DeskList::InCharge {
        ctx.tf(
            "staff.leader.count_open",
            &[("n", &total), ("open", &s.open.to_string())],
        )
    } else {
        ctx.tf("staff.leader.count", &[("n", &total)])
    };
    let more = if single {
        s.next.as_ref().map(|c| {
            (
                list_link(s.list, Some(c)),
                ctx.t("staff.inbox.next").to_string(),
            )
        })
    } else {
        (s.total > s.rows.len() as i64).then(|| {
            (
                list_link(s.list, None),
                ctx.tf("staff.leader.all", &[("n", &total)]),
            )
        })
    };
    LeaderSection {
        id,
        heading,
        anchor,
        rows: s.rows.into_iter().map(|i| row_of(ctx, i, now)).collect(),
        count,
        more,
    }
}

/// Which view a request is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Desk {
    Leader,
    Supervision,
}

/// `GET /staff/leader[?list=…&after_…]`.
pub async fn page(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<LeaderQuery>,
) -> Response {
    desk_page(state, prefs, headers, uri, q, Desk::Leader).await
}

/// `GET /staff/supervision[?list=…&after_…]`: the supervisors' view (督办) — cases under named
/// supervision, 督办单 awaiting an answer, overdue, stalled, sent back and 不满意 cases in
/// scope.
pub async fn supervision(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<LeaderQuery>,
) -> Response {
    desk_page(state, prefs, headers, uri, q, Desk::Supervision).await
}

async fn desk_page(
    state: WebState,
    prefs: Prefs,
    headers: HeaderMap,
    uri: axum::http::Uri,
    q: LeaderQuery,
    desk: Desk,
) -> Response {
    let (home, section_name, title, back) = match desk {
        Desk::Leader => (
            "/staff/leader",
            "leader",
            "staff.leader.title",
            "staff.leader.back",
        ),
        Desk::Supervision => (
            "/staff/supervision",
            "supervision",
            "staff.supervision.title",
            "staff.supervision.back",
        ),
    };
    let (signed, here) = match signed_at(&state, &headers, &uri, home).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let ctx = signed.ctx(prefs, here);
    let now = state.app.now().timestamp_millis();
    let one = DeskList::parse(&q.list).filter(|l| home_of(*l) == home);
    let after = match (q.after_due, q.after_id.is_empty()) {
        (Some(due_ms), false) => Some(LeaderCursor {
            closed: q.after_closed.unwrap_or(0).clamp(0, 1),
            due_ms,
            id: q.after_id.chars().take(64).collect(),
        }),
        _ => None,
    };
    let (lists, first) = match one {
        Some(list) => match state
            .app
            .leader_page(&signed.actor, list, after.as_ref())
            .await
        {
            Ok(s) => (
                vec![section(&ctx, s, now, true)],
                after.is_some().then(|| list_link(list, None)),
            ),
            Err(e) => return app_error_page(ctx, ApiError::from(e)),
        },
        None if desk == Desk::Supervision => {
            match state.app.supervision_desk(&signed.actor).await {
                Ok(d) => (
                    d.into_iter()
                        .map(|s| section(&ctx, s, now, false))
                        .collect(),
                    None,
                ),
                Err(e) => return app_error_page(ctx, ApiError::from(e)),
            }
        }
        None => match state.app.leader_desk(&signed.actor).await {
            // The leader's own 包案 cases first: a few, and theirs; then what awaits
            // instruction (often long), most urgent first.
            Ok(d) => (
                vec![
                    section(&ctx, d.in_charge, now, false),
                    section(&ctx, d.awaiting, now, false),
                    section(&ctx, d.instructed, now, false),
                ],
                None,
            ),
            Err(e) => return app_error_page(ctx, ApiError::from(e)),
        },
    };
    render(
        StatusCode::OK,
        &LeaderDeskPage {
            chrome: signed.chrome(&ctx, section_name),
            title: ctx.t(title),
            home,
            back: ctx.t(back),
            single: one.is_some(),
            lists,
            first,
            ctx,
        },
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct CircularsQuery {
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
}

struct CircularRow {
    n: usize,
    case_id: String,
    receipt: String,
    title: String,
    unit: String,
    text: String,
    order: Option<u32>,
    when: String,
    by: String,
}

#[derive(askama::Template)]
#[template(path = "staff/circulars.html")]
struct CircularsPage {
    ctx: Ctx,
    chrome: Chrome,
    heading: String,
    period: String,
    from: String,
    to: String,
    from_error: Option<String>,
    to_error: Option<String>,
    rows: Vec<CircularRow>,
}

/// `GET /staff/supervision/circulars[?from=YYYY-MM-DD&to=YYYY-MM-DD]`: the 通报 list of a
/// period (this month by default), print-ready, within the user's scope.
pub async fn circulars(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<CircularsQuery>,
) -> Response {
    use super::forms::{
        cst, parse_date_end, parse_date_start, show_date, show_receipt, show_time_ms,
    };
    use chrono::Datelike;
    let (signed, here) =
        match signed_at(&state, &headers, &uri, "/staff/supervision/circulars").await {
            Ok(s) => s,
            Err(r) => return r,
        };
    let ctx = signed.ctx(prefs, here);
    let today = state.app.now().with_timezone(&cst()).date_naive();
    let first = today.with_day(1).unwrap_or(today);
    let from = if q.from.trim().is_empty() {
        first.format("%Y-%m-%d").to_string()
    } else {
        q.from.trim().to_string()
    };
    let to = if q.to.trim().is_empty() {
        today.format("%Y-%m-%d").to_string()
    } else {
        q.to.trim().to_string()
    };
    let bad_date = || ctx.t("staff.act.bad_date").to_string();
    let (Some(start), Some(end)) = (parse_date_start(&from), parse_date_end(&to)) else {
        let page = CircularsPage {
            chrome: signed.chrome(&ctx, "supervision"),
            heading: ctx.t("staff.circulars.heading").to_string(),
            period: String::new(),
            from_error: parse_date_start(&from).is_none().then(bad_date),
            to_error: parse_date_end(&to).is_none().then(bad_date),
            from,
            to,
            rows: Vec::new(),
            ctx,
        };
        return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
    };
    let end = end + chrono::TimeDelta::seconds(1);
    let list = match state.app.circulars(&signed.actor, start, end).await {
        Ok(l) => l,
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
            let page = CircularsPage {
                chrome: signed.chrome(&ctx, "supervision"),
                heading: ctx.t("staff.circulars.heading").to_string(),
                period: String::new(),
                from_error: None,
                to_error: Some(message),
                from,
                to,
                rows: Vec::new(),
                ctx,
            };
            return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let rows = list
        .into_iter()
        .enumerate()
        .map(|(i, c)| CircularRow {
            n: i + 1,
            when: show_time_ms(c.row.at_ms),
            by: if c.by_unit_name.is_empty() {
                ctx.t("staff.circulars.by_scan").to_string()
            } else {
                c.by_unit_name
            },
            unit: c.unit_name,
            case_id: c.row.case_id,
            receipt: show_receipt(c.row.receipt),
            title: c.row.title,
            text: c.row.text,
            order: c.row.order,
        })
        .collect();
    render(
        StatusCode::OK,
        &CircularsPage {
            chrome: signed.chrome(&ctx, "supervision"),
            heading: ctx.t("staff.circulars.heading").to_string(),
            period: ctx.tf(
                "staff.circulars.period",
                &[
                    ("from", &show_date(start)),
                    ("to", &show_date(end - chrono::TimeDelta::seconds(1))),
                ],
            ),
            from,
            to,
            from_error: None,
            to_error: None,
            rows,
            ctx,
        },
    )
}
