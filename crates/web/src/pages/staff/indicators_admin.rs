//! The administrators' page of the statistics settings (统计指标与预警阈值): the indicator
//! configuration every figure is computed under (基本满意's weight in 满意率, the 12345-style
//! composite's weights, which decisions count as resolved) and the early-warning thresholds,
//! each with its default beside it, a form to change it and "restore defaults".
//!
//! Only administrators open it (the use cases check again). A form that does not parse comes
//! back with the message next to the field; one the domain refuses (`IndicatorConfig::validate`,
//! `WarningPolicy::validate`) with the domain's message; nothing is stored either way. The
//! change, its audit entry and putting it in force are `huiyin_app::admin`'s.

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use huiyin_app::admin::ChangedBy;
use huiyin_domain::case::Decision;
use huiyin_domain::stats::IndicatorConfig;
use huiyin_domain::warning::WarningPolicy;

use super::administration::{administrator, administrator_form, client_error};
use super::forms::{Field, Fields, FormData, place_errors, show_time_ms};
use super::{Chrome, Signed};
use crate::WebState;
use crate::error::ApiError;
use crate::pages::{Ctx, Prefs, render};

const HERE: &str = "/staff/admin/indicators";

/// The decisions of a 信访处理意见书, with their checkbox names.
const DECISIONS: [(Decision, &str); 3] = [
    (Decision::Support, "resolved.support"),
    (Decision::Explain, "resolved.explain"),
    (Decision::NotSupport, "resolved.not_support"),
];

/// The numeric settings of the warning form: name, whether it takes a decimal.
const WARNING_FIELDS: [(&str, bool); 11] = [
    ("spike_days", false),
    ("baseline_days", false),
    ("spike_ratio", true),
    ("spike_min_cases", false),
    ("place_code_len", false),
    ("group_days", false),
    ("group_min_petitioners", false),
    ("repeat_days", false),
    ("repeat_min_cases", false),
    ("falling_points", true),
    ("falling_min_denominator", true),
];

fn warning_values(p: &WarningPolicy) -> [String; 11] {
    [
        p.spike_days.to_string(),
        p.baseline_days.to_string(),
        p.spike_ratio.to_string(),
        p.spike_min_cases.to_string(),
        p.place_code_len.to_string(),
        p.group_days.to_string(),
        p.group_min_petitioners.to_string(),
        p.repeat_days.to_string(),
        p.repeat_min_cases.to_string(),
        p.falling_points.to_string(),
        p.falling_min_denominator.to_string(),
    ]
}

fn default_hint(ctx: &Ctx, v: &str) -> String {
    ctx.tf("admin.ind.default", &[("v", v)])
}

fn decision_name(ctx: &Ctx, d: Decision) -> &'static str {
    ctx.t(match d {
        Decision::Support => "decision.support",
        Decision::Explain => "decision.explain",
        Decision::NotSupport => "decision.not_support",
    })
}

/// The indicator form, filled with `current`, each field with its default as the hint.
fn indicator_fields(ctx: &Ctx, current: &IndicatorConfig) -> Fields {
    let d = IndicatorConfig::default();
    let mut fields = vec![
        Field::new(
            "ind",
            "basically_satisfied_weight",
            "text",
            ctx.t("admin.ind.basic_weight"),
        )
        .hint(&format!(
            "{} {}",
            ctx.t("admin.ind.basic_weight_hint"),
            default_hint(ctx, &d.basically_satisfied_weight.to_string())
        ))
        .value(current.basically_satisfied_weight.to_string()),
    ];
    for (i, key) in ["response", "resolve", "satisfy"].iter().enumerate() {
        fields.push(
            Field::new(
                "ind",
                &format!("hotline.{key}"),
                "text",
                ctx.t(&format!("admin.ind.hotline.{key}")),
            )
            .hint(&default_hint(ctx, &d.hotline_weights[i].to_string()))
            .value(current.hotline_weights[i].to_string()),
        );
    }
    for (decision, name) in DECISIONS {
        let default = if d.resolved_decisions.contains(&decision) {
            ctx.t("admin.ind.counted")
        } else {
            ctx.t("admin.ind.not_counted")
        };
        fields.push(
            Field::new(
                "ind",
                name,
                "checkbox",
                &ctx.tf(
                    "admin.ind.resolved",
                    &[("decision", decision_name(ctx, decision))],
                ),
            )
            .hint(&default_hint(ctx, default))
            .value(if current.resolved_decisions.contains(&decision) {
                "1"
            } else {
                "0"
            }),
        );
    }
    Fields(fields)
}

/// The warning form, filled with `current`; the defaults are the start-up thresholds.
fn warning_fields(ctx: &Ctx, current: &WarningPolicy, default: &WarningPolicy) -> Fields {
    let values = warning_values(current);
    let defaults = warning_values(default);
    Fields(
        WARNING_FIELDS
            .iter()
            .zip(values)
            .zip(defaults)
            .map(|(((name, decimal), value), default)| {
                Field::new(
                    "warn",
                    name,
                    if *decimal { "text" } else { "number" },
                    ctx.t(&format!("admin.ind.warn.{name}")),
                )
                .hint(&default_hint(ctx, &default))
                .value(value)
            })
            .collect(),
    )
}

