//! Submitting a petition in steps (我要信访): who you are, what happened, where, what you ask
//! for, attachments, review and confirm. Each step is one POST of the whole draft: the fields of
//! the other steps travel as hidden inputs, so a failed check re-displays everything entered,
//! and nothing depends on JavaScript. The draft's random id is the idempotency key of the final
//! submit (a double submit creates one petition) and the owner of its uploads. `portal.js`
//! also keeps the draft in localStorage, so a dropped connection loses nothing.
//!
//! A proxy (代理员) signed in as staff uses the same steps under `/proxy/submit`, with the
//! villager's consent recorded.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use huiyin_app::attachments::{self, MAX_ATTACHMENTS, is_draft_id, new_draft_id};
use huiyin_app::{AppError, NewPetition, Receipt};
use huiyin_domain::case::{Actor, Role};
use huiyin_domain::ids::ActorId;
use huiyin_domain::petition::{Channel, Person, Petition, Petitioner, ProxyFiling};
use huiyin_domain::values::{
    Address, FieldError, IdCardNumber, PersonName, PetitionText, PhoneNumber, RegionCode, Title,
};
use huiyin_store::AttachmentRecord;
use serde::Deserialize;

use super::body::{FormData, read_form};
use super::regions::{self, Choice};
use super::{FieldMsg, app_error_page, date_time, field_message};
use crate::pages::{Ctx, Prefs, StaffNav, render};
use crate::{ClientIp, WebState, auth};

/// The most characters of "what you ask for" (诉求).
pub const MAX_ASK_CHARS: usize = 2_000;
/// The fewest characters of "what you ask for".
pub const MIN_ASK_CHARS: usize = 2;
/// The most characters of the proxy's note on the villager's consent.
pub const MAX_CONSENT_CHARS: usize = 200;
/// The heading the request gets inside the petition text the organs read.
const ASK_HEADING: &str = "【信访请求】";

/// The steps, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Who,
    What,
    Where,
    Ask,
    Files,
    Review,
}

impl Step {
    pub const ALL: [Step; 6] = [
        Step::Who,
        Step::What,
        Step::Where,
        Step::Ask,
        Step::Files,
        Step::Review,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Who => "who",
            Step::What => "what",
            Step::Where => "where",
            Step::Ask => "ask",
            Step::Files => "files",
            Step::Review => "review",
        }
    }

    pub fn parse(s: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|st| st.as_str() == s)
    }

    fn index(self) -> usize {
        Step::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }

    fn next(self) -> Step {
        Step::ALL
            .get(self.index() + 1)
            .copied()
            .unwrap_or(Step::Review)
    }

    fn prev(self) -> Step {
        self.index()
            .checked_sub(1)
            .and_then(|i| Step::ALL.get(i).copied())
            .unwrap_or(Step::Who)
    }

    /// The catalogue key of the step's short name.
    pub fn label_key(self) -> &'static str {
        match self {
            Step::Who => "portal.step.who",
            Step::What => "portal.step.what",
            Step::Where => "portal.step.where",
            Step::Ask => "portal.step.ask",
            Step::Files => "portal.step.files",
            Step::Review => "portal.step.review",
        }
    }

    /// The fields a person fills in on this step.
    fn fields(self) -> &'static [&'static str] {
        match self {
            Step::Who => &["identity", "name", "phone", "id_card", "address", "consent"],
            Step::What => &["title", "text"],
            Step::Where => &["region"],
            Step::Ask => &["ask", "publish"],
            Step::Files | Step::Review => &[],
        }
    }
}

/// Everything entered so far, as typed (parsed only when checked).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Draft {
    pub draft: String,
    /// "named" or "anonymous".
    pub identity: String,
    pub name: String,
    pub phone: String,
    pub id_card: String,
    pub address: String,
    pub consent: String,
    pub title: String,
    pub text: String,
    pub region: String,
    pub ask: String,
    /// "1" when the petitioner agrees to publication of the reply (同意公开), else empty.
    pub publish: String,
}

impl Draft {
    const FIELDS: [&'static str; 11] = [
        "identity", "name", "phone", "id_card", "address", "consent", "title", "text", "region",
        "ask", "publish",
    ];

