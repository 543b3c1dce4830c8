//! The statistics page (形势网上判): every indicator of a region or unit for a period, beside the
//! previous period of the same length and the same period a year before, each with the counts
//! it is computed from and its definition; and the same table as CSV (UTF-8 with a byte-order
//! mark, so a spreadsheet opens the Chinese headers right). The figures come from the
//! incrementally kept counters ([`huiyin_app::App::indicators`]); the scope is checked there.

use axum::extract::{OriginalUri, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{Datelike, NaiveDate};
use huiyin_app::export::{Cell, Column, ExportFormat, ExportSpec, Rows};
use huiyin_app::stats::{IndicatorReport, IndicatorRow, month_to_date, year_period};
use huiyin_domain::ids::UnitId;
use huiyin_domain::stats::{Figure, Target, Unit};
use serde::Deserialize;

use super::{Chrome, Signed, app_error_page, signed_at, url_encode};
use crate::WebState;
use crate::error::ApiError;
use crate::pages::i18n::Lang;
use crate::pages::{Ctx, Prefs, render};

#[derive(Debug, Default, Deserialize)]
pub struct StatsQuery {
    /// A GB/T 2260 code (`0` for the nation); the user's own region without one.
    #[serde(default)]
    pub region: String,
    /// Or one unit's figures.
    #[serde(default)]
    pub unit: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
}

/// One line of the table, formatted.
pub struct Line {
    /// The indicator's id (for the links to the cases behind it).
    pub id: &'static str,
    /// Whether it is a rate (its denominator has cases of its own).
    pub is_rate: bool,
    pub name: String,
    pub definition: &'static str,
    pub current: String,
    pub basis: String,
    pub previous: String,
    pub change: String,
    /// `up`, `down` or `same` (for the arrow's colour; whether up is good depends on the row).
    pub trend: &'static str,
    pub last_year: String,
}

#[derive(askama::Template)]
#[template(path = "staff/stats.html")]
struct StatsPage {
    ctx: Ctx,
    chrome: Chrome,
    region: String,
    unit: String,
    from: String,
    to: String,
    previous: String,
    presets: Vec<(String, String)>,
    lines: Vec<Line>,
    csv: String,
    /// `region=…|unit=…&from=…&to=…` of the figures shown, for the links to their cases.
    query: String,
    tab: &'static str,
    who: String,
    xlsx: String,
    behind: Option<String>,
    errors: Vec<String>,
}

fn value(unit: Unit, f: &Figure) -> Option<f64> {
    f.value
        .map(|v| if unit == Unit::Share { v * 100.0 } else { v })
}

fn show(unit: Unit, f: &Figure) -> String {
    match (unit, value(unit, f)) {
        (_, None) => "—".into(),
        (Unit::Count, Some(v)) => format!("{v:.0}"),
        (Unit::Share, Some(v)) => format!("{v:.1}%"),
        (Unit::Days, Some(v)) => format!("{v:.1}"),
    }
}

pub(crate) fn line(ctx: &Ctx, row: &IndicatorRow) -> Line {
    let (change, trend) = match (
        value(row.unit, &row.current),
        value(row.unit, &row.previous),
    ) {
        (Some(now), Some(before)) => {
            let d = now - before;
            let trend = if d.abs() < 1e-9 {
                "same"
            } else if d > 0.0 {
                "up"
            } else {
                "down"
            };
            let text = match row.unit {
                Unit::Count => format!("{d:+.0}"),
                Unit::Share => ctx.tf("staff.stats.points", &[("n", &format!("{d:+.1}"))]),
                Unit::Days => format!("{d:+.1}"),
            };
            (text, trend)
        }
        _ => ("—".into(), "same"),
    };
    Line {
        id: row.id,
        is_rate: row.unit != Unit::Count,
        name: match ctx.lang {
            Lang::Zh => row.name_zh.to_string(),
            Lang::En => row.name_en.to_string(),
        },
        definition: row.definition_zh,
        current: show(row.unit, &row.current),
        // A weighted composite's value is not its numerator over its denominator: no basis.
        basis: if row.unit == Unit::Count || !plain_ratio(&row.current) {
            String::new()
        } else {
            format!(
                "{:.0} / {:.0}",
                row.current.numerator, row.current.denominator
            )
        },
        previous: show(row.unit, &row.previous),
        change,
        trend,
        last_year: show(row.unit, &row.last_year),
    }
}

/// Whether the figure is its numerator over its denominator (not a weighted composite).
fn plain_ratio(f: &Figure) -> bool {
    match f.value {
        Some(v) if f.denominator > 0.0 => (f.numerator / f.denominator - v).abs() < 1e-6,
        _ => true,
    }
}

fn day(raw: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").ok()
}

/// The figures asked for: target and period with their defaults (the user's region, the month
/// so far), and who asks.
pub(crate) struct Asked {
    pub target: Target,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The region shown in the form (empty for a unit).
    pub region: String,
    pub today: NaiveDate,
    pub principal: huiyin_domain::access::Principal,
}

pub(crate) async fn resolve(
    state: &WebState,
    signed: &Signed,
    q: &StatsQuery,
) -> Result<Asked, ApiError> {
    let today = state
        .app
        .now()
        .with_timezone(&super::forms::cst())
        .date_naive();
    let (from, to) = match (q.from.trim().is_empty(), q.to.trim().is_empty()) {
        (true, true) => month_to_date(today),
        _ => {
            let from = day(&q.from).ok_or_else(|| {
                ApiError::field(
                    "from",
                    "date_invalid",
                    "开始日期应写作 YYYY-MM-DD，例如 2026-01-01",
                )
            })?;
            let to = day(&q.to).ok_or_else(|| {
                ApiError::field(
                    "to",
                    "date_invalid",
                    "结束日期应写作 YYYY-MM-DD，例如 2026-01-31",
                )
            })?;
            (from, to)
        }
    };
    let principal = state.app.principal(&signed.actor).await?;
    let (target, region) = if !q.unit.trim().is_empty() {
        (Target::Unit(UnitId::new(q.unit.trim())), String::new())
    } else if !q.region.trim().is_empty() {
        let r = q.region.trim().to_string();
        (Target::Region(r.clone()), r)
    } else {
        let r = principal
            .region
            .as_ref()
            .map_or_else(|| "0".to_string(), |r| r.as_str().to_string());
        (Target::Region(r.clone()), r)
    };
    Ok(Asked {
        target,
        from,
        to,
        region,
        today,
        principal,
    })
}

async fn report(state: &WebState, a: &Asked) -> Result<IndicatorReport, ApiError> {
    Ok(state
        .app
        .indicators(
            &a.principal,
            &a.target,
            a.from,
            a.to,
            &state.app.indicator_config(),
        )
        .await?)
}

/// The period shortcuts of a statistics page at `base` (this month, last month, this year so
/// far, last year) for the same region or unit.
pub(crate) fn presets(
    ctx: &Ctx,
    base: &str,
    region: &str,
    unit: &str,
    today: NaiveDate,
) -> Vec<(String, String)> {
    let (m0, m1) = month_to_date(today);
    let last_month_end = m0.pred_opt().unwrap_or(m0);
    let (lm0, _) = month_to_date(last_month_end);
    let mut p = vec![
        (
            ctx.t("staff.stats.this_month").to_string(),
            format!("{base}?{}", query_of(region, unit, m0, m1)),
        ),
        (
            ctx.t("staff.stats.last_month").to_string(),
            format!("{base}?{}", query_of(region, unit, lm0, last_month_end)),
        ),
    ];
    if let Some((y0, _)) = year_period(today.year()) {
        p.push((
            ctx.t("staff.stats.this_year").to_string(),
            format!("{base}?{}", query_of(region, unit, y0, today)),
        ));
    }
    if let Some((y0, y1)) = year_period(today.year() - 1) {
        p.push((
            ctx.t("staff.stats.last_year_full").to_string(),
            format!("{base}?{}", query_of(region, unit, y0, y1)),
        ));
    }
    p
}

fn query_of(region: &str, unit: &str, from: NaiveDate, to: NaiveDate) -> String {
    let who = if unit.is_empty() {
        format!("region={}", url_encode(region))
    } else {
        format!("unit={}", url_encode(unit))
    };
    format!("{who}&from={from}&to={to}")
}

/// `GET /staff/stats?region=…|unit=…&from=…&to=…`.
pub async fn page(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<StatsQuery>,
) -> Response {
    let (signed, here) = match signed_at(&state, &headers, &uri, "/staff/stats").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let ctx = signed.ctx(prefs, here);
    let chrome = signed.chrome(&ctx, "stats");
    let mut errors = Vec::new();
    let mut status = StatusCode::OK;
    let resolved = resolve(&state, &signed, &q).await;
    let (lines, region, from, to, previous, presets, csv, behind) = match resolved {
        Err(e) => {
            status = StatusCode::UNPROCESSABLE_ENTITY;
            errors.push(
                crate::pages::domain_text::localize(ctx.lang, e)
                    .body
                    .fields
                    .first()
                    .map_or_else(String::new, |f| f.message.clone()),
            );
            (
                Vec::new(),
                q.region.clone(),
                q.from.clone(),
                q.to.clone(),
                String::new(),
                Vec::new(),
                String::new(),
                None,
            )
        }
        Ok(asked) => {
            let (from, to, today) = (asked.from, asked.to, asked.today);
            let region = asked.region.clone();
            let unit = q.unit.trim().to_string();
            let presets = presets(&ctx, "/staff/stats", &region, &unit, today);
            match report(&state, &asked).await {
                Ok(r) => {
                    let behind = (r.status.behind_events > 0).then(|| {
                        ctx.tf(
                            "staff.stats.behind",
                            &[("n", &r.status.behind_events.to_string())],
                        )
                    });
                    let previous = ctx.tf(
                        "staff.stats.previous",
                        &[
                            ("from", &r.previous_from.to_string()),
                            ("to", &r.previous_to.to_string()),
                        ],
                    );
                    (
                        r.indicators.iter().map(|row| line(&ctx, row)).collect(),
                        region.clone(),
                        from.to_string(),
                        to.to_string(),
                        previous,
                        presets,
                        format!("/staff/stats.csv?{}", query_of(&region, &unit, from, to)),
                        behind,
                    )
                }
                Err(e) if e.status.is_server_error() => return app_error_page(ctx, e),
                Err(e) => {
                    status = if e.status == StatusCode::BAD_REQUEST {
                        StatusCode::UNPROCESSABLE_ENTITY
                    } else {
                        e.status
                    };
                    let e = crate::pages::domain_text::localize(ctx.lang, e);
                    errors.push(
                        e.body
                            .fields
                            .first()
                            .map_or_else(|| e.body.message.clone(), |f| f.message.clone()),
                    );
                    (
                        Vec::new(),
                        region,
                        from.to_string(),
                        to.to_string(),
                        String::new(),
                        presets,
                        String::new(),
                        None,
                    )
                }
            }
        }
    };
    render(
        status,
        &StatsPage {
            unit: q.unit.trim().to_string(),
            region,
            from,
            to,
            previous,
            presets,
            lines,
            query: csv
                .strip_prefix("/staff/stats.csv?")
                .unwrap_or_default()
                .to_string(),
            tab: "table",
            who: csv
                .strip_prefix("/staff/stats.csv")
                .unwrap_or_default()
                .to_string(),
            xlsx: csv.replacen("/staff/stats.csv", "/staff/stats.xlsx", 1),
            csv,
            behind,
            errors,
            chrome,
            ctx,
        },
    )
}

/// The table's columns in the exported files.
const STATS_COLUMNS: [Column; 7] = [
    Column {
        zh: "指标",
        en: "Indicator",
        width: 24.0,
    },
    Column {
        zh: "本期",
        en: "This period",
        width: 12.0,
    },
    Column {
        zh: "分子",
        en: "Numerator",
        width: 10.0,
    },
    Column {
        zh: "分母",
        en: "Denominator",
        width: 10.0,
    },
    Column {
        zh: "上期",
        en: "Previous period",
        width: 12.0,
    },
    Column {
        zh: "去年同期",
        en: "A year before",
        width: 12.0,
    },
    Column {
        zh: "口径",
        en: "Definition",
        width: 60.0,
    },
];

/// `GET /staff/stats.csv?…`: the table as CSV.
pub async fn csv(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<StatsQuery>,
) -> Response {
    export(state, prefs, headers, uri, q, ExportFormat::Csv).await
}

/// `GET /staff/stats.xlsx?…`: the table as an Excel workbook.
pub async fn xlsx(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(q): Query<StatsQuery>,
) -> Response {
    export(state, prefs, headers, uri, q, ExportFormat::Xlsx).await
}

/// The table in a file (the Chinese headers and definitions whatever the page's language, as
/// the CSV always had), through the shared export writers; audited like every export.
async fn export(
    state: WebState,
    prefs: Prefs,
    headers: HeaderMap,
    uri: axum::http::Uri,
    q: StatsQuery,
    format: ExportFormat,
) -> Response {
    let (signed, here) = match signed_at(&state, &headers, &uri, "/staff/stats").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let ctx = signed.ctx(prefs, here);
    let result = match resolve(&state, &signed, &q).await {
        Ok(asked) => report(&state, &asked).await,
        Err(e) => Err(e),
    };
    let r = match result {
        Ok(r) => r,
        Err(e) => return app_error_page(ctx, e),
    };
    let raw = |unit: Unit, f: &Figure| value(unit, f).map_or(Cell::Empty, |v| Cell::Decimal(v, 4));
    let rows: Vec<Vec<Cell>> = r
        .indicators
        .iter()
        .map(|row| {
            vec![
                Cell::from(row.name_zh),
                raw(row.unit, &row.current),
                Cell::Number(row.current.numerator),
                Cell::Number(row.current.denominator),
                raw(row.unit, &row.previous),
                raw(row.unit, &row.last_year),
                Cell::from(row.definition_zh),
            ]
        })
        .collect();
    let spec = ExportSpec {
        list: "stats".into(),
        filters: uri.query().unwrap_or("").to_string(),
        format,
        sheet: "统计".into(),
        columns: STATS_COLUMNS.to_vec(),
        english: false,
    };
    match state
        .app
        .export_now(&signed.actor, &spec, Rows(Some(rows)))
        .await
    {
        Ok((bytes, _, _)) => {
            let name = format!("huiyin-stats-{}-{}.{}", r.from, r.to, format.extension());
            super::exports::attachment(format, &name, axum::body::Body::from(bytes))
        }
        Err(e) => app_error_page(ctx, e.into()),
    }
}
