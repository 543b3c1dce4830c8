//! The statistics page (形势网上判) through the real router (SQLite, or PostgreSQL when
//! HUIYIN_TEST_DATABASE_URL is set): the indicators of the user's region for a period with
//! the counts behind each rate, a unit's own figures, the CSV download, the scope (a region
//! outside the user's is refused) and bad dates shown next to the form.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::T;

/// The text of the table row of one indicator.
fn row<'a>(body: &'a str, name: &str) -> &'a str {
    let at = body
        .find(&format!("<summary>{name}</summary>"))
        .unwrap_or_else(|| panic!("no row {name}"));
    let end = body[at..].find("</tr>").unwrap() + at;
    &body[at..end]
}

#[tokio::test]
async fn the_indicators_of_a_region_and_a_unit_with_csv_and_scope() {
    let t = T::start().await;
    t.unit(
        "45-xfj",
        "广西壮族自治区信访局",
        "petition_bureau",
        "45",
        "0-xfj",
    )
    .await;
    t.user("dengji", "4406-xfj", "registrar").await;
    t.user("gx.dengji", "45-xfj", "registrar").await;
    let (reg, csrf) = t.login("dengji").await;
    for i in 0..3 {
        t.intake_text(
            &reg,
            &csrf,
            &format!("第{i}件：路灯损坏"),
            &format!("第{i}号楼的路灯坏了一个月，晚上出行不便，请尽快维修。"),
        )
        .await;
    }
    t.app.stats_catch_up().await.unwrap();

    // The user's own region, this month so far by default.
    let page = t.get("/staff/stats", &reg).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body
            .contains("href=\"/staff/stats\" aria-current=\"page\"")
    );
    assert!(
        page.body.contains("value=\"4406\""),
        "the region defaults to the user's"
    );
    let volume = row(&page.body, "信访总量");
    assert!(volume.contains("<b class=\"figure\">3</b>"), "{volume}");
    // A rate with no cases due yet shows "—", not 0 %.
    assert!(row(&page.body, "按期答复率").contains("—"));
    // A period before any petition: zero.
    let page = t
        .get(
            "/staff/stats?region=4406&from=2024-01-01&to=2024-01-31",
            &reg,
        )
        .await;
    assert!(row(&page.body, "信访总量").contains("<b class=\"figure\">0</b>"));
    // A unit's own figures.
    let page = t
        .get(
            "/staff/stats?unit=4406-xfj&from=2025-03-01&to=2025-03-31",
            &reg,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(row(&page.body, "信访总量").contains("<b class=\"figure\">3</b>"));

    // The CSV: a byte-order mark, Chinese headers, one line per indicator.
    let (status, headers, bytes) = t
        .raw_get(
            "/staff/stats.csv?region=4406&from=2025-03-01&to=2025-03-31",
            &reg,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.starts_with("\u{feff}指标,本期,分子,分母"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("信访总量,3.0000,3,")),
        "{text}"
    );

    // Another province's figures are refused; bad dates are a message by the form.
    let page = t.get("/staff/stats?region=45", &reg).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    assert!(page.body.contains("无权查看"), "{}", page.body);
    let page = t
        .get("/staff/stats?region=4406&from=2025-13-01&to=x", &reg)
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("YYYY-MM-DD"), "{}", page.body);
    let (gx, _) = t.login("gx.dengji").await;
    let page = t.get("/staff/stats", &gx).await;
    assert!(row(&page.body, "信访总量").contains("<b class=\"figure\">0</b>"));
    t.finish().await;
}
