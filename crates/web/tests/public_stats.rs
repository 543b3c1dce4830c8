//! 信访数据公开 through the real router (SQLite, or PostgreSQL when HUIYIN_TEST_DATABASE_URL is
//! set): off unless the deployment publishes a region; when on, anyone sees that region's
//! aggregate figures for a year, figures from fewer than five cases withheld, nothing personal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use chrono::TimeZone;
use common::{T, section};

#[tokio::test]
async fn statistics_are_not_public_unless_the_deployment_publishes_them() {
    let t = T::start().await;
    let page = t.get("/stats", "").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(!t.get("/", "").await.body.contains("href=\"/stats\""));
    t.finish().await;
}

#[tokio::test]
async fn the_published_region_shows_totals_and_withholds_small_figures() {
    let t = T::start_with(|c| c.public_stats = Some("44".into())).await;
    t.user("dengji", "4406-xfj", "registrar").await;
    let (reg, csrf) = t.login("dengji").await;
    // Four in February (fewer than five: the month is withheld), six in March.
    let march = t.app.now();
    t.app
        .clock()
        .set(chrono::Utc.with_ymd_and_hms(2025, 2, 10, 2, 0, 0).unwrap());
    for i in 0..4 {
        t.intake(&reg, &csrf, &format!("小区路灯不亮二月第{i}号"))
            .await;
    }
    t.app.clock().set(march);
    for i in 0..6 {
        t.intake(&reg, &csrf, &format!("小区路灯不亮第{i}号")).await;
    }
    t.app.stats_catch_up().await.unwrap();

    let home = t.get("/", "").await;
    assert!(home.body.contains("href=\"/stats\""));
    let page = t.get("/stats", "").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("信访数据公开"));
    assert!(
        page.body.contains("统计期间 2025-01-01 至 2025-03-12"),
        "{}",
        page.body
    );
    let figures = section(&page.body, "figures");
    // Ten petitions this year: the total is shown.
    let total = figures.split("信访总量").nth(1).unwrap();
    assert!(total.contains("<b>10</b>"), "{figures}");
    // The trend by month, as a chart and as a table: February's four are withheld.
    let trend = section(&page.body, "trend");
    assert!(trend.contains("data-chart=\"line\""), "{trend}");
    assert!(trend.contains("[null,null,6]"), "{trend}");
    for row in [
        "<td>2025-01</td><td>—</td><td>—</td>",
        "<td>2025-02</td><td>—</td><td>—</td>",
        "<td>2025-03</td><td>6</td><td>—</td>",
    ] {
        assert!(trend.contains(row), "{row}: {trend}");
    }
    assert!(page.body.contains("charts.js"));
    // No case was replied yet: rates from fewer than five cases are withheld.
    let on_time = figures.split("按期办结率").nth(1).unwrap();
    assert!(on_time.contains("<b>—</b>"), "{figures}");
    // Nothing personal: no petitioner's name, no title of a case.
    assert!(!page.body.contains("小区路灯不亮"));
    // A past year; a bad year is refused with the reason.
    let past = t.get("/stats?year=2024", "").await;
    assert_eq!(past.status, StatusCode::OK);
    assert!(past.body.contains("统计期间 2024-01-01 至 2024-12-31"));
    let bad = t.get("/stats?year=1999", "").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("年份应为 2000 年至今年之间的四位数字"));
    t.finish().await;
}