    pub fn from_form(form: &FormData) -> Draft {
        let mut d = Draft {
            draft: form.text("draft"),
            ..Draft::default()
        };
        for f in Draft::FIELDS {
            if let Some(v) = form.get(f) {
                *d.field_mut(f) = v.to_string();
            }
        }
        if d.identity != "anonymous" {
            d.identity = "named".into();
        }
        if d.publish != "1" {
            d.publish.clear();
        }
        d
    }

    fn field_mut(&mut self, name: &str) -> &mut String {
        match name {
            "identity" => &mut self.identity,
            "name" => &mut self.name,
            "phone" => &mut self.phone,
            "id_card" => &mut self.id_card,
            "address" => &mut self.address,
            "consent" => &mut self.consent,
            "title" => &mut self.title,
            "text" => &mut self.text,
            "region" => &mut self.region,
            "publish" => &mut self.publish,
            _ => &mut self.ask,
        }
    }

    fn field(&self, name: &str) -> &str {
        match name {
            "identity" => &self.identity,
            "name" => &self.name,
            "phone" => &self.phone,
            "id_card" => &self.id_card,
            "address" => &self.address,
            "consent" => &self.consent,
            "title" => &self.title,
            "text" => &self.text,
            "region" => &self.region,
            "publish" => &self.publish,
            _ => &self.ask,
        }
    }

    pub fn anonymous(&self) -> bool {
        self.identity == "anonymous"
    }

    /// The fields of the other steps, carried as hidden inputs.
    pub fn hidden(&self, step: Step) -> Vec<(&'static str, String)> {
        let shown = step.fields();
        Draft::FIELDS
            .iter()
            .filter(|f| !shown.contains(f))
            .map(|f| (*f, self.field(f).to_string()))
            .filter(|(_, v)| !v.is_empty())
            .collect()
    }

    /// The petition text the organs read: what happened, then the request under its heading.
    fn full_text(&self) -> String {
        format!("{}\n\n{ASK_HEADING}{}", self.text.trim(), self.ask.trim())
    }
}

/// Filing as a petitioner online, or as a proxy for someone.
#[derive(Debug, Clone)]
pub enum Mode {
    Public { ip: std::net::IpAddr, mobile: bool },
    Proxy { actor: Actor },
}

impl Mode {
    fn is_proxy(&self) -> bool {
        matches!(self, Mode::Proxy { .. })
    }
}

struct Errors {
    lang: crate::pages::Lang,
    list: Vec<FieldMsg>,
}

impl Errors {
    fn push(&mut self, field: &str, e: FieldError) {
        self.list.push(FieldMsg {
            field: field.to_string(),
            message: field_message(self.lang, e.code, &e.message),
        });
    }

    fn check<T>(&mut self, field: &str, r: Result<T, FieldError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.push(field, e);
                None
            }
        }
    }

    fn key(&mut self, ctx: &Ctx, field: &str, key: &str) {
        self.list.push(FieldMsg {
            field: field.to_string(),
            message: ctx.t(key).to_string(),
        });
    }
}

/// The checked petitioner of the "who" step.
fn check_who(ctx: &Ctx, d: &Draft, mode: &Mode, e: &mut Errors) -> Option<Petitioner> {
    if mode.is_proxy() {
        let n = d.consent.trim().chars().count();
        if n < 2 {
            e.key(ctx, "consent", "portal.err.consent_required");
        } else if n > MAX_CONSENT_CHARS {
            e.key(ctx, "consent", "portal.err.consent_too_long");
        }
        if d.anonymous() {
            e.key(ctx, "identity", "portal.err.proxy_named");
            return None;
        }
    }
    if d.anonymous() {
        return Some(Petitioner::Anonymous);
    }
    let name = if d.name.trim().is_empty() {
        e.key(ctx, "name", "portal.err.name_required");
        None
    } else {
        e.check("name", PersonName::parse(&d.name))
    };
    let opt = |v: &str| (!v.trim().is_empty()).then(|| v.trim().to_string());
    let phone = opt(&d.phone).map(|p| e.check("phone", PhoneNumber::parse(&p)));
    let id_card = opt(&d.id_card).map(|p| e.check("id_card", IdCardNumber::parse(&p)));
    let address = opt(&d.address).map(|p| e.check("address", Address::parse(&p)));
    if phone.is_none() && address.is_none() {
        e.key(ctx, "phone", "portal.err.contact_required");
    }
    let (Some(name), Some(phone), Some(id_card), Some(address)) = (
        name,
        phone.map_or(Some(None), |p| p.map(Some)),
        id_card.map_or(Some(None), |p| p.map(Some)),
        address.map_or(Some(None), |p| p.map(Some)),
    ) else {
        return None;
    };
    Some(Petitioner::Named(Person {
        name,
        phone,
        id_card,
        address,
    }))
}

