//! The staff workbench (工作台): sign-in, the inbox, desk intake of letters, visits and calls,
//! the case page with the actions the user may take now, official documents, the leader's
//! view and administration.
//!
//! Sessions are the JSON API's (see [`crate::auth`]): the same cookie, the same rotation at
//! login and at a unit switch. Every state-changing form carries the session's CSRF token as
//! `_csrf`, checked here before anything else; the sign-in form, which has no session yet,
//! carries a token of its own that must match a `SameSite=Strict` cookie set with the form
//! (so no other site can sign a person in to an account of its choosing).

pub mod admin;
pub mod administration;
pub mod case;
pub mod dashboard;
pub mod exports;
pub mod forms;
pub mod inbox;
pub mod indicators_admin;
pub mod intake;
pub mod leader;
pub mod notices;
pub mod search;
pub mod stats;
pub mod units_admin;
pub mod warnings;

use axum::Router;
use axum::extract::{Form, OriginalUri, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use huiyin_app::auth::{AuthError, StaffSession};
use huiyin_domain::case::{Actor, Role};
use serde::Deserialize;

use super::{Ctx, Prefs, StaffNav, error_page, render, safe_back};
use crate::error::ApiError;
use crate::{ClientIp, WebState, auth};
use forms::{Field, Fields, FormData, same_token};

/// The cookie that pairs the sign-in form with the browser that fetched it.
pub const LOGIN_CSRF_COOKIE: &str = "hy_login_csrf";

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/staff/login", get(login_page).post(login_submit))
        .route("/staff/login/totp", get(totp_page).post(totp_submit))
        .route("/staff/password", get(password_page).post(password_submit))
        .route("/staff/logout", post(logout))
        .route("/staff/unit", post(switch_unit))
        .route("/staff", get(inbox::page))
        .route("/staff/intake", get(intake::page).post(intake::submit))
        .route("/staff/cases/{id}", get(case::page))
        .route("/staff/cases/{id}/act", post(case::act))
        .route("/staff/cases/{id}/personal", post(case::personal))
        .route("/staff/cases/{id}/documents/{kind}", get(case::document))
        .route("/staff/cases/{id}/attachments/{n}", get(case::attachment))
        .route("/staff/units", get(admin::unit_search))
        .route("/staff/leader", get(leader::page))
        .route("/staff/supervision", get(leader::supervision))
        .route("/staff/supervision/circulars", get(leader::circulars))
        .route("/staff/search", get(search::page))
        .route("/staff/notices", get(notices::page))
        .route("/staff/notices/read", post(notices::read))
        .route(
            "/staff/broadcasts",
            get(notices::broadcasts).post(notices::send),
        )
        .route("/staff/broadcasts/groups", post(notices::add_group))
        .route(
            "/staff/broadcasts/groups/{id}/retire",
            post(notices::retire_group),
        )
        .route("/staff/broadcasts/{id}", get(notices::broadcast))
        .route("/staff/dashboard", get(dashboard::overview))
        .route("/staff/dashboard/operations", get(dashboard::operations))
        .route("/staff/stats/cases", get(dashboard::cases))
        .route("/staff/stats/annual", get(dashboard::annual))
        .route("/staff/stats/annual.xlsx", get(dashboard::annual_xlsx))
        .route("/staff/stats", get(stats::page))
        .route("/staff/stats.csv", get(stats::csv))
        // Exports (issue 8): lists and tables to Excel and CSV.
        .route("/staff/stats.xlsx", get(stats::xlsx))
        .route("/staff/exports/new", get(exports::start))
        .route("/staff/exports/{id}", get(exports::page))
        .route("/staff/exports/{id}/progress", get(exports::fragment))
        .route("/staff/exports/{id}/file", get(exports::file))
        .route("/staff/warnings", get(warnings::page))
        .route(
            "/staff/warnings/{id}/acknowledge",
            post(warnings::acknowledge),
        )
        .route("/staff/warnings/{id}/send", post(warnings::send))
        .route("/staff/admin", get(admin::admin))
        .route("/staff/admin/users", post(admin::add_user))
        .route("/staff/admin/users", get(administration::users))
        .route("/staff/admin/users/{username}", get(administration::user))
        .route(
            "/staff/admin/users/{username}/grant",
            post(administration::grant),
        )
        .route(
            "/staff/admin/users/{username}/revoke",
            post(administration::revoke),
        )
        .route(
            "/staff/admin/users/{username}/email",
            post(administration::set_email),
        )
        .route(
            "/staff/admin/users/{username}/disable",
            post(administration::disable),
        )
        .route(
            "/staff/admin/users/{username}/password",
            post(administration::reset_password),
        )
        .route(
            "/staff/admin/categories",
            get(administration::categories).post(administration::add_category),
        )
        .route(
            "/staff/admin/categories/{id}/rename",
            post(administration::rename_category),
        )
        .route(
            "/staff/admin/categories/{id}/retire",
            post(administration::retire_category),
        )
        .route(
            "/staff/admin/policies",
            get(administration::policies).post(administration::set_policy),
        )
        .route(
            "/staff/admin/policies/delete",
            post(administration::delete_policy),
        )
        .route(
            "/staff/admin/units",
            get(units_admin::list).post(units_admin::add),
        )
        .route("/staff/admin/units/{id}", get(units_admin::detail))
        .route("/staff/admin/units/{id}/rename", post(units_admin::rename))
        .route("/staff/admin/units/{id}/merge", post(units_admin::merge))
        .route("/staff/admin/units/{id}/retire", post(units_admin::retire))
        .route(
            "/staff/admin/calendar",
            get(administration::calendar).post(administration::set_calendar),
        )
        .route(
            "/staff/admin/indicators",
            get(indicators_admin::show).post(indicators_admin::set_indicators),
        )
        .route(
            "/staff/admin/indicators/warnings",
            post(indicators_admin::set_warnings),
        )
        .route(
            "/staff/admin/indicators/restore",
            post(indicators_admin::restore),
        )
}

