//! The administrators' pages (系统管理): the staff list and one user's roles, password and
//! status; the content categories (内容分类); deadline-policy overrides per jurisdiction with
//! the effective policy of a region; the holiday calendar of a year.
//!
//! Only administrators open them (the app's use cases check again). Every form carries the
//! session's CSRF token; a refused form comes back with what was entered and the message next
//! to its field; every change is audited by the use case (`huiyin_app::admin`).

use axum::extract::{Form, OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{Datelike, NaiveDate, Weekday};
use huiyin_app::rules::Rules;
use huiyin_domain::calendar::DayKind;
use huiyin_domain::case::Role;
use huiyin_domain::policy::{ClockKind, Limit, LimitUnit};
use huiyin_store::UnitSearch;
use serde::Deserialize;

use super::forms::{Field, Fields, FormData, place_errors, show_date_ms, show_time};
use super::{Chrome, Signed, app_error_page, signed_in};
use crate::WebState;
use crate::error::ApiError;
use crate::pages::{Ctx, Prefs, render};

/// Users per page of the staff list.
const USERS_PER_PAGE: i64 = 20;

/// The signed-in administrator, or the page that says why not.
#[allow(clippy::result_large_err)]
pub(super) async fn administrator(
    state: &WebState,
    headers: &HeaderMap,
    prefs: Prefs,
    here: &str,
) -> Result<(Signed, Ctx), Response> {
    let signed = signed_in(state, headers, here).await?;
    let ctx = signed.ctx(prefs, here);
    if !signed.actor.has(Role::Administrator) {
        let message = ctx.t("admin.forbidden");
        return Err(app_error_page(ctx, ApiError::forbidden(message)));
    }
    Ok((signed, ctx))
}

/// Like [`administrator`] for a form: also checks the CSRF token.
#[allow(clippy::result_large_err)]
pub(super) async fn administrator_form(
    state: &WebState,
    headers: &HeaderMap,
    prefs: Prefs,
    here: &str,
    form: &FormData,
) -> Result<(Signed, Ctx), Response> {
    let signed = signed_in(state, headers, here).await?;
    signed.check_csrf(prefs, form)?;
    let ctx = signed.ctx(prefs, here);
    if !signed.actor.has(Role::Administrator) {
        let message = ctx.t("admin.forbidden");
        return Err(app_error_page(ctx, ApiError::forbidden(message)));
    }
    Ok((signed, ctx))
}

/// An error answer: server errors as the error page, others as messages for the form.
#[allow(clippy::result_large_err)]
pub(super) fn client_error(ctx: &Ctx, err: ApiError) -> Result<(StatusCode, ApiError), Response> {
    if err.status.is_server_error() {
        return Err(app_error_page(ctx.clone(), err));
    }
    let err = crate::pages::domain_text::localize(ctx.lang, err);
    let status = if err.status == StatusCode::BAD_REQUEST {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        err.status
    };
    Ok((status, err))
}

const ROLES: [&str; 9] = [
    "registrar",
    "handler",
    "unit_head",
    "leader",
    "supervisor",
    "proxy",
    "administrator",
    "auditor",
    "analyst",
];

fn role_options(ctx: &Ctx) -> Vec<(String, String)> {
    ROLES
        .iter()
        .map(|r| (r.to_string(), ctx.t(&format!("role.{r}")).to_string()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The staff list

#[derive(Debug, Default, Deserialize)]
pub struct UsersQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub page: Option<i64>,
}

pub struct UserRow {
    pub username: String,
    pub name: String,
    pub units: Vec<String>,
    pub disabled: bool,
    pub last_login: String,
}

#[derive(askama::Template)]
#[template(path = "staff/admin_users.html")]
struct UsersPage {
    ctx: Ctx,
    chrome: Chrome,
    q: String,
    rows: Vec<UserRow>,
    total: String,
    prev: Option<String>,
    next: Option<String>,
}

/// `GET /staff/admin/users?q=…&page=…`: the staff list, searchable by login or name.
pub async fn users(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(query): Query<UsersQuery>,
) -> Response {
    let (signed, ctx) = match administrator(&state, &headers, prefs, uri.path()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let page = query.page.unwrap_or(1).clamp(1, 100_000);
    let q: String = query.q.trim().chars().take(50).collect();
    let (list, total) = match state
        .app
        .admin_users(
            &signed.actor,
            &q,
            (page - 1) * USERS_PER_PAGE,
            USERS_PER_PAGE,
        )
        .await
    {
        Ok(r) => r,
        Err(e) => return app_error_page(ctx, e.into()),
    };
    let link = |p: i64| format!("/staff/admin/users?q={}&page={p}", super::url_encode(&q));
    let rows = list
        .into_iter()
        .map(|u| UserRow {
            units: u
                .memberships
                .iter()
                .map(|(_, name, roles)| {
                    format!(
                        "{name}：{}",
                        roles
                            .iter()
                            .map(|r| ctx.t(&format!("role.{r}")))
                            .collect::<Vec<_>>()
                            .join(ctx.t("staff.list_sep"))
                    )
                })
                .collect(),
            username: u.username,
            name: u.display_name,
            disabled: u.disabled,
            last_login: u.last_login_ms.map(show_ms).unwrap_or_default(),
        })
        .collect();
    render(
        StatusCode::OK,
        &UsersPage {
            chrome: signed.chrome(&ctx, "admin"),
            total: ctx.tf("admin.users.total", &[("n", &total.to_string())]),
            prev: (page > 1).then(|| link(page - 1)),
            next: (page * USERS_PER_PAGE < total).then(|| link(page + 1)),
            q,
            rows,
            ctx,
        },
    )
}

fn show_ms(ms: i64) -> String {
    huiyin_store::from_ms(ms).map_or_else(|_| String::new(), show_time)
}

// ---------------------------------------------------------------------------------------------
// One user

pub struct MemberRow {
    pub unit_id: String,
    pub unit_name: String,
    /// `(role code, label)`.
    pub roles: Vec<(String, String)>,
}

#[derive(askama::Template)]
#[template(path = "staff/admin_user.html")]
struct UserPage {
    ctx: Ctx,
    chrome: Chrome,
    username: String,
    name: String,
    disabled: bool,
    must_change: bool,
    totp: bool,
    is_self: bool,
    members: Vec<MemberRow>,
    grant: Fields,
    /// The e-mail address for notices ("" when none).
    email: String,
    unit_q: String,
    units_found: Vec<(String, String, String)>,
    errors: Vec<String>,
    notice: Option<String>,
    password: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct UserQuery {
    #[serde(default)]
    pub unit_q: String,
}

fn grant_fields(ctx: &Ctx) -> Fields {
    let mut f = Fields(vec![
        Field::new("grant", "unit", "text", ctx.t("admin.user.unit"))
            .required()
            .hint(ctx.t("admin.user.unit_hint")),
        Field::new("grant", "role", "select", ctx.t("staff.admin.role"))
            .required()
            .options(role_options(ctx)),
    ]);
    f.sync();
    f
}

struct UserExtra {
    grant: Option<Fields>,
    errors: Vec<String>,
    notice: Option<String>,
    password: Option<String>,
    unit_q: String,
}

impl UserExtra {
    fn none() -> UserExtra {
        UserExtra {
            grant: None,
            errors: Vec::new(),
            notice: None,
            password: None,
            unit_q: String::new(),
        }
    }
}

async fn user_page(
    state: &WebState,
    signed: &Signed,
    ctx: Ctx,
    username: &str,
    extra: UserExtra,
    status: StatusCode,
) -> Response {
    let (user, memberships) = match state.app.admin_user(&signed.actor, username).await {
        Ok(u) => u,
        Err(e) => return app_error_page(ctx, e.into()),
    };
    // Read after admin_user, which checked that this administrator may manage users.
    let email = match state.app.store().user_email(&user.id).await {
        Ok(e) => e.unwrap_or_default(),
        Err(e) => return app_error_page(ctx, ApiError::from(huiyin_app::AppError::from(e))),
    };
    let name: String = extra.unit_q.trim().chars().take(50).collect();
    let units_found = if name.is_empty() {
        Vec::new()
    } else {
        let search = UnitSearch {
            name,
            region: None,
            kind: None,
            limit: 20,
            with_retired: false,
        };
        match state.app.search_units(&signed.actor, &search).await {
            Ok(units) => units
                .into_iter()
                .map(|u| (u.id, u.name, u.region_code))
                .collect(),
            Err(e) => return app_error_page(ctx, e.into()),
        }
    };
    let members = memberships
        .into_iter()
        .map(|m| MemberRow {
            roles: m
                .roles
                .iter()
                .map(|r| (r.clone(), ctx.t(&format!("role.{r}")).to_string()))
                .collect(),
            unit_id: m.unit_id,
            unit_name: m.unit_name,
        })
        .collect();
    render(
        status,
        &UserPage {
            chrome: signed.chrome(&ctx, "admin"),
            is_self: user.id == signed.actor.id.as_str(),
            username: user.username,
            name: user.display_name,
            disabled: user.disabled,
            must_change: user.must_change_password,
            totp: user.totp_secret.is_some(),
            members,
            grant: extra.grant.unwrap_or_else(|| grant_fields(&ctx)),
            email,
            unit_q: extra.unit_q,
            units_found,
            errors: extra.errors,
            notice: extra.notice,
            password: extra.password,
            ctx,
        },
    )
}

fn user_here(username: &str) -> String {
    format!("/staff/admin/users/{}", super::url_encode(username))
}

/// `GET /staff/admin/users/{username}`: the user's units and roles, with the forms to grant
/// and revoke a role, disable or enable the account and reset the password.
pub async fn user(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Path(username): Path<String>,
    Query(q): Query<UserQuery>,
) -> Response {
    let here = user_here(&username);
    let (signed, ctx) = match administrator(&state, &headers, prefs, &here).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let extra = UserExtra {
        unit_q: q.unit_q,
        ..UserExtra::none()
    };
    user_page(&state, &signed, ctx, &username, extra, StatusCode::OK).await
}

/// `POST /staff/admin/users/{username}/grant`: a role in a unit (picked from the search or
/// typed as its id).
pub async fn grant(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Path(username): Path<String>,
    Form(form): Form<FormData>,
) -> Response {
    let here = user_here(&username);
    let (signed, ctx) = match administrator_form(&state, &headers, prefs, &here, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut fields = grant_fields(&ctx);
    fields.fill(&form);
    if form.has("unit_pick")
        && let Some(f) = fields.0.iter_mut().find(|f| f.name == "unit")
    {
        f.value = form.get("unit_pick").to_string();
    }
    let mut extra = UserExtra::none();
    if !fields.check_required(|label| ctx.tf("staff.form.required", &[("field", label)])) {
        extra.grant = Some(fields);
        return user_page(
            &state,
            &signed,
            ctx,
            &username,
            extra,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let unit = fields.value("unit").to_string();
    let role = fields.value("role").to_string();
    match state
        .app
        .admin_grant(&signed.actor, &username, &unit, &role)
        .await
    {
        Ok(_) => {
            extra.notice = Some(ctx.tf(
                "admin.user.granted",
                &[
                    ("role", ctx.t(&format!("role.{role}"))),
                    ("unit", unit.as_str()),
                ],
            ));
            user_page(&state, &signed, ctx, &username, extra, StatusCode::OK).await
        }
        Err(e) => match client_error(&ctx, e.into()) {
            Err(r) => r,
            Ok((status, err)) => {
                extra.errors = place_errors(&err, &mut [&mut fields]);
                extra.grant = Some(fields);
                user_page(&state, &signed, ctx, &username, extra, status).await
            }
        },
    }
}

/// `POST /staff/admin/users/{username}/revoke`: one role in one unit.
pub async fn revoke(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Path(username): Path<String>,
    Form(form): Form<FormData>,
) -> Response {
    let here = user_here(&username);
    let (signed, ctx) = match administrator_form(&state, &headers, prefs, &here, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (unit, role) = (form.get("unit"), form.get("role"));
    let mut extra = UserExtra::none();
    let status = match state
        .app
        .admin_revoke(&signed.actor, &username, unit, role)
        .await
    {
        Ok(_) => {
            extra.notice = Some(ctx.tf(
                "admin.user.revoked",
                &[("role", ctx.t(&format!("role.{role}"))), ("unit", unit)],
            ));
            StatusCode::OK
        }
        Err(e) => match client_error(&ctx, e.into()) {
            Err(r) => return r,
            Ok((status, err)) => {
                extra.errors = vec![err.body.message];
                status
            }
        },
    };
    user_page(&state, &signed, ctx, &username, extra, status).await
}

/// `POST /staff/admin/users/{username}/email`: the address notices are e-mailed to (empty
/// clears it).
pub async fn set_email(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Path(username): Path<String>,
    Form(form): Form<FormData>,
) -> Response {
    let here = user_here(&username);
    let (signed, ctx) = match administrator_form(&state, &headers, prefs, &here, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut extra = UserExtra::none();
    let status = match state
        .app
        .admin_set_email(&signed.actor, &username, form.get("email"))
        .await
    {
        Ok(_) => {
            extra.notice = Some(ctx.t("admin.user.email_done").to_string());
            StatusCode::OK
        }
        Err(e) => match client_error(&ctx, e.into()) {
            Err(r) => return r,
            Ok((status, err)) => {
                extra.errors = err
                    .body
                    .fields
                    .iter()
                    .map(|f| f.message.clone())
                    .chain(err.body.fields.is_empty().then(|| err.body.message.clone()))
                    .collect();
                status
            }
        },
    };
    user_page(&state, &signed, ctx, &username, extra, status).await
}

/// `POST /staff/admin/users/{username}/disable` (`disabled=1` to disable, `0` to enable).
pub async fn disable(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Path(username): Path<String>,
    Form(form): Form<FormData>,
) -> Response {
    let here = user_here(&username);
    let (signed, ctx) = match administrator_form(&state, &headers, prefs, &here, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let disabled = form.get("disabled") == "1";
    let mut extra = UserExtra::none();
    let status = match state
        .app
        .admin_set_disabled(&signed.actor, &username, disabled)
        .await
    {
        Ok(()) => {
            extra.notice = Some(
                ctx.t(if disabled {
                    "admin.user.disabled_done"
                } else {
                    "admin.user.enabled_done"
                })
                .to_string(),
            );
            StatusCode::OK
        }
        Err(e) => match client_error(&ctx, e.into()) {
            Err(r) => return r,
            Ok((status, err)) => {
                extra.errors = vec![err.body.message];
                status
            }
        },
    };
    user_page(&state, &signed, ctx, &username, extra, status).await
}

/// `POST /staff/admin/users/{username}/password`: a generated password, shown once, to be
/// changed at the next sign-in; `reset_totp=1` also removes a lost second factor.
pub async fn reset_password(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Path(username): Path<String>,
    Form(form): Form<FormData>,
) -> Response {
    let here = user_here(&username);
    let (signed, ctx) = match administrator_form(&state, &headers, prefs, &here, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut extra = UserExtra::none();
    let status = match state
        .app
        .admin_reset_password(&signed.actor, &username, form.get("reset_totp") == "1")
        .await
    {
        Ok(p) => {
            extra.password = Some(p);
            StatusCode::OK
        }
        Err(e) => match client_error(&ctx, e.into()) {
            Err(r) => return r,
            Ok((status, err)) => {
                extra.errors = vec![err.body.message];
                status
            }
        },
    };
    user_page(&state, &signed, ctx, &username, extra, status).await
}

// ---------------------------------------------------------------------------------------------
// Categories

pub struct CategoryRow {
    pub id: String,
    pub name: String,
    pub path: String,
    pub level: i64,
    pub retired: bool,
    /// The rename field's value and error, when a rename of this row was refused.
    pub value: String,
    pub error: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "staff/admin_categories.html")]
struct CategoriesPage {
    ctx: Ctx,
    chrome: Chrome,
    rows: Vec<CategoryRow>,
    add: Fields,
    errors: Vec<String>,
    notice: Option<String>,
    count: String,
}

fn add_category_fields(ctx: &Ctx, rules: &Rules) -> Fields {
    let mut options = vec![(String::new(), ctx.t("admin.cat.top").to_string())];
    options.extend(
        rules
            .active_categories()
            .filter(|c| c.level < huiyin_app::admin::MAX_CATEGORY_LEVEL)
            .map(|c| (c.id.clone(), c.path.clone())),
    );
    let mut f = Fields(vec![
        Field::new("cat", "parent", "select", ctx.t("admin.cat.parent")).options(options),
        Field::new("cat", "name", "text", ctx.t("admin.cat.name"))
            .required()
            .hint(ctx.t("admin.cat.name_hint")),
    ]);
    f.sync();
    f
}

#[allow(clippy::too_many_arguments)]
fn categories_page(
    state: &WebState,
    signed: &Signed,
    ctx: Ctx,
    add: Option<Fields>,
    errors: Vec<String>,
    notice: Option<String>,
    failed_rename: Option<(String, String, String)>,
    status: StatusCode,
) -> Response {
    let rules = state.app.rules();
    let rows: Vec<CategoryRow> = rules
        .categories
        .iter()
        .map(|c| {
            let (value, error) = match &failed_rename {
                Some((id, v, e)) if *id == c.id => (v.clone(), Some(e.clone())),
                _ => (c.name.clone(), None),
            };
            CategoryRow {
                id: c.id.clone(),
                name: c.name.clone(),
                path: c.path.clone(),
                level: c.level,
                retired: c.retired,
                value,
                error,
            }
        })
        .collect();
    let retired = rows.iter().filter(|r| r.retired).count();
    render(
        status,
        &CategoriesPage {
            chrome: signed.chrome(&ctx, "admin"),
            add: add.unwrap_or_else(|| add_category_fields(&ctx, &rules)),
            count: ctx.tf(
                "admin.cat.count",
                &[
                    ("active", &(rows.len() - retired).to_string()),
                    ("retired", &retired.to_string()),
                ],
            ),
            rows,
            errors,
            notice,
            ctx,
        },
    )
}

/// `GET /staff/admin/categories`: the taxonomy with the forms to add, rename and retire.
pub async fn categories(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
) -> Response {
    let (signed, ctx) =
        match administrator(&state, &headers, prefs, "/staff/admin/categories").await {
            Ok(s) => s,
            Err(r) => return r,
        };
    categories_page(
        &state,
        &signed,
        ctx,
        None,
        Vec::new(),
        None,
        None,
        StatusCode::OK,
    )
}

/// `POST /staff/admin/categories`: adds a category under the chosen parent.
pub async fn add_category(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Form(form): Form<FormData>,
) -> Response {
    let (signed, ctx) =
        match administrator_form(&state, &headers, prefs, "/staff/admin/categories", &form).await {
            Ok(s) => s,
            Err(r) => return r,
        };
    let mut fields = add_category_fields(&ctx, &state.app.rules());
    fields.fill(&form);
    if !fields.check_required(|label| ctx.tf("staff.form.required", &[("field", label)])) {
        return categories_page(
            &state,
            &signed,
            ctx,
            Some(fields),
            Vec::new(),
            None,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let parent = Some(form.get("parent")).filter(|p| !p.is_empty());
    match state
        .app
        .admin_add_category(&signed.actor, parent, form.get("name"))
        .await
    {
        Ok(c) => {
            let notice = Some(ctx.tf("admin.cat.added", &[("path", &c.path)]));
            categories_page(
                &state,
                &signed,
                ctx,
                None,
                Vec::new(),
                notice,
                None,
                StatusCode::CREATED,
            )
        }
        Err(e) => match client_error(&ctx, e.into()) {
            Err(r) => r,
            Ok((status, err)) => {
                let errors = place_errors(&err, &mut [&mut fields]);
                categories_page(
                    &state,
                    &signed,
                    ctx,
                    Some(fields),
                    errors,
                    None,
                    None,
                    status,
                )
            }
        },
    }
}

/// `POST /staff/admin/categories/{id}/rename`.
pub async fn rename_category(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<FormData>,
) -> Response {
    let (signed, ctx) =
        match administrator_form(&state, &headers, prefs, "/staff/admin/categories", &form).await {
            Ok(s) => s,
            Err(r) => return r,
        };
    match state
        .app
        .admin_rename_category(&signed.actor, &id, form.get("name"))
        .await
    {
        Ok(c) => {
            let notice = Some(ctx.tf("admin.cat.renamed", &[("path", &c.path)]));
            categories_page(
                &state,
                &signed,
                ctx,
                None,
                Vec::new(),
                notice,
                None,
                StatusCode::OK,
            )
        }
        Err(e) => match client_error(&ctx, e.into()) {
            Err(r) => r,
            Ok((status, err)) => {
                let message = err
                    .body
                    .fields
                    .first()
                    .map_or_else(|| err.body.message.clone(), |f| f.message.clone());
                categories_page(
                    &state,
                    &signed,
                    ctx,
                    None,
                    vec![message.clone()],
                    None,
                    Some((id, form.get("name").to_string(), message)),
                    status,
                )
            }
        },
    }
}

/// `POST /staff/admin/categories/{id}/retire` (`retired=1` to retire, `0` to restore).
pub async fn retire_category(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<FormData>,
) -> Response {
    let (signed, ctx) =
        match administrator_form(&state, &headers, prefs, "/staff/admin/categories", &form).await {
            Ok(s) => s,
            Err(r) => return r,
        };
    let retired = form.get("retired") == "1";
    match state
        .app
        .admin_retire_category(&signed.actor, &id, retired)
        .await
    {
        Ok(n) => {
            let key = if retired {
                "admin.cat.retired_done"
            } else {
                "admin.cat.restored_done"
            };
            let notice = Some(ctx.tf(key, &[("n", &n.to_string())]));
            categories_page(
                &state,
                &signed,
                ctx,
                None,
                Vec::new(),
                notice,
                None,
                StatusCode::OK,
            )
        }
        Err(e) => match client_error(&ctx, e.into()) {
            Err(r) => r,
            Ok((status, err)) => categories_page(
                &state,
                &signed,
                ctx,
                None,
                vec![err.body.message],
                None,
                None,
                status,
            ),
        },
    }
}

/// Turns the case page's free-text category field of the 登记 form into a choice of the
/// categories in force (plus the case's current one, retired or not, so it is not lost).
pub fn category_choice(ctx: &Ctx, fields: &mut Fields, rules: &Rules) {
    if let Some(f) = fields.0.iter_mut().find(|f| f.name == "category") {
        let mut options = vec![(String::new(), ctx.t("admin.cat.none").to_string())];
        options.extend(
            rules
                .active_categories()
                .map(|c| (c.path.clone(), c.path.clone())),
        );
        if !f.value.is_empty() && !options.iter().any(|(v, _)| *v == f.value) {
            options.push((f.value.clone(), f.value.clone()));
        }
        *f = f.clone().options(options);
        f.kind = "select";
        let value = f.value.clone();
        select(f, &value);
    }
}

/// Checks the chosen category is one in force (or the case's current one); puts the message
/// next to the field otherwise. True when it is fine.
pub fn category_ok(ctx: &Ctx, fields: &mut Fields, rules: &Rules, current: Option<&str>) -> bool {
    let value = fields.value("category").to_string();
    if value.is_empty()
        || Some(value.as_str()) == current
        || rules.active_categories().any(|c| c.path == value)
    {
        return true;
    }
    fields.set_error("category", ctx.t("admin.cat.unknown").to_string());
    false
}

// ---------------------------------------------------------------------------------------------
// Deadline policies

const UNITS: [&str; 3] = ["days", "working_days", "hours"];

fn unit_code(u: LimitUnit) -> &'static str {
    match u {
        LimitUnit::Days => "days",
        LimitUnit::WorkingDays => "working_days",
        LimitUnit::Hours => "hours",
    }
}

fn limit_text(ctx: &Ctx, l: Limit) -> String {
    ctx.tf(
        &format!("staff.admin.limit.{}", unit_code(l.unit)),
        &[("n", &l.amount.to_string())],
    )
}

pub struct OverrideRow {
    pub region: String,
    pub category: String,
    pub limits: String,
    pub updated: String,
}

pub struct LimitRow {
    pub kind: &'static str,
    pub amount: Field,
    pub unit: Field,
    pub national: String,
}

impl LimitRow {
    /// The amount and unit fields, for the shared field template.
    pub fn pair(&self) -> Vec<&Field> {
        vec![&self.amount, &self.unit]
    }
}

pub struct EffectiveRow {
    pub kind: &'static str,
    pub limit: String,
    pub changed: bool,
}

#[derive(askama::Template)]
#[template(path = "staff/admin_policies.html")]
struct PoliciesPage {
    ctx: Ctx,
    chrome: Chrome,
    overrides: Vec<OverrideRow>,
    scope: Fields,
    limits: Vec<LimitRow>,
    errors: Vec<String>,
    notice: Option<String>,
    region: String,
    category: String,
    categories: Vec<String>,
    effective: Vec<EffectiveRow>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PolicyQuery {
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub category: String,
}

fn scope_fields(ctx: &Ctx, rules: &Rules) -> Fields {
    let mut options = vec![(String::new(), ctx.t("admin.pol.any_category").to_string())];
    options.extend(
        rules
            .active_categories()
            .map(|c| (c.path.clone(), c.path.clone())),
    );
    let mut f = Fields(vec![
        Field::new("pol", "region_prefix", "text", ctx.t("admin.pol.region"))
            .hint(ctx.t("admin.pol.region_hint")),
        Field::new("pol", "category", "select", ctx.t("admin.pol.category")).options(options),
    ]);
    f.sync();
    f
}

fn select(field: &mut Field, value: &str) {
    field.value = value.to_string();
    for o in &mut field.options {
        o.selected = o.value == value;
    }
}

fn limit_rows(ctx: &Ctx) -> Vec<LimitRow> {
    let national = huiyin_domain::policy::DeadlinePolicy::default();
    ClockKind::ALL
        .iter()
        .map(|k| {
            let code = k.as_str();
            let kind = ctx.t(&format!("clock.{code}"));
            let mut unit = Field::new("pol", &format!("unit.{code}"), "select", "").options(
                UNITS
                    .iter()
                    .map(|u| {
                        (
                            u.to_string(),
                            ctx.t(&format!("admin.pol.unit.{u}")).to_string(),
                        )
                    })
                    .collect(),
            );
            unit.label = format!("{kind} · {}", ctx.t("admin.pol.unit"));
            select(&mut unit, unit_code(national.limit(*k).unit));
            let mut amount = Field::new("pol", &format!("amount.{code}"), "number", "");
            amount.label = format!("{kind} · {}", ctx.t("admin.pol.amount"));
            LimitRow {
                kind,
                amount,
                unit,
                national: limit_text(ctx, national.limit(*k)),
            }
        })
        .collect()
}

struct PolicyExtra {
    scope: Option<Fields>,
    limits: Option<Vec<LimitRow>>,
    errors: Vec<String>,
    notice: Option<String>,
    region: String,
    category: String,
}

fn policies_page(
    state: &WebState,
    signed: &Signed,
    ctx: Ctx,
    extra: PolicyExtra,
    status: StatusCode,
) -> Response {
    let rules = state.app.rules();
    let overrides = rules
        .overrides
        .iter()
        .map(|o| OverrideRow {
            region: o.region_prefix.clone(),
            category: o.category.clone(),
            limits: ClockKind::ALL
                .iter()
                .filter_map(|k| {
                    o.policy.limits.get(*k).map(|l| {
                        format!(
                            "{} {}",
                            ctx.t(&format!("clock.{}", k.as_str())),
                            limit_text(&ctx, l)
                        )
                    })
                })
                .collect::<Vec<_>>()
                .join(ctx.t("staff.list_sep")),
            updated: show_date_ms(o.updated_at_ms),
        })
        .collect();
    let region: String = extra
        .region
        .trim()
        .chars()
        .filter(char::is_ascii_digit)
        .take(12)
        .collect();
    let category = extra.category.trim().to_string();
    let national = huiyin_domain::policy::DeadlinePolicy::default();
    let effective = if region.is_empty() && category.is_empty() {
        Vec::new()
    } else {
        let p = rules.resolve(&region, Some(category.as_str()).filter(|c| !c.is_empty()));
        ClockKind::ALL
            .iter()
            .map(|k| EffectiveRow {
                kind: ctx.t(&format!("clock.{}", k.as_str())),
                limit: limit_text(&ctx, p.limit(*k)),
                changed: p.limit(*k) != national.limit(*k),
            })
            .collect()
    };
    render(
        status,
        &PoliciesPage {
            chrome: signed.chrome(&ctx, "admin"),
            overrides,
            scope: extra.scope.unwrap_or_else(|| scope_fields(&ctx, &rules)),
            limits: extra.limits.unwrap_or_else(|| limit_rows(&ctx)),
            errors: extra.errors,
            notice: extra.notice,
            categories: rules.active_categories().map(|c| c.path.clone()).collect(),
            region,
            category,
            effective,
            ctx,
        },
    )
}

/// `GET /staff/admin/policies?region=…&category=…`: the overrides in force, the form to set
/// one, and the effective policy of a region (and category).
pub async fn policies(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Query(q): Query<PolicyQuery>,
) -> Response {
    let (signed, ctx) = match administrator(&state, &headers, prefs, "/staff/admin/policies").await
    {
        Ok(s) => s,
        Err(r) => return r,
    };
    let extra = PolicyExtra {
        scope: None,
        limits: None,
        errors: Vec::new(),
        notice: None,
        region: q.region,
        category: q.category,
    };
    policies_page(&state, &signed, ctx, extra, StatusCode::OK)
}

/// `POST /staff/admin/policies`: sets the override of a region prefix and category; an
/// empty amount keeps the wider rule for that deadline.
pub async fn set_policy(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Form(form): Form<FormData>,
) -> Response {
    let (signed, ctx) =
        match administrator_form(&state, &headers, prefs, "/staff/admin/policies", &form).await {
            Ok(s) => s,
            Err(r) => return r,
        };
    let rules = state.app.rules();
    let mut scope = scope_fields(&ctx, &rules);
    scope.fill(&form);
    let mut rows = limit_rows(&ctx);
    let mut limits = Vec::new();
    let mut bad = false;
    for (row, kind) in rows.iter_mut().zip(ClockKind::ALL) {
        let code = kind.as_str();
        let amount = form.get(&format!("amount.{code}")).to_string();
        let unit = form.get(&format!("unit.{code}")).to_string();
        row.amount.value = amount.clone();
        if UNITS.contains(&unit.as_str()) {
            select(&mut row.unit, &unit);
        }
        if amount.is_empty() {
            continue;
        }
        let unit = match row.unit.value.as_str() {
            "hours" => LimitUnit::Hours,
            "working_days" => LimitUnit::WorkingDays,
            _ => LimitUnit::Days,
        };
        match amount.parse::<u32>() {
            Ok(n) => limits.push((kind, Limit { amount: n, unit })),
            Err(_) => {
                row.amount.error = Some(ctx.t("admin.pol.amount_number").to_string());
                bad = true;
            }
        }
    }
    let region = scope.value("region_prefix").to_string();
    let category = scope.value("category").to_string();
    let outcome = if bad {
        Err(ApiError::malformed(ctx.t("staff.act.fix")))
    } else {
        state
            .app
            .admin_set_policy(&signed.actor, &region, &category, &limits)
            .await
            .map_err(ApiError::from)
    };
    match outcome {
        Ok(()) => {
            let extra = PolicyExtra {
                scope: None,
                limits: None,
                errors: Vec::new(),
                notice: Some(ctx.t("admin.pol.saved").to_string()),
                region,
                category,
            };
            policies_page(&state, &signed, ctx, extra, StatusCode::OK)
        }
        Err(e) => match client_error(&ctx, e) {
            Err(r) => r,
            Ok((status, err)) => {
                let mut errors = Vec::new();
                if !bad {
                    let mut limit_fields = Fields(rows.iter().map(|r| r.amount.clone()).collect());
                    errors = place_errors(&err, &mut [&mut scope, &mut limit_fields]);
                    for (row, f) in rows.iter_mut().zip(limit_fields.0) {
                        row.amount.error = f.error;
                    }
                }
                let extra = PolicyExtra {
                    scope: Some(scope),
                    limits: Some(rows),
                    errors,
                    notice: None,
                    region: String::new(),
                    category: String::new(),
                };
                policies_page(&state, &signed, ctx, extra, status)
            }
        },
    }
}

/// `POST /staff/admin/policies/delete`: removes an override.
pub async fn delete_policy(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Form(form): Form<FormData>,
) -> Response {
    let (signed, ctx) =
        match administrator_form(&state, &headers, prefs, "/staff/admin/policies", &form).await {
            Ok(s) => s,
            Err(r) => return r,
        };
    let (region, category) = (form.get("region_prefix"), form.get("category"));
    let (status, errors, notice) = match state
        .app
        .admin_delete_policy(&signed.actor, region, category)
        .await
    {
        Ok(()) => (
            StatusCode::OK,
            Vec::new(),
            Some(ctx.t("admin.pol.deleted").to_string()),
        ),
        Err(e) => match client_error(&ctx, e.into()) {
            Err(r) => return r,
            Ok((status, err)) => (status, vec![err.body.message], None),
        },
    };
    let extra = PolicyExtra {
        scope: None,
        limits: None,
        errors,
        notice,
        region: String::new(),
        category: String::new(),
    };
    policies_page(&state, &signed, ctx, extra, status)
}

// ---------------------------------------------------------------------------------------------
// The holiday calendar

pub struct CalendarRow {
    pub date: String,
    pub weekday: &'static str,
    pub what: &'static str,
    pub name: String,
}

#[derive(askama::Template)]
#[template(path = "staff/admin_calendar.html")]
struct CalendarPage {
    ctx: Ctx,
    chrome: Chrome,
    year: i32,
    covered: bool,
    edited: bool,
    rows: Vec<CalendarRow>,
    fields: Fields,
    errors: Vec<String>,
    notice: Option<String>,
    years: Vec<i32>,
    save_label: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct CalendarQuery {
    #[serde(default)]
    pub year: Option<i32>,
}

fn weekday_key(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "admin.cal.mon",
        Weekday::Tue => "admin.cal.tue",
        Weekday::Wed => "admin.cal.wed",
        Weekday::Thu => "admin.cal.thu",
        Weekday::Fri => "admin.cal.fri",
        Weekday::Sat => "admin.cal.sat",
        Weekday::Sun => "admin.cal.sun",
    }
}

/// The listed days of `year` in the calendar in force, as rows and as the editable text.
fn year_days(ctx: &Ctx, rules: &Rules, year: i32) -> (Vec<CalendarRow>, String) {
    let mut rows = Vec::new();
    let mut text = String::new();
    let mut d = NaiveDate::from_ymd_opt(year, 1, 1);
    while let Some(date) = d {
        if date.year() != year {
            break;
        }
        let (what, word, name) = match rules.calendar.kind(date) {
            DayKind::Holiday(n) => ("staff.admin.holiday", "off", n.to_string()),
            DayKind::MakeUpWorkday(n) => ("staff.admin.makeup", "work", n.to_string()),
            _ => ("", "", String::new()),
        };
        if !word.is_empty() {
            let shown = date.format("%Y-%m-%d").to_string();
            text.push_str(&format!("{shown} {word} {name}\n"));
            rows.push(CalendarRow {
                date: shown,
                weekday: ctx.t(weekday_key(date.weekday())),
                what: ctx.t(what),
                name,
            });
        }
        d = date.succ_opt();
    }
    (rows, text)
}

fn calendar_fields(ctx: &Ctx, year: i32, text: &str) -> Fields {
    Fields(vec![
        Field::new("cal", "year", "hidden", "").value(year.to_string()),
        Field::new("cal", "days", "textarea", ctx.t("admin.cal.days"))
            .hint(ctx.t("admin.cal.days_hint"))
            .value(text),
    ])
}

fn calendar_page(
    state: &WebState,
    signed: &Signed,
    ctx: Ctx,
    year: i32,
    failed: Option<(Fields, Vec<String>)>,
    notice: Option<String>,
    status: StatusCode,
) -> Response {
    let rules = state.app.rules();
    let (rows, text) = year_days(&ctx, &rules, year);
    let (fields, errors) =
        failed.unwrap_or_else(|| (calendar_fields(&ctx, year, &text), Vec::new()));
    let mut years: Vec<i32> = rules.calendar.covered_years().to_vec();
    if let Some(last) = years.last().copied() {
        years.push(last + 1);
    }
    years.retain(|y| *y >= year - 3 && *y <= year + 3);
    render(
        status,
        &CalendarPage {
            chrome: signed.chrome(&ctx, "admin"),
            save_label: ctx.tf("admin.cal.save", &[("year", &year.to_string())]),
            covered: rules.calendar.covers(year),
            edited: rules.edited_years.contains(&year),
            year,
            rows,
            fields,
            errors,
            notice,
            years,
            ctx,
        },
    )
}

/// `GET /staff/admin/calendar?year=…`: a year's days off and make-up working days, editable.
pub async fn calendar(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Query(q): Query<CalendarQuery>,
) -> Response {
    let (signed, ctx) = match administrator(&state, &headers, prefs, "/staff/admin/calendar").await
    {
        Ok(s) => s,
        Err(r) => return r,
    };
    let this_year = state.app.now().with_timezone(&super::forms::cst()).year();
    let year = q
        .year
        .filter(|y| {
            (huiyin_domain::calendar::MIN_YEAR..=huiyin_domain::calendar::MAX_YEAR).contains(y)
        })
        .unwrap_or(this_year);
    calendar_page(&state, &signed, ctx, year, None, None, StatusCode::OK)
}

/// `POST /staff/admin/calendar`: replaces a year's list.
pub async fn set_calendar(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Form(form): Form<FormData>,
) -> Response {
    let (signed, ctx) =
        match administrator_form(&state, &headers, prefs, "/staff/admin/calendar", &form).await {
            Ok(s) => s,
            Err(r) => return r,
        };
    let Ok(year) = form.get("year").parse::<i32>() else {
        let message = ctx.t("admin.cal.bad_year").to_string();
        return app_error_page(ctx, ApiError::malformed(message));
    };
    let mut fields = calendar_fields(&ctx, year, "");
    fields.fill(&form);
    match state
        .app
        .admin_set_calendar_year(&signed.actor, year, fields.value("days"))
        .await
    {
        Ok(days) => {
            let notice = Some(ctx.tf(
                "admin.cal.saved",
                &[("year", &year.to_string()), ("n", &days.len().to_string())],
            ));
            calendar_page(&state, &signed, ctx, year, None, notice, StatusCode::OK)
        }
        Err(e) => match client_error(&ctx, e.into()) {
            Err(r) => r,
            Ok((status, err)) => {
                let errors = place_errors(&err, &mut [&mut fields]);
                calendar_page(
                    &state,
                    &signed,
                    ctx,
                    year,
                    Some((fields, errors)),
                    None,
                    status,
                )
            }
        },
    }
}
