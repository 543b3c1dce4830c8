//! Tracking (查询进度): the receipt code and the query secret, always in a POST body (never in
//! a URL), rate-limited per address like the JSON lookup. The petitioner sees their own
//! timeline in plain words, the deadline the organ must keep, the documents addressed to them,
//! and — when open — rating (双满意) and requesting a review (复查) or re-review (复核), with the
//! time left to do so.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use huiyin_app::{AppError, PublicView};
use huiyin_domain::case::{Command, Decision, HandlingOpinion, Satisfaction, Stage};
use huiyin_domain::values::{Reason, ReceiptCode};

use super::body::FormData;
use super::{FieldMsg, app_error_page, date, date_time, days_left, field_message};
use crate::pages::{Ctx, Lang, Prefs, render};
use crate::{ClientIp, WebState, limited};

/// The credentials as typed.
#[derive(Debug, Clone, Default)]
pub struct Creds {
    pub receipt_code: String,
    pub secret: String,
}

/// One line of the timeline.
#[derive(Debug, Clone)]
pub struct Line {
    pub at: String,
    pub text: String,
}

/// A document addressed to the petitioner.
#[derive(Debug, Clone)]
pub struct Doc {
    pub title: &'static str,
    pub decision: &'static str,
    pub request: String,
    pub facts: String,
    pub reasons: String,
    pub legal_basis: String,
}

#[derive(askama::Template)]
#[template(path = "portal/track.html")]
pub struct TrackPage {
    pub ctx: Ctx,
    pub creds: Creds,
    pub errors: Vec<FieldMsg>,
    /// A short confirmation after an action (rated, review requested).
    pub done: Option<&'static str>,
    pub found: bool,
    pub title: String,
    pub stage: String,
    pub received_at: String,
    pub waiting_until: String,
    pub waiting_days: i64,
    pub timeline: Vec<Line>,
    pub docs: Vec<Doc>,
    pub rate_until: String,
    pub rate_days: i64,
    pub review_until: String,
    pub review_days: i64,
    /// The re-review (复核) rather than the review is open.
    pub rereview: bool,
    /// What was entered in the rating and review forms (kept on an error).
    pub bureau: String,
    pub unit: String,
    pub comment: String,
    pub reason: String,
    /// The petitioner agreed to publication of the reply (and may withdraw it).
    pub publish_consent: bool,
}

impl TrackPage {
    pub fn err(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|m| m.field == field)
            .map(|m| m.message.as_str())
    }

    fn empty(ctx: Ctx, creds: Creds) -> TrackPage {
        TrackPage {
            ctx,
            creds,
            errors: Vec::new(),
            done: None,
            found: false,
            title: String::new(),
            stage: String::new(),
            received_at: String::new(),
            waiting_until: String::new(),
            waiting_days: 0,
            timeline: Vec::new(),
            docs: Vec::new(),
            rate_until: String::new(),
            rate_days: 0,
            review_until: String::new(),
            review_days: 0,
            rereview: false,
            bureau: String::new(),
            unit: String::new(),
            comment: String::new(),
            reason: String::new(),
            publish_consent: false,
        }
    }

    fn fill(&mut self, view: &PublicView, now: huiyin_domain::Instant) {
        let lang = self.ctx.lang;
        self.found = true;
        self.publish_consent = view.publish_consent;
        self.title = view.title.clone();
        self.stage = self
            .ctx
            .t(&format!("portal.stage.{}", view.stage.as_str()))
            .to_string();
        self.received_at = date_time(lang, view.received_at);
        if let Some(w) = view.waiting_until {
            self.waiting_until = date(lang, w);
            self.waiting_days = days_left(now, w);
        }
        self.timeline = view
            .timeline
            .iter()
            .rev()
            .map(|t| Line {
                at: date_time(lang, t.at),
                text: match lang {
                    Lang::Zh if !t.summary.is_empty() => t.summary.clone(),
                    _ => self.ctx.t(&format!("portal.event.{}", t.kind)).to_string(),
                },
            })
            .collect();
        let mut docs = Vec::new();
        for (key, op) in [
            ("portal.doc.opinion", &view.opinion),
            ("portal.doc.review", &view.review_opinion),
            ("portal.doc.rereview", &view.rereview_opinion),
        ] {
            if let Some(op) = op {
                docs.push(doc(&self.ctx, key, op));
            }
        }
        self.docs = docs;
        if let Some(t) = view.can_rate_until {
            self.rate_until = date(lang, t);
            self.rate_days = days_left(now, t);
        }
        if let Some(t) = view
            .can_request_review_until
            .or(view.can_request_rereview_until)
        {
            self.review_until = date(lang, t);
            self.review_days = days_left(now, t);
            self.rereview = view.can_request_review_until.is_none();
        }
    }
}

