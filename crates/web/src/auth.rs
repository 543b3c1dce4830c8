//! Authentication over HTTP: staff login with server-side sessions in a cookie, CSRF checks,
//! the unit switcher, password change and TOTP; petitioner phone verification; scope checks
//! for API tokens.
//!
//! Cookies. Over HTTPS (the request says `X-Forwarded-Proto: https`, or the server runs with
//! `--secure-cookies`) the staff session cookie is `__Host-huiyin_session` with `Secure`; the
//! `__Host-` prefix makes browsers refuse it unless it is Secure, has `Path=/` and no `Domain`,
//! so no sibling subdomain can plant or overwrite it. Browsers refuse `__Host-` cookies over
//! plain HTTP, so in development on http://127.0.0.1 the name is `huiyin_session` without
//! `Secure`. Each mode reads only its own name. Both are `HttpOnly` and `SameSite=Lax` (Strict
//! would drop the session when a person follows a link from an e-mail or a chat message). The
//! petitioner cookie follows the same rule: `__Host-huiyin_petitioner` / `huiyin_petitioner`.
//!
//! CSRF. A state-changing request (anything but GET, HEAD, OPTIONS) authenticated by the
//! session cookie must carry `X-CSRF-Token` equal to the session's token, which the client
//! gets from the login answer and from `GET /api/v1/auth/session`. Bearer-token requests are
//! exempt: a browser never attaches a bearer token by itself. The login itself only accepts
//! `application/json`, which a cross-site HTML form cannot send.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{MatchedPath, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use huiyin_app::auth::{AuthError, StaffSession};
use huiyin_domain::case::Actor;
use serde::Deserialize;

use crate::error::{ApiError, ErrorBody, FieldErrorBody};
use crate::input::parse_json;
use crate::{ClientIp, WebState, limited};

/// The staff session cookie over HTTPS.
pub const SESSION_COOKIE_SECURE: &str = "__Host-huiyin_session";
/// The staff session cookie over plain HTTP (development only).
pub const SESSION_COOKIE_PLAIN: &str = "huiyin_session";
/// The petitioner session cookie over HTTPS.
pub const PETITIONER_COOKIE_SECURE: &str = "__Host-huiyin_petitioner";
/// The petitioner session cookie over plain HTTP (development only).
pub const PETITIONER_COOKIE_PLAIN: &str = "huiyin_petitioner";
/// The header that must repeat the session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::LoginFailed => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "login_failed",
                "用户名、密码或动态口令不正确",
            ),
            AuthError::Locked(until) => {
                // Shown in China Standard Time, as people read the clock.
                let shown = match chrono::FixedOffset::east_opt(8 * 3600) {
                    Some(cst) => until.with_timezone(&cst).format("%H:%M").to_string(),
                    None => until.format("%H:%M UTC").to_string(),
                };
                ApiError::new(
                    StatusCode::LOCKED,
                    "locked",
                    format!("登录失败次数过多，已暂时锁定，请于 {shown} 后再试或联系管理员"),
                )
            }
            AuthError::RateLimited => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "尝试次数过多，请稍后再试",
            ),
            AuthError::Unauthenticated(m) => ApiError::unauthorized(m),
            AuthError::MfaRequired => ApiError::new(
                StatusCode::FORBIDDEN,
                "mfa_required",
                "需要先通过动态口令验证（POST /api/v1/auth/totp/verify）；管理员须先绑定动态口令（POST /api/v1/auth/totp/enrol）",
            ),
            AuthError::PasswordChangeRequired => ApiError::new(
                StatusCode::FORBIDDEN,
                "password_change_required",
                "初始密码须先修改（POST /api/v1/auth/password）",
            ),
            AuthError::TotpInvalid(m) => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                body: ErrorBody {
                    code: "totp_invalid",
                    message: m.clone(),
                    fields: vec![FieldErrorBody {
                        field: "code".into(),
                        code: "totp_invalid".into(),
                        message: m,
                    }],
                },
            },
            AuthError::PasswordPolicy(errors) => {
                let message = errors
                    .iter()
                    .map(|e| e.message.as_str())
                    .collect::<Vec<_>>()
                    .join("；");
                ApiError {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    body: ErrorBody {
                        code: "password_policy",
                        message,
                        fields: errors
                            .into_iter()
                            .map(|e| FieldErrorBody {
                                field: "new_password".into(),
                                code: e.code.into(),
                                message: e.message,
                            })
                            .collect(),
                    },
                }
            }
            AuthError::CodeInvalid(m) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "code_invalid", m)
            }
            AuthError::CodeAttemptsExceeded => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "code_attempts_exceeded",
                "验证码输错次数过多，已失效，请重新获取",
            ),
            AuthError::SmsUnavailable(m) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "sms_unavailable", m)
            }
            AuthError::App(e) => e.into(),
        }
    }
}

