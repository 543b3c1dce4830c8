//! Notices to staff (工作通知) and broadcasts to groups (定向发送) in the workbench.
//!
//! `/staff/notices` is everyone's: what their units must act on (routed, 催办, 督办单, 通报,
//! 阅批, 包案, sent back) and the messages of broadcasts that reached them, newest first, unread
//! marked, with the frame showing the unread count on every page. `/staff/broadcasts` is for
//! administrators (who define groups), leaders and supervisors (who send); each broadcast
//! opens on its per-person delivery record.

use axum::extract::{Form, OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use huiyin_app::staff_notify::{BROADCAST_KINDS, BroadcastSpec, GroupSpec};
use huiyin_domain::case::Role;
use serde::Deserialize;

use super::administration::client_error;
use super::forms::{Field, Fields, FormData, place_errors, show_time_ms};
use super::{Chrome, Signed, app_error_page, signed_at, signed_in, url_encode};
use crate::WebState;
use crate::error::ApiError;
use crate::pages::{Ctx, Prefs, render};

// ---------------------------------------------------------------------------------------------
// My notices
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
pub struct NoticesQuery {
    #[serde(default)]
    pub unread: String,
    pub before_at: Option<i64>,
    #[serde(default)]
    pub before_id: String,
}

/// One notice as the list shows it.
struct NoticeRow {
    id: String,
    title: String,
    /// The body, paragraph by paragraph.
    lines: Vec<String>,
    kind: String,
    when: String,
    unread: bool,
    case_link: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "staff/notices.html")]
struct NoticesPage {
    ctx: Ctx,
    chrome: Chrome,
    rows: Vec<NoticeRow>,
    unread_only: bool,
    unread: i64,
    next: Option<String>,
    /// Where the read buttons come back to.
    back: String,
}

const PAGE: i64 = 30;

/// `GET /staff/notices[?unread=1][&before_at=…&before_id=…]`.
pub async fn page(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<NoticesQuery>,
) -> Response {
    let (signed, here) = match signed_at(&state, &headers, &uri, "/staff/notices").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let ctx = signed.ctx(prefs, here.clone());
    let unread_only = q.unread == "1";
    let before_id: String = q.before_id.chars().take(64).collect();
    let before = q
        .before_at
        .filter(|_| !before_id.is_empty())
        .map(|at| (at, before_id.as_str()));
    let user = signed.session.user.id.clone();
    let list = match state
        .app
        .my_notices(&user, unread_only, before, PAGE + 1)
        .await
    {
        Ok(l) => l,
        Err(e) => return app_error_page(ctx, ApiError::from(e)),
    };
    let more = list.len() as i64 > PAGE;
    let list: Vec<_> = list.into_iter().take(PAGE as usize).collect();
    let next = more.then(|| {
        list.last().map(|n| {
            format!(
                "/staff/notices?unread={}&before_at={}&before_id={}",
                if unread_only { "1" } else { "" },
                n.created_at_ms,
                url_encode(&n.id)
            )
        })
    });
    let rows = list
        .into_iter()
        .map(|n| NoticeRow {
            kind: ctx.t(&format!("staff.notice.kind.{}", n.kind)).to_string(),
            when: show_time_ms(n.created_at_ms),
            unread: n.read_at_ms.is_none(),
            case_link: n.case_id.as_ref().map(|c| format!("/staff/cases/{c}")),
            lines: n.body.lines().map(str::to_string).collect(),
            title: n.title,
            id: n.id,
        })
        .collect();
    render(
        StatusCode::OK,
        &NoticesPage {
            chrome: signed.chrome(&ctx, "notices"),
            rows,
            unread_only,
            unread: signed.unread,
            next: next.flatten(),
            back: here,
            ctx,
        },
    )
}

/// `POST /staff/notices/read`: one notice (`id`) or all of them read; back to the list.
pub async fn read(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Form(form): Form<FormData>,
) -> Response {
    let signed = match signed_in(&state, &headers, "/staff/notices").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(r) = signed.check_csrf(prefs, &form) {
        return r;
    }
    let id = Some(form.get("id")).filter(|i| !i.is_empty());
    if let Err(e) = state
        .app
        .mark_notices_read(&signed.session.user.id, id)
        .await
    {
        return app_error_page(signed.ctx(prefs, "/staff/notices"), ApiError::from(e));
    }
    // Back to the list as it was (only to the list: no open redirect).
    let back = form.get("back");
    let back = if back.starts_with("/staff/notices") {
        back
    } else {
        "/staff/notices"
    };
    Redirect::to(back).into_response()
}

// ---------------------------------------------------------------------------------------------
// Broadcast groups and broadcasts
// ---------------------------------------------------------------------------------------------