fn doc(ctx: &Ctx, key: &str, op: &HandlingOpinion) -> Doc {
    Doc {
        title: ctx.t(key),
        decision: ctx.t(match op.decision {
            Decision::Support => "portal.decision.support",
            Decision::Explain => "portal.decision.explain",
            Decision::NotSupport => "portal.decision.not_support",
        }),
        request: op.request.to_string(),
        facts: op.facts.to_string(),
        reasons: op.reasons.to_string(),
        legal_basis: op.legal_basis.to_string(),
    }
}

/// `GET /track`: the form.
pub async fn form(prefs: Prefs) -> Response {
    let ctx = Ctx::new(prefs, "/track");
    render(StatusCode::OK, &TrackPage::empty(ctx, Creds::default()))
}

async fn read(req: axum::extract::Request) -> FormData {
    let (parts, body) = req.into_parts();
    super::body::read_form(&parts.headers, body).await
}

fn creds_of(form: &FormData) -> Creds {
    Creds {
        receipt_code: form.text("receipt_code").trim().chars().take(40).collect(),
        secret: form.text("secret").trim().chars().take(100).collect(),
    }
}

/// Checks the credentials' form; a wrong code or secret is one message (no hint which).
fn parse_creds(ctx: &Ctx, creds: &Creds) -> Result<ReceiptCode, Vec<FieldMsg>> {
    let mut errors = Vec::new();
    let receipt = if creds.receipt_code.is_empty() {
        errors.push(FieldMsg {
            field: "receipt_code".into(),
            message: ctx.t("portal.err.receipt_required").into(),
        });
        None
    } else {
        match ReceiptCode::parse(&creds.receipt_code) {
            Ok(r) => Some(r),
            Err(e) => {
                errors.push(FieldMsg {
                    field: "receipt_code".into(),
                    message: field_message(ctx.lang, e.code, &e.message),
                });
                None
            }
        }
    };
    if creds.secret.is_empty() {
        errors.push(FieldMsg {
            field: "secret".into(),
            message: ctx.t("portal.err.secret_required").into(),
        });
    }
    match receipt {
        Some(r) if errors.is_empty() => Ok(r),
        _ => Err(errors),
    }
}

fn with_errors(mut page: TrackPage, errors: Vec<FieldMsg>) -> Response {
    page.errors = errors;
    render(StatusCode::UNPROCESSABLE_ENTITY, &page)
}

/// The lookup after the rate limit and the credentials' form are checked.
async fn lookup_view(
    state: &WebState,
    ctx: &Ctx,
    ip: std::net::IpAddr,
    creds: &Creds,
) -> Result<Result<(ReceiptCode, PublicView), (StatusCode, Vec<FieldMsg>)>, AppError> {
    if limited(state, ip).is_err() {
        return Ok(Err((
            StatusCode::TOO_MANY_REQUESTS,
            vec![FieldMsg {
                field: "receipt_code".into(),
                message: ctx.t("portal.err.rate_limited").into(),
            }],
        )));
    }
    let receipt = match parse_creds(ctx, creds) {
        Ok(r) => r,
        Err(errors) => return Ok(Err((StatusCode::UNPROCESSABLE_ENTITY, errors))),
    };
    match state.app.public_lookup(&receipt, &creds.secret).await {
        Ok(view) => Ok(Ok((receipt, view))),
        Err(AppError::NotFound(_)) => Ok(Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            vec![FieldMsg {
                field: "secret".into(),
                message: ctx.t("portal.err.not_found").into(),
            }],
        ))),
        Err(e) => Err(e),
    }
}

