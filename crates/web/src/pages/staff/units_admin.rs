//! The administrators' unit pages (组织机构): find units (retired and merged ones too), add a
//! unit, and on one unit's page rename it, merge it into another (撤并) or retire it (撤销),
//! with its sub-units and its history.
//!
//! Only administrators open them, and the use cases ([`huiyin_app::units`]) let them change
//! only units inside their own unit's region. Every form carries the session's CSRF token; a
//! change that succeeds answers with a redirect to the unit's page (so a reload does not post
//! it again) and a refused one re-displays the page with what was entered and the message next
//! to its field. Each change is written with the unit's history and the audit entry in one
//! transaction.

use axum::extract::{Form, OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use huiyin_app::units::{NewUnit, UnitDetail};
use huiyin_store::{OrgUnit, kind_codes};
use serde::Deserialize;

use super::administration::{administrator, administrator_form, client_error};
use super::forms::{Field, Fields, FormData, place_errors, show_date_ms};
use super::{Chrome, Signed, app_error_page, url_encode};
use crate::WebState;
use crate::pages::{Ctx, Prefs, render};

/// Units listed per search.
const UNITS_SHOWN: u32 = 50;

#[derive(Debug, Default, Deserialize)]
pub struct UnitsQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub kind: String,
    /// Prefills the add form's parent (the "add a sub-unit" link of a unit's page).
    #[serde(default)]
    pub parent: String,
}

/// A unit in a list.
pub struct UnitRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub region: String,
    pub active: bool,
    pub status: String,
}

fn kind_label(ctx: &Ctx, kind: &str) -> String {
    ctx.t_opt(&format!("unit_kind.{kind}"))
        .map_or_else(|| kind.to_string(), str::to_string)
}

fn status_label(ctx: &Ctx, u: &OrgUnit) -> String {
    if u.is_active() {
        ctx.t("admin.unit.active").to_string()
    } else if let Some(s) = &u.successor_id {
        ctx.tf("admin.unit.merged_into", &[("id", s)])
    } else {
        ctx.t("admin.unit.retired").to_string()
    }
}

fn row_of(ctx: &Ctx, u: OrgUnit) -> UnitRow {
    UnitRow {
        kind: kind_label(ctx, &u.kind),
        status: status_label(ctx, &u),
        active: u.is_active(),
        region: u.region_code,
        id: u.id,
        name: u.name,
    }
}

fn kind_options(ctx: &Ctx, any: Option<&str>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = any
        .map(|label| vec![(String::new(), label.to_string())])
        .unwrap_or_default();
    out.extend(
        kind_codes()
            .into_iter()
            .map(|k| (k.to_string(), kind_label(ctx, k))),
    );
    out
}

fn add_fields(ctx: &Ctx, parent: &str) -> Fields {
    let mut f = Fields(vec![
        Field::new("unit", "parent_id", "text", ctx.t("admin.unit.parent"))
            .required()
            .hint(ctx.t("admin.unit.parent_hint"))
            .value(parent),
        Field::new("unit", "id", "text", ctx.t("admin.unit.id"))
            .required()
            .hint(ctx.t("admin.unit.id_hint")),
        Field::new("unit", "name", "text", ctx.t("admin.unit.name")).required(),
        Field::new("unit", "kind", "select", ctx.t("admin.unit.kind"))
            .required()
            .options(kind_options(ctx, Some(ctx.t("admin.unit.kind_choose")))),
        Field::new("unit", "region_code", "text", ctx.t("admin.unit.region"))
            .required()
            .hint(ctx.t("admin.unit.region_hint")),
        Field::new("unit", "department", "text", ctx.t("admin.unit.department"))
            .hint(ctx.t("admin.unit.department_hint")),
    ]);
    f.sync();
    f
}

#[derive(askama::Template)]
#[template(path = "staff/admin_units.html")]
struct UnitsPage {
    ctx: Ctx,
    chrome: Chrome,
    q: String,
    region: String,
    kinds: Vec<(String, String, bool)>,
    rows: Vec<UnitRow>,
    more: bool,
    /// Whether a search was asked for (without one, nothing is listed).
    searched: bool,
    add: Fields,
    errors: Vec<String>,
}