async fn check_where(
    state: &WebState,
    ctx: &Ctx,
    d: &Draft,
    e: &mut Errors,
) -> Result<Option<RegionCode>, AppError> {
    if d.region.trim().is_empty() {
        e.key(ctx, "region", "portal.err.region_required");
        return Ok(None);
    }
    let Some(code) = e.check("region", RegionCode::parse(d.region.trim())) else {
        return Ok(None);
    };
    if !regions::known(code.as_str()) {
        e.key(ctx, "region", "portal.err.region_unknown");
        return Ok(None);
    }
    if state
        .app
        .store()
        .bureau_for_region(code.as_str())
        .await
        .map_err(AppError::from)?
        .is_none()
    {
        e.key(ctx, "region", "portal.err.region_not_served");
        return Ok(None);
    }
    Ok(Some(code))
}

fn check_ask(ctx: &Ctx, d: &Draft, e: &mut Errors) {
    let n = d.ask.trim().chars().count();
    if n < MIN_ASK_CHARS {
        e.key(ctx, "ask", "portal.err.ask_required");
    } else if n > MAX_ASK_CHARS {
        e.key(ctx, "ask", "portal.err.ask_too_long");
    }
}

/// Checks one step; the errors go into `e`.
async fn check_step(
    state: &WebState,
    ctx: &Ctx,
    d: &Draft,
    mode: &Mode,
    step: Step,
    e: &mut Errors,
) -> Result<(), AppError> {
    match step {
        Step::Who => {
            check_who(ctx, d, mode, e);
        }
        Step::What => {
            e.check("title", Title::parse(&d.title));
            e.check("text", PetitionText::parse(&d.text));
        }
        Step::Where => {
            check_where(state, ctx, d, e).await?;
        }
        Step::Ask => check_ask(ctx, d, e),
        Step::Files | Step::Review => {}
    }
    Ok(())
}

/// One uploaded file as the page lists it.
#[derive(Debug, Clone)]
pub struct FileRow {
    pub id: String,
    pub file_name: String,
    pub media_type: String,
    pub size: String,
}

fn file_row(a: &AttachmentRecord) -> FileRow {
    let size = if a.size_bytes >= 1024 * 1024 {
        format!("{:.1} MB", a.size_bytes as f64 / (1024.0 * 1024.0))
    } else {
        format!("{} KB", a.size_bytes.div_ceil(1024))
    };
    FileRow {
        id: a.id.clone(),
        file_name: a.file_name.clone(),
        media_type: a.media_type.clone(),
        size,
    }
}

/// A step as the progress bar shows it.
#[derive(Debug, Clone)]
pub struct StepNav {
    pub label: &'static str,
    pub done: bool,
    pub current: bool,
}

#[derive(askama::Template)]
#[template(path = "portal/submit.html")]
pub struct SubmitPage {
    pub ctx: Ctx,
    pub action: &'static str,
    pub proxy: bool,
    pub step: &'static str,
    pub step_no: usize,
    pub steps: Vec<StepNav>,
    pub d: Draft,
    pub hidden: Vec<(&'static str, String)>,
    pub errors: Vec<FieldMsg>,
    /// The where step: the chosen region's path, its sub-regions, the search and its results.
    pub region_path: String,
    pub region_parent: String,
    pub region_children: Vec<Choice>,
    pub region_q: String,
    pub region_results: Vec<Choice>,
    pub searched: bool,
    pub files: Vec<FileRow>,
    pub max_files: usize,
    pub max_mb: usize,
    /// The review step: the region's full name.
    pub region_name: String,
}

impl SubmitPage {
    /// The message next to `field`, if any.
    pub fn err(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|m| m.field == field)
            .map(|m| m.message.as_str())
    }