struct GroupRow {
    id: String,
    name: String,
    reach: String,
    people: usize,
    active: bool,
}

struct BroadcastRow {
    id: String,
    when: String,
    group: String,
    kind: String,
    title: String,
    delivered: i64,
    read: i64,
    emailed: i64,
}

/// A checkbox of a multiple choice.
struct Choice {
    value: String,
    label: String,
    checked: bool,
}

#[derive(askama::Template)]
#[template(path = "staff/broadcasts.html")]
struct BroadcastsPage {
    ctx: Ctx,
    chrome: Chrome,
    groups: Vec<GroupRow>,
    has_active: bool,
    broadcasts: Vec<BroadcastRow>,
    is_admin: bool,
    send: Fields,
    group: Fields,
    levels: Vec<Choice>,
    kinds: Vec<Choice>,
    roles: Vec<Choice>,
    errors: Vec<String>,
    /// Which form the errors belong to (`send`, `group`).
    failed: &'static str,
}

const LEVELS: [&str; 5] = ["nation", "province", "city", "county", "township"];
const KINDS: [&str; 7] = [
    "petition_bureau",
    "government",
    "department",
    "discipline",
    "court",
    "procuratorate",
    "township_office",
];
const ROLES: [&str; 5] = ["leader", "unit_head", "supervisor", "handler", "registrar"];

fn choices(ctx: &Ctx, prefix: &str, values: &[&str], checked: &[String]) -> Vec<Choice> {
    values
        .iter()
        .map(|v| Choice {
            value: v.to_string(),
            label: ctx.t(&format!("{prefix}{v}")).to_string(),
            checked: checked.iter().any(|c| c == v),
        })
        .collect()
}

fn send_fields(ctx: &Ctx, groups: &[(String, String)]) -> Fields {
    Fields(vec![
        Field::new("send", "group_id", "select", ctx.t("staff.broadcast.group"))
            .required()
            .options(groups.to_vec()),
        Field::new("send", "kind", "select", ctx.t("staff.broadcast.kind"))
            .required()
            .options(
                BROADCAST_KINDS
                    .iter()
                    .map(|k| {
                        (
                            k.to_string(),
                            ctx.t(&format!("staff.broadcast.kind.{k}")).to_string(),
                        )
                    })
                    .collect(),
            ),
        Field::new(
            "send",
            "title",
            "text",
            ctx.t("staff.broadcast.title_field"),
        )
        .required(),
        Field::new("send", "body", "textarea", ctx.t("staff.broadcast.body")).required(),
        Field::new("send", "case_id", "text", ctx.t("staff.broadcast.case"))
            .hint(ctx.t("staff.broadcast.case_hint")),
    ])
}

/// The send form's choice of the active groups, each with how many people it reaches.
fn group_options(
    ctx: &Ctx,
    groups: &[(huiyin_store::BroadcastGroup, usize)],
) -> Vec<(String, String)> {
    groups
        .iter()
        .filter(|(g, _)| g.retired_at_ms.is_none())
        .map(|(g, n)| {
            (
                g.id.clone(),
                ctx.tf(
                    "staff.broadcast.group_option",
                    &[("name", &g.name), ("n", &n.to_string())],
                ),
            )
        })
        .collect()
}

fn group_fields(ctx: &Ctx) -> Fields {
    Fields(vec![
        Field::new("group", "name", "text", ctx.t("staff.broadcast.group_name")).required(),
        Field::new(
            "group",
            "region_code",
            "text",
            ctx.t("staff.broadcast.region"),
        )
        .hint(ctx.t("staff.broadcast.region_hint")),
    ])
}

fn reach_words(ctx: &Ctx, g: &huiyin_store::BroadcastGroup, region_name: Option<&str>) -> String {
    let sep = ctx.t("staff.list_sep");
    let any = ctx.t("staff.broadcast.any");
    let join = |prefix: &str, list: &[String]| {
        if list.is_empty() {
            any.to_string()
        } else {
            list.iter()
                .map(|x| ctx.t(&format!("{prefix}{x}")).to_string())
                .collect::<Vec<_>>()
                .join(sep)
        }
    };
    let region = match (g.region_code.as_str(), region_name) {
        ("0", _) => ctx.t("staff.broadcast.nationwide").to_string(),
        (code, Some(name)) => format!("{name}（{code}）"),
        (code, None) => code.to_string(),
    };
    ctx.tf(
        "staff.broadcast.reach",
        &[
            ("region", &region),
            ("levels", &join("admin.unit.level.", &g.levels)),
            ("kinds", &join("unit_kind.", &g.kinds)),
            ("roles", &join("role.", &g.roles)),
        ],
    )
}