/// A unit the signed-in person belongs to (for the unit switcher).
#[derive(Debug, Clone)]
pub struct UnitChoice {
    pub id: String,
    pub name: String,
    pub roles: String,
    pub active: bool,
}

/// What the workbench's frame shows: the sections this person may open and their units.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub section: &'static str,
    pub units: Vec<UnitChoice>,
    pub roles: String,
    pub can_intake: bool,
    pub is_leader: bool,
    /// Supervisors and leaders: the supervision view (督办).
    pub is_supervisor: bool,
    pub is_admin: bool,
    /// Case work or oversight: the search page.
    pub can_search: bool,
    /// Case work, analysts and auditors: the statistics page.
    pub can_stats: bool,
    /// Unread notices (工作通知).
    pub unread: i64,
    /// Administrators, leaders and supervisors: broadcasts to groups (定向发送).
    pub can_broadcast: bool,
    /// Leaders, supervisors, unit heads and registrars (petition bureaus): early warnings (预警).
    pub can_warnings: bool,
}

/// A signed-in staff member with a usable session.
pub struct Signed {
    pub id: String,
    pub session: StaffSession,
    pub actor: Actor,
    /// Unread notices (工作通知), for the count in the frame.
    pub unread: i64,
}

impl Signed {
    pub fn ctx(&self, prefs: Prefs, here: impl Into<String>) -> Ctx {
        let unit_name = self
            .session
            .active_unit
            .as_ref()
            .and_then(|u| self.session.units.iter().find(|m| &m.unit_id == u))
            .map(|m| m.unit_name.clone())
            .unwrap_or_default();
        Ctx::new(prefs, here).with_staff(StaffNav {
            display_name: self.session.user.display_name.clone(),
            unit_name,
            csrf: self.session.csrf_token.clone(),
        })
    }