    /// `aria-describedby` and the invalid class for a field.
    pub fn invalid(&self, field: &str) -> bool {
        self.err(field).is_some()
    }
}

struct View {
    step: Step,
    errors: Vec<FieldMsg>,
    region_q: String,
    searched: bool,
}

async fn page(
    state: &WebState,
    ctx: Ctx,
    mode: &Mode,
    d: Draft,
    view: View,
) -> Result<Response, AppError> {
    let step = view.step;
    let files = state
        .app
        .draft_attachments(&d.draft)
        .await?
        .iter()
        .map(file_row)
        .collect();
    let (region_children, region_path, region_parent) = if step == Step::Where {
        let code = d.region.trim();
        let known = regions::known(code);
        let current = if known { code } else { "" };
        (
            regions::children(current),
            regions::full_name(current),
            if known {
                regions::parent(current)
            } else {
                String::new()
            },
        )
    } else {
        (Vec::new(), String::new(), String::new())
    };
    let region_results = if view.searched {
        regions::search(&view.region_q)
    } else {
        Vec::new()
    };
    let steps = Step::ALL
        .iter()
        .map(|s| StepNav {
            label: ctx.t(s.label_key()),
            done: s.index() < step.index(),
            current: *s == step,
        })
        .collect();
    let status = if view.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let region_name = regions::full_name(d.region.trim());
    let proxy = mode.is_proxy();
    Ok(render(
        status,
        &SubmitPage {
            action: if proxy { "/proxy/submit" } else { "/submit" },
            proxy,
            step: step.as_str(),
            step_no: step.index() + 1,
            steps,
            hidden: d.hidden(step),
            errors: view.errors,
            region_path,
            region_parent,
            region_children,
            region_q: view.region_q,
            region_results,
            searched: view.searched,
            files,
            max_files: MAX_ATTACHMENTS,
            max_mb: attachments::MAX_ATTACHMENT_BYTES / (1024 * 1024),
            region_name,
            d,
            ctx,
        },
    ))
}

fn fresh_draft() -> Draft {
    Draft {
        draft: new_draft_id(),
        identity: "named".into(),
        ..Draft::default()
    }
}

/// `GET /submit`: the first step with a new draft.
pub async fn start(State(state): State<WebState>, prefs: Prefs) -> Response {
    let ctx = Ctx::new(prefs, "/submit");
    let mode = Mode::Public {
        ip: std::net::IpAddr::from([127, 0, 0, 1]),
        mobile: true,
    };
    first_page(&state, ctx, &mode).await
}

async fn first_page(state: &WebState, ctx: Ctx, mode: &Mode) -> Response {
    let view = View {
        step: Step::Who,
        errors: Vec::new(),
        region_q: String::new(),
        searched: false,
    };
    match page(state, ctx.clone(), mode, fresh_draft(), view).await {
        Ok(r) => r,
        Err(e) => app_error_page(ctx, &e),
    }
}

fn is_mobile(headers: &HeaderMap) -> bool {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.contains("Mobi") || ua.contains("Android"))
}

/// `POST /submit`: one step of the public flow.
pub async fn post(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    prefs: Prefs,
    req: Request<Body>,
) -> Response {
    let ctx = Ctx::new(prefs, "/submit");
    let (parts, body) = req.into_parts();
    let mode = Mode::Public {
        ip,
        mobile: is_mobile(&parts.headers),
    };
    let form = read_form(&parts.headers, body).await;
    handle(&state, ctx, mode, form).await
}

