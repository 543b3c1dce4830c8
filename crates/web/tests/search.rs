//! Full-text search end to end (issue 7), on the access fixture of `scope.rs`: for every
//! actor, the hits, the total, the facet and light counts and the place suggestions of
//! `GET /api/v1/search` hold exactly the cases the actor may read; the petitioner fields of a
//! 检举控告 match only for those cleared (Art. 30); bad queries are refused with a stable code.
//! Runs on SQLite, or PostgreSQL when HUIYIN_TEST_DATABASE_URL is set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

include!("fixtures/access.rs");

fn keys_of(f: &Fixture, body: &Value) -> BTreeSet<&'static str> {
    body["hits"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|h| {
            let id = h["case_id"].as_str().unwrap();
            *f.cases.iter().find(|(_, v)| v.as_str() == id).unwrap().0
        })
        .collect()
}

fn facet_sum(body: &Value, facet: &str) -> u64 {
    body["facets"][facet]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["count"].as_u64().unwrap())
        .sum()
}

#[tokio::test]
async fn hits_counts_facets_and_suggestions_stay_in_scope() {
    let f = Fixture::start().await;
    for (actor, _, _) in ACTORS {
        let (cases, _, personal) = expected(actor);
        let (status, body) = f.get(actor, "/api/v1/search?q=违规收费&limit=50").await;
        if cases.is_empty() {
            assert_eq!(status, StatusCode::FORBIDDEN, "{actor}: {body}");
            continue;
        }
        assert_eq!(status, StatusCode::OK, "{actor}: {body}");
        let v = json_of(&body);
        assert_eq!(keys_of(&f, &v), cases, "{actor}: hits");
        assert_eq!(
            v["total"].as_u64().unwrap(),
            cases.len() as u64,
            "{actor}: total"
        );
        for facet in ["stage", "class", "channel", "unit", "region"] {
            assert_eq!(
                facet_sum(&v, facet),
                cases.len() as u64,
                "{actor}: facet {facet}"
            );
        }
        let l = &v["lights"];
        let lights: u64 = ["green", "yellow", "red", "none"]
            .iter()
            .map(|k| l[k].as_u64().unwrap())
            .sum();
        assert_eq!(lights, cases.len() as u64, "{actor}: lights");
        // highlights come from the hits' own text
        assert!(
            v["hits"][0]["highlights"]
                .as_array()
                .is_some_and(|h| !h.is_empty()),
            "{actor}: no highlight in {body}"
        );
        assert_no_leak(&f, actor, "/api/v1/search", &body, &personal);
        // Filter-only listing (no words) is scoped the same way.
        let (_, body) = f.get(actor, "/api/v1/search?limit=50&sort=newest").await;
        assert_eq!(keys_of(&f, &json_of(&body)), cases, "{actor}: browse");

        // The masked contact (last four digits) finds a case only for those who may see
        // that case's petitioner.
        for spec in CASES {
            let last4 = &spec.phone[spec.phone.len() - 4..];
            let (status, body) = f.get(actor, &format!("/api/v1/search?q={last4}")).await;
            assert_eq!(status, StatusCode::OK, "{actor}: {body}");
            let found = keys_of(&f, &json_of(&body));
            let may = cases.contains(spec.key) && personal.contains(spec.key);
            assert_eq!(
                found.contains(spec.key),
                may,
                "{actor}: contact of {} matched={}, allowed={may}",
                spec.key,
                found.contains(spec.key)
            );
            assert!(found.is_subset(&cases), "{actor}: {found:?}");
        }

        // Place suggestions come only from cases in scope.
        for (key, place) in [("sib", "南海区"), ("far", "西湖区"), ("town", "祖庙街道")] {
            let prefix: String = place.chars().take(1).collect();
            let (status, body) = f
                .get(actor, &format!("/api/v1/search/places?prefix={prefix}"))
                .await;
            assert_eq!(status, StatusCode::OK, "{actor}: {body}");
            assert_eq!(
                body.contains(place),
                cases.contains(key),
                "{actor}: suggestion {place} for {prefix}: {body}"
            );
        }
    }
    f.finish().await;
}