    pub fn chrome(&self, ctx: &Ctx, section: &'static str) -> Chrome {
        let active = self.session.active_unit.as_deref();
        Chrome {
            section,
            units: self
                .session
                .units
                .iter()
                .map(|m| UnitChoice {
                    id: m.unit_id.clone(),
                    name: m.unit_name.clone(),
                    roles: role_labels(ctx, &m.roles),
                    active: Some(m.unit_id.as_str()) == active,
                })
                .collect(),
            roles: role_labels(
                ctx,
                &self
                    .actor
                    .roles
                    .iter()
                    .map(|r| r.as_str().to_string())
                    .collect::<Vec<_>>(),
            ),
            can_intake: self.actor.has(Role::Registrar) || self.actor.has(Role::Proxy),
            is_leader: self.actor.has(Role::Leader)
                || self.actor.has(Role::Supervisor)
                || self.actor.has(Role::UnitHead),
            is_supervisor: self.actor.has(Role::Supervisor) || self.actor.has(Role::Leader),
            is_admin: self.actor.has(Role::Administrator) || self.actor.has(Role::Auditor),
            can_search: [
                Role::Registrar,
                Role::Handler,
                Role::UnitHead,
                Role::Leader,
                Role::Supervisor,
            ]
            .iter()
            .any(|r| self.actor.has(*r)),
            can_stats: [
                Role::Registrar,
                Role::Handler,
                Role::UnitHead,
                Role::Leader,
                Role::Supervisor,
                Role::Analyst,
                Role::Auditor,
            ]
            .iter()
            .any(|r| self.actor.has(*r)),
            unread: self.unread,
            can_broadcast: [Role::Administrator, Role::Leader, Role::Supervisor]
                .iter()
                .any(|r| self.actor.has(*r)),
            can_warnings: [
                Role::Leader,
                Role::Supervisor,
                Role::UnitHead,
                Role::Registrar,
            ]
            .iter()
            .any(|r| self.actor.has(*r)),
        }
    }

    pub fn unit(&self) -> Option<&str> {
        self.session.active_unit.as_deref()
    }

    /// Refuses a form whose `_csrf` is not this session's token.
    // The error is the handler's finished answer, returned at once: boxing buys nothing.
    #[allow(clippy::result_large_err)]
    pub fn check_csrf(&self, prefs: Prefs, form: &FormData) -> Result<(), Response> {
        if same_token(form.get("_csrf"), &self.session.csrf_token) {
            Ok(())
        } else {
            tracing::warn!(user_id = %self.session.user.id, "page form CSRF check failed");
            let ctx = Ctx::new(prefs, "/staff");
            let message = ctx.t("staff.csrf.body").to_string();
            Err(error_page(
                ctx,
                StatusCode::FORBIDDEN,
                "staff.csrf.title",
                message,
            ))
        }
    }
}

fn role_labels(ctx: &Ctx, roles: &[String]) -> String {
    roles
        .iter()
        .map(|r| ctx.t(&format!("role.{r}")))
        .collect::<Vec<_>>()
        .join(ctx.t("staff.list_sep"))
}

fn session_id(state: &WebState, headers: &HeaderMap) -> Option<String> {
    let name = auth::session_cookie_name(auth::is_secure(state, headers));
    auth::cookie(headers, name)
}

fn login_redirect(here: &str) -> Response {
    let next = url_encode(here);
    Redirect::to(&format!("/staff/login?next={next}")).into_response()
}

/// The signed-in staff member, or the way to the sign-in step they still owe: the login
/// form, the second factor, or the password change.
#[allow(clippy::result_large_err)]
/// [`signed_in`] for a page that comes back to where it was (path and query) after signing in;
/// returns that place too (`fallback` when the request has none).
pub async fn signed_at(
    state: &WebState,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    fallback: &str,
) -> Result<(Signed, String), Response> {
    let here = uri
        .path_and_query()
        .map_or_else(|| fallback.to_string(), |p| p.as_str().to_string());
    let signed = signed_in(state, headers, &here).await?;
    Ok((signed, here))
}