/// The signed-in proxy of a page request: a staff session cookie whose active unit gives the
/// Proxy role; a POST must repeat the session's CSRF token in `_csrf`.
async fn proxy_session(
    state: &WebState,
    headers: &HeaderMap,
    form_csrf: Option<&str>,
) -> Result<(Actor, StaffNav), &'static str> {
    let name = if auth::is_secure(state, headers) {
        auth::SESSION_COOKIE_SECURE
    } else {
        auth::SESSION_COOKIE_PLAIN
    };
    let Some(id) = auth::cookie(headers, name) else {
        return Err("portal.proxy.sign_in");
    };
    let Ok(session) = state.app.session(&id).await else {
        return Err("portal.proxy.sign_in");
    };
    if session.blocked().is_some() {
        return Err("portal.proxy.sign_in");
    }
    if let Some(given) = form_csrf {
        let expected = session.csrf_token.as_bytes();
        let given = given.trim().as_bytes();
        let same = given.len() == expected.len()
            && given
                .iter()
                .zip(expected)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if !same {
            return Err("portal.proxy.csrf");
        }
    }
    let actor = session.actor();
    if !actor.has(Role::Proxy) {
        return Err("portal.proxy.not_proxy");
    }
    let unit_name = session
        .units
        .iter()
        .find(|u| Some(&u.unit_id) == session.active_unit.as_ref())
        .map(|u| u.unit_name.clone())
        .unwrap_or_default();
    let nav = StaffNav {
        display_name: session.user.display_name.clone(),
        unit_name,
        csrf: session.csrf_token.clone(),
    };
    Ok((actor, nav))
}

fn proxy_refused(ctx: Ctx, key: &str) -> Response {
    let message = ctx.t(key).to_string();
    crate::pages::error_page(ctx, StatusCode::FORBIDDEN, "portal.proxy.title", message)
}

/// `GET /proxy/submit`: a proxy starts a filing for a villager.
pub async fn proxy_start(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
) -> Response {
    let ctx = Ctx::new(prefs, "/proxy/submit");
    match proxy_session(&state, &headers, None).await {
        Ok((actor, nav)) => first_page(&state, ctx.with_staff(nav), &Mode::Proxy { actor }).await,
        Err(key) => proxy_refused(ctx, key),
    }
}

/// `POST /proxy/submit`: one step of the proxy flow.
pub async fn proxy_post(
    State(state): State<WebState>,
    prefs: Prefs,
    req: Request<Body>,
) -> Response {
    let ctx = Ctx::new(prefs, "/proxy/submit");
    let (parts, body) = req.into_parts();
    let form = read_form(&parts.headers, body).await;
    let csrf = form.text("_csrf");
    match proxy_session(&state, &parts.headers, Some(&csrf)).await {
        Ok((actor, nav)) => handle(&state, ctx.with_staff(nav), Mode::Proxy { actor }, form).await,
        Err(key) => proxy_refused(ctx, key),
    }
}

async fn handle(state: &WebState, ctx: Ctx, mode: Mode, form: FormData) -> Response {
    match step(state, ctx.clone(), mode, form).await {
        Ok(r) => r,
        Err(e) => app_error_page(ctx, &e),
    }
}

/// Uploads the files of a form; a refused file becomes a message on `files`.
async fn take_uploads(
    state: &WebState,
    d: &Draft,
    form: &FormData,
    e: &mut Errors,
) -> Result<(), AppError> {
    let count = form.files.len();
    for (i, file) in form.files.iter().enumerate() {
        if form.truncated && i + 1 == count {
            e.push(
                "files",
                FieldError::new(
                    "attachment_too_large",
                    format!(
                        "文件「{}」太大，上传没有完成（每次上传合计不超过{} MB，单个文件不超过{} MB）",
                        attachments::clean_file_name(&file.file_name),
                        super::body::MAX_FORM_BYTES / (1024 * 1024),
                        attachments::MAX_ATTACHMENT_BYTES / (1024 * 1024)
                    ),
                ),
            );
            continue;
        }
        match state
            .app
            .upload_attachment(&d.draft, &file.file_name, &file.bytes)
            .await
        {
            Ok(_) => {}
            Err(AppError::Invalid(list)) => {
                for (_, fe) in list {
                    e.push("files", fe);
                }
            }
            Err(other) => return Err(other),
        }
    }
    Ok(())
}