/// The group form as posted: its fields and the ticked levels, kinds and roles.
type GroupForm = (Fields, Vec<String>, Vec<String>, Vec<String>);

/// What the broadcasts page shows again after a refused form.
#[derive(Default)]
struct Redisplay {
    send: Option<Fields>,
    group: Option<GroupForm>,
    errors: Vec<String>,
    failed: &'static str,
    status: Option<StatusCode>,
}

async fn broadcasts_page(
    state: &WebState,
    signed: &Signed,
    ctx: Ctx,
    shown: Redisplay,
) -> Response {
    let groups = match state.app.broadcast_groups(&signed.actor).await {
        Ok(g) => g,
        Err(e) => return app_error_page(ctx, ApiError::from(e)),
    };
    let sent = match state.app.broadcasts(&signed.actor).await {
        Ok(b) => b,
        Err(e) => return app_error_page(ctx, ApiError::from(e)),
    };
    let active = group_options(&ctx, &groups);
    let send = shown.send.unwrap_or_else(|| send_fields(&ctx, &active));
    let (group, levels, kinds, roles) = shown
        .group
        .unwrap_or_else(|| (group_fields(&ctx), Vec::new(), Vec::new(), Vec::new()));
    // The regions' names (of the shipped divisions; a code without one shows as the code).
    let mut names = std::collections::HashMap::new();
    for (g, _) in &groups {
        if g.region_code != "0"
            && !names.contains_key(&g.region_code)
            && let Ok(Some(r)) = state.app.store().region(&g.region_code).await
        {
            names.insert(g.region_code.clone(), r.name);
        }
    }
    let page = BroadcastsPage {
        chrome: signed.chrome(&ctx, "broadcasts"),
        has_active: !active.is_empty(),
        groups: groups
            .iter()
            .map(|(g, n)| GroupRow {
                id: g.id.clone(),
                name: g.name.clone(),
                reach: reach_words(&ctx, g, names.get(&g.region_code).map(String::as_str)),
                people: *n,
                active: g.retired_at_ms.is_none(),
            })
            .collect(),
        broadcasts: sent
            .into_iter()
            .map(|b| BroadcastRow {
                when: show_time_ms(b.sent_at_ms),
                kind: ctx
                    .t(&format!("staff.broadcast.kind.{}", b.kind))
                    .to_string(),
                id: b.id,
                group: b.group_name,
                title: b.title,
                delivered: b.delivered,
                read: b.read,
                emailed: b.emailed,
            })
            .collect(),
        is_admin: signed.actor.has(Role::Administrator),
        send,
        group,
        levels: choices(&ctx, "admin.unit.level.", &LEVELS, &levels),
        kinds: choices(&ctx, "unit_kind.", &KINDS, &kinds),
        roles: choices(&ctx, "role.", &ROLES, &roles),
        errors: shown.errors,
        failed: shown.failed,
        ctx,
    };
    render(shown.status.unwrap_or(StatusCode::OK), &page)
}

/// The signed-in sender of a broadcast form (CSRF checked).
async fn sender_form(
    state: &WebState,
    headers: &HeaderMap,
    prefs: Prefs,
    form: &FormData,
) -> Result<(Signed, Ctx), Response> {
    let signed = signed_in(state, headers, "/staff/broadcasts").await?;
    signed.check_csrf(prefs, form)?;
    let ctx = signed.ctx(prefs, "/staff/broadcasts");
    Ok((signed, ctx))
}

/// `GET /staff/broadcasts`.
pub async fn broadcasts(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let (signed, here) = match signed_at(&state, &headers, &uri, "/staff/broadcasts").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let ctx = signed.ctx(prefs, here);
    broadcasts_page(&state, &signed, ctx, Redisplay::default()).await
}