pub async fn signed_in(
    state: &WebState,
    headers: &HeaderMap,
    here: &str,
) -> Result<Signed, Response> {
    let Some(id) = session_id(state, headers) else {
        return Err(login_redirect(here));
    };
    let session = match state.app.session(&id).await {
        Ok(s) => s,
        Err(AuthError::Unauthenticated(_)) => return Err(login_redirect(here)),
        Err(e) => return Err(ApiError::from(e).into_response()),
    };
    match session.blocked() {
        Some(AuthError::MfaRequired) => {
            return Err(Redirect::to("/staff/login/totp").into_response());
        }
        Some(AuthError::PasswordChangeRequired) => {
            return Err(Redirect::to("/staff/password").into_response());
        }
        _ => {}
    }
    let actor = session.actor();
    let unread = match state.app.unread_notices(&session.user.id).await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "unread notices not counted");
            0
        }
    };
    Ok(Signed {
        id,
        session,
        actor,
        unread,
    })
}

/// Percent-encodes a query value.
pub fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An application error as an HTML page (404 for what is out of scope, 403, 409…).
pub fn app_error_page(ctx: Ctx, err: ApiError) -> Response {
    let err = super::domain_text::localize(ctx.lang, err);
    let key = match err.status {
        StatusCode::NOT_FOUND => "error.not_found.title",
        StatusCode::FORBIDDEN => "staff.forbidden.title",
        s if s.is_server_error() => "error.internal.title",
        _ => "staff.error.title",
    };
    let message = if err.status.is_server_error() {
        ctx.t("error.internal.body").to_string()
    } else {
        err.body.message.clone()
    };
    error_page(ctx, err.status, key, message)
}

// ---------------------------------------------------------------------------------------------
// Sign-in, second factor, password change, sign-out, unit switch

#[derive(askama::Template)]
#[template(path = "staff/auth.html")]
struct AuthPage {
    ctx: Ctx,
    /// `login`, `totp`, `enrol` or `password`.
    mode: &'static str,
    action: &'static str,
    csrf: String,
    next: String,
    fields: Fields,
    errors: Vec<String>,
    secret: String,
    otpauth: String,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

fn login_fields(ctx: &Ctx) -> Fields {
    Fields(vec![
        Field::new("login", "username", "text", ctx.t("staff.login.username"))
            .required()
            .autocomplete("username"),
        Field::new(
            "login",
            "password",
            "password",
            ctx.t("staff.login.password"),
        )
        .required()
        .autocomplete("current-password"),
        Field::new("login", "totp", "text", ctx.t("staff.login.totp"))
            .hint(ctx.t("staff.login.totp_hint"))
            .autocomplete("one-time-code"),
    ])
}

fn login_form(
    ctx: Ctx,
    status: StatusCode,
    fields: Fields,
    errors: Vec<String>,
    next: String,
) -> Response {
    let token = huiyin_app::auth::new_session_id();
    let page = AuthPage {
        ctx,
        mode: "login",
        action: "/staff/login",
        csrf: token.clone(),
        next,
        fields,
        errors,
        secret: String::new(),
        otpauth: String::new(),
    };
    let mut res = render(status, &page);
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{LOGIN_CSRF_COOKIE}={token}; Path=/staff/login; HttpOnly; SameSite=Strict"
    )) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

async fn login_page(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    // Someone already signed in goes straight on.
    if let Some(id) = session_id(&state, &headers)
        && let Ok(s) = state.app.session(&id).await
        && s.blocked().is_none()
    {
        return Redirect::to(&next).into_response();
    }
    let ctx = Ctx::new(prefs, "/staff/login");
    let fields = login_fields(&ctx);
    login_form(ctx, StatusCode::OK, fields, Vec::new(), next)
}

/// Only workbench paths are followed after sign-in.
fn safe_next(next: Option<&str>) -> String {
    let back = safe_back(next);
    if back.starts_with("/staff") && !back.starts_with("/staff/login") {
        back
    } else {
        "/staff".to_string()
    }
}

fn with_session(state: &WebState, headers: &HeaderMap, id: &str, to: &str) -> Response {
    let secure = auth::is_secure(state, headers);
    let mut res = Redirect::to(to).into_response();
    match auth::set_cookie(auth::session_cookie_name(secure), id, secure) {
        Ok(v) => {
            res.headers_mut().append(header::SET_COOKIE, v);
            res
        }
        Err(e) => e.into_response(),
    }
}