#[allow(clippy::too_many_arguments)]
async fn units_page(
    state: &WebState,
    signed: &Signed,
    ctx: Ctx,
    query: &UnitsQuery,
    add: Option<Fields>,
    mut errors: Vec<String>,
    status: StatusCode,
) -> Response {
    // Without a search term nothing is listed (a national tree has tens of thousands).
    let searched = [&query.q, &query.region, &query.kind]
        .iter()
        .any(|v| !v.trim().is_empty());
    let found = if !searched {
        Ok(Vec::new())
    } else {
        state
            .app
            .admin_find_units(
                &signed.actor,
                &query.q,
                &query.region,
                &query.kind,
                UNITS_SHOWN + 1,
            )
            .await
    };
    let mut rows: Vec<UnitRow> = match found {
        Ok(units) => units.into_iter().map(|u| row_of(&ctx, u)).collect(),
        Err(e) => match client_error(&ctx, e.into()) {
            Err(r) => return r,
            Ok((_, err)) => {
                errors.extend(place_errors(&err, &mut []));
                Vec::new()
            }
        },
    };
    let more = rows.len() > UNITS_SHOWN as usize;
    rows.truncate(UNITS_SHOWN as usize);
    let kinds = kind_options(&ctx, Some(ctx.t("staff.units.kind_any")))
        .into_iter()
        .map(|(v, l)| {
            let selected = v == query.kind;
            (v, l, selected)
        })
        .collect();
    render(
        status,
        &UnitsPage {
            chrome: signed.chrome(&ctx, "admin"),
            add: add.unwrap_or_else(|| add_fields(&ctx, query.parent.trim())),
            q: query.q.trim().chars().take(50).collect(),
            region: query.region.trim().chars().take(12).collect(),
            kinds,
            rows,
            more,
            searched,
            errors,
            ctx,
        },
    )
}