#[tokio::test]
async fn traditional_characters_find_simplified_text_and_filters_narrow() {
    let f = Fixture::start().await;
    let (status, body) = f.get("city_registrar", "/api/v1/search?q=違規收費").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json_of(&body)["total"].as_u64().unwrap(), 5);
    let (_, body) = f
        .get(
            "city_registrar",
            "/api/v1/search?q=违规收费&class=accusation",
        )
        .await;
    assert_eq!(
        keys_of(&f, &json_of(&body)),
        BTreeSet::from(["acc", "acc_self"])
    );
    let (_, body) = f
        .get("city_registrar", "/api/v1/search?q=违规收费&region=440605")
        .await;
    assert_eq!(keys_of(&f, &json_of(&body)), BTreeSet::from(["sib"]));
    let (_, body) = f
        .get("city_registrar", "/api/v1/search?unit=440604-xfj&limit=50")
        .await;
    // the subtree of the county bureau: its departments, the 纪委监委 and the town office
    assert_eq!(
        keys_of(&f, &json_of(&body)),
        BTreeSet::from(["zj", "acc", "acc_self", "town"])
    );
    let (_, body) = f
        .get("city_registrar", "/api/v1/search?q=违规收费 -南海区")
        .await;
    assert!(!keys_of(&f, &json_of(&body)).contains("sib"), "{body}");
    let (status, body) = f.get("city_registrar", "/api/v1/search/status").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json_of(&body)["behind_events"].as_i64(), Some(0), "{body}");
    f.finish().await;
}

#[tokio::test]
async fn bad_queries_are_refused_with_a_stable_code() {
    let f = Fixture::start().await;
    let long = "噪".repeat(300);
    for (query, code) in [
        ("q=%22违规".to_string(), "search_syntax"),
        (format!("q={long}"), "search_query_too_long"),
        ("q=*".to_string(), "search_wildcard"),
        ("q=违*规".to_string(), "search_wildcard"),
        ("q=违规*%20收费*%20单位*".to_string(), "search_wildcard"),
        ("q=违规&offset=5000".to_string(), "search_page_too_deep"),
        ("q=违规&limit=1000".to_string(), "search_page_too_deep"),
        ("q=违规&from=2025-13-40".to_string(), "date_invalid"),
        ("q=违规&light=purple".to_string(), "light_unknown"),
        ("q=违规&offset=-1".to_string(), "number_invalid"),
    ] {
        let (status, body) = f
            .get("city_registrar", &format!("/api/v1/search?{query}"))
            .await;
        assert!(status.is_client_error(), "{query}: {status} {body}");
        assert!(body.contains(code), "{query}: {body}");
    }
    // a prefix search within the bounds works
    let (status, body) = f.get("city_registrar", "/api/v1/search?q=违规*").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json_of(&body)["total"].as_u64().unwrap(), 5, "{body}");
    f.finish().await;
}