async fn login_submit(
    State(state): State<WebState>,
    prefs: Prefs,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<FormData>,
) -> Response {
    let ctx = Ctx::new(prefs, "/staff/login");
    let next = safe_next(Some(form.get("next")));
    let mut fields = login_fields(&ctx);
    fields.fill(&form);
    let paired = auth::cookie(&headers, LOGIN_CSRF_COOKIE)
        .is_some_and(|c| same_token(form.get("_csrf"), &c));
    if !paired {
        let errors = vec![ctx.t("staff.login.csrf").to_string()];
        return login_form(ctx, StatusCode::FORBIDDEN, fields, errors, next);
    }
    if !fields.check_required(|label| ctx.tf("staff.form.required", &[("field", label)])) {
        return login_form(
            ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            fields,
            Vec::new(),
            next,
        );
    }
    let previous = session_id(&state, &headers);
    let totp = form.get("totp");
    let result = state
        .app
        .login(
            form.get("username"),
            form.get("password"),
            (!totp.is_empty()).then_some(totp),
            &ip.to_string(),
            previous.as_deref(),
        )
        .await;
    match result {
        Ok(new) => {
            let to = if new.session.mfa_required {
                "/staff/login/totp".to_string()
            } else if new.session.user.must_change_password {
                "/staff/password".to_string()
            } else {
                next
            };
            with_session(&state, &headers, &new.id, &to)
        }
        Err(e) => {
            let err = ApiError::from(e);
            let status = err.status;
            if status.is_server_error() {
                return app_error_page(ctx, err);
            }
            let errors = if err.body.code == "login_failed" {
                vec![ctx.t("staff.login.failed").to_string()]
            } else {
                fields.apply_errors(&err)
            };
            login_form(ctx, status, fields, errors, next)
        }
    }
}

fn totp_fields(ctx: &Ctx) -> Fields {
    Fields(vec![
        Field::new("totp", "code", "text", ctx.t("staff.login.totp"))
            .required()
            .autocomplete("one-time-code"),
    ])
}

/// The second factor: a code, or for an administrator without one, the enrolment.
async fn totp_page(State(state): State<WebState>, prefs: Prefs, headers: HeaderMap) -> Response {
    totp_form(&state, prefs, &headers, None, StatusCode::OK).await
}

async fn totp_form(
    state: &WebState,
    prefs: Prefs,
    headers: &HeaderMap,
    failed: Option<(Fields, Vec<String>)>,
    status: StatusCode,
) -> Response {
    let Some(id) = session_id(state, headers) else {
        return login_redirect("/staff");
    };
    let session = match state.app.session(&id).await {
        Ok(s) => s,
        Err(_) => return login_redirect("/staff"),
    };
    if !session.mfa_required {
        return Redirect::to("/staff").into_response();
    }
    let ctx = Ctx::new(prefs, "/staff/login/totp");
    let (mode, secret, otpauth) = if session.user.totp_enrolled {
        ("totp", String::new(), String::new())
    } else {
        match state.app.totp_enrolment(&id).await {
            Ok(e) => ("enrol", e.secret, e.otpauth_uri),
            Err(e) => return app_error_page(ctx, e.into()),
        }
    };
    let (fields, errors) = failed.unwrap_or_else(|| (totp_fields(&ctx), Vec::new()));
    render(
        status,
        &AuthPage {
            ctx,
            mode,
            action: "/staff/login/totp",
            csrf: session.csrf_token,
            next: String::new(),
            fields,
            errors,
            secret,
            otpauth,
        },
    )
}