/// `POST /track`: look the case up.
pub async fn lookup(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    prefs: Prefs,
    req: axum::extract::Request,
) -> Response {
    let ctx = Ctx::new(prefs, "/track");
    let form = read(req).await;
    let creds = creds_of(&form);
    match lookup_view(&state, &ctx, ip, &creds).await {
        Ok(Ok((_, view))) => {
            let now = state.app.now();
            let mut page = TrackPage::empty(ctx, creds);
            page.fill(&view, now);
            render(StatusCode::OK, &page)
        }
        Ok(Err((status, errors))) => {
            let mut page = TrackPage::empty(ctx, creds);
            page.errors = errors;
            render(status, &page)
        }
        Err(e) => app_error_page(ctx, &e),
    }
}

fn satisfaction(raw: &str) -> Option<Satisfaction> {
    match raw {
        "satisfied" => Some(Satisfaction::Satisfied),
        "basically_satisfied" => Some(Satisfaction::BasicallySatisfied),
        "unsatisfied" => Some(Satisfaction::Unsatisfied),
        _ => None,
    }
}

/// Runs a petitioner command after the lookup; re-displays the page with messages on failure.
async fn act(
    state: &WebState,
    ctx: Ctx,
    ip: std::net::IpAddr,
    form: &FormData,
    build: impl FnOnce(&Ctx, &ReceiptCode, &Creds) -> BuildResult,
) -> Response {
    let creds = creds_of(form);
    let entered = |page: &mut TrackPage| {
        page.bureau = form.text("bureau");
        page.unit = form.text("unit");
        page.comment = form.text("comment");
        page.reason = form.text("reason");
    };
    let (receipt, view) = match lookup_view(state, &ctx, ip, &creds).await {
        Ok(Ok(found)) => found,
        Ok(Err((status, errors))) => {
            let mut page = TrackPage::empty(ctx, creds);
            page.errors = errors;
            return render(status, &page);
        }
        Err(e) => return app_error_page(ctx, &e),
    };
    let now = state.app.now();
    let mut page = TrackPage::empty(ctx.clone(), creds.clone());
    page.fill(&view, now);
    entered(&mut page);
    let (command, done) = match build(&ctx, &receipt, &creds) {
        BuildResult::Command(c, done) => (c, done),
        BuildResult::Invalid(errors) => return with_errors(page, errors),
        BuildResult::Failed(e) => return app_error_page(ctx, &e),
    };
    match state
        .app
        .petitioner_command(&receipt, &creds.secret, *command)
        .await
    {
        Ok(view) => {
            let mut page = TrackPage::empty(ctx, creds);
            page.fill(&view, state.app.now());
            page.done = Some(done);
            render(StatusCode::OK, &page)
        }
        Err(AppError::Rejected(r)) => with_errors(
            page,
            vec![FieldMsg {
                field: "action".into(),
                message: format!("{}{}", ctx.t("portal.err.action_refused"), r),
            }],
        ),
        Err(AppError::Invalid(list)) => {
            let errors = list
                .into_iter()
                .map(|(field, e)| FieldMsg {
                    field: if field.contains("reason") {
                        "reason".into()
                    } else {
                        field
                    },
                    message: field_message(ctx.lang, e.code, &e.message),
                })
                .collect();
            with_errors(page, errors)
        }
        Err(e) => app_error_page(ctx, &e),
    }
}