async fn step(
    state: &WebState,
    ctx: Ctx,
    mode: Mode,
    form: FormData,
) -> Result<Response, AppError> {
    let mut d = Draft::from_form(&form);
    if !is_draft_id(&d.draft) {
        d.draft = new_draft_id();
    }
    let current = form.get("step").and_then(Step::parse).unwrap_or(Step::Who);
    let go = form.text("go");
    let mut e = Errors {
        lang: ctx.lang,
        list: Vec::new(),
    };
    let mut view = View {
        step: current,
        errors: Vec::new(),
        region_q: form.text("region_q").trim().chars().take(40).collect(),
        searched: false,
    };
    take_uploads(state, &d, &form, &mut e).await?;
    if let Some(id) = form.get("remove") {
        state.app.remove_draft_attachment(&d.draft, id).await?;
        view.errors = e.list;
        return page(state, ctx, &mode, d, view).await;
    }
    if let Some(code) = form
        .get("pickr")
        .or_else(|| (go == "pick").then(|| form.get("pick")).flatten())
    {
        if code.is_empty() || regions::known(code) {
            d.region = code.to_string();
        }
        view.step = Step::Where;
        return page(state, ctx, &mode, d, view).await;
    }
    if current == Step::Where
        && go != "pick"
        && let Some(pick) = form.get("pick").filter(|p| regions::known(p))
    {
        // A region chosen in the list and "next" pressed without "choose" first.
        d.region = pick.to_string();
    }
    match go.as_str() {
        "up" => {
            d.region = regions::parent(d.region.trim());
            view.step = Step::Where;
        }
        "search" => {
            view.step = Step::Where;
            view.searched = true;
        }
        "back" => view.step = current.prev(),
        "upload" => view.step = Step::Files,
        g if g.starts_with("edit:") => {
            view.step = Step::parse(&g[5..]).unwrap_or(current);
        }
        "submit" => return confirm(state, ctx, mode, d, view).await,
        _ => {
            // "next" (or Enter in a field): check this step, then go on.
            check_step(state, &ctx, &d, &mode, current, &mut e).await?;
            if e.list.is_empty() {
                view.step = current.next();
            }
        }
    }
    if !e.list.is_empty() && current == Step::Files {
        view.step = Step::Files;
    }
    view.errors = e.list;
    page(state, ctx, &mode, d, view).await
}

/// The last step: check everything, submit once, show the receipt.
async fn confirm(
    state: &WebState,
    ctx: Ctx,
    mode: Mode,
    d: Draft,
    mut view: View,
) -> Result<Response, AppError> {
    let mut e = Errors {
        lang: ctx.lang,
        list: Vec::new(),
    };
    let petitioner = check_who(&ctx, &d, &mode, &mut e);
    let title = e.check("title", Title::parse(&d.title));
    let text = e.check("text", PetitionText::parse(&d.text));
    let region = check_where(state, &ctx, &d, &mut e).await?;
    check_ask(&ctx, &d, &mut e);
    let full = if e.list.is_empty() {
        e.check("text", PetitionText::parse(&d.full_text()))
    } else {
        None
    };
    let (Some(petitioner), Some(title), Some(_), Some(region), Some(text)) =
        (petitioner, title, text, region, full)
    else {
        // Show the first step with a problem, with every message.
        view.step = Step::ALL
            .into_iter()
            .find(|s| {
                e.list
                    .iter()
                    .any(|m| s.fields().contains(&m.field.as_str()))
            })
            .unwrap_or(Step::Review);
        view.errors = e.list;
        return page(state, ctx, &mode, d, view).await;
    };
    let uploads = state.app.draft_attachments(&d.draft).await?;
    let (actor, channel, proxy) = match &mode {
        Mode::Public { ip, mobile } => (
            Actor {
                id: ActorId::new(format!("public:{ip}")),
                roles: vec![Role::Petitioner],
                unit: None,
                oversees_case: false,
                is_case_petitioner: true,
            },
            if *mobile {
                Channel::MobileWeb
            } else {
                Channel::OnlineWeb
            },
            None,
        ),
        Mode::Proxy { actor } => (
            actor.clone(),
            Channel::Proxy,
            Some(ProxyFiling {
                proxy: actor.id.to_string(),
                consent: d.consent.trim().to_string(),
            }),
        ),
    };
    let petition = Petition {
        channel,
        petitioner,
        group: None,
        title,
        text,
        region,
        category: None,
        class: None,
        attachments: uploads.iter().map(attachments::meta).collect(),
        also_sent_to: Vec::new(),
        publish_consent: d.publish == "1",
        proxy,
    };
    let submitted = state
        .app
        .submit(
            actor,
            NewPetition {
                petition,
                idempotency_key: Some(format!("portal:{}", d.draft)),
                received_at: None,
            },
        )
        .await;
    let receipt = match submitted {
        Ok(r) => r,
        Err(AppError::Invalid(list)) => {
            let mut e = Errors {
                lang: ctx.lang,
                list: Vec::new(),
            };
            for (field, fe) in list {
                e.push(&field, fe);
            }
            view.step = Step::Review;
            view.errors = e.list;
            return page(state, ctx, &mode, d, view).await;
        }
        Err(other) => return Err(other),
    };
    let case_id = huiyin_domain::ids::CaseId::new(receipt.case_id.clone());
    if let Err(err) = state.app.link_attachments(&d.draft, &case_id).await {
        // The uploads stay under the draft (their digests are in the petition): logged, not lost.
        tracing::error!(error = %err, case_id = %receipt.case_id, "linking attachments failed");
    }
    Ok(receipt_page(
        ctx,
        &mode,
        receipt,
        uploads.len(),
        !d.anonymous(),
    ))
}