async fn totp_submit(
    State(state): State<WebState>,
    prefs: Prefs,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<FormData>,
) -> Response {
    let Some(id) = session_id(&state, &headers) else {
        return login_redirect("/staff");
    };
    let Ok(session) = state.app.session(&id).await else {
        return login_redirect("/staff");
    };
    let ctx = Ctx::new(prefs, "/staff/login/totp");
    if !same_token(form.get("_csrf"), &session.csrf_token) {
        let message = ctx.t("staff.csrf.body").to_string();
        return error_page(ctx, StatusCode::FORBIDDEN, "staff.csrf.title", message);
    }
    let mut fields = totp_fields(&ctx);
    fields.fill(&form);
    match state
        .app
        .totp_verify(&id, form.get("code"), &ip.to_string())
        .await
    {
        Ok(s) if s.user.must_change_password => Redirect::to("/staff/password").into_response(),
        // An administrator without case work has no inbox: the administration is their desk.
        Ok(s)
            if s.actor().has(Role::Administrator)
                && s.actor().roles.iter().all(|r| *r == Role::Administrator) =>
        {
            Redirect::to("/staff/admin").into_response()
        }
        Ok(_) => Redirect::to("/staff").into_response(),
        Err(e) => {
            let err = ApiError::from(e);
            if err.status.is_server_error() {
                return app_error_page(ctx, err);
            }
            let mut errors = fields.apply_errors(&err);
            if err.body.fields.is_empty() && !errors.is_empty() {
                fields.set_error("code", errors.remove(0));
            }
            let status = err.status;
            totp_form(&state, prefs, &headers, Some((fields, errors)), status).await
        }
    }
}

fn password_fields(ctx: &Ctx) -> Fields {
    Fields(vec![
        Field::new(
            "pw",
            "current_password",
            "password",
            ctx.t("staff.password.current"),
        )
        .required()
        .autocomplete("current-password"),
        Field::new(
            "pw",
            "new_password",
            "password",
            ctx.t("staff.password.new"),
        )
        .required()
        .hint(ctx.t("staff.password.rule"))
        .autocomplete("new-password"),
        Field::new(
            "pw",
            "repeat_password",
            "password",
            ctx.t("staff.password.repeat"),
        )
        .required()
        .autocomplete("new-password"),
    ])
}

async fn password_page(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
) -> Response {
    let Some(id) = session_id(&state, &headers) else {
        return login_redirect("/staff/password");
    };
    let Ok(session) = state.app.session(&id).await else {
        return login_redirect("/staff/password");
    };
    if session.mfa_required {
        return Redirect::to("/staff/login/totp").into_response();
    }
    let ctx = Ctx::new(prefs, "/staff/password");
    let fields = password_fields(&ctx);
    render(
        StatusCode::OK,
        &AuthPage {
            ctx,
            mode: "password",
            action: "/staff/password",
            csrf: session.csrf_token,
            next: String::new(),
            fields,
            errors: Vec::new(),
            secret: String::new(),
            otpauth: String::new(),
        },
    )
}

async fn password_submit(
    State(state): State<WebState>,
    prefs: Prefs,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<FormData>,
) -> Response {
    let Some(id) = session_id(&state, &headers) else {
        return login_redirect("/staff/password");
    };
    let Ok(session) = state.app.session(&id).await else {
        return login_redirect("/staff/password");
    };
    let ctx = Ctx::new(prefs, "/staff/password");
    if !same_token(form.get("_csrf"), &session.csrf_token) {
        let message = ctx.t("staff.csrf.body").to_string();
        return error_page(ctx, StatusCode::FORBIDDEN, "staff.csrf.title", message);
    }
    let mut fields = password_fields(&ctx);
    fields.fill(&form);
    let mut errors = Vec::new();
    let mut status = StatusCode::UNPROCESSABLE_ENTITY;
    if fields.check_required(|label| ctx.tf("staff.form.required", &[("field", label)])) {
        if form.get("new_password") != form.get("repeat_password") {
            fields.set_error(
                "repeat_password",
                ctx.t("staff.password.mismatch").to_string(),
            );
        } else {
            match state
                .app
                .change_password(
                    &id,
                    form.get("current_password"),
                    form.get("new_password"),
                    &ip.to_string(),
                )
                .await
            {
                Ok(_) => return Redirect::to("/staff").into_response(),
                Err(e) => {
                    let err = ApiError::from(e);
                    if err.status.is_server_error() {
                        return app_error_page(ctx, err);
                    }
                    status = err.status;
                    errors = fields.apply_errors(&err);
                    if err.body.code == "login_failed" {
                        errors = Vec::new();
                        fields.set_error(
                            "current_password",
                            ctx.t("staff.password.wrong").to_string(),
                        );
                    }
                }
            }
        }
    }
    render(
        status,
        &AuthPage {
            ctx,
            mode: "password",
            action: "/staff/password",
            csrf: session.csrf_token,
            next: String::new(),
            fields,
            errors,
            secret: String::new(),
            otpauth: String::new(),
        },
    )
}

