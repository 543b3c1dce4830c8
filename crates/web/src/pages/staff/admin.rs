//! The administration overview (the organisation tree, deadline policies per jurisdiction, the
//! holiday calendar, creating users with their roles), plus the unit picker's search.

use axum::extract::{Form, OriginalUri, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, NaiveDate, Weekday};
use huiyin_domain::access::{Action, authorize};
use huiyin_domain::case::Role;
use huiyin_domain::policy::ClockKind;
use huiyin_store::UnitSearch;
use serde::Deserialize;

use super::forms::{Field, Fields, FormData, place_errors};
use super::{Chrome, Signed, app_error_page, signed_in};
use crate::WebState;
use crate::error::ApiError;
use crate::pages::{Ctx, Prefs, render};

#[derive(Debug, Default, Deserialize)]
pub struct UnitQuery {
    #[serde(default)]
    pub unit_q: String,
    #[serde(default)]
    pub unit_region: String,
    #[serde(default)]
    pub kind: String,
}

#[derive(askama::Template)]
#[template(path = "staff/units_fragment.html")]
struct UnitsFragment {
    ctx: Ctx,
    units_found: Vec<(String, String, String)>,
}

/// `GET /staff/units?unit_q=…&unit_region=…&kind=…`: the unit picker's results as a fragment
/// (htmx swaps it into the route form; without JavaScript the case page searches itself).
pub async fn unit_search(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<UnitQuery>,
) -> Response {
    let signed = match signed_in(&state, &headers, uri.path()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let ctx = signed.ctx(prefs, "/staff/units");
    let name: String = q.unit_q.trim().chars().take(50).collect();
    let units_found = if name.is_empty() {
        Vec::new()
    } else {
        let search = UnitSearch {
            name,
            region: Some(q.unit_region.trim().to_string())
                .filter(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_digit())),
            kind: Some(q.kind.trim().to_string()).filter(|k| !k.is_empty()),
            limit: 20,
            with_retired: false,
        };
        match state.app.search_units(&signed.actor, &search).await {
            Ok(units) => units
                .into_iter()
                .map(|u| (u.id, u.name, u.region_code))
                .collect(),
            Err(e) => return ApiError::from(e).into_response(),
        }
    };
    render(StatusCode::OK, &UnitsFragment { ctx, units_found })
}

// ---------------------------------------------------------------------------------------------
// Administration

pub struct PolicyRow {
    pub kind: &'static str,
    pub national: String,
    pub overrides: String,
}

pub struct DayRow {
    pub date: String,
    pub what: &'static str,
}

#[derive(askama::Template)]
#[template(path = "staff/admin.html")]
struct AdminPage {
    ctx: Ctx,
    chrome: Chrome,
    units_count: String,
    levels: Vec<(String, i64)>,
    policies: Vec<PolicyRow>,
    extension: String,
    year: i32,
    days: Vec<DayRow>,
    fields: Fields,
    errors: Vec<String>,
    created: Option<String>,
    may_manage: bool,
}

fn user_fields(ctx: &Ctx, unit: &str) -> Fields {
    let roles = [
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
    let mut f = Fields(vec![
        Field::new("user", "username", "text", ctx.t("staff.admin.username"))
            .required()
            .hint(ctx.t("staff.admin.username_hint")),
        Field::new("user", "name", "text", ctx.t("staff.admin.name")).required(),
        Field::new("user", "unit", "text", ctx.t("staff.admin.unit"))
            .required()
            .value(unit),
        Field::new("user", "role", "select", ctx.t("staff.admin.role"))
            .required()
            .options(
                roles
                    .iter()
                    .map(|r| (r.to_string(), ctx.t(&format!("role.{r}")).to_string()))
                    .collect(),
            ),
    ]);
    f.sync();
    f
}

fn limit_text(ctx: &Ctx, l: huiyin_domain::policy::Limit) -> String {
    let unit = match serde_json::to_value(l.unit) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    };
    ctx.tf(
        &format!("staff.admin.limit.{unit}"),
        &[("n", &l.amount.to_string())],
    )
}