/// `GET /staff/admin/units?q=…&region=…&kind=…`: find units; the form to add one.
pub async fn list(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<UnitsQuery>,
) -> Response {
    let (signed, ctx) = match administrator(&state, &headers, prefs, uri.path()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    units_page(
        &state,
        &signed,
        ctx,
        &query,
        None,
        Vec::new(),
        StatusCode::OK,
    )
    .await
}

fn unit_here(id: &str) -> String {
    format!("/staff/admin/units/{}", url_encode(id))
}

/// After a change: the unit's page, saying what was done (a fixed word, never free text).
fn done(id: &str, what: &str) -> Response {
    Redirect::to(&format!("{}?done={what}", unit_here(id))).into_response()
}

/// `POST /staff/admin/units`: adds a unit.
pub async fn add(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Form(form): Form<FormData>,
) -> Response {
    let (signed, ctx) =
        match administrator_form(&state, &headers, prefs, "/staff/admin/units", &form).await {
            Ok(s) => s,
            Err(r) => return r,
        };
    let mut fields = add_fields(&ctx, "");
    fields.fill(&form);
    let query = UnitsQuery::default();
    if !fields.check_required(|label| ctx.tf("staff.form.required", &[("field", label)])) {
        return units_page(
            &state,
            &signed,
            ctx,
            &query,
            Some(fields),
            Vec::new(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let new = NewUnit {
        id: fields.value("id").to_string(),
        name: fields.value("name").to_string(),
        kind: fields.value("kind").to_string(),
        region_code: fields.value("region_code").to_string(),
        parent_id: fields.value("parent_id").to_string(),
        department: fields.value("department").to_string(),
    };
    match state.app.admin_add_unit(&signed.actor, &new).await {
        Ok(u) => done(&u.id, "added"),
        Err(e) => match client_error(&ctx, e.into()) {
            Err(r) => r,
            Ok((status, err)) => {
                let errors = place_errors(&err, &mut [&mut fields]);
                units_page(&state, &signed, ctx, &query, Some(fields), errors, status).await
            }
        },
    }
}

/// A line of a unit's history.
pub struct HistoryRow {
    pub at: String,
    pub what: String,
}

fn history_text(ctx: &Ctx, change: &str, detail: &serde_json::Value) -> String {
    let s = |k: &str| {
        detail
            .get(k)
            .and_then(|v| v.as_str())
            .or_else(|| {
                // An import's rename says `before`/`after` instead of `from`/`to`.
                let side = if k == "from" { "before" } else { "after" };
                detail.get(side)?.get("name")?.as_str()
            })
            .unwrap_or("—")
            .to_string()
    };
    let vars = [("from", s("from")), ("to", s("to")), ("into", s("into"))];
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    match ctx.t_opt(&format!("admin.unit.h.{change}")) {
        Some(text) => crate::pages::i18n::fill(text, &vars),
        None => change.to_string(),
    }
}

#[derive(askama::Template)]
#[template(path = "staff/admin_unit.html")]
struct UnitPage {
    ctx: Ctx,
    chrome: Chrome,
    unit: UnitRow,
    level: String,
    department: String,
    parent: Option<UnitRow>,
    successor: Option<UnitRow>,
    children: Vec<UnitRow>,
    history: Vec<HistoryRow>,
    may_change: bool,
    rename: Fields,
    merge: Fields,
    errors: Vec<String>,
    notice: Option<String>,
}

fn rename_fields(ctx: &Ctx, name: &str) -> Fields {
    Fields(vec![
        Field::new("rename", "name", "text", ctx.t("admin.unit.new_name"))
            .required()
            .value(name),
    ])
}

fn merge_fields(ctx: &Ctx) -> Fields {
    Fields(vec![
        Field::new("merge", "into", "text", ctx.t("admin.unit.into"))
            .required()
            .hint(ctx.t("admin.unit.into_hint")),
    ])
}

/// What the page shows after a change, or with the forms as they were posted.
struct Redisplay {
    rename: Option<Fields>,
    merge: Option<Fields>,
    errors: Vec<String>,
    notice: Option<String>,
    status: StatusCode,
}

impl Redisplay {
    fn fresh(notice: Option<String>) -> Self {
        Redisplay {
            rename: None,
            merge: None,
            errors: Vec::new(),
            notice,
            status: StatusCode::OK,
        }
    }
}

async fn unit_page(
    state: &WebState,
    signed: &Signed,
    ctx: Ctx,
    id: &str,
    shown: Redisplay,
) -> Response {
    let detail: UnitDetail = match state.app.admin_unit(&signed.actor, id).await {
        Ok(d) => d,
        Err(e) => return app_error_page(ctx, e.into()),
    };
    let level = ctx
        .t_opt(&format!("admin.unit.level.{}", detail.unit.level))
        .map_or_else(|| detail.unit.level.clone(), str::to_string);
    let department = detail.unit.department.clone().unwrap_or_default();
    let rename = shown
        .rename
        .unwrap_or_else(|| rename_fields(&ctx, &detail.unit.name));
    let merge = shown.merge.unwrap_or_else(|| merge_fields(&ctx));
    let history = detail
        .history
        .iter()
        .rev()
        .map(|h| HistoryRow {
            at: show_date_ms(h.at_ms),
            what: history_text(&ctx, &h.change, &h.detail),
        })
        .collect();
    render(
        shown.status,
        &UnitPage {
            chrome: signed.chrome(&ctx, "admin"),
            unit: row_of(&ctx, detail.unit),
            level,
            department,
            parent: detail.parent.map(|u| row_of(&ctx, u)),
            successor: detail.successor.map(|u| row_of(&ctx, u)),
            children: detail
                .children
                .into_iter()
                .map(|u| row_of(&ctx, u))
                .collect(),
            history,
            may_change: detail.may_change,
            rename,
            merge,
            errors: shown.errors,
            notice: shown.notice,
            ctx,
        },
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    pub done: String,
}

/// `GET /staff/admin/units/{id}`: one unit, its sub-units and history, and the forms.
pub async fn detail(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let (signed, ctx) = match administrator(&state, &headers, prefs, &unit_here(&id)).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let notice = matches!(q.done.as_str(), "added" | "renamed" | "merged" | "retired")
        .then(|| ctx.t(&format!("admin.unit.done.{}", q.done)).to_string());
    unit_page(&state, &signed, ctx, &id, Redisplay::fresh(notice)).await
}

/// The three changes of a unit's page.
enum Change {
    Rename,
    Merge,
    Retire,
}

async fn change(
    state: WebState,
    prefs: Prefs,
    headers: HeaderMap,
    id: String,
    form: FormData,
    what: Change,
) -> Response {
    let (signed, ctx) =
        match administrator_form(&state, &headers, prefs, &unit_here(&id), &form).await {
            Ok(s) => s,
            Err(r) => return r,
        };
    let mut rename = None;
    let mut merge = None;
    let result = match what {
        Change::Rename => {
            let mut f = rename_fields(&ctx, "");
            f.fill(&form);
            let r = state
                .app
                .admin_rename_unit(&signed.actor, &id, f.value("name"))
                .await
                .map(|_| "renamed");
            rename = Some(f);
            r
        }
        Change::Merge => {
            let mut f = merge_fields(&ctx);
            f.fill(&form);
            let r = state
                .app
                .admin_merge_unit(&signed.actor, &id, f.value("into"))
                .await
                .map(|()| "merged");
            merge = Some(f);
            r
        }
        Change::Retire => state
            .app
            .admin_retire_unit(&signed.actor, &id)
            .await
            .map(|()| "retired"),
    };
    match result {
        Ok(word) => done(&id, word),
        Err(e) => match client_error(&ctx, e.into()) {
            Err(r) => r,
            Ok((status, err)) if status == StatusCode::NOT_FOUND => app_error_page(ctx, err),
            Ok((status, err)) => {
                let mut groups: Vec<&mut Fields> =
                    rename.iter_mut().chain(merge.iter_mut()).collect();
                let errors = place_errors(&err, &mut groups);
                let shown = Redisplay {
                    rename,
                    merge,
                    errors,
                    notice: None,
                    status,
                };
                unit_page(&state, &signed, ctx, &id, shown).await
            }
        },
    }
}

/// `POST /staff/admin/units/{id}/rename`.
pub async fn rename(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<FormData>,
) -> Response {
    change(state, prefs, headers, id, form, Change::Rename).await
}

/// `POST /staff/admin/units/{id}/merge`.
pub async fn merge(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<FormData>,
) -> Response {
    change(state, prefs, headers, id, form, Change::Merge).await
}

/// `POST /staff/admin/units/{id}/retire`.
pub async fn retire(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<FormData>,
) -> Response {
    change(state, prefs, headers, id, form, Change::Retire).await
}