async fn logout(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Form(form): Form<FormData>,
) -> Response {
    let secure = auth::is_secure(&state, &headers);
    let name = auth::session_cookie_name(secure);
    if let Some(id) = session_id(&state, &headers)
        && let Ok(session) = state.app.session(&id).await
    {
        if !same_token(form.get("_csrf"), &session.csrf_token) {
            let ctx = Ctx::new(prefs, "/staff");
            let message = ctx.t("staff.csrf.body").to_string();
            return error_page(ctx, StatusCode::FORBIDDEN, "staff.csrf.title", message);
        }
        if let Err(e) = state.app.logout(&id).await {
            return ApiError::from(e).into_response();
        }
        tracing::info!(user_id = %session.user.id, "logout (page)");
    }
    let mut res = Redirect::to("/staff/login").into_response();
    if let Ok(v) = auth::clear_cookie(name, secure) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

async fn switch_unit(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Form(form): Form<FormData>,
) -> Response {
    let signed = match signed_in(&state, &headers, uri.path()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(r) = signed.check_csrf(prefs, &form) {
        return r;
    }
    match state.app.switch_unit(&signed.id, form.get("unit_id")).await {
        Ok(new) => with_session(&state, &headers, &new.id, "/staff"),
        Err(e) => app_error_page(signed.ctx(prefs, "/staff"), e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_in_the_workbench() {
        assert_eq!(safe_next(Some("/staff/cases/1")), "/staff/cases/1");
        assert_eq!(safe_next(Some("//evil.example")), "/staff");
        assert_eq!(safe_next(Some("/track")), "/staff");
        assert_eq!(safe_next(Some("/staff/login")), "/staff");
        assert_eq!(url_encode("/staff?a=1&b"), "/staff%3Fa%3D1%26b");
    }
}

#[cfg(test)]
mod catalogue_tests {
    use crate::pages::i18n::has;
    use huiyin_domain::case::{Role, Stage};
    use huiyin_domain::petition::Channel;
    use huiyin_domain::policy::ClockKind;

    /// Labels looked up by a computed key (`stage.{…}`, `event.{…}`…) exist for every value.
    #[test]
    fn every_computed_key_exists() {
        let mut keys: Vec<String> = Vec::new();
        keys.extend(Stage::ALL.iter().map(|s| format!("stage.{}", s.as_str())));
        keys.extend(
            Channel::ALL
                .iter()
                .map(|c| format!("channel.{}", c.as_str())),
        );
        keys.extend(Role::ALL.iter().map(|r| format!("role.{}", r.as_str())));
        for k in ClockKind::ALL {
            if let Ok(serde_json::Value::String(s)) = serde_json::to_value(k) {
                keys.push(format!("clock.{s}"));
            }
        }
        keys.extend(super::case::ACTIONS.iter().map(|a| format!("action.{a}")));
        for l in ["red", "yellow", "green"] {
            keys.push(format!("light.{l}"));
        }
        for d in ["acceptance", "decline", "opinion", "review", "rereview"] {
            keys.push(format!("doc.{d}"));
        }
        for d in ["opinion", "review", "rereview"] {
            keys.push(format!("doc.{d}.body"));
            keys.push(format!("doc.{d}.rights"));
        }
        let missing: Vec<&String> = keys.iter().filter(|k| !has(k)).collect();
        assert!(missing.is_empty(), "{missing:?}");
    }
}
