//! The case page (案件页): the petition, the petitioner (masked; the unmasked, audited read is
//! behind an explicit button), the timeline, the deadlines with their lights, and a form for
//! each action this user may take now — which actions is asked of the access policy and the
//! lifecycle ([`huiyin_app::App::available_commands`]), never decided here. A failed action
//! re-displays its form with what was entered and the message next to the field; a stale
//! version answers with a conflict message. Also the official documents.

use std::collections::HashMap;

use axum::extract::{Form, OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use huiyin_app::CaseView;
use huiyin_app::access::PersonalView;
use huiyin_domain::case::{CaseState, Command, EventKind, HandlingOpinion, Stage};
use huiyin_domain::ids::CaseId;
use huiyin_store::UnitSearch;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::forms::{Field, Fields, FormData, parse_date_end, show_date, show_time};
use super::inbox::light_word;
use super::{Chrome, Signed, app_error_page, signed_at, signed_in};
use crate::WebState;
use crate::error::ApiError;
use crate::input::parse_json;
use crate::pages::{Ctx, Prefs, render};

/// The actions a staff member may be offered, in the order the page lists them.
pub const ACTIONS: &[&str] = &[
    "register",
    "route",
    "accept",
    "decline",
    "object",
    "resolve_objection",
    "request_extension",
    "decide_extension",
    "reply",
    "submit_completion_report",
    "check_completion_report",
    "rate",
    "request_review",
    "decide_review",
    "request_rereview",
    "start_hearing",
    "end_hearing",
    "decide_rereview",
    "withdraw",
    "merge_into",
    "link",
    "instruct",
    "add_note",
    "take_charge",
    "release_charge",
    "answer_supervision",
    "urge",
    "supervise",
    "circulate",
    "end_named_supervision",
    "schedule_follow_up",
    "record_follow_up",
];

/// The relations a recorded link may have (as the domain's `LinkRelation` names them).
const LINK_RELATIONS: &[&str] = &[
    "repeat",
    "repeat_after_conclusion",
    "multi_addressed",
    "group",
    "same_issue",
];

const PROBE_TEXT: &str = "核查可用操作";

fn probe_opinion() -> Value {
    json!({"request": PROBE_TEXT, "facts": PROBE_TEXT, "reasons": PROBE_TEXT,
           "legal_basis": PROBE_TEXT, "decision": "explain"})
}

/// A candidate command with placeholder arguments, for the dry run.
fn probe(name: &str, s: &CaseState) -> Option<Command> {
    let r = PROBE_TEXT;
    let bureau = s.bureau.as_str();
    let v = match name {
        "register" => json!({"command": name, "class": {"class": "suggestion"}}),
        "route" => json!({"command": name, "kind": {"kind": "forward"}, "unit": bureau}),
        "accept" => json!({"command": name}),
        "decline" => {
            json!({"command": name, "ground": "not_petition_matter", "reason": r, "guidance": r})
        }
        "object" | "withdraw" => json!({"command": name, "reason": r}),
        "resolve_objection" => json!({"command": name, "agree": true, "reason": r}),
        "request_extension" => json!({"command": name, "days": 30, "reason": r}),
        "decide_extension" | "check_completion_report" => {
            json!({"command": name, "approve": true, "reason": r})
        }
        "reply" => json!({"command": name, "opinion": probe_opinion()}),
        "submit_completion_report" => json!({"command": name, "report": r}),
        "rate" => json!({"command": name, "bureau": "satisfied", "unit": "satisfied"}),
        "request_review" => json!({"command": name, "reason": r, "review_unit": bureau}),
        "request_rereview" => json!({"command": name, "reason": r, "rereview_unit": bureau}),
        "decide_review" | "decide_rereview" => {
            json!({"command": name, "outcome": "uphold", "opinion": probe_opinion()})
        }
        "start_hearing" | "end_hearing" => json!({"command": name, "note": r}),
        "merge_into" => json!({"command": name, "into": "probe", "reason": "duplicate"}),
        "link" => json!({"command": name, "to": "probe", "relation": "same_issue"}),
        "instruct" | "add_note" => json!({"command": name, "text": r}),
        "take_charge" => json!({"command": name}),
        "release_charge" | "end_named_supervision" => json!({"command": name, "reason": r}),
        "urge" | "circulate" => json!({"command": name, "text": r}),
        "supervise" => json!({"command": name, "form": "online", "text": r}),
        "schedule_follow_up" => json!({"command": name, "method": "phone"}),
        "record_follow_up" => {
            json!({"command": name, "method": "phone", "outcome": "satisfied", "note": r})
        }
        "answer_supervision" => {
            json!({"command": name, "number": open_order(s)?, "text": r})
        }
        _ => return None,
    };
    serde_json::from_value(v).ok()
}

/// The first 督办单 of the case still waiting for its written answer.
fn open_order(s: &CaseState) -> Option<u32> {
    s.supervision.iter().find(|o| o.is_open()).map(|o| o.number)
}

/// One action's form.
pub struct ActionForm {
    pub name: &'static str,
    pub title: String,
    pub fields: Fields,
    pub errors: Vec<String>,
    pub open: bool,
    pub primary: bool,
}

fn opts(ctx: &Ctx, prefix: &str, values: &[&str]) -> Vec<(String, String)> {
    values
        .iter()
        .map(|v| (v.to_string(), ctx.t(&format!("{prefix}.{v}")).to_string()))
        .collect()
}

fn yes_no(ctx: &Ctx, name: &str, label: &str, yes: &str, no: &str) -> Field {
    Field::new("act", name, "radio", label)
        .required()
        .options(vec![
            ("true".into(), ctx.t(yes).to_string()),
            ("false".into(), ctx.t(no).to_string()),
        ])
}

fn text(name: &str, label: &str) -> Field {
    Field::new("act", name, "textarea", label).required()
}

fn opinion_fields(ctx: &Ctx, decision: Option<Field>) -> Vec<Field> {
    let mut v = vec![
        text("opinion.request", ctx.t("staff.act.f.request")).hint(ctx.t("staff.act.h.request")),
        text("opinion.facts", ctx.t("staff.act.f.facts")).hint(ctx.t("staff.act.h.facts")),
        text("opinion.reasons", ctx.t("staff.act.f.reasons")),
        text("opinion.legal_basis", ctx.t("staff.act.f.legal_basis"))
            .hint(ctx.t("staff.act.h.legal_basis")),
    ];
    v.push(decision.unwrap_or_else(|| {
        Field::new(
            "act",
            "opinion.decision",
            "radio",
            ctx.t("staff.act.f.decision"),
        )
        .required()
        .options(opts(
            ctx,
            "decision",
            &["support", "explain", "not_support"],
        ))
    }));
    v
}

/// The fields of an action's form, with sensible defaults from the case.
fn action_fields(ctx: &Ctx, name: &str, state: &CaseState) -> Fields {
    let f = match name {
        "register" => vec![
            Field::new("act", "class.class", "select", ctx.t("staff.act.f.class"))
                .required()
                .options(opts(ctx, "class", &["suggestion", "accusation", "appeal"]))
                .value(state.class.map_or("appeal", |c| c.code())),
            Field::new("act", "class.route", "select", ctx.t("staff.act.f.route"))
                .hint(ctx.t("staff.act.h.route"))
                .options(opts(
                    ctx,
                    "route",
                    &[
                        "petition_procedure",
                        "law_and_litigation",
                        "arbitration",
                        "party_member_appeal",
                        "administrative_procedure",
                        "legal_duty",
                    ],
                )),
            Field::new("act", "category", "text", ctx.t("staff.act.f.category"))
                .value(state.category.clone().unwrap_or_default()),
            Field::new("act", "accused", "text", ctx.t("staff.act.f.accused"))
                .hint(ctx.t("staff.act.h.accused")),
        ],
        "route" => vec![
            Field::new("act", "kind.kind", "radio", ctx.t("staff.act.f.route_kind"))
                .required()
                .options(opts(ctx, "route_kind", &["assign", "forward", "bureau"]))
                .value("assign"),
            Field::new("act", "kind.due_at", "date", ctx.t("staff.act.f.due_at"))
                .hint(ctx.t("staff.act.h.due_at")),
            Field::new("act", "unit", "text", ctx.t("staff.act.f.unit"))
                .hint(ctx.t("staff.act.h.unit")),
        ],
        "decline" => vec![
            Field::new("act", "ground", "select", ctx.t("staff.act.f.ground"))
                .required()
                .options(opts(
                    ctx,
                    "ground",
                    &[
                        "other_procedure",
                        "not_petition_matter",
                        "already_accepted",
                        "concluded",
                    ],
                )),
            text("reason", ctx.t("staff.act.f.reason")),
            text("guidance", ctx.t("staff.act.f.guidance")).hint(ctx.t("staff.act.h.guidance")),
        ],
        "object" | "withdraw" => vec![text("reason", ctx.t("staff.act.f.reason"))],
        "resolve_objection" => vec![
            yes_no(
                ctx,
                "agree",
                ctx.t("staff.act.f.agree"),
                "staff.act.agree_yes",
                "staff.act.agree_no",
            ),
            text("reason", ctx.t("staff.act.f.reason")),
        ],
        "request_extension" => vec![
            Field::new("act", "days", "number", ctx.t("staff.act.f.days"))
                .required()
                .hint(ctx.t("staff.act.h.days"))
                .value("30"),
            text("reason", ctx.t("staff.act.f.reason")),
        ],
        "decide_extension" | "check_completion_report" => {
            let mut v = vec![
                yes_no(
                    ctx,
                    "approve",
                    ctx.t("staff.act.f.approve"),
                    "staff.act.approve_yes",
                    "staff.act.approve_no",
                ),
                text("reason", ctx.t("staff.act.f.reason")),
            ];
            if name == "check_completion_report" {
                v.push(
                    Field::new("act", "new_due_at", "date", ctx.t("staff.act.f.new_due_at"))
                        .hint(ctx.t("staff.act.h.new_due_at")),
                );
            }
            v
        }
        "reply" => opinion_fields(ctx, None),
        "submit_completion_report" => vec![text("report", ctx.t("staff.act.f.report"))],
        "rate" => vec![
            Field::new("act", "bureau", "select", ctx.t("staff.act.f.rate_bureau"))
                .required()
                .options(opts(
                    ctx,
                    "satisfaction",
                    &["satisfied", "basically_satisfied", "unsatisfied"],
                )),
            Field::new("act", "unit", "select", ctx.t("staff.act.f.rate_unit"))
                .required()
                .options(opts(
                    ctx,
                    "satisfaction",
                    &["satisfied", "basically_satisfied", "unsatisfied"],
                )),
            Field::new("act", "comment", "textarea", ctx.t("staff.act.f.comment")),
        ],
        "request_review" => vec![
            text("reason", ctx.t("staff.act.f.reason")),
            Field::new(
                "act",
                "review_unit",
                "text",
                ctx.t("staff.act.f.review_unit"),
            )
            .required()
            .hint(ctx.t("staff.act.h.unit")),
        ],
        "request_rereview" => vec![
            text("reason", ctx.t("staff.act.f.reason")),
            Field::new(
                "act",
                "rereview_unit",
                "text",
                ctx.t("staff.act.f.rereview_unit"),
            )
            .required()
            .hint(ctx.t("staff.act.h.unit")),
        ],
        "decide_review" | "decide_rereview" => {
            let mut v = vec![
                Field::new("act", "outcome", "radio", ctx.t("staff.act.f.outcome"))
                    .required()
                    .options(opts(ctx, "outcome", &["uphold", "revoke", "change"])),
            ];
            v.extend(opinion_fields(ctx, None));
            v
        }
        "start_hearing" | "end_hearing" => vec![text("note", ctx.t("staff.act.f.note"))],
        "merge_into" => vec![
            Field::new("act", "into", "text", ctx.t("staff.act.f.into"))
                .required()
                .hint(ctx.t("staff.act.h.into")),
            Field::new("act", "reason", "select", ctx.t("staff.act.f.merge_reason"))
                .required()
                .options(opts(ctx, "merge_reason", &["duplicate", "repeat"])),
        ],
        "link" => vec![
            Field::new("act", "to", "text", ctx.t("staff.act.f.link_to"))
                .required()
                .hint(ctx.t("staff.act.h.link_to")),
            Field::new("act", "relation", "select", ctx.t("staff.act.f.relation"))
                .required()
                .options(opts(ctx, "link", LINK_RELATIONS)),
        ],
        "instruct" | "add_note" => vec![text("text", ctx.t("staff.act.f.text"))],
        "release_charge" | "end_named_supervision" => {
            vec![text("reason", ctx.t("staff.act.f.reason"))]
        }
        "urge" | "circulate" => vec![text("text", ctx.t("staff.act.f.text"))],
        "supervise" => vec![
            Field::new(
                "act",
                "form",
                "radio",
                ctx.t("staff.act.f.supervision_form"),
            )
            .required()
            .options(opts(
                ctx,
                "supervision.form",
                &["online", "phone", "on_site"],
            ))
            .value("online"),
            text("text", ctx.t("staff.act.f.supervision_text")),
            Field::new(
                "act",
                "reply_working_days",
                "number",
                ctx.t("staff.act.f.reply_working_days"),
            )
            .hint(ctx.t("staff.act.h.reply_working_days")),
            yes_no(
                ctx,
                "named",
                ctx.t("staff.act.f.named"),
                "staff.act.named_yes",
                "staff.act.named_no",
            )
            .value("false"),
        ],
        "schedule_follow_up" => vec![
            Field::new(
                "act",
                "method",
                "radio",
                ctx.t("staff.act.f.follow_up_method"),
            )
            .required()
            .options(opts(ctx, "follow_up.method", &["phone", "visit"]))
            .value("phone"),
        ],
        "record_follow_up" => vec![
            Field::new(
                "act",
                "method",
                "radio",
                ctx.t("staff.act.f.follow_up_done_by"),
            )
            .required()
            .options(opts(ctx, "follow_up.method", &["phone", "visit"]))
            .value(
                state
                    .follow_ups
                    .iter()
                    .rev()
                    .find(|f| f.is_open())
                    .map_or("phone", |f| f.method.as_str()),
            ),
            Field::new(
                "act",
                "outcome",
                "radio",
                ctx.t("staff.act.f.follow_up_outcome"),
            )
            .required()
            .options(opts(
                ctx,
                "follow_up.outcome",
                &[
                    "satisfied",
                    "basically_satisfied",
                    "unsatisfied",
                    "unreachable",
                ],
            )),
            text("note", ctx.t("staff.act.f.follow_up_note")),
        ],
        "answer_supervision" => vec![
            Field::new("act", "number", "number", ctx.t("staff.act.f.order_number"))
                .required()
                .value(open_order(state).map(|n| n.to_string()).unwrap_or_default()),
            text("text", ctx.t("staff.act.f.supervision_answer")),
        ],
        _ => Vec::new(),
    };
    let mut fields = Fields(f);
    fields.sync();
    fields
}

/// Puts `value` at a dotted path in a JSON object.
fn put(obj: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            obj.insert(path.to_string(), value);
        }
        Some((head, rest)) => {
            let entry = obj
                .entry(head.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(inner) = entry {
                put(inner, rest, value);
            }
        }
    }
}