/// A finite decimal from a field, else the field's error and `None`.
fn decimal(ctx: &Ctx, fields: &mut Fields, name: &str) -> Option<f64> {
    match fields.value(name).parse::<f64>() {
        Ok(v) if v.is_finite() => Some(v),
        _ => {
            fields.set_error(name, ctx.t("admin.ind.not_number").to_string());
            None
        }
    }
}

/// A whole number from a field, else the field's error and `None`.
fn whole<T: std::str::FromStr>(ctx: &Ctx, fields: &mut Fields, name: &str) -> Option<T> {
    match fields.value(name).parse::<T>() {
        Ok(v) => Some(v),
        Err(_) => {
            fields.set_error(name, ctx.t("admin.ind.not_whole").to_string());
            None
        }
    }
}

/// The indicator configuration a filled form says, or `None` with the fields' errors set.
fn parse_indicators(ctx: &Ctx, fields: &mut Fields) -> Option<IndicatorConfig> {
    let weight = decimal(ctx, fields, "basically_satisfied_weight");
    let response = decimal(ctx, fields, "hotline.response");
    let resolve = decimal(ctx, fields, "hotline.resolve");
    let satisfy = decimal(ctx, fields, "hotline.satisfy");
    let resolved_decisions = DECISIONS
        .iter()
        .filter(|(_, name)| fields.value(name) == "1")
        .map(|(d, _)| *d)
        .collect();
    Some(IndicatorConfig {
        basically_satisfied_weight: weight?,
        hotline_weights: [response?, resolve?, satisfy?],
        resolved_decisions,
    })
}

/// The warning thresholds a filled form says, or `None` with the fields' errors set.
fn parse_warnings(ctx: &Ctx, fields: &mut Fields) -> Option<WarningPolicy> {
    let spike_days = whole(ctx, fields, "spike_days");
    let baseline_days = whole(ctx, fields, "baseline_days");
    let spike_ratio = decimal(ctx, fields, "spike_ratio");
    let spike_min_cases = whole(ctx, fields, "spike_min_cases");
    let place_code_len = whole(ctx, fields, "place_code_len");
    let group_days = whole(ctx, fields, "group_days");
    let group_min_petitioners = whole(ctx, fields, "group_min_petitioners");
    let repeat_days = whole(ctx, fields, "repeat_days");
    let repeat_min_cases = whole(ctx, fields, "repeat_min_cases");
    let falling_points = decimal(ctx, fields, "falling_points");
    let falling_min_denominator = decimal(ctx, fields, "falling_min_denominator");
    Some(WarningPolicy {
        spike_days: spike_days?,
        baseline_days: baseline_days?,
        spike_ratio: spike_ratio?,
        spike_min_cases: spike_min_cases?,
        place_code_len: place_code_len?,
        group_days: group_days?,
        group_min_petitioners: group_min_petitioners?,
        repeat_days: repeat_days?,
        repeat_min_cases: repeat_min_cases?,
        falling_points: falling_points?,
        falling_min_denominator: falling_min_denominator?,
    })
}

#[derive(askama::Template)]
#[template(path = "staff/admin_indicators.html")]
struct IndicatorsPage {
    ctx: Ctx,
    chrome: Chrome,
    indicators: Fields,
    warnings: Fields,
    /// "Changed by … at …", or that the default is in force.
    indicators_status: String,
    warnings_status: String,
    indicators_stored: bool,
    warnings_stored: bool,
    errors: Vec<String>,
    notice: Option<String>,
}

fn status_line(ctx: &Ctx, changed: Option<&ChangedBy>) -> String {
    match changed {
        Some(c) => ctx.tf(
            "admin.ind.changed",
            &[
                ("at", &show_time_ms(c.at_ms)),
                ("by", c.by_name.as_deref().unwrap_or(&c.by)),
            ],
        ),
        None => ctx.t("admin.ind.defaults_in_force").to_string(),
    }
}

/// A form that was refused, shown again as entered.
enum Failed {
    Indicators(Fields),
    Warnings(Fields),
}

async fn page(
    state: &WebState,
    signed: &Signed,
    ctx: Ctx,
    failed: Option<Failed>,
    errors: Vec<String>,
    notice: Option<String>,
    status: StatusCode,
) -> Response {
    let rules = state.app.rules();
    // The changers by name; the page still shows the settings if the names cannot be read.
    let settings = state.app.indicator_settings(&signed.actor).await.ok();
    let (indicators_changed, warnings_changed) = settings
        .map(|s| (s.indicators_changed, s.warnings_changed))
        .unwrap_or_default();
    let mut indicators = indicator_fields(&ctx, &rules.indicators);
    let mut warnings = warning_fields(&ctx, &rules.warnings, state.app.default_warning_policy());
    match failed {
        Some(Failed::Indicators(f)) => indicators = f,
        Some(Failed::Warnings(f)) => warnings = f,
        None => {}
    }
    render(
        status,
        &IndicatorsPage {
            chrome: signed.chrome(&ctx, "admin"),
            indicators,
            warnings,
            indicators_status: status_line(&ctx, indicators_changed.as_ref()),
            warnings_status: status_line(&ctx, warnings_changed.as_ref()),
            indicators_stored: rules.indicators_changed.is_some(),
            warnings_stored: rules.warnings_changed.is_some(),
            errors,
            notice,
            ctx,
        },
    )
}