fn csrf_failed() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "csrf_failed",
        "缺少或错误的 X-CSRF-Token 请求头：请使用登录或 GET /api/v1/auth/session 返回的 csrf_token",
    )
}

/// Whether cookies for this request must be `Secure` (and use the `__Host-` names).
pub fn is_secure(state: &WebState, headers: &HeaderMap) -> bool {
    state.app.auth_config().secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

pub(crate) fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        SESSION_COOKIE_SECURE
    } else {
        SESSION_COOKIE_PLAIN
    }
}

pub(crate) fn petitioner_cookie_name(secure: bool) -> &'static str {
    if secure {
        PETITIONER_COOKIE_SECURE
    } else {
        PETITIONER_COOKIE_PLAIN
    }
}

/// The value of cookie `name`, if the request carries it.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

pub(crate) fn set_cookie(name: &str, value: &str, secure: bool) -> Result<HeaderValue, ApiError> {
    let secure_attr = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax{secure_attr}"
    ))
    .map_err(|e| {
        ApiError::from(huiyin_app::AppError::Internal(anyhow::anyhow!(
            "cookie: {e}"
        )))
    })
}

pub(crate) fn clear_cookie(name: &str, secure: bool) -> Result<HeaderValue, ApiError> {
    let secure_attr = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure_attr}"
    ))
    .map_err(|e| {
        ApiError::from(huiyin_app::AppError::Internal(anyhow::anyhow!(
            "cookie: {e}"
        )))
    })
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn csrf_ok(headers: &HeaderMap, session: &StaffSession) -> bool {
    let Some(given) = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let expected = session.csrf_token.as_bytes();
    let given = given.trim().as_bytes();
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The session of the request's cookie, with the CSRF check for state-changing methods.
async fn current_session(
    state: &WebState,
    method: &Method,
    headers: &HeaderMap,
) -> Result<(String, StaffSession), ApiError> {
    let name = session_cookie_name(is_secure(state, headers));
    let Some(id) = cookie(headers, name) else {
        return Err(ApiError::unauthorized("尚未登录，请先登录"));
    };
    let session = state.app.session(&id).await?;
    if !is_safe(method) && !csrf_ok(headers, &session) {
        tracing::warn!(user_id = %session.user.id, "CSRF check failed");
        return Err(csrf_failed());
    }
    Ok((id, session))
}

/// The staff actor of a session cookie (`None` when the request has no session cookie):
/// CSRF-checked, and refused while a second factor or a password change is pending.
pub async fn staff_from_cookie(parts: &Parts, state: &WebState) -> Result<Option<Actor>, ApiError> {
    let name = session_cookie_name(is_secure(state, &parts.headers));
    if cookie(&parts.headers, name).is_none() {
        return Ok(None);
    }
    let (_, session) = current_session(state, &parts.method, &parts.headers).await?;
    if let Some(blocked) = session.blocked() {
        return Err(blocked.into());
    }
    Ok(Some(session.actor()))
}

/// The scope a bearer token needs for this route (`None`: no scope needed). Routes not listed
/// need a scope no token has, so a scoped token only reaches what it was made for.
pub fn required_scope(method: &Method, route: &str) -> Option<&'static str> {
    let read = is_safe(method);
    match route {
        "/api/v1/me" => None,
        "/api/v1/cases" if read => Some("cases:read"),
        "/api/v1/cases" => Some("petitions:submit"),
        r if r.starts_with("/api/v1/cases/") && read => Some("cases:read"),
        r if r.starts_with("/api/v1/cases/") => Some("cases:write"),
        "/api/v1/units" if read => Some("units:read"),
        "/api/v1/units" => Some("units:write"),
        _ => Some("(unscoped)"),
    }
}