/// The command a posted action form describes (as the JSON API would receive it).
fn command_json(name: &str, fields: &Fields, ctx: &Ctx) -> Result<Value, (String, String)> {
    let mut obj = Map::new();
    obj.insert("command".into(), Value::String(name.to_string()));
    for f in &fields.0 {
        let v = f.value.trim();
        if v.is_empty() {
            continue;
        }
        let value = match (f.kind, f.name.as_str()) {
            (_, "class.route") if fields.value("class.class") != "appeal" => continue,
            (_, "kind.due_at") if fields.value("kind.kind") != "assign" => continue,
            (_, "accused") => Value::Array(
                v.split([',', '，', ' ', '、'])
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.to_string()))
                    .collect(),
            ),
            ("number", _) => match v.parse::<u32>() {
                Ok(n) => json!(n),
                Err(_) => return Err((f.name.clone(), ctx.t("staff.act.bad_number").into())),
            },
            ("radio", _) if v == "true" || v == "false" => Value::Bool(v == "true"),
            ("date", _) => match parse_date_end(v) {
                Some(t) => Value::String(t.to_rfc3339()),
                None => return Err((f.name.clone(), ctx.t("staff.act.bad_date").into())),
            },
            _ => Value::String(v.to_string()),
        };
        put(&mut obj, &f.name, value);
    }
    Ok(Value::Object(obj))
}

