//! Exports of the workbench's lists (issue 8): the inbox and the search results to Excel and
//! CSV with the pages' filters and scope, masked; the statistics table as xlsx; big exports in
//! the background with progress, for the one who asked only, until they expire; bad requests
//! get a message, never a 500.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Read;

use axum::http::StatusCode;
use chrono::Duration;
use common::T;

/// Every text part of an xlsx (a zip of XML files), and the first worksheet alone.
fn unzip(bytes: &[u8]) -> (String, String) {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut all = String::new();
    let mut sheet = String::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let name = f.name().unwrap().to_string();
        let mut text = String::new();
        f.read_to_string(&mut text).unwrap();
        if name == "xl/worksheets/sheet1.xml" {
            sheet = text.clone();
        }
        all.push_str(&text);
    }
    assert!(!sheet.is_empty(), "no worksheet in the workbook");
    (all, sheet)
}

/// A CSV's records (the BOM checked and stripped; fields unquoted as RFC 4180 says).
fn csv_records(bytes: &[u8]) -> Vec<Vec<String>> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let text = text.strip_prefix('\u{feff}').expect("a byte-order mark");
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(
        field.is_empty() && record.is_empty(),
        "a record without CRLF"
    );
    records
}

fn wait_ms(ms: u64) -> tokio::time::Sleep {
    tokio::time::sleep(std::time::Duration::from_millis(ms))
}

#[tokio::test]
async fn the_inbox_exports_to_excel_and_csv_within_scope_and_masked() {
    let t = T::start().await;
    t.user("dengji", "4406-xfj", "registrar").await;
    t.user("zhujian", "4406-zj", "handler").await;
    let (reg, csrf) = t.login("dengji").await;
    for title in ["路灯不亮", "小区噪音扰民", "道路破损"] {
        t.intake(&reg, &csrf, title).await;
    }

    // The page offers both exports with its filters.
    let page = t.get("/staff?channel=visit", &reg).await;
    assert!(
        page.body
            .contains("/staff/exports/new?list=inbox&#38;format=xlsx&#38;channel=visit"),
        "{}",
        page.body
    );

    // Excel: Chinese headers, bold frozen header row, one row per case, no personal data.
    let (status, headers, bytes) = t
        .raw_get("/staff/exports/new?list=inbox&format=xlsx", &reg)
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    assert_eq!(
        headers["content-type"].to_str().unwrap(),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".xlsx")
    );
    let (all, sheet) = unzip(&bytes);
    for h in ["受理编号", "标题", "阶段", "信访人", "收到时间"] {
        assert!(sheet.contains(h), "header {h} missing: {sheet}");
    }
    assert!(sheet.contains("路灯不亮") && sheet.contains("道路破损"));
    assert!(
        sheet.contains("<pane ySplit=\"1\""),
        "header not frozen: {sheet}"
    );
    assert!(sheet.contains("<cols>"), "no column widths: {sheet}");
    assert!(sheet.contains("<row r=\"4\""), "3 data rows: {sheet}");
    assert!(!sheet.contains("<row r=\"5\""));
    // Received 2025-03-12 02:00 UTC, shown as China time.
    assert!(sheet.contains("2025-03-12 10:00"), "{sheet}");
    assert!(!all.contains("张三") && !all.contains("13912345678"));
    assert!(all.contains("张*"), "the masked name is shown");

    // CSV: the same rows, round-tripped.
    let (status, _, bytes) = t
        .raw_get("/staff/exports/new?list=inbox&format=csv", &reg)
        .await;
    assert_eq!(status, StatusCode::OK);
    let records = csv_records(&bytes);
    assert_eq!(records.len(), 4, "{records:?}");
    assert_eq!(records[0][0], "受理编号");
    assert_eq!(records[0].len(), 11);
    let titles: Vec<&str> = records[1..].iter().map(|r| r[1].as_str()).collect();
    for title in ["路灯不亮", "小区噪音扰民", "道路破损"] {
        assert!(titles.contains(&title), "{titles:?}");
    }
    assert!(records[1..].iter().all(|r| r[6] == "张*" && r[3] == "来访"));
    let text = String::from_utf8(bytes).unwrap();
    assert!(!text.contains("张三") && !text.contains("13912345678"));

    // The filters apply: no letters among these visits.
    let (_, _, bytes) = t
        .raw_get(
            "/staff/exports/new?list=inbox&format=csv&channel=letter",
            &reg,
        )
        .await;
    assert_eq!(csv_records(&bytes).len(), 1);

    // Another unit's user exports their own (empty) inbox: none of these rows.
    let (zj, _) = t.login("zhujian").await;
    let (status, _, bytes) = t
        .raw_get("/staff/exports/new?list=inbox&format=csv", &zj)
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert_eq!(csv_records(&bytes).len(), 1, "{text}");
    assert!(!text.contains("路灯不亮"));

    // Every export is in the audit trail: who, which list, how many rows.
    let audit = t.app.store().audit_entries(None, None, 100).await.unwrap();
    let exports: Vec<_> = audit
        .iter()
        .filter(|a| a.entry.action == "export")
        .collect();
    assert_eq!(exports.len(), 4);
    let first = exports.last().unwrap();
    let detail: serde_json::Value = serde_json::from_str(&first.entry.detail).unwrap();
    assert_eq!(detail["list"], "inbox");
    assert_eq!(detail["format"], "xlsx");
    assert_eq!(detail["rows"], 3);
    let dengji = t
        .app
        .store()
        .user_by_username("dengji")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.entry.actor, format!("user:{}", dengji.id));
    t.finish().await;
}

