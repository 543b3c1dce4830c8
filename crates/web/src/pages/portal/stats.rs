//! 公开统计: the deployment's published aggregate figures (`GET /stats`), opt-in
//! (`huiyin serve --public-stats REGION`). The same indicators the staff see, for the
//! published region and one year (this year so far by default), beside the previous period and
//! the same period a year before; a figure computed from fewer than five cases is withheld
//! ([`huiyin_app::App::public_indicators`]). Nothing personal is on it. Rate-limited like every
//! public page.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{Datelike, NaiveDate};
use huiyin_domain::stats::{Target, Unit};
use serde::Deserialize;

use super::app_error_page;
use crate::pages::staff::stats::{Line, line};
use crate::pages::{Ctx, Prefs, render};
use crate::{ClientIp, WebState};

#[derive(Debug, Default, Deserialize)]
pub struct PublicStatsQuery {
    /// A whole past year, or this year so far (the default).
    #[serde(default)]
    pub year: String,
}

/// A rate as a bar (0–100 %).
pub struct Bar {
    pub name: String,
    pub value: String,
    pub width: u32,
}

#[derive(askama::Template)]
#[template(path = "portal/stats.html")]
pub struct StatsPage {
    pub ctx: Ctx,
    pub region: String,
    pub period: String,
    pub years: Vec<(String, String, bool)>,
    pub lines: Vec<Line>,
    pub bars: Vec<Bar>,
    /// The volume trend for the chart (JSON), and as rows: month, this year, a year before.
    pub trend: String,
    pub trend_rows: Vec<(String, String, String)>,
    pub error: Option<String>,
}

pub async fn page(
    State(state): State<WebState>,
    ClientIp(ip): ClientIp,
    prefs: Prefs,
    Query(q): Query<PublicStatsQuery>,
) -> Response {
    let ctx = Ctx::new(prefs, "/stats");
    let today = state
        .app
        .now()
        .with_timezone(&huiyin_domain::CHINA_OFFSET)
        .date_naive();
    let mut page = StatsPage {
        ctx: ctx.clone(),
        region: String::new(),
        period: String::new(),
        years: (0..3)
            .map(|back| {
                let y = today.year() - back;
                (y.to_string(), format!("/stats?year={y}"), false)
            })
            .collect(),
        lines: Vec::new(),
        bars: Vec::new(),
        trend: String::new(),
        trend_rows: Vec::new(),
        error: None,
    };
    if crate::limited(&state, ip).is_err() {
        page.error = Some(ctx.t("portal.replies.limited").to_string());
        return render(StatusCode::TOO_MANY_REQUESTS, &page);
    }
    let year = match q.year.trim() {
        "" => today.year(),
        y => match y.parse::<i32>() {
            Ok(y) if (2000..=today.year()).contains(&y) => y,
            _ => {
                page.error = Some(ctx.t("portal.stats.bad_year").to_string());
                return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
            }
        },
    };
    for y in &mut page.years {
        y.2 = y.0 == year.to_string();
    }
    let from = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(today);
    let to = NaiveDate::from_ymd_opt(year, 12, 31)
        .unwrap_or(today)
        .min(today);
    let report = match state.app.public_indicators(from, to).await {
        Ok(r) => r,
        Err(huiyin_app::AppError::NotFound(_)) => {
            let message = ctx.t("portal.stats.off").to_string();
            return crate::pages::error_page(
                ctx,
                StatusCode::NOT_FOUND,
                "error.not_found.title",
                message,
            );
        }
        Err(e) => return app_error_page(ctx, &e),
    };
    if let Target::Region(code) = &report.target {
        page.region = match state.app.store().region(code).await {
            Ok(Some(r)) => r.name,
            _ if code == "0" => ctx.t("portal.stats.nation").to_string(),
            _ => code.clone(),
        };
    }
    page.period = ctx.tf(
        "portal.stats.period",
        &[("from", &from.to_string()), ("to", &to.to_string())],
    );
    page.bars = report
        .indicators
        .iter()
        .filter(|r| r.unit == Unit::Share)
        .filter_map(|r| {
            let v = r.current.value?;
            let l = line(&ctx, r);
            Some(Bar {
                name: l.name,
                value: l.current,
                width: (v * 100.0).round().clamp(0.0, 100.0) as u32,
            })
        })
        .collect();
    page.lines = report.indicators.iter().map(|r| line(&ctx, r)).collect();
    let trend = match state.app.public_trend(from, to).await {
        Ok(t) => t,
        Err(e) => return app_error_page(ctx, &e),
    };
    let shown = |v: &Option<i64>| v.map_or_else(|| "—".to_string(), |n| n.to_string());
    page.trend_rows = trend
        .labels
        .iter()
        .zip(trend.current.iter().zip(&trend.last_year))
        .map(|(l, (c, y))| (l.clone(), shown(c), shown(y)))
        .collect();
    page.trend = serde_json::json!({
        "labels": trend.labels,
        "series": [
            {"name": ctx.t("portal.stats.c_now"), "data": trend.current},
            {"name": ctx.t("portal.stats.c_year"), "data": trend.last_year},
        ],
    })
    .to_string();
    render(StatusCode::OK, &page)
}