/// A line of the timeline.
pub struct TimelineRow {
    pub at: String,
    pub what: &'static str,
    pub who: String,
    pub detail: String,
}

pub struct DeadlineRow {
    pub kind: &'static str,
    pub due: String,
    pub light: &'static str,
    pub light_word: &'static str,
    pub state: &'static str,
}

pub struct DocLink {
    pub kind: &'static str,
    pub title: &'static str,
}

/// A related case the user may see, with what the page offers to do about it.
pub struct RelatedRow {
    pub id: String,
    pub receipt: String,
    pub title: String,
    pub stage: &'static str,
    pub unit: String,
    pub relation: &'static str,
    pub similarity: Option<String>,
    pub linked: bool,
    /// The 并单 reason preselected for this relation.
    pub merge_reason: &'static str,
    /// The link relation preselected (the relation when it is one a link may record).
    pub link_relation: &'static str,
}

/// An attachment of the petition, as listed on the case page.
pub struct AttachmentRow {
    pub n: usize,
    pub file_name: String,
    pub media_type: String,
    pub size: String,
}

#[derive(askama::Template)]
#[template(path = "staff/case.html")]
pub struct CasePage {
    pub ctx: Ctx,
    pub chrome: Chrome,
    pub id: String,
    pub version: u64,
    pub receipt: String,
    pub title: String,
    pub text: String,
    pub stage: &'static str,
    pub light: &'static str,
    pub light_word: &'static str,
    pub facts: Vec<(&'static str, String)>,
    pub petitioner: Vec<(&'static str, String)>,
    pub petitioner_hidden: bool,
    pub personal: Vec<(String, String)>,
    pub personal_error: Option<String>,
    pub deadlines: Vec<DeadlineRow>,
    pub timeline: Vec<TimelineRow>,
    pub actions: Vec<ActionForm>,
    pub documents: Vec<DocLink>,
    pub related: Vec<RelatedRow>,
    pub related_error: Option<String>,
    pub may_merge: bool,
    pub may_link: bool,
    pub merge_reasons: Vec<(String, String)>,
    pub link_relations: Vec<(String, String)>,
    pub attachments: Vec<AttachmentRow>,
    pub attachments_withheld: bool,
    pub opinion: Option<OpinionView>,
    /// The reply-quality check stored with each issued opinion, newest first.
    pub reply_checks: Vec<ReplyCheckRow>,
    pub units_found: Vec<(String, String, String)>,
    pub unit_q: String,
    pub unit_region: String,
    /// The unit picker's kind filter (a `huiyin_org::UnitKind` code, or empty for any).
    pub unit_kind: String,
    pub unit_kinds: Vec<(String, String)>,
    /// 包案领导: the leaders in personal charge of the case.
    pub in_charge: Vec<ChargeRow>,
    /// 督办单 of the case, newest first.
    pub supervision: Vec<SupervisionRow>,
    /// 挂牌督办 since, if the case is under named supervision.
    pub named_since: Option<String>,
    /// 回访 of the case, newest first.
    pub follow_ups: Vec<FollowUpRow>,
    /// Why an action that the page does not offer (any more) failed.
    pub unoffered_errors: Vec<String>,
    pub notice: Option<String>,
}

/// One 回访 on the case page.
pub struct FollowUpRow {
    pub method: String,
    pub reason: String,
    pub due: String,
    /// `open`, `overdue` or `done`.
    pub status: &'static str,
    pub status_word: String,
    /// When done: how, the outcome and the note.
    pub done: Option<(String, String, String, String)>,
}

/// One stored reply-quality check on the case page.
pub struct ReplyCheckRow {
    pub document: &'static str,
    pub at: String,
    pub score: u8,
    /// (finding text, penalty, evidence)
    pub findings: Vec<(&'static str, u8, String)>,
}

fn reply_check_rows(ctx: &Ctx, s: &huiyin_domain::case::CaseState) -> Vec<ReplyCheckRow> {
    s.reply_checks
        .iter()
        .rev()
        .map(|c| ReplyCheckRow {
            document: ctx.t(&format!("reply.doc.{}", c.document)),
            at: c
                .at
                .with_timezone(&super::forms::cst())
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            score: c.quality.score,
            findings: c
                .quality
                .findings
                .iter()
                .map(|f| {
                    (
                        ctx.t(&format!("reply.finding.{}", f.code)),
                        f.penalty,
                        f.evidence.clone().unwrap_or_default(),
                    )
                })
                .collect(),
        })
        .collect()
}

/// A leader in charge of the case (包案领导), as the case page shows them.
/// A 督办单 as the case page shows it.
pub struct SupervisionRow {
    pub number: u32,
    pub form: String,
    pub by: String,
    pub issued: String,
    pub reply_due: String,
    /// `answered`, `overdue` (unanswered past its deadline) or `open`.
    pub status: &'static str,
    pub status_word: String,
    pub named: bool,
    pub auto: bool,
    pub text: String,
    pub answer: String,
}

pub struct ChargeRow {
    pub name: String,
    pub unit: String,
    pub since: String,
    pub is_me: bool,
}

/// The unit kinds the unit picker filters by, from the organisation catalogue.
pub fn unit_kind_options(ctx: &Ctx) -> Vec<(String, String)> {
    huiyin_org::UnitKind::ALL
        .iter()
        .map(|k| {
            (
                k.as_str().to_string(),
                ctx.t(&format!("unit_kind.{}", k.as_str())).to_string(),
            )
        })
        .collect()
}

/// The kind filter as typed: a known kind code, or nothing.
pub fn known_kind(kind: &str) -> Option<String> {
    huiyin_org::UnitKind::parse(kind.trim()).map(|k| k.as_str().to_string())
}

pub struct OpinionView {
    pub request: String,
    pub facts: String,
    pub reasons: String,
    pub legal_basis: String,
    pub decision: &'static str,
}

fn opinion_view(ctx: &Ctx, o: &HandlingOpinion) -> OpinionView {
    OpinionView {
        request: o.request.to_string(),
        facts: o.facts.to_string(),
        reasons: o.reasons.to_string(),
        legal_basis: o.legal_basis.to_string(),
        decision: ctx.t(&format!("decision.{}", code(&o.decision))),
    }
}

/// The serde name of a unit enum (snake_case).
fn code<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

async fn unit_names(state: &WebState, ids: &[String]) -> HashMap<String, String> {
    match state.app.store().units_by_ids(ids).await {
        Ok(units) => units.into_iter().map(|u| (u.id, u.name)).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "unit names");
            HashMap::new()
        }
    }
}

fn event_detail(ctx: &Ctx, kind: &EventKind, names: &HashMap<String, String>) -> String {
    let unit = |u: &huiyin_domain::ids::UnitId| {
        names
            .get(u.as_str())
            .cloned()
            .unwrap_or_else(|| u.to_string())
    };
    match kind {
        EventKind::Registered {
            class, category, ..
        } => format!(
            "{}{}",
            ctx.t(&format!("class.{}", class.code())),
            category
                .as_ref()
                .map(|c| format!(" · {c}"))
                .unwrap_or_default()
        ),
        EventKind::Routed { route, unit: u, .. } => {
            let kind = match route {
                huiyin_domain::case::RouteKind::Forward => "forward",
                huiyin_domain::case::RouteKind::Assign { .. } => "assign",
                huiyin_domain::case::RouteKind::Bureau => "bureau",
            };
            let due = match route {
                huiyin_domain::case::RouteKind::Assign { due_at } => {
                    format!(" · {} {}", ctx.t("staff.act.f.due_at"), show_date(*due_at))
                }
                _ => String::new(),
            };
            format!(
                "{} → {}{due}",
                ctx.t(&format!("route_kind.{kind}")),
                unit(u)
            )
        }
        EventKind::Declined {
            reason, guidance, ..
        } => format!("{reason} / {guidance}"),
        EventKind::Objected { reason }
        | EventKind::ObjectionAgreed { reason }
        | EventKind::ObjectionOverruled { reason }
        | EventKind::ExtensionRefused { reason }
        | EventKind::CompletionReportApproved { reason }
        | EventKind::Withdrawn { reason } => reason.to_string(),
        EventKind::ExtensionRequested { days, reason }
        | EventKind::ExtensionApproved { days, reason } => {
            format!(
                "{} · {reason}",
                ctx.tf("staff.case.days", &[("n", &days.to_string())])
            )
        }
        EventKind::Replied { opinion, .. } => ctx
            .t(&format!("decision.{}", code(&opinion.decision)))
            .into(),
        EventKind::CompletionReportSubmitted { report } => report.to_string(),
        EventKind::CompletionReportSentBack { reason, .. } => reason.to_string(),
        EventKind::Rated {
            bureau, unit: u, ..
        } => format!(
            "{} {} · {} {}",
            ctx.t("staff.act.f.rate_bureau"),
            ctx.t(&format!("satisfaction.{}", code(bureau))),
            ctx.t("staff.act.f.rate_unit"),
            ctx.t(&format!("satisfaction.{}", code(u)))
        ),
        EventKind::ReviewRequested {
            reason,
            review_unit,
        } => format!("{} · {reason}", unit(review_unit)),
        EventKind::RereviewRequested {
            reason,
            rereview_unit,
        } => format!("{} · {reason}", unit(rereview_unit)),
        EventKind::ReviewDecided { outcome, .. } | EventKind::RereviewDecided { outcome, .. } => {
            ctx.t(&format!("outcome.{}", code(outcome))).into()
        }
        EventKind::HearingStarted { note } | EventKind::HearingEnded { note } => note.to_string(),
        EventKind::MergedInto { into, .. } => into.to_string(),
        EventKind::Absorbed { source, .. } => source.to_string(),
        EventKind::Linked { to, relation } => {
            format!("{} → {to}", ctx.t(&format!("link.{}", relation.as_str())))
        }
        EventKind::NoteAdded { text } | EventKind::Instructed { text } => text.to_string(),
        EventKind::Submitted { .. }
        | EventKind::Accepted { .. }
        | EventKind::PublicationConsentWithdrawn {} => String::new(),
        EventKind::ChargeTaken { unit: u, .. } => u.as_ref().map(unit).unwrap_or_default(),
        EventKind::ChargeReleased { reason, .. } => reason.to_string(),
        EventKind::ChargeHandedOver {
            to_unit, reason, ..
        } => format!("→ {} · {reason}", unit(to_unit)),
        EventKind::Urged {
            text,
            unit: u,
            ladder,
        } => {
            let auto = ladder
                .map(|_| format!(" · {}", ctx.t("supervision.auto")))
                .unwrap_or_default();
            format!("→ {} · {text}{auto}", unit(u))
        }
        EventKind::SupervisionIssued {
            number,
            form,
            text,
            unit: u,
            reply_due_at,
            named,
            ladder,
            ..
        } => {
            let mut parts = vec![
                ctx.tf("supervision.number", &[("n", &number.to_string())]),
                ctx.t(&format!("supervision.form.{}", form.as_str()))
                    .to_string(),
                format!("→ {}", unit(u)),
                format!(
                    "{} {}",
                    ctx.t("supervision.reply_due"),
                    show_date(*reply_due_at)
                ),
            ];
            if *named {
                parts.push(ctx.t("supervision.named").to_string());
            }
            if ladder.is_some() {
                parts.push(ctx.t("supervision.auto").to_string());
            }
            parts.push(text.to_string());
            parts.join(" · ")
        }
        EventKind::SupervisionAnswered { number, text } => format!(
            "{} · {text}",
            ctx.tf("supervision.number", &[("n", &number.to_string())])
        ),
        EventKind::Circulated {
            text,
            unit: u,
            order,
            ..
        } => {
            let order = order
                .map(|n| {
                    format!(
                        " · {}",
                        ctx.tf("supervision.number", &[("n", &n.to_string())])
                    )
                })
                .unwrap_or_default();
            format!("{}{order} · {text}", unit(u))
        }
        EventKind::NamedSupervisionEnded { reason } => reason.to_string(),
        EventKind::FollowUpScheduled {
            reason,
            method,
            due_at,
        } => format!(
            "{} · {} · {}",
            ctx.t(&format!("follow_up.method.{}", method.as_str())),
            ctx.t(&format!("follow_up.reason.{}", reason.as_str())),
            ctx.tf("follow_up.due", &[("date", &show_date(*due_at))])
        ),
        EventKind::FollowUpRecorded {
            method,
            outcome,
            note,
        } => format!(
            "{} · {} · {note}",
            ctx.t(&format!("follow_up.method.{}", method.as_str())),
            ctx.t(&format!("follow_up.outcome.{}", outcome.as_str()))
        ),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct CaseQuery {
    #[serde(default)]
    pub unit_q: String,
    #[serde(default)]
    pub unit_region: String,
    #[serde(default)]
    pub done: String,
    /// The unit picker's kind filter (the same name the htmx fragment takes).
    #[serde(default)]
    pub kind: String,
}

/// What a failed or special render adds to the page.
#[derive(Default)]
pub struct Extra {
    pub failed: Option<(&'static str, Fields, Vec<String>)>,
    pub personal: Option<Result<PersonalView, ApiError>>,
    pub query: CaseQuery,
}

/// Builds the case page for this user (also used by the benchmark).
pub async fn build(
    state: &WebState,
    signed: &Signed,
    ctx: Ctx,
    id: &str,
    extra: Extra,
) -> Result<CasePage, ApiError> {
    let case_id = CaseId::new(id);
    let actor = &signed.actor;
    let view: CaseView = state.app.case_view_for(actor, &case_id).await?;
    let events = state.app.events_for(actor, &case_id).await?;
    let s = &view.state;
    let candidates: Vec<Command> = ACTIONS.iter().filter_map(|n| probe(n, s)).collect();
    let available = state
        .app
        .available_commands(actor, &case_id, candidates)
        .await?;
    // Related cases through the app, which keeps only those the user may read.
    let related_answer = state.app.related_cases(actor, &case_id).await;
    let related_items = match &related_answer {
        Ok(r) => r.items.as_slice(),
        Err(e) => {
            tracing::warn!(case_id = %case_id, error = %e, "related cases");
            &[]
        }
    };
    let attachments = state.app.case_attachments_for(actor, &case_id).await?;
    let mut ids: Vec<String> = s.units().iter().map(|u| u.to_string()).collect();
    ids.extend(related_items.iter().map(|r| r.bureau_id.clone()));
    for e in &events {
        if let Some(u) = &e.event.actor_unit {
            ids.push(u.to_string());
        }
    }
    ids.extend(
        s.supervision
            .iter()
            .filter_map(|o| o.by_unit.as_ref().map(|u| u.to_string())),
    );
    ids.sort();
    ids.dedup();
    let names = unit_names(state, &ids).await;
    let name_of = |u: &huiyin_domain::ids::UnitId| {
        names
            .get(u.as_str())
            .cloned()
            .unwrap_or_else(|| u.to_string())
    };
    let (failed_name, failed) = match extra.failed {
        Some((n, fields, errors)) => (Some(n), Some((fields, errors))),
        None => (None, None),
    };
    let mut failed = failed;
    // An action that is no longer offered (another person acted, or the user may not take
    // it) still says why it failed, above the forms.
    let unoffered_errors = match (&failed_name, &failed) {
        (Some(n), Some((_, errors))) if !available.contains(n) => errors.clone(),
        _ => Vec::new(),
    };
    // The step that moves the case on is opened first: once registered, routing (a second
    // registration only corrects the first).
    let primary = available
        .iter()
        .copied()
        .find(|n| !(s.stage == Stage::Registered && *n == "register"))
        .filter(|n| {
            !matches!(
                *n,
                "add_note"
                    | "instruct"
                    | "link"
                    | "take_charge"
                    | "release_charge"
                    | "urge"
                    | "supervise"
                    | "circulate"
                    | "end_named_supervision"
                    | "schedule_follow_up"
            )
        });
    let rules = state.app.rules();
    let actions: Vec<ActionForm> = available
        .iter()
        .map(|name| {
            let (fields, errors, open) = if Some(*name) == failed_name {
                let (f, e) = failed.take().unwrap_or_default();
                (f, e, true)
            } else {
                let mut fields = action_fields(&ctx, name, s);
                super::administration::category_choice(&ctx, &mut fields, &rules);
                (fields, Vec::new(), false)
            };
            ActionForm {
                name,
                title: ctx.t(&format!("action.{name}")).to_string(),
                fields,
                errors,
                open,
                primary: Some(*name) == primary,
            }
        })
        .collect();
    let mut facts: Vec<(&'static str, String)> = vec![
        (
            ctx.t("staff.case.channel"),
            ctx.t(&format!("channel.{}", s.petition.channel.as_str()))
                .to_string(),
        ),
        (ctx.t("staff.case.received"), show_time(s.received_at)),
        (ctx.t("staff.case.region"), s.petition.region.to_string()),
        (ctx.t("staff.case.bureau"), name_of(&s.bureau)),
    ];
    if let Some(c) = &s.category {
        facts.push((ctx.t("staff.case.category"), c.clone()));
    }
    if let Some(c) = s.class {
        facts.push((
            ctx.t("staff.case.class"),
            ctx.t(&format!("class.{}", c.code())).to_string(),
        ));
    }
    if let Some(r) = &s.routing {
        facts.push((ctx.t("staff.case.unit"), name_of(&r.unit)));
    }
    if let Some(n) = s.petition.group_headcount {
        facts.push((
            ctx.t("staff.case.group"),
            ctx.tf(
                "staff.case.group_value",
                &[
                    ("n", &n.to_string()),
                    ("reps", &s.petition.group_representatives.to_string()),
                ],
            ),
        ));
    }
    let mut petitioner = Vec::new();
    let petitioner_hidden = s.petition.petitioner_masked.is_none() && !s.petition.anonymous;
    if s.petition.anonymous {
        petitioner.push((
            ctx.t("staff.case.p_name"),
            ctx.t("staff.case.anonymous").to_string(),
        ));
    } else if let Some(p) = &s.petition.petitioner_masked {
        petitioner.push((ctx.t("staff.case.p_name"), p.name.clone()));
        if let Some(phone) = &p.phone {
            petitioner.push((ctx.t("staff.case.p_phone"), phone.clone()));
        }
    }
    let (personal, personal_error) = match extra.personal {
        Some(Ok(p)) => (flatten_personal(&ctx, &p.data), None),
        Some(Err(e)) => (Vec::new(), Some(e.body.message)),
        None => (Vec::new(), None),
    };
    let deadlines = view
        .deadlines
        .iter()
        .map(|d| {
            let light = code(&d.light);
            let light: &'static str = match light.as_str() {
                "red" => "red",
                "yellow" => "yellow",
                _ => "green",
            };
            DeadlineRow {
                kind: ctx.t(&format!("clock.{}", code(&d.kind))),
                due: show_time(d.due_at),
                light,
                light_word: light_word(&ctx, light),
                state: if d.paused {
                    ctx.t("staff.case.paused")
                } else if d.running {
                    ctx.t("staff.case.running")
                } else if d.met == Some(true) {
                    ctx.t("staff.case.met")
                } else {
                    ctx.t("staff.case.stopped")
                },
            }
        })
        .collect();
    let timeline = events
        .iter()
        .rev()
        .map(|e| TimelineRow {
            at: show_time(e.event.at),
            what: ctx.t(&format!("event.{}", e.event.kind.name())),
            who: e
                .event
                .actor_unit
                .as_ref()
                .map(&name_of)
                .unwrap_or_default(),
            detail: event_detail(&ctx, &e.event.kind, &names),
        })
        .collect();
    let documents = documents_of(&ctx, &events);
    let related: Vec<RelatedRow> = related_items
        .iter()
        .map(|r| RelatedRow {
            id: r.case_id.clone(),
            receipt: r.receipt_code.clone(),
            title: r.title.clone(),
            stage: ctx.t(&format!("stage.{}", r.stage.as_str())),
            unit: names
                .get(&r.bureau_id)
                .cloned()
                .unwrap_or_else(|| r.bureau_id.clone()),
            relation: ctx.t(&format!("link.{}", r.relation)),
            similarity: r.similarity.map(|j| {
                ctx.tf(
                    "staff.case.similarity",
                    &[("n", &format!("{:.0}", j * 100.0))],
                )
            }),
            linked: r.linked,
            merge_reason: match r.relation {
                "repeat" | "repeat_after_conclusion" => "repeat",
                _ => "duplicate",
            },
            link_relation: LINK_RELATIONS
                .iter()
                .copied()
                .find(|l| *l == r.relation)
                .unwrap_or("same_issue"),
        })
        .collect();
    let related_error = related_answer
        .is_err()
        .then(|| ctx.t("staff.case.related_unavailable").to_string());
    let attachments_withheld = attachments.withheld;
    let attachments: Vec<AttachmentRow> = attachments
        .items
        .iter()
        .enumerate()
        .map(|(i, a)| AttachmentRow {
            n: i + 1,
            file_name: a.file_name.clone(),
            media_type: a.media_type.clone(),
            size: show_size(a.size_bytes),
        })
        .collect();
    let light = code(&view.light);
    let light: &'static str = match light.as_str() {
        "red" => "red",
        "yellow" => "yellow",
        _ => "green",
    };
    let units_found = if !extra.query.unit_q.trim().is_empty() && available.contains(&"route") {
        state
            .app
            .search_units(
                actor,
                &UnitSearch {
                    name: extra.query.unit_q.trim().chars().take(50).collect(),
                    region: Some(extra.query.unit_region.trim().to_string())
                        .filter(|r| r.chars().all(|c| c.is_ascii_digit())),
                    kind: known_kind(&extra.query.kind),
                    limit: 20,
                    with_retired: false,
                },
            )
            .await?
            .into_iter()
            .map(|u| (u.id, u.name, u.region_code))
            .collect()
    } else {
        Vec::new()
    };
    let in_charge = state
        .app
        .charge_views(s)
        .await?
        .into_iter()
        .map(|c| ChargeRow {
            is_me: c.leader == actor.id.as_str(),
            name: c.name,
            unit: c.unit_name.or(c.unit).unwrap_or_default(),
            since: show_time(c.since),
        })
        .collect();
    let now = state.app.now();
    let supervision = s
        .supervision
        .iter()
        .rev()
        .map(|o| {
            let status = if !o.is_open() {
                "answered"
            } else if now > o.reply_due_at {
                "overdue"
            } else {
                "open"
            };
            SupervisionRow {
                number: o.number,
                form: ctx
                    .t(&format!("supervision.form.{}", o.form.as_str()))
                    .to_string(),
                by: o.by_unit.as_ref().map(&name_of).unwrap_or_default(),
                issued: show_time(o.issued_at),
                reply_due: show_date(o.reply_due_at),
                status,
                status_word: ctx.t(&format!("supervision.status.{status}")).to_string(),
                named: o.named,
                auto: o.by.as_str() == "system",
                text: o.text.to_string(),
                answer: o
                    .answer
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            }
        })
        .collect();
    let named_since = s.named_supervision_since.map(show_time);
    let follow_ups = s
        .follow_ups
        .iter()
        .rev()
        .map(|f| {
            let status = match f.done_at {
                Some(_) => "done",
                None if now > f.due_at => "overdue",
                None => "open",
            };
            FollowUpRow {
                method: ctx
                    .t(&format!("follow_up.method.{}", f.method.as_str()))
                    .to_string(),
                reason: ctx
                    .t(&format!("follow_up.reason.{}", f.reason.as_str()))
                    .to_string(),
                due: show_date(f.due_at),
                status,
                status_word: ctx.t(&format!("follow_up.status.{status}")).to_string(),
                done: f.done_at.map(|at| {
                    (
                        show_time(at),
                        f.done_by
                            .map(|m| {
                                ctx.t(&format!("follow_up.method.{}", m.as_str()))
                                    .to_string()
                            })
                            .unwrap_or_default(),
                        f.outcome
                            .map(|o| {
                                ctx.t(&format!("follow_up.outcome.{}", o.as_str()))
                                    .to_string()
                            })
                            .unwrap_or_default(),
                        f.note.as_ref().map(ToString::to_string).unwrap_or_default(),
                    )
                }),
            }
        })
        .collect();
    Ok(CasePage {
        id: id.to_string(),
        version: s.version,
        receipt: s.receipt.display(),
        title: s.petition.title.to_string(),
        text: s.petition.text.to_string(),
        stage: ctx.t(&format!("stage.{}", s.stage.as_str())),
        light,
        light_word: light_word(&ctx, light),
        opinion: s.opinion.as_ref().map(|o| opinion_view(&ctx, o)),
        reply_checks: reply_check_rows(&ctx, s),
        facts,
        petitioner,
        petitioner_hidden,
        personal,
        personal_error,
        deadlines,
        timeline,
        actions,
        documents,
        may_merge: available.contains(&"merge_into"),
        may_link: available.contains(&"link"),
        merge_reasons: opts(&ctx, "merge_reason", &["duplicate", "repeat"]),
        link_relations: opts(&ctx, "link", LINK_RELATIONS),
        related,
        related_error,
        attachments,
        attachments_withheld,
        units_found,
        unit_q: extra.query.unit_q,
        unit_region: extra.query.unit_region,
        unit_kind: known_kind(&extra.query.kind).unwrap_or_default(),
        unit_kinds: unit_kind_options(&ctx),
        in_charge,
        supervision,
        named_since,
        follow_ups,
        unoffered_errors,
        notice: (extra.query.done == "1").then(|| ctx.t("staff.case.done").to_string()),
        chrome: signed.chrome(&ctx, "inbox"),
        ctx,
    })
}

/// A file size in B, KB or MB (the symbols read the same in both languages).
fn show_size(bytes: u64) -> String {
    const KB: u64 = 1024;
    if bytes < KB {
        format!("{bytes} B")
    } else if bytes < KB * KB {
        format!("{:.1} KB", bytes as f64 / KB as f64)
    } else {
        format!("{:.1} MB", bytes as f64 / (KB * KB) as f64)
    }
}

fn flatten_personal(ctx: &Ctx, data: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let label = |k: &str| ctx.t(&format!("staff.personal.{k}")).to_string();
    if let Some(p) = data.get("petitioner").and_then(Value::as_object) {
        for k in ["name", "phone", "id_card", "address"] {
            if let Some(v) = p.get(k).and_then(Value::as_str) {
                out.push((label(k), v.to_string()));
            }
        }
    }
    if let Some(reps) = data.get("representatives").and_then(Value::as_array) {
        for (i, r) in reps.iter().enumerate() {
            let n = (i + 1).to_string();
            let parts: Vec<&str> = ["name", "phone", "id_card"]
                .iter()
                .filter_map(|k| r.get(*k).and_then(Value::as_str))
                .collect();
            out.push((
                ctx.tf("staff.personal.rep", &[("n", &n)]),
                parts.join(" · "),
            ));
        }
    }
    out
}

fn documents_of(ctx: &Ctx, events: &[huiyin_store::StoredEvent]) -> Vec<DocLink> {
    let mut out = Vec::new();
    for (kind, found) in [
        (
            "acceptance",
            events.iter().any(|e| {
                matches!(
                    e.event.kind,
                    EventKind::Accepted {
                        notice_to_petitioner: true
                    }
                )
            }),
        ),
        (
            "decline",
            events
                .iter()
                .any(|e| matches!(e.event.kind, EventKind::Declined { .. })),
        ),
        (
            "opinion",
            events
                .iter()
                .any(|e| matches!(e.event.kind, EventKind::Replied { .. })),
        ),
        (
            "review",
            events
                .iter()
                .any(|e| matches!(e.event.kind, EventKind::ReviewDecided { .. })),
        ),
        (
            "rereview",
            events
                .iter()
                .any(|e| matches!(e.event.kind, EventKind::RereviewDecided { .. })),
        ),
    ] {
        if found {
            out.push(DocLink {
                kind,
                title: ctx.t(&format!("doc.{kind}")),
            });
        }
    }
    out
}

fn here_of(id: &str) -> String {
    format!("/staff/cases/{}", super::url_encode(id))
}

pub async fn page(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
    Query(query): Query<CaseQuery>,
) -> Response {
    let (signed, here) = match signed_at(&state, &headers, &uri, &here_of(&id)).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let ctx = signed.ctx(prefs, here);
    let extra = Extra {
        query,
        ..Extra::default()
    };
    match build(&state, &signed, ctx.clone(), &id, extra).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => app_error_page(ctx, e),
    }
}

/// `POST /staff/cases/{id}/act`: one action form.
pub async fn act(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<FormData>,
) -> Response {
    let here = here_of(&id);
    let signed = match signed_in(&state, &headers, &here).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(r) = signed.check_csrf(prefs, &form) {
        return r;
    }
    let ctx = signed.ctx(prefs, here.clone());
    let Some(name) = ACTIONS.iter().copied().find(|a| *a == form.get("_action")) else {
        let message = ctx.t("staff.act.unknown").to_string();
        return crate::pages::error_page(
            ctx,
            StatusCode::BAD_REQUEST,
            "staff.error.title",
            message,
        );
    };
    let case_id = CaseId::new(id.clone());
    // The fields of this action, as entered.
    let state_now = match state.app.case_view_for(&signed.actor, &case_id).await {
        Ok(v) => v.state,
        Err(e) => return app_error_page(ctx, e.into()),
    };
    let rules = state.app.rules();
    let mut fields = action_fields(&ctx, name, &state_now);
    super::administration::category_choice(&ctx, &mut fields, &rules);
    fields.fill(&form);
    if name == "route"
        && form.has("unit_pick")
        && let Some(f) = fields.0.iter_mut().find(|f| f.name == "unit")
    {
        f.value = form.get("unit_pick").to_string();
    }
    let expected = form.get("_version").parse::<u64>().ok();
    let outcome: Result<(), ApiError> = async {
        if !fields.check_required(|label| ctx.tf("staff.form.required", &[("field", label)])) {
            return Err(ApiError::malformed(ctx.t("staff.act.fix")));
        }
        if name == "register"
            && !super::administration::category_ok(
                &ctx,
                &mut fields,
                &rules,
                state_now.category.as_deref(),
            )
        {
            return Err(ApiError::malformed(ctx.t("staff.act.fix")));
        }
        if name == "route"
            && fields.value("unit").is_empty()
            && fields.value("kind.kind") != "bureau"
        {
            fields.set_error("unit", ctx.t("staff.act.unit_required").to_string());
            return Err(ApiError::malformed(ctx.t("staff.act.fix")));
        }
        let mut json = command_json(name, &fields, &ctx).map_err(|(field, message)| {
            fields.set_error(&field, message.clone());
            ApiError::malformed(message)
        })?;
        if name == "route"
            && fields.value("kind.kind") == "bureau"
            && let Value::Object(o) = &mut json
        {
            o.insert("unit".into(), Value::String(state_now.bureau.to_string()));
        }
        let bytes = axum::body::Bytes::from(json.to_string());
        let command: Command = parse_json(&bytes)?;
        state
            .app
            .authorize_command(&signed.actor, &case_id, command.name())
            .await?;
        state
            .app
            .execute(signed.actor.clone(), case_id.clone(), command, expected)
            .await?;
        Ok(())
    }
    .await;
    match outcome {
        Ok(()) => Redirect::to(&format!("{here}?done=1")).into_response(),
        Err(err) if err.status.is_server_error() => app_error_page(ctx, err),
        Err(err) => {
            let err = crate::pages::domain_text::localize(ctx.lang, err);
            let status = if err.status == StatusCode::BAD_REQUEST && fields.has_errors() {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                err.status
            };
            let mut errors = if fields.has_errors() && err.body.fields.is_empty() {
                Vec::new()
            } else {
                fields.apply_errors(&err)
            };
            if err.body.code == "conflict" {
                errors = vec![ctx.t("staff.act.conflict").to_string()];
            }
            let extra = Extra {
                failed: Some((name, fields, errors)),
                ..Extra::default()
            };
            match build(&state, &signed, ctx.clone(), &id, extra).await {
                Ok(page) => render(status, &page),
                Err(e) => app_error_page(ctx, e),
            }
        }
    }
}

/// `POST /staff/cases/{id}/personal`: the audited, unmasked read of the petitioner's data.
pub async fn personal(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<FormData>,
) -> Response {
    let here = here_of(&id);
    let signed = match signed_in(&state, &headers, &here).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(r) = signed.check_csrf(prefs, &form) {
        return r;
    }
    let ctx = signed.ctx(prefs, here);
    let read = state
        .app
        .personal_data(&signed.actor, &CaseId::new(id.clone()))
        .await
        .map_err(ApiError::from);
    let status = match &read {
        Ok(_) => StatusCode::OK,
        Err(e) => e.status,
    };
    let extra = Extra {
        personal: Some(read),
        ..Extra::default()
    };
    match build(&state, &signed, ctx.clone(), &id, extra).await {
        Ok(page) => render(status, &page),
        Err(e) => app_error_page(ctx, e),
    }
}

// ---------------------------------------------------------------------------------------------
// Attachments

/// The media types an attachment is served as (those accepted on upload); anything else is
/// served as opaque bytes, so nothing is ever rendered as a page.
const SERVED_TYPES: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "application/pdf",
];