/// Refuses a scoped token on a route outside its scopes.
pub fn check_scope(parts: &Parts, scopes: Option<&[String]>) -> Result<(), ApiError> {
    let Some(scopes) = scopes else {
        return Ok(());
    };
    let route = parts
        .extensions
        .get::<MatchedPath>()
        .map_or_else(|| parts.uri.path().to_string(), |m| m.as_str().to_string());
    match required_scope(&parts.method, &route) {
        None => Ok(()),
        Some(needed) if scopes.iter().any(|s| s == needed) => Ok(()),
        Some(needed) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "scope_missing",
            format!("该 API 令牌的权限范围不包括此接口（需要 {needed}）"),
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Staff endpoints

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginInput {
    username: String,
    password: String,
    #[serde(default)]
    totp: Option<String>,
}

fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let ok = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if ok {
        Ok(())
    } else {
        Err(ApiError::malformed(
            "请以 Content-Type: application/json 提交",
        ))
    }
}

fn with_session_cookie(
    state: &WebState,
    headers: &HeaderMap,
    id: &str,
    body: impl IntoResponse,
) -> Result<Response, ApiError> {
    let secure = is_secure(state, headers);
    let mut response = body.into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(session_cookie_name(secure), id, secure)?,
    );
    no_store(&mut response);
    Ok(response)
}

/// `POST /api/v1/auth/login`
pub async fn login(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_json(&headers)?;
    let input: LoginInput = parse_json(&body)?;
    let previous = cookie(&headers, session_cookie_name(is_secure(&state, &headers)));
    let new = state
        .app
        .login(
            &input.username,
            &input.password,
            input.totp.as_deref().filter(|t| !t.trim().is_empty()),
            &ip.to_string(),
            previous.as_deref(),
        )
        .await?;
    with_session_cookie(&state, &headers, &new.id, Json(new.session))
}

/// `POST /api/v1/auth/logout`: ends the session (CSRF-checked while it is valid).
pub async fn logout(
    State(state): State<WebState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let secure = is_secure(&state, &headers);
    let name = session_cookie_name(secure);
    if let Some(id) = cookie(&headers, name) {
        match state.app.session(&id).await {
            Ok(session) => {
                if !csrf_ok(&headers, &session) {
                    return Err(csrf_failed());
                }
                state.app.logout(&id).await?;
                tracing::info!(user_id = %session.user.id, "logout");
            }
            Err(AuthError::Unauthenticated(_)) => {}
            Err(other) => return Err(other.into()),
        }
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, clear_cookie(name, secure)?);
    Ok(response)
}

