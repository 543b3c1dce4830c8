//! The workbench search page (检索) through the real router (SQLite, or PostgreSQL when
//! HUIYIN_TEST_DATABASE_URL is set): hits with their highlighted words, counts that narrow the
//! search in one click, pages, the scope applied inside the query (a department sees a case
//! only once it is routed there), and bad input shown as a message, not an error page.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::{T, enc};

fn search(q: &str, extra: &str) -> String {
    format!("/staff/search?q={}{extra}", enc(q))
}

fn hits(body: &str) -> Vec<String> {
    let Some(start) = body.find("id=\"search-hits\"") else {
        return Vec::new();
    };
    let list = &body[start..body[start..].find("</ol>").unwrap() + start];
    list.split("class=\"hit-title\"><a href=\"/staff/cases/")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn staff_search_their_cases_with_highlights_narrowing_and_pages() {
    let t = T::start().await;
    t.user("dengji", "4406-xfj", "registrar").await;
    t.user("rs.banli", "4406-rs", "handler").await;
    let (reg, csrf) = t.login("dengji").await;
    let lamp = t
        .intake_text(
            &reg,
            &csrf,
            "东门路灯损坏",
            "小区东门的路灯已经坏了一个月，晚上出行很不方便，请尽快维修。",
        )
        .await;
    let wage = t
        .intake_text(
            &reg,
            &csrf,
            "工资被拖欠",
            "工地老板拖欠我们三个月的工资，多次讨要无果，请求帮助追讨。",
        )
        .await;
    let mut more = Vec::new();
    for i in 0..22 {
        let text = format!("第{i}号楼的路灯不亮，夜里路面漆黑，老人摔倒过，请求修理路灯。");
        more.push(
            t.intake_text(&reg, &csrf, &format!("第{i}号楼路灯不亮"), &text)
                .await,
        );
    }

    // The page without a search asks for words; the navigation offers it.
    let page = t.get("/staff/search", &reg).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body
            .contains("href=\"/staff/search\" aria-current=\"page\"")
    );
    assert!(hits(&page.body).is_empty());

    // Words: the matching cases, the word marked in the fragment (and escaped text).
    let page = t.get(&search("路灯", ""), &reg).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("共找到 23 件"), "{}", page.body);
    let first = hits(&page.body);
    assert_eq!(first.len(), 20, "a page holds 20");
    assert!(!first.contains(&wage));
    assert!(page.body.contains("<mark>路灯</mark>"), "{}", page.body);
    // The next page holds the rest, none twice.
    let next_at = page.body.find("rel=\"next\"").expect("a next page");
    let href_start = page.body[..next_at].rfind("href=\"").unwrap() + 6;
    let next = page.body[href_start..]
        .split('"')
        .next()
        .unwrap()
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    let second = t.get(&next, &reg).await;
    let rest = hits(&second.body);
    assert_eq!(rest.len(), 3, "{next}");
    let mut all: Vec<String> = first.into_iter().chain(rest).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 23);
    assert!(all.contains(&lamp));

    // A phrase narrows; a count link narrows by stage in one click.
    let page = t.get(&search("\"东门的路灯\"", ""), &reg).await;
    assert_eq!(hits(&page.body), vec![lamp.clone()], "{}", page.body);
    let page = t.get(&search("工资", ""), &reg).await;
    assert_eq!(hits(&page.body), vec![wage.clone()]);
    assert!(page.body.contains("class=\"facet\""), "counts are offered");
    let page = t.get(&search("工资", "&stage=registered"), &reg).await;
    assert!(hits(&page.body).is_empty(), "not registered yet");

    // A department sees a case only once it is routed there: the scope is in the query.
    let (rs, _) = t.login("rs.banli").await;
    let page = t.get(&search("工资", ""), &rs).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(hits(&page.body).is_empty() && page.body.contains("共找到 0 件"));
    t.register_and_route(&reg, &csrf, &wage, "4406-rs").await;
    let page = t.get(&search("工资", ""), &rs).await;
    assert_eq!(hits(&page.body), vec![wage.clone()], "{}", page.body);
    let page = t.get(&search("路灯", ""), &rs).await;
    assert!(hits(&page.body).is_empty(), "other cases stay out of reach");

    // Bad input is a message on the page, with the words kept.
    let long = "路".repeat(300);
    let page = t.get(&search(&long, ""), &reg).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("role=\"alert\""), "{}", page.body);
    let page = t.get(&search("路灯", "&stage=nonsense"), &reg).await;
    assert!(page.body.contains("未知的阶段"), "{}", page.body);
    let page = t.get(&search("<script>x</script>", ""), &reg).await;
    assert!(!page.body.contains("<script>x"), "text is escaped");
    t.finish().await;
}