/// `GET /staff/admin/indicators`: the settings in force with their defaults, and the forms.
pub async fn show(State(state): State<WebState>, prefs: Prefs, headers: HeaderMap) -> Response {
    match administrator(&state, &headers, prefs, HERE).await {
        Ok((signed, ctx)) => {
            page(&state, &signed, ctx, None, Vec::new(), None, StatusCode::OK).await
        }
        Err(r) => r,
    }
}

/// What a form asked to change, parsed, with the form as entered (shown again if the use case
/// refuses it); `Err` with the fields when a value did not parse.
type Parsed = Result<(Option<IndicatorConfig>, Option<WarningPolicy>, Failed), Failed>;

async fn save(
    state: WebState,
    prefs: Prefs,
    headers: HeaderMap,
    form: FormData,
    parse: impl FnOnce(&Ctx, &WebState, &FormData) -> Parsed,
) -> Response {
    let (signed, ctx) = match administrator_form(&state, &headers, prefs, HERE, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (indicators, warnings, entered) = match parse(&ctx, &state, &form) {
        Ok(p) => p,
        Err(failed) => {
            let errors = vec![ctx.t("staff.act.fix").to_string()];
            return page(
                &state,
                &signed,
                ctx,
                Some(failed),
                errors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    match state
        .app
        .admin_set_indicator_config(&signed.actor, indicators, warnings)
        .await
    {
        Ok(()) => {
            let notice = Some(ctx.t("admin.ind.saved").to_string());
            page(
                &state,
                &signed,
                ctx,
                None,
                Vec::new(),
                notice,
                StatusCode::OK,
            )
            .await
        }
        Err(e) => match client_error(&ctx, e.into()) {
            Err(r) => r,
            Ok((status, err)) => {
                let mut entered = entered;
                let errors = match &mut entered {
                    Failed::Indicators(f) | Failed::Warnings(f) => place_errors(&err, &mut [f]),
                };
                page(&state, &signed, ctx, Some(entered), errors, None, status).await
            }
        },
    }
}

fn entered_indicators(ctx: &Ctx, form: &FormData) -> Fields {
    let mut f = indicator_fields(ctx, &IndicatorConfig::default());
    f.fill(form);
    f
}

fn entered_warnings(ctx: &Ctx, state: &WebState, form: &FormData) -> Fields {
    let d = state.app.default_warning_policy();
    let mut f = warning_fields(ctx, d, d);
    f.fill(form);
    f
}

/// `POST /staff/admin/indicators`: sets the indicator configuration.
pub async fn set_indicators(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Form(form): Form<FormData>,
) -> Response {
    save(state, prefs, headers, form, |ctx, _, form| {
        let mut fields = entered_indicators(ctx, form);
        match parse_indicators(ctx, &mut fields) {
            Some(c) => Ok((Some(c), None, Failed::Indicators(fields))),
            None => Err(Failed::Indicators(fields)),
        }
    })
    .await
}

/// `POST /staff/admin/indicators/warnings`: sets the early-warning thresholds.
pub async fn set_warnings(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Form(form): Form<FormData>,
) -> Response {
    save(state, prefs, headers, form, |ctx, state, form| {
        let mut fields = entered_warnings(ctx, state, form);
        match parse_warnings(ctx, &mut fields) {
            Some(w) => Ok((None, Some(w), Failed::Warnings(fields))),
            None => Err(Failed::Warnings(fields)),
        }
    })
    .await
}

/// `POST /staff/admin/indicators/restore` (`which`: `indicators` or `warnings`): removes the
/// stored setting, so the default is in force again.
pub async fn restore(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    Form(form): Form<FormData>,
) -> Response {
    let (signed, ctx) = match administrator_form(&state, &headers, prefs, HERE, &form).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (indicators, warnings) = match form.get("which") {
        "indicators" => (true, false),
        "warnings" => (false, true),
        _ => {
            let errors = vec![ctx.t("admin.ind.bad_which").to_string()];
            return page(
                &state,
                &signed,
                ctx,
                None,
                errors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    match state
        .app
        .admin_restore_indicator_defaults(&signed.actor, indicators, warnings)
        .await
    {
        Ok(changed) => {
            let notice = Some(
                ctx.t(if changed {
                    "admin.ind.restored"
                } else {
                    "admin.ind.already_default"
                })
                .to_string(),
            );
            page(
                &state,
                &signed,
                ctx,
                None,
                Vec::new(),
                notice,
                StatusCode::OK,
            )
            .await
        }
        Err(e) => match client_error(&ctx, ApiError::from(e)) {
            Err(r) => r,
            Ok((status, err)) => {
                page(
                    &state,
                    &signed,
                    ctx,
                    None,
                    vec![err.body.message],
                    None,
                    status,
                )
                .await
            }
        },
    }
}