enum BuildResult {
    Command(Box<Command>, &'static str),
    Invalid(Vec<FieldMsg>),
    Failed(AppError),
}

/// `POST /track/rate`: 双满意 — the bureau and the unit, each 满意/基本满意/不满意.
pub async fn rate(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    prefs: Prefs,
    req: axum::extract::Request,
) -> Response {
    let ctx = Ctx::new(prefs, "/track");
    let form = read(req).await;
    let bureau = satisfaction(&form.text("bureau"));
    let unit = satisfaction(&form.text("unit"));
    let comment_raw = form.text("comment");
    act(&state, ctx, ip, &form, move |ctx, _, _| {
        let mut errors = Vec::new();
        if bureau.is_none() {
            errors.push(FieldMsg {
                field: "bureau".into(),
                message: ctx.t("portal.err.rate_bureau").into(),
            });
        }
        if unit.is_none() {
            errors.push(FieldMsg {
                field: "unit".into(),
                message: ctx.t("portal.err.rate_unit").into(),
            });
        }
        let comment = if comment_raw.trim().is_empty() {
            None
        } else {
            match Reason::parse(&comment_raw) {
                Ok(r) => Some(r),
                Err(e) => {
                    errors.push(FieldMsg {
                        field: "comment".into(),
                        message: field_message(ctx.lang, e.code, &e.message),
                    });
                    None
                }
            }
        };
        match (bureau, unit) {
            (Some(bureau), Some(unit)) if errors.is_empty() => BuildResult::Command(
                Box::new(Command::Rate {
                    bureau,
                    unit,
                    comment,
                }),
                "portal.track.rated",
            ),
            _ => BuildResult::Invalid(errors),
        }
    })
    .await
}

/// `POST /track/unpublish`: withdraw the consent to publish the reply (撤回公开同意).
pub async fn unpublish(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    prefs: Prefs,
    req: axum::extract::Request,
) -> Response {
    let ctx = Ctx::new(prefs, "/track");
    let form = read(req).await;
    act(&state, ctx, ip, &form, |_, _, _| {
        BuildResult::Command(
            Box::new(Command::WithdrawPublicationConsent),
            "portal.track.unpublished",
        )
    })
    .await
}

/// `POST /track/review`: ask for a review (复查) — or a re-review (复核) after one — with the
/// reason; it goes to the next-higher organ.
pub async fn review(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    prefs: Prefs,
    req: axum::extract::Request,
) -> Response {
    let ctx = Ctx::new(prefs, "/track");
    let form = read(req).await;
    let reason_raw = form.text("reason");
    let creds = creds_of(&form);
    // Which one is open decides the command; the unit is found before the command is built.
    // The lookup below counts against the address's limit like every other.
    let allowed = limited(&state, ip).is_ok();
    let receipt = ReceiptCode::parse(&creds.receipt_code)
        .ok()
        .filter(|_| allowed);
    let stage = match &receipt {
        Some(r) => state
            .app
            .public_lookup(r, &creds.secret)
            .await
            .ok()
            .map(|v| v.stage),
        None => None,
    };
    let rereview = stage == Some(Stage::Reviewed);
    let unit = match (&receipt, stage) {
        (Some(r), Some(_)) => Some(
            state
                .app
                .petitioner_review_unit(r, &creds.secret, rereview)
                .await,
        ),
        _ => None,
    };
    act(&state, ctx, ip, &form, move |ctx, _, _| {
        let reason = match Reason::parse(&reason_raw) {
            Ok(r) => r,
            Err(e) => {
                return BuildResult::Invalid(vec![FieldMsg {
                    field: "reason".into(),
                    message: field_message(ctx.lang, e.code, &e.message),
                }]);
            }
        };
        let unit = match unit {
            Some(Ok(u)) => u,
            Some(Err(e)) => return BuildResult::Failed(e),
            None => {
                return BuildResult::Invalid(vec![FieldMsg {
                    field: "secret".into(),
                    message: ctx.t("portal.err.not_found").into(),
                }]);
            }
        };
        if rereview {
            BuildResult::Command(
                Box::new(Command::RequestRereview {
                    reason,
                    rereview_unit: unit,
                }),
                "portal.track.rereview_requested",
            )
        } else {
            BuildResult::Command(
                Box::new(Command::RequestReview {
                    reason,
                    review_unit: unit,
                }),
                "portal.track.review_requested",
            )
        }
    })
    .await
}