async fn admin_page(
    state: &WebState,
    signed: &Signed,
    ctx: Ctx,
    fields: Option<Fields>,
    errors: Vec<String>,
    created: Option<String>,
) -> Result<AdminPage, ApiError> {
    let principal = state.app.principal(&signed.actor).await?;
    let may_read = signed.actor.has(Role::Administrator) || signed.actor.has(Role::Auditor);
    if !may_read {
        return Err(ApiError::forbidden(ctx.t("staff.admin.forbidden")));
    }
    let may_manage = authorize(&principal, Action::ManageUsers, None).is_ok();
    let stats = state
        .app
        .store()
        .org_stats()
        .await
        .map_err(huiyin_app::AppError::from)?;
    let levels = stats
        .units
        .iter()
        .map(|(level, kinds)| (level.clone(), kinds.values().sum()))
        .collect();
    let set = state.app.policies();
    let rules = state.app.rules();
    let policies = ClockKind::ALL
        .iter()
        .map(|k| {
            let code = match serde_json::to_value(k) {
                Ok(serde_json::Value::String(s)) => s,
                _ => String::new(),
            };
            let overrides: Vec<String> = set
                .by_region
                .iter()
                .filter_map(|(region, o)| {
                    o.limits
                        .get(*k)
                        .map(|l| format!("{region}: {}", limit_text(&ctx, l)))
                })
                .chain(set.by_category.iter().filter_map(|(cat, o)| {
                    o.limits
                        .get(*k)
                        .map(|l| format!("{cat}: {}", limit_text(&ctx, l)))
                }))
                .chain(rules.overrides.iter().filter_map(|o| {
                    o.policy.limits.get(*k).map(|l| {
                        format!(
                            "{} {}: {}",
                            o.region_prefix,
                            o.category,
                            limit_text(&ctx, l)
                        )
                        .trim_start()
                        .to_string()
                    })
                }))
                .collect();
            PolicyRow {
                kind: ctx.t(&format!("clock.{code}")),
                national: limit_text(&ctx, set.national.limit(*k)),
                overrides: overrides.join("；"),
            }
        })
        .collect();
    let today = state
        .app
        .now()
        .with_timezone(&super::forms::cst())
        .date_naive();
    let year = today.year();
    let cal = state.app.calendar();
    let mut days = Vec::new();
    let mut d = NaiveDate::from_ymd_opt(year, 1, 1);
    while let Some(date) = d {
        if date.year() != year {
            break;
        }
        let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
        let working = cal.is_working_day(date);
        if weekend && working {
            days.push(DayRow {
                date: date.format("%Y-%m-%d").to_string(),
                what: ctx.t("staff.admin.makeup"),
            });
        } else if !weekend && !working {
            days.push(DayRow {
                date: date.format("%Y-%m-%d").to_string(),
                what: ctx.t("staff.admin.holiday"),
            });
        }
        d = date.succ_opt();
    }
    Ok(AdminPage {
        chrome: signed.chrome(&ctx, "admin"),
        fields: fields.unwrap_or_else(|| user_fields(&ctx, signed.unit().unwrap_or(""))),
        units_count: ctx.tf(
            "staff.admin.units_count",
            &[
                ("active", &stats.units_active.to_string()),
                ("retired", &stats.units_retired.to_string()),
            ],
        ),
        levels,
        policies,
        extension: ctx.tf(
            "staff.admin.extension",
            &[
                ("days", &set.national.max_extension_days.to_string()),
                ("n", &set.national.max_extensions.to_string()),
            ],
        ),
        year,
        days,
        errors,
        created,
        may_manage,
        ctx,
    })
}

pub async fn admin(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let signed = match signed_in(&state, &headers, uri.path()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let ctx = signed.ctx(prefs, "/staff/admin");
    match admin_page(&state, &signed, ctx.clone(), None, Vec::new(), None).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => app_error_page(ctx, e),
    }
}

/// `POST /staff/admin/users`: an administrator creates a user with one role in one unit; the
/// initial password is generated, shown once, and must be changed at first sign-in.
pub async fn add_user(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Form(form): Form<FormData>,
) -> Response {
    let signed = match signed_in(&state, &headers, "/staff/admin").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(r) = signed.check_csrf(prefs, &form) {
        return r;
    }
    let ctx = signed.ctx(prefs, "/staff/admin");
    let principal = match state.app.principal(&signed.actor).await {
        Ok(p) => p,
        Err(e) => return app_error_page(ctx, e.into()),
    };
    if authorize(&principal, Action::ManageUsers, None).is_err() {
        return app_error_page(
            ctx.clone(),
            ApiError::forbidden(ctx.t("staff.admin.forbidden")),
        );
    }
    let mut fields = user_fields(&ctx, "");
    fields.fill(&form);
    let mut errors = Vec::new();
    let mut created = None;
    let mut status = StatusCode::UNPROCESSABLE_ENTITY;
    if fields.check_required(|label| ctx.tf("staff.form.required", &[("field", label)])) {
        match state
            .app
            .admin_add_user(
                &signed.actor,
                form.get("username"),
                form.get("name"),
                form.get("unit"),
                form.get("role"),
            )
            .await
        {
            Ok(user) => {
                status = StatusCode::CREATED;
                created = Some(ctx.tf(
                    "staff.admin.created",
                    &[
                        ("user", &user.user.username),
                        ("password", user.generated_password.as_deref().unwrap_or("")),
                    ],
                ));
                fields = user_fields(&ctx, signed.unit().unwrap_or(""));
            }
            Err(e) => {
                let err = ApiError::from(e);
                if err.status.is_server_error() {
                    return app_error_page(ctx, err);
                }
                status = err.status;
                errors = place_errors(&err, &mut [&mut fields]);
            }
        }
    }
    match admin_page(&state, &signed, ctx.clone(), Some(fields), errors, created).await {
        Ok(page) => render(status, &page),
        Err(e) => app_error_page(ctx, e),
    }
}
