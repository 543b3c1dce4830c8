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
            .contains("href=\"/staff/dashboard\" aria-current=\"page\"")
    );
    assert!(
        page.body.contains("value=\"4406\""),
        "the region defaults to the user's"
    );
    let volume = row(&page.body, "信访总量");
    assert!(volume.contains("\">3</a>"), "{volume}");
    // A rate with no cases due yet shows "—", not 0 %.
    assert!(row(&page.body, "按期答复率").contains("—"));
    // A period before any petition: zero.
    let page = t
        .get(
            "/staff/stats?region=4406&from=2024-01-01&to=2024-01-31",
            &reg,
        )
        .await;
    assert!(row(&page.body, "信访总量").contains("\">0</a>"));
    // A unit's own figures.
    let page = t
        .get(
            "/staff/stats?unit=4406-xfj&from=2025-03-01&to=2025-03-31",
            &reg,
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(row(&page.body, "信访总量").contains("\">3</a>"));

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
    assert!(row(&page.body, "信访总量").contains("\">0</a>"));
    t.finish().await;
}

/// The overview (形势总览), the operations view and the cases behind a figure through the real
/// router: the tiles and breakdowns count the three visits, each figure links to exactly its
/// cases, the districts and units are listed, the charts' data rides in attributes (no inline
/// script), and bad or out-of-scope requests are refused with a message on the page — the same
/// over the JSON API.
#[tokio::test]
async fn the_overview_operations_and_the_cases_behind_a_figure() {
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
    t.user("fenxi", "4406-xfj", "analyst").await;
    t.user("gx.dengji", "45-xfj", "registrar").await;
    let (reg, csrf) = t.login("dengji").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(
            t.intake_text(
                &reg,
                &csrf,
                &format!("第{i}件：路灯损坏"),
                &format!("第{i}号楼的路灯坏了一个月，晚上出行不便，请尽快维修。"),
            )
            .await,
        );
    }
    t.app.stats_catch_up().await.unwrap();
    let period = "from=2025-03-01&to=2025-03-31";

    let page = t
        .get(&format!("/staff/dashboard?region=4406&{period}"), &reg)
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let b = &page.body;
    assert!(b.contains("形势总览 · 广东省佛山市"), "{b}");
    let tiles = &b[b.find("id=\"tiles\"").unwrap()..b.find("id=\"h-live\"").unwrap()];
    let volume_href = format!(
        "/staff/stats/cases?region=4406&#38;{}&#38;indicator=volume&#38;part=numerator",
        period.replace('&', "&#38;")
    );
    assert!(
        tiles.contains(&format!("href=\"{volume_href}\"")),
        "{tiles}"
    );
    assert!(tiles.contains(">3</a>"), "{tiles}");
    // The three are open, at the bureau, none overdue yet.
    let live = &b[b.find("id=\"live\"").unwrap()..];
    assert!(
        live.contains("<span class=\"live-n\">3</span> <span class=\"small\">在办"),
        "{live}"
    );
    // Visits: the channel slice, the category, the district 禅城区 with its own overview.
    assert!(
        b.contains("来访</th><td><a href=\"/staff/stats/cases?region=4406&#38;"),
        "{b}"
    );
    assert!(b.contains("城乡建设"));
    assert!(
        b.contains("href=\"/staff/dashboard?region=440604&#38;"),
        "{b}"
    );
    assert!(b.contains("禅城区"));
    assert!(b.contains("data-chart=\"treemap\""));
    // The charts' data is an attribute: no inline script on the page.
    assert!(!b.contains("<script>"), "an inline script");
    assert!(b.contains("echarts.min.js"));

    // The cases behind the volume: the three, linked, with the petitioner masked.
    let cases = t.get(&volume_href.replace("&#38;", "&"), &reg).await;
    assert_eq!(cases.status, StatusCode::OK, "{}", cases.body);
    for id in &ids {
        assert!(
            cases.body.contains(&format!("/staff/cases/{id}")),
            "{}",
            cases.body
        );
    }
    assert_eq!(cases.body.matches("<tr><td data-label").count(), 3);
    assert!(!cases.body.contains("13912345678"), "a full phone number");
    // A channel with none of them: no cases.
    let none = t
        .get(
            &format!("/staff/stats/cases?region=4406&{period}&key=received.channel.letter"),
            &reg,
        )
        .await;
    assert_eq!(none.status, StatusCode::OK);
    assert!(none.body.contains("id=\"no-cases\""), "{}", none.body);
    // Bad requests are a message on the page.
    for (uri, words) in [
        (
            format!("/staff/stats/cases?region=4406&{period}"),
            "请给出指标",
        ),
        (
            format!("/staff/stats/cases?region=4406&{period}&key=users.password"),
            "没有这个统计项",
        ),
        (
            format!("/staff/stats/cases?region=4406&{period}&indicator=volume&part=half"),
            "numerator 或 denominator",
        ),
        (
            format!("/staff/stats/cases?region=4406&{period}&indicator=nope"),
            "没有这个统计指标",
        ),
    ] {
        let page = t.get(&uri, &reg).await;
        assert_eq!(
            page.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{uri}: {}",
            page.body
        );
        assert!(page.body.contains(words), "{uri}: {}", page.body);
    }
    // Another province: refused, on the overview and for its cases.
    let page = t
        .get(&format!("/staff/dashboard?region=45&{period}"), &reg)
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let page = t
        .get(
            &format!("/staff/stats/cases?region=45&{period}&key=received"),
            &reg,
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let (gx, _) = t.login("gx.dengji").await;
    let page = t
        .get(
            &format!("/staff/stats/cases?region=4406&{period}&key=received"),
            &gx,
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(!page.body.contains("路灯损坏"));
    // An analyst sees the figures but not the cases.
    let (fx, _) = t.login("fenxi").await;
    let page = t
        .get(&format!("/staff/dashboard?region=4406&{period}"), &fx)
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let page = t
        .get(
            &format!("/staff/stats/cases?region=4406&{period}&key=received"),
            &fx,
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    assert!(page.body.contains("无权查看案件清单"), "{}", page.body);

    // The operations view: the three at the bureau, nothing overdue yet.
    let ops = t.get("/staff/dashboard/operations?region=4406", &reg).await;
    assert_eq!(ops.status, StatusCode::OK, "{}", ops.body);
    assert!(ops.body.contains("没有超期案件"), "{}", ops.body);
    assert!(ops.body.contains("id=\"due-today\""));

    // The JSON API says the same.
    let api = t
        .get(
            &format!("/api/v1/stats/overview?region=4406&{period}"),
            &reg,
        )
        .await;
    assert_eq!(api.status, StatusCode::OK, "{}", api.body);
    let v: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    assert_eq!(v["live"]["open"], 3);
    assert_eq!(v["channels"][0]["code"], "visit");
    assert_eq!(v["channels"][0]["value"], 3);
    let api = t
        .get(
            &format!("/api/v1/stats/cases?region=4406&{period}&indicator=volume"),
            &reg,
        )
        .await;
    assert_eq!(api.status, StatusCode::OK, "{}", api.body);
    let v: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    assert_eq!(v["rows"].as_array().unwrap().len(), 3);
    let api = t
        .get(
            &format!("/api/v1/stats/cases?region=4406&{period}&key=x"),
            &reg,
        )
        .await;
    assert_eq!(api.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", api.body);
    assert!(api.body.contains("counter_unknown"), "{}", api.body);
    let api = t.get("/api/v1/stats/operations?region=4406", &reg).await;
    assert_eq!(api.status, StatusCode::OK, "{}", api.body);

    // The annual report (第四十一条) of this year so far: the three visits, their field, routing.
    let page = t
        .get("/staff/stats/annual?region=4406&year=2025", &reg)
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("广东省佛山市2025年度信访工作报告"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("全年共收到信访事项3件，上年0件"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("<td>城乡建设</td><td>3</td><td>100.0%</td>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("转送0件，交办0件"), "{}", page.body);
    assert!(page.body.contains("data-print"));
    // Last year by default: none.
    let page = t.get("/staff/stats/annual?region=4406", &reg).await;
    assert!(page.body.contains("2024年度") && page.body.contains("全年共收到信访事项0件"));
    for (uri, status, words) in [
        (
            "/staff/stats/annual?region=4406&year=20x5",
            StatusCode::UNPROCESSABLE_ENTITY,
            "四位数字",
        ),
        (
            "/staff/stats/annual?region=4406&year=1999",
            StatusCode::UNPROCESSABLE_ENTITY,
            "2000",
        ),
        (
            "/staff/stats/annual?region=4406&year=2030",
            StatusCode::UNPROCESSABLE_ENTITY,
            "2000",
        ),
        (
            "/staff/stats/annual?region=45&year=2025",
            StatusCode::FORBIDDEN,
            "无权查看",
        ),
    ] {
        let page = t.get(uri, &reg).await;
        assert_eq!(page.status, status, "{uri}: {}", page.body);
        assert!(page.body.contains(words), "{uri}: {}", page.body);
    }
    t.finish().await;
}