/// `GET /api/v1/auth/session`
pub async fn session(
    State(state): State<WebState>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (_, session) = current_session(&state, &method, &headers).await?;
    let mut response = Json(session).into_response();
    no_store(&mut response);
    Ok(response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnitInput {
    unit_id: String,
}

/// `POST /api/v1/auth/unit`: the unit switcher; the session id changes.
pub async fn switch_unit(
    State(state): State<WebState>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (id, _) = current_session(&state, &method, &headers).await?;
    let input: UnitInput = parse_json(&body)?;
    let new = state.app.switch_unit(&id, input.unit_id.trim()).await?;
    with_session_cookie(&state, &headers, &new.id, Json(new.session))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordInput {
    current_password: String,
    new_password: String,
}

/// `POST /api/v1/auth/password`
pub async fn change_password(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (id, _) = current_session(&state, &method, &headers).await?;
    let input: PasswordInput = parse_json(&body)?;
    let session = state
        .app
        .change_password(
            &id,
            &input.current_password,
            &input.new_password,
            &ip.to_string(),
        )
        .await?;
    Ok(Json(session).into_response())
}

/// `POST /api/v1/auth/totp/enrol`
pub async fn totp_enrol(
    State(state): State<WebState>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (id, _) = current_session(&state, &method, &headers).await?;
    let enrolment = state.app.totp_enrol(&id).await?;
    let mut response = Json(enrolment).into_response();
    no_store(&mut response);
    Ok(response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeInput {
    code: String,
}

/// `POST /api/v1/auth/totp/verify`
pub async fn totp_verify(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (id, _) = current_session(&state, &method, &headers).await?;
    let input: CodeInput = parse_json(&body)?;
    let session = state
        .app
        .totp_verify(&id, &input.code, &ip.to_string())
        .await?;
    Ok(Json(session).into_response())
}

// ---------------------------------------------------------------------------------------------
// Petitioner endpoints

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PhoneInput {
    phone: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PhoneVerifyInput {
    phone: String,
    code: String,
}

/// `POST /api/v1/public/phone/start`: sends an SMS code.
pub async fn phone_start(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> Result<Response, ApiError> {
    limited(&state, ip)?;
    let input: PhoneInput = parse_json(&body)?;
    let challenge = state.app.phone_start(&input.phone, &ip.to_string()).await?;
    Ok((StatusCode::ACCEPTED, Json(challenge)).into_response())
}

/// `POST /api/v1/public/phone/verify`: checks the code, opens a petitioner session.
pub async fn phone_verify(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    limited(&state, ip)?;
    let input: PhoneVerifyInput = parse_json(&body)?;
    let login = state
        .app
        .phone_verify(&input.phone, &input.code, &ip.to_string())
        .await?;
    let secure = is_secure(&state, &headers);
    let mut response =
        Json(serde_json::json!({ "phone_masked": login.phone_masked })).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(petitioner_cookie_name(secure), &login.id, secure)?,
    );
    no_store(&mut response);
    Ok(response)
}

/// `GET /api/v1/public/my-petitions`
pub async fn my_petitions(
    State(state): State<WebState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let name = petitioner_cookie_name(is_secure(&state, &headers));
    let Some(id) = cookie(&headers, name) else {
        return Err(ApiError::unauthorized("请先用手机号和短信验证码验证身份"));
    };
    let items = state.app.my_petitions(&id).await?;
    let mut response = Json(serde_json::json!({ "items": items })).into_response();
    no_store(&mut response);
    Ok(response)
}

/// `POST /api/v1/public/phone/logout`
pub async fn petitioner_logout(
    State(state): State<WebState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let secure = is_secure(&state, &headers);
    let name = petitioner_cookie_name(secure);
    if let Some(id) = cookie(&headers, name) {
        state.app.petitioner_logout(&id).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, clear_cookie(name, secure)?);
    Ok(response)
}

// ---------------------------------------------------------------------------------------------
// OpenAPI

/// Adds the authentication paths and the session cookie scheme to the OpenAPI document.
pub fn document_paths(doc: &mut serde_json::Value) {
    use serde_json::json;
    let errors = |ok: serde_json::Value, codes: &[u16]| {
        let mut map = serde_json::Map::new();
        for code in codes {
            let listed: Vec<&str> = crate::error::CATALOGUE
                .iter()
                .filter(|e| e.status == *code)
                .map(|e| e.code)
                .collect();
            map.insert(
                code.to_string(),
                json!({"description": format!("Error ({})", listed.join(", ")),
                       "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}),
            );
        }
        if let serde_json::Value::Object(ok) = ok {
            map.extend(ok);
        }
        serde_json::Value::Object(map)
    };
    let session = json!([{"session": []}]);
    let csrf = json!({"name": "X-CSRF-Token", "in": "header", "required": true, "schema": {"type": "string"}, "description": "The session's csrf_token (cookie-authenticated changes only)"});
    let session_body = json!({"200": {"description": "The session: user, units (with roles), active_unit, csrf_token, mfa_required", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Session"}}}}});
    let paths = json!({
        "/api/v1/auth/login": {"post": {
            "summary": "Log in with username, password and (when enrolled) a TOTP code; sets the session cookie (huiyin_session over http, __Host-huiyin_session over https). Only application/json is accepted.",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["username", "password"], "properties": {"username": {"type": "string"}, "password": {"type": "string"}, "totp": {"type": "string", "pattern": "^[0-9]{6}$"}}}}}},
            "responses": errors(session_body.clone(), &[400, 401, 422, 423, 429])
        }},
        "/api/v1/auth/logout": {"post": {"summary": "End the session", "security": session, "parameters": [csrf],
            "responses": errors(json!({"204": {"description": "Logged out; the cookie is cleared"}}), &[403])}},
        "/api/v1/auth/session": {"get": {"summary": "The current session (and its csrf_token)", "security": session,
            "responses": errors(session_body.clone(), &[401])}},
        "/api/v1/auth/unit": {"post": {"summary": "Switch the active unit (unit switcher); the session id changes", "security": session, "parameters": [csrf],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["unit_id"], "properties": {"unit_id": {"type": "string"}}}}}},
            "responses": errors(session_body.clone(), &[400, 401, 403])}},
        "/api/v1/auth/password": {"post": {"summary": "Change the password (policy: 12+ characters, two classes, not the username, not common); ends the user's other sessions", "security": session, "parameters": [csrf],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["current_password", "new_password"], "properties": {"current_password": {"type": "string"}, "new_password": {"type": "string", "minLength": 12, "maxLength": 128}}}}}},
            "responses": errors(session_body.clone(), &[400, 401, 403, 422, 423])}},
        "/api/v1/auth/totp/enrol": {"post": {"summary": "Start TOTP enrolment: a secret and an otpauth:// URI for a QR code", "security": session, "parameters": [csrf],
            "responses": errors(json!({"200": {"description": "Enrolment", "content": {"application/json": {"schema": {"type": "object", "properties": {"secret": {"type": "string"}, "otpauth_uri": {"type": "string"}}}}}}}), &[401, 403])}},
        "/api/v1/auth/totp/verify": {"post": {"summary": "Confirm enrolment or pass the second factor with a 6-digit code (each code once)", "security": session, "parameters": [csrf],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["code"], "properties": {"code": {"type": "string"}}}}}},
            "responses": errors(session_body, &[400, 401, 403, 422, 423])}},
        "/api/v1/public/phone/start": {"post": {"summary": "Send a 6-digit SMS code to a mobile number (rate-limited per phone and address)",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["phone"], "properties": {"phone": {"type": "string"}}}}}},
            "responses": errors(json!({"202": {"description": "Sent", "content": {"application/json": {"schema": {"type": "object", "properties": {"phone_masked": {"type": "string"}, "expires_in_seconds": {"type": "integer"}}}}}}}), &[400, 422, 429, 503])}},
        "/api/v1/public/phone/verify": {"post": {"summary": "Check the SMS code (5 attempts, 5 minutes); sets the petitioner cookie (huiyin_petitioner)",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["phone", "code"], "properties": {"phone": {"type": "string"}, "code": {"type": "string"}}}}}},
            "responses": errors(json!({"200": {"description": "Verified"}}), &[400, 422, 429])}},
        "/api/v1/public/phone/logout": {"post": {"summary": "End the petitioner session", "responses": {"204": {"description": "Logged out"}}}},
        "/api/v1/public/my-petitions": {"get": {"summary": "The petitions submitted with the verified phone, newest first", "security": [{"petitioner": []}],
            "responses": errors(json!({"200": {"description": "{items: [{case_id, receipt, title, stage, is_open, received_at_ms}]}"}}), &[401])}}
    });
    if let (Some(target), serde_json::Value::Object(add)) =
        (doc.get_mut("paths").and_then(|p| p.as_object_mut()), paths)
    {
        target.extend(add);
    }
    if let Some(schemes) = doc
        .pointer_mut("/components/securitySchemes")
        .and_then(|s| s.as_object_mut())
    {
        schemes.insert("session".into(), json!({"type": "apiKey", "in": "cookie", "name": "__Host-huiyin_session", "description": "Staff session from /api/v1/auth/login (huiyin_session over plain http in development); changes need X-CSRF-Token"}));
        schemes.insert("petitioner".into(), json!({"type": "apiKey", "in": "cookie", "name": "__Host-huiyin_petitioner", "description": "Petitioner session from /api/v1/public/phone/verify (huiyin_petitioner over plain http)"}));
    }
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(|s| s.as_object_mut())
    {
        schemas.insert("Session".into(), json!({"type": "object", "properties": {
            "user": {"type": "object", "properties": {"id": {"type": "string"}, "username": {"type": "string"}, "display_name": {"type": "string"}, "must_change_password": {"type": "boolean"}, "totp_enrolled": {"type": "boolean"}}},
            "units": {"type": "array", "items": {"type": "object", "properties": {"unit_id": {"type": "string"}, "unit_name": {"type": "string"}, "roles": {"type": "array", "items": {"type": "string"}}}}},
            "active_unit": {"type": ["string", "null"]},
            "csrf_token": {"type": "string"},
            "mfa_required": {"type": "boolean"}
        }}));
    }
}

/// Answers that carry session or personal data must not be cached.
fn no_store(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_cover_every_staff_route() {
        assert_eq!(
            required_scope(&Method::GET, "/api/v1/cases"),
            Some("cases:read")
        );
        assert_eq!(
            required_scope(&Method::POST, "/api/v1/cases"),
            Some("petitions:submit")
        );
        assert_eq!(
            required_scope(&Method::POST, "/api/v1/cases/{id}/actions"),
            Some("cases:write")
        );
        assert_eq!(
            required_scope(&Method::GET, "/api/v1/cases/{id}/events"),
            Some("cases:read")
        );
        assert_eq!(
            required_scope(&Method::POST, "/api/v1/units"),
            Some("units:write")
        );
        assert_eq!(required_scope(&Method::GET, "/api/v1/me"), None);
        assert_eq!(
            required_scope(&Method::GET, "/api/v1/audit"),
            Some("(unscoped)")
        );
    }

    #[test]
    fn cookies_parse_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; huiyin_session=abc; __Host-huiyin_session=def"),
        );
        assert_eq!(cookie(&h, "huiyin_session").as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "__Host-huiyin_session").as_deref(), Some("def"));
        assert_eq!(cookie(&h, "session"), None);
    }
}