/// `POST /staff/broadcasts`: sends a message to a group, then shows its delivery record.
pub async fn send(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Form(form): Form<FormData>,
) -> Response {
    let (signed, ctx) = match sender_form(&state, &headers, prefs, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let spec = BroadcastSpec {
        group_id: form.get("group_id").to_string(),
        kind: form.get("kind").to_string(),
        title: form.get("title").to_string(),
        body: form.get("body").to_string(),
        case_id: Some(form.get("case_id").to_string()).filter(|c| !c.is_empty()),
    };
    match state.app.send_broadcast(&signed.actor, &spec).await {
        Ok(b) => Redirect::to(&format!("/staff/broadcasts/{}", b.id)).into_response(),
        Err(e) => match client_error(&ctx, e.into()) {
            Err(r) => r,
            Ok((status, err)) if status == StatusCode::FORBIDDEN => app_error_page(ctx, err),
            Ok((status, err)) => {
                let groups = match state.app.broadcast_groups(&signed.actor).await {
                    Ok(g) => group_options(&ctx, &g),
                    Err(e) => return app_error_page(ctx, ApiError::from(e)),
                };
                let mut fields = send_fields(&ctx, &groups);
                fields.fill(&form);
                let errors = place_errors(&err, &mut [&mut fields]);
                let shown = Redisplay {
                    send: Some(fields),
                    errors,
                    failed: "send",
                    status: Some(status),
                    ..Redisplay::default()
                };
                broadcasts_page(&state, &signed, ctx, shown).await
            }
        },
    }
}

fn all(form: &FormData, name: &str) -> Vec<String> {
    form.0
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect()
}

/// `POST /staff/broadcasts/groups`: defines a group (administrators).
pub async fn add_group(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Form(form): Form<FormData>,
) -> Response {
    let (signed, ctx) = match sender_form(&state, &headers, prefs, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let spec = GroupSpec {
        name: form.get("name").to_string(),
        region_code: form.get("region_code").to_string(),
        levels: all(&form, "levels"),
        kinds: all(&form, "kinds"),
        roles: all(&form, "roles"),
    };
    match state.app.create_broadcast_group(&signed.actor, &spec).await {
        Ok(_) => Redirect::to("/staff/broadcasts#groups").into_response(),
        Err(e) => match client_error(&ctx, e.into()) {
            Err(r) => r,
            Ok((status, err)) if status == StatusCode::FORBIDDEN => app_error_page(ctx, err),
            Ok((status, err)) => {
                let mut fields = group_fields(&ctx);
                fields.fill(&form);
                let errors = place_errors(&err, &mut [&mut fields]);
                let shown = Redisplay {
                    group: Some((fields, spec.levels, spec.kinds, spec.roles)),
                    errors,
                    failed: "group",
                    status: Some(status),
                    ..Redisplay::default()
                };
                broadcasts_page(&state, &signed, ctx, shown).await
            }
        },
    }
}

/// `POST /staff/broadcasts/groups/{id}/retire` (administrators).
pub async fn retire_group(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<FormData>,
) -> Response {
    let (signed, ctx) = match sender_form(&state, &headers, prefs, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match state.app.retire_broadcast_group(&signed.actor, &id).await {
        Ok(()) => Redirect::to("/staff/broadcasts#groups").into_response(),
        Err(e) => app_error_page(ctx, ApiError::from(e)),
    }
}

struct PersonRow {
    name: String,
    unit: String,
    delivered: String,
    read: Option<String>,
    email: String,
}

#[derive(askama::Template)]
#[template(path = "staff/broadcast.html")]
struct BroadcastPage {
    ctx: Ctx,
    chrome: Chrome,
    title: String,
    lines: Vec<String>,
    group: String,
    kind: String,
    when: String,
    case_link: Option<String>,
    delivered: i64,
    read: i64,
    emailed: i64,
    people: Vec<PersonRow>,
}

/// `GET /staff/broadcasts/{id}`: a broadcast and its per-person delivery record.
pub async fn broadcast(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
) -> Response {
    let (signed, here) = match signed_at(&state, &headers, &uri, "/staff/broadcasts").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let ctx = signed.ctx(prefs, here);
    let (b, people) = match state.app.broadcast_detail(&signed.actor, &id).await {
        Ok(d) => d,
        Err(e) => return app_error_page(ctx, ApiError::from(e)),
    };
    let people = people
        .into_iter()
        .map(|p| PersonRow {
            email: match (&p.emailed_at_ms, &p.email_error) {
                (Some(at), _) => {
                    ctx.tf("staff.broadcast.emailed_at", &[("at", &show_time_ms(*at))])
                }
                (None, Some(e)) => ctx.tf("staff.broadcast.email_failed", &[("error", e)]),
                (None, None) => ctx.t("staff.broadcast.no_email").to_string(),
            },
            name: p.display_name,
            unit: p.unit_name.or(p.unit_id).unwrap_or_default(),
            delivered: show_time_ms(p.created_at_ms),
            read: p.read_at_ms.map(show_time_ms),
        })
        .collect();
    render(
        StatusCode::OK,
        &BroadcastPage {
            chrome: signed.chrome(&ctx, "broadcasts"),
            lines: b.body.lines().map(str::to_string).collect(),
            title: b.title,
            group: b.group_name,
            kind: ctx
                .t(&format!("staff.broadcast.kind.{}", b.kind))
                .to_string(),
            when: show_time_ms(b.sent_at_ms),
            case_link: b.case_id.map(|c| format!("/staff/cases/{c}")),
            delivered: b.delivered,
            read: b.read,
            emailed: b.emailed,
            people,
            ctx,
        },
    )
}