#[derive(askama::Template)]
#[template(path = "portal/receipt.html")]
pub struct ReceiptPage {
    pub ctx: Ctx,
    pub proxy: bool,
    pub receipt_code: String,
    pub secret: String,
    pub bureau_name: String,
    pub received_at: String,
    pub register_due: String,
    pub attachments: usize,
    pub named: bool,
}

fn receipt_page(ctx: Ctx, mode: &Mode, r: Receipt, attachments: usize, named: bool) -> Response {
    let lang = ctx.lang;
    let mut res = render(
        StatusCode::OK,
        &ReceiptPage {
            proxy: mode.is_proxy(),
            receipt_code: r.receipt_code,
            secret: r.secret,
            bureau_name: r.bureau_name,
            received_at: date_time(lang, r.received_at),
            register_due: r
                .register_due_at
                .map(|t| date_time(lang, t))
                .unwrap_or_default(),
            attachments,
            named,
            ctx,
        },
    );
    res.headers_mut().insert(
        header::HeaderName::from_static("x-robots-tag"),
        header::HeaderValue::from_static("noindex"),
    );
    res
}

#[derive(Deserialize)]
pub struct RegionQuery {
    region_q: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "portal/region_results.html")]
pub struct RegionResults {
    pub ctx: Ctx,
    pub region_results: Vec<Choice>,
    pub searched: bool,
}

/// `GET /submit/regions?region_q=…`: the search results for htmx (the same list the no-JS
/// search button shows).
pub async fn region_suggestions(prefs: Prefs, Query(q): Query<RegionQuery>) -> Response {
    let query: String = q
        .region_q
        .unwrap_or_default()
        .trim()
        .chars()
        .take(40)
        .collect();
    let results = regions::search(&query);
    render(
        StatusCode::OK,
        &RegionResults {
            ctx: Ctx::new(prefs, "/submit"),
            region_results: results,
            searched: !query.is_empty(),
        },
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn hidden_fields_are_the_other_steps() {
        let d = Draft {
            draft: "x".into(),
            identity: "named".into(),
            name: "张三".into(),
            title: "路灯".into(),
            ..Draft::default()
        };
        let h = d.hidden(Step::What);
        assert!(h.contains(&("name", "张三".to_string())));
        assert!(!h.iter().any(|(k, _)| *k == "title"));
        assert_eq!(Step::Who.next(), Step::What);
        assert_eq!(Step::Who.prev(), Step::Who);
        assert_eq!(Step::Review.next(), Step::Review);
    }
}