#[tokio::test]
async fn bad_export_requests_get_a_message_not_a_500() {
    let t = T::start().await;
    t.user("dengji", "4406-xfj", "registrar").await;
    let (reg, _) = t.login("dengji").await;
    for (uri, words) in [
        (
            "/staff/exports/new?list=inbox&format=pdf",
            "导出格式「pdf」不可用",
        ),
        (
            "/staff/exports/new?list=people&format=csv",
            "没有可导出的列表「people」",
        ),
        (
            "/staff/exports/new?list=inbox&format=csv&stage=nonsense",
            "nonsense",
        ),
        (
            "/staff/exports/new?list=search&format=csv&sort=sideways",
            "排序",
        ),
    ] {
        let page = t.get(uri, &reg).await;
        assert_eq!(
            page.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{uri}: {}",
            page.body
        );
        assert!(page.body.contains(words), "{uri}: {}", page.body);
    }
    let page = t
        .get("/staff/exports/new?list=inbox&format=pdf&lang=en", &reg)
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    let page = t.get("/staff/exports/nosuchexport", &reg).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND, "{}", page.body);
    let page = t.get("/staff/exports/nosuchexport/file", &reg).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    // Not signed in: to the sign-in form.
    let page = t.get("/staff/exports/new?list=inbox&format=csv", "").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    t.finish().await;
}

#[tokio::test]
async fn a_big_export_runs_in_the_background_with_progress_for_its_owner_only() {
    let t = T::start_with(|c| c.export_immediate_rows = 2).await;
    t.user("dengji", "4406-xfj", "registrar").await;
    t.user("dengji2", "4406-xfj", "registrar").await;
    let (reg, csrf) = t.login("dengji").await;
    for title in ["路灯不亮", "小区噪音扰民", "道路破损"] {
        t.intake(&reg, &csrf, title).await;
    }
    let res = t
        .get("/staff/exports/new?list=inbox&format=xlsx", &reg)
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let progress = res.location.unwrap();
    assert!(progress.starts_with("/staff/exports/"));
    let mut page = t.get(&progress, &reg).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("id=\"export-progress\""));
    for _ in 0..100 {
        if page.body.contains("id=\"export-download\"") {
            break;
        }
        assert!(
            page.body
                .contains(&format!("hx-get=\"{progress}/progress\"")),
            "a running export polls: {}",
            page.body
        );
        wait_ms(50).await;
        page = t.get(&format!("{progress}/progress"), &reg).await;
        assert_eq!(page.status, StatusCode::OK);
    }
    assert!(
        page.body.contains("已写入 3 行，共约 3 行"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("hx-get"),
        "a finished export stops polling"
    );

    let (status, headers, bytes) = t.raw_get(&format!("{progress}/file"), &reg).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .contains("spreadsheetml")
    );
    let (all, sheet) = unzip(&bytes);
    assert!(sheet.contains("小区噪音扰民") && sheet.contains("<row r=\"4\""));
    assert!(!all.contains("张三"));

    // Someone else (even of the same unit) can neither see nor download it.
    let (other, _) = t.login("dengji2").await;
    let page = t.get(&progress, &other).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let (status, _, bytes) = t.raw_get(&format!("{progress}/file"), &other).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!String::from_utf8_lossy(&bytes).contains("PK"));

    // The background export is audited like the others.
    let audit = t.app.store().audit_entries(None, None, 100).await.unwrap();
    let entry = audit.iter().find(|a| a.entry.action == "export").unwrap();
    let detail: serde_json::Value = serde_json::from_str(&entry.entry.detail).unwrap();
    assert_eq!(detail["mode"], "background");
    assert_eq!(detail["rows"], 3);

    // After 24 hours it is gone.
    let now = t.app.now();
    t.app.clock().set(now + Duration::hours(25));
    let (reg, _) = t.login("dengji").await;
    let page = t.get(&progress, &reg).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let (status, _, _) = t.raw_get(&format!("{progress}/file"), &reg).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    t.finish().await;
}