#[tokio::test]
async fn a_crash_while_indexing_is_repaired_by_catching_up_or_rebuilding() {
    use huiyin_app::search::{FaultPlan, SearchError, SearchIndex};
    let f = Fixture::start().await;
    let store = f.app.store().clone();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("search");
    let seg = huiyin_text::segment::shared();

    // 1. The first rebuild dies half-way: nothing of it is committed.
    {
        let index = SearchIndex::open(Some(&path), seg).unwrap();
        let crashed = index
            .rebuild_with(
                &store,
                FaultPlan {
                    crash_after_docs: Some(3),
                },
            )
            .await;
        assert!(matches!(crashed, Err(SearchError::Crashed)), "{crashed:?}");
    }
    // 2. Reopened, it is empty and unfed, so the catch-up rebuilds it completely.
    {
        let index = SearchIndex::open(Some(&path), seg).unwrap();
        assert_eq!(index.fed_seq(), 0);
        assert_eq!(index.catch_up(&store).await.unwrap(), CASES.len() as u64);
        let report = index.check(&store).await.unwrap();
        assert!(report.ok() && report.caught_up, "{report:?}");
        assert_eq!(report.cases_in_index, CASES.len() as u64);
    }
    // 3. A change, then a catch-up that dies before its commit: the checkpoint stays behind
    //    the change, so the next catch-up re-reads it.
    let case = f.cases["zj"].clone();
    let (status, body) = call(
        &f.router,
        "POST",
        &format!("/api/v1/cases/{case}/actions"),
        f.token("zj_handler"),
        Some(json!({"command": "add_note", "text": "已电话联系信访人核实停车场收费标准"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    {
        let index = SearchIndex::open(Some(&path), seg).unwrap();
        let before = index.fed_seq();
        let crashed = index
            .catch_up_with(
                &store,
                FaultPlan {
                    crash_after_docs: Some(0),
                },
            )
            .await;
        assert!(matches!(crashed, Err(SearchError::Crashed)), "{crashed:?}");
        assert_eq!(index.fed_seq(), before);
        let report = index.check(&store).await.unwrap();
        assert_eq!(report.stale, vec![case.clone()], "{report:?}");
    }
    {
        let index = SearchIndex::open(Some(&path), seg).unwrap();
        assert_eq!(index.catch_up(&store).await.unwrap(), 1);
        let report = index.check(&store).await.unwrap();
        assert!(report.ok() && report.caught_up, "{report:?}");
    }
    // 4. The directory deleted (or garbage): rebuilt from the database.
    std::fs::remove_dir_all(&path).unwrap();
    {
        let index = SearchIndex::open(Some(&path), seg).unwrap();
        index.catch_up(&store).await.unwrap();
        assert!(index.check(&store).await.unwrap().ok());
    }
    std::fs::remove_dir_all(&path).unwrap();
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(path.join("meta.json"), b"{not json").unwrap();
    {
        let index = SearchIndex::open(Some(&path), seg).unwrap();
        index.catch_up(&store).await.unwrap();
        assert!(index.check(&store).await.unwrap().ok());
    }
    // The note is searchable (through the app's own index, caught up before the search).
    let (status, body) = f.get("zj_handler", "/api/v1/search?q=停车场").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        keys_of(&f, &json_of(&body)),
        BTreeSet::from(["zj"]),
        "{body}"
    );
    f.finish().await;
}
fn expected(
    actor: &str,
) -> (
    BTreeSet<&'static str>,
    BTreeSet<&'static str>,
    BTreeSet<&'static str>,
) {
    let (_, cases, events, personal) = EXPECTED
        .iter()
        .find(|(a, ..)| *a == actor)
        .unwrap_or_else(|| panic!("{actor} missing from the expected table"));
    (
        cases.iter().copied().collect(),
        events.iter().copied().collect(),
        personal.iter().copied().collect(),
    )
}

/// Asserts that a response body shows no personal field of a case the actor may not see:
/// never the raw name, phone or ID number (those only come from the personal endpoint), and
/// for a 检举控告 the actor is not cleared for, not even the masked phone.
fn assert_no_leak(f: &Fixture, actor: &str, path: &str, body: &str, personal: &BTreeSet<&str>) {
    for spec in CASES {
        for secret in [spec.name, spec.phone, spec.id_card] {
            assert!(
                !body.contains(secret),
                "{actor} {path}: response contains {secret} of case {}",
                spec.key
            );
        }
        if !spec.accused.is_empty() && !personal.contains(spec.key) {
            let masked = &f.masked_phone[spec.key];
            assert!(
                !body.contains(masked.as_str()),
                "{actor} {path}: shows the masked whistleblower {masked} of {}",
                spec.key
            );
        }
    }
}