/// `Content-Disposition` for a download: always `attachment`, the name in RFC 5987 form.
fn disposition(file_name: &str) -> String {
    let mut enc = String::new();
    for b in file_name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            enc.push(char::from(b));
        } else {
            enc.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename*=UTF-8''{enc}")
}

/// `GET /staff/cases/{id}/attachments/{n}`: the `n`th attachment, for those who may read the
/// case (and, for 检举控告, see its petitioner); every read audited.
pub async fn attachment(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Path((id, n)): Path<(String, String)>,
) -> Response {
    let here = format!("{}/attachments/{}", here_of(&id), super::url_encode(&n));
    let signed = match signed_in(&state, &headers, &here).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let ctx = signed.ctx(prefs, here);
    let Ok(n) = n.parse::<usize>() else {
        let message = ctx.t("staff.case.attachment_none").to_string();
        return crate::pages::error_page(
            ctx,
            StatusCode::NOT_FOUND,
            "error.not_found.title",
            message,
        );
    };
    let read = state
        .app
        .case_attachment_for(&signed.actor, &CaseId::new(id), n)
        .await;
    let (record, bytes) = match read {
        Ok(ok) => ok,
        Err(e) => return app_error_page(ctx, e.into()),
    };
    let media_type = SERVED_TYPES
        .iter()
        .copied()
        .find(|t| *t == record.media_type)
        .unwrap_or("application/octet-stream");
    let mut res = (StatusCode::OK, bytes).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    match HeaderValue::from_str(&disposition(&record.file_name)) {
        Ok(v) => {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
        Err(_) => {
            h.insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment"),
            );
        }
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    res
}

// ---------------------------------------------------------------------------------------------
// Official documents

#[derive(askama::Template)]
#[template(path = "staff/document.html")]
pub struct DocumentPage {
    pub ctx: Ctx,
    pub chrome: Chrome,
    pub id: String,
    pub title: &'static str,
    pub number: String,
    pub addressee: String,
    pub paragraphs: Vec<String>,
    pub sections: Vec<(&'static str, String)>,
    pub closing: Vec<String>,
    pub unit_name: String,
    pub date: String,
}

pub async fn document(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Path((id, kind)): Path<(String, String)>,
) -> Response {
    let here = format!("{}/documents/{}", here_of(&id), super::url_encode(&kind));
    let signed = match signed_in(&state, &headers, &here).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let ctx = signed.ctx(prefs, here);
    match build_document(&state, &signed, ctx.clone(), &id, &kind).await {
        Ok(Some(page)) => render(StatusCode::OK, &page),
        Ok(None) => {
            let message = ctx.t("staff.doc.none").to_string();
            crate::pages::error_page(ctx, StatusCode::NOT_FOUND, "error.not_found.title", message)
        }
        Err(e) => app_error_page(ctx, e),
    }
}

async fn build_document(
    state: &WebState,
    signed: &Signed,
    ctx: Ctx,
    id: &str,
    kind: &str,
) -> Result<Option<DocumentPage>, ApiError> {
    let case_id = CaseId::new(id);
    let view = state.app.case_view_for(&signed.actor, &case_id).await?;
    let events = state.app.events_for(&signed.actor, &case_id).await?;
    let s = &view.state;
    let addressee = match (&s.petition.petitioner_masked, s.petition.anonymous) {
        (_, true) | (None, _) => ctx.t("doc.petitioner").to_string(),
        (Some(p), false) => p.name.clone(),
    };
    let received = show_date(s.received_at);
    let title_text = s.petition.title.to_string();
    // The event that makes the document, and the unit that issues it.
    let found = events.iter().rev().find(|e| {
        matches!(
            (kind, &e.event.kind),
            ("acceptance", EventKind::Accepted { .. })
                | ("decline", EventKind::Declined { .. })
                | ("opinion", EventKind::Replied { .. })
                | ("review", EventKind::ReviewDecided { .. })
                | ("rereview", EventKind::RereviewDecided { .. })
        )
    });
    let Some(event) = found else {
        return Ok(None);
    };
    let issuer = event
        .event
        .actor_unit
        .clone()
        .unwrap_or_else(|| s.bureau.clone());
    let names = unit_names(state, &[issuer.to_string()]).await;
    let unit_name = names
        .get(issuer.as_str())
        .cloned()
        .unwrap_or_else(|| issuer.to_string());
    let args = [("date", received.as_str()), ("title", title_text.as_str())];
    let mut paragraphs = Vec::new();
    let mut sections = Vec::new();
    let mut closing = Vec::new();
    let title: &'static str = ctx.t(&format!("doc.{kind}"));
    match &event.event.kind {
        EventKind::Accepted { .. } => {
            paragraphs.push(ctx.tf("doc.acceptance.body", &args));
            closing.push(ctx.t("doc.acceptance.limit").to_string());
        }
        EventKind::Declined {
            reason, guidance, ..
        } => {
            paragraphs.push(ctx.tf("doc.decline.body", &args));
            sections.push((ctx.t("doc.reason"), reason.to_string()));
            sections.push((ctx.t("doc.guidance"), guidance.to_string()));
        }
        EventKind::Replied { opinion, .. }
        | EventKind::ReviewDecided { opinion, .. }
        | EventKind::RereviewDecided { opinion, .. } => {
            paragraphs.push(ctx.tf(&format!("doc.{kind}.body"), &args));
            sections.push((ctx.t("staff.act.f.request"), opinion.request.to_string()));
            sections.push((ctx.t("staff.act.f.facts"), opinion.facts.to_string()));
            sections.push((ctx.t("staff.act.f.reasons"), opinion.reasons.to_string()));
            sections.push((
                ctx.t("staff.act.f.legal_basis"),
                opinion.legal_basis.to_string(),
            ));
            let mut decision = ctx
                .t(&format!("decision.{}", code(&opinion.decision)))
                .to_string();
            if let EventKind::ReviewDecided { outcome, .. }
            | EventKind::RereviewDecided { outcome, .. } = &event.event.kind
            {
                decision = format!(
                    "{}（{}）",
                    ctx.t(&format!("outcome.{}", code(outcome))),
                    decision
                );
            }
            sections.push((ctx.t("staff.act.f.decision"), decision));
            closing.push(ctx.t(&format!("doc.{kind}.rights")).to_string());
        }
        _ => return Ok(None),
    }
    Ok(Some(DocumentPage {
        chrome: signed.chrome(&ctx, "inbox"),
        id: id.to_string(),
        title,
        number: ctx.tf("doc.number", &[("receipt", &s.receipt.display())]),
        addressee,
        paragraphs,
        sections,
        closing,
        unit_name,
        date: event
            .event
            .at
            .with_timezone(&super::forms::cst())
            .format("%Y年%-m月%-d日")
            .to_string(),
        ctx,
    }))
}