#[tokio::test]
async fn search_results_and_the_statistics_table_export_too() {
    let t = T::start().await;
    t.user("dengji", "4406-xfj", "registrar").await;
    let (reg, csrf) = t.login("dengji").await;
    t.intake(&reg, &csrf, "路灯不亮").await;
    t.intake_text(
        &reg,
        &csrf,
        "小区噪音扰民",
        "楼下商铺每晚噪音很大，影响休息，请尽快处理。",
    )
    .await;
    let page = t.get("/staff/search?q=路灯", &reg).await;
    assert!(
        page.body.contains("list=search&#38;format=xlsx"),
        "{}",
        page.body
    );
    let (status, _, bytes) = t
        .raw_get(
            "/staff/exports/new?list=search&format=csv&q=%E8%B7%AF%E7%81%AF",
            &reg,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    let records = csv_records(&bytes);
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[1][1], "路灯不亮");
    assert_eq!(records[1][5], "张*");

    let (status, headers, bytes) = t
        .raw_get(
            "/staff/stats.xlsx?region=4406&from=2025-03-01&to=2025-03-31",
            &reg,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("huiyin-stats-2025-03-01-2025-03-31.xlsx")
    );
    let (_, sheet) = unzip(&bytes);
    assert!(
        sheet.contains("信访总量") && sheet.contains("口径"),
        "{sheet}"
    );
    // Figures are number cells, not text.
    assert!(sheet.contains("<c r=\"B2\"><v>"), "{sheet}");
    assert!(sheet.contains("<c r=\"A2\" t=\"inlineStr\"><is><t>信访总量</t>"));
    let page = t
        .get(
            "/staff/stats?region=4406&from=2025-03-01&to=2025-03-31",
            &reg,
        )
        .await;
    assert!(page.body.contains("/staff/stats.xlsx?region=4406"));
    t.finish().await;
}

/// The annual report (第四十一条) as a workbook: its sections and figures, scoped.
#[tokio::test]
async fn the_annual_report_as_a_workbook() {
    let t = T::start().await;
    t.user("dengji", "4406-xfj", "registrar").await;
    let (reg, csrf) = t.login("dengji").await;
    for i in 0..2 {
        t.intake(&reg, &csrf, &format!("第{i}件：路灯损坏")).await;
    }
    t.app.stats_catch_up().await.unwrap();
    let (status, headers, bytes) = t
        .raw_get("/staff/stats/annual.xlsx?region=4406&year=2025", &reg)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .contains("spreadsheetml")
    );
    let (all, sheet) = unzip(&bytes);
    for words in [
        "信访总量",
        "二、涉及领域",
        "城乡建设",
        "四、转送、交办、督办",
        "按期办结率",
    ] {
        assert!(all.contains(words), "no {words} in the workbook");
    }
    assert!(
        sheet.contains("<v>2</v>"),
        "the volume of 2 is not in the sheet"
    );
    assert!(!all.contains("13912345678"), "a phone number in the report");
    // Another province, and a year that is not one: refused.
    let (status, _, _) = t
        .raw_get("/staff/stats/annual.xlsx?region=45&year=2025", &reg)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = t
        .raw_get("/staff/stats/annual.xlsx?region=4406&year=two", &reg)
        .await;
    assert!(status.is_client_error(), "{status}");
    t.finish().await;
}
