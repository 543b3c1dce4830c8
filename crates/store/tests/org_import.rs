//! The organisation tree on a real database (SQLite, or PostgreSQL with
//! HUIYIN_TEST_DATABASE_URL): importing the shipped divisions of a province, re-importing,
//! renaming, merging and retiring units with history, and rejecting bad unit files whole.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::Instant;

use huiyin_org::{Catalogue, Divisions, Level, OrgError, UnitKind, plan};
use huiyin_store::testing::fresh;
use huiyin_store::{OrgImportError, Store, StoreError};

/// Expected active units per (level, kind), computed from the shipped data and the default
/// catalogue, not from the code under test.
fn expected_units(d: &Divisions) -> BTreeMap<(String, String), i64> {
    let catalogue = Catalogue::default();
    let mut out = BTreeMap::new();
    for level in Level::ALL {
        let regions = d.count(level) as i64;
        for t in catalogue.templates(level) {
            *out.entry((level.as_str().to_string(), t.kind.as_str().to_string()))
                .or_insert(0) += regions;
        }
    }
    out
}

async fn stats_by_kind(store: &Store) -> BTreeMap<(String, String), i64> {
    let stats = store.org_stats().await.unwrap();
    let mut out = BTreeMap::new();
    for (level, kinds) in stats.units {
        for (kind, n) in kinds {
            out.insert((level.clone(), kind), n);
        }
    }
    out
}

#[tokio::test]
async fn guangdong_imports_with_the_counts_of_the_shipped_data_and_reimports_as_a_no_op() {
    let db = fresh().await.unwrap();
    let s = &db.store;
    let national = Divisions::embedded().unwrap();
    let gd = national.province("44").unwrap();
    // Counted independently from the shipped file: regions whose code starts with 44.
    let count = |len: usize| {
        national
            .regions()
            .iter()
            .filter(|r| r.code.len() == len && r.code.starts_with("44"))
            .count() as i64
    };
    assert_eq!(count(4), 21, "Guangdong has 21 prefecture-level cities");
    let p = plan(&gd, &Catalogue::default()).unwrap();

    let report = s.import_org(&p, 1_000).await.unwrap();
    assert_eq!(report.regions_added as usize, gd.regions().len());
    let stats = s.org_stats().await.unwrap();
    assert_eq!(stats.regions.get("province"), Some(&1));
    assert_eq!(stats.regions.get("city"), Some(&count(4)));
    assert_eq!(stats.regions.get("county"), Some(&count(6)));
    assert_eq!(stats.regions.get("township"), Some(&count(9)));
    assert_eq!(stats_by_kind(s).await, expected_units(&gd));
    assert_eq!(stats.units_retired, 0);

    // The units the demo and the routing rules rely on.
    for id in [
        "0-xfj",
        "44-xfj",
        "4406-xfj",
        "440604-xfj",
        "440605-xfj",
        "4406-zj",
        "4406-rs",
        "4406-jy",
        "4406-sthj",
        "4406-ga",
        "4406-fy",
        "4406-jw",
        "4406-jcy",
    ] {
        assert!(s.org_unit(id).await.unwrap().is_some(), "{id} missing");
    }
    let zj = s.org_unit("4406-zj").await.unwrap().unwrap();
    assert_eq!(zj.name, "广东省佛山市住房和城乡建设局");
    assert_eq!(zj.department.as_deref(), Some("housing"));
    assert_eq!(zj.level, "city");
    assert_eq!(zj.parent_id.as_deref(), Some("4406-gov"));
    assert_eq!(
        s.bureau_for_region("440604").await.unwrap().unwrap().id,
        "440604-xfj"
    );
    assert_eq!(
        s.unit_region("4406-zj").await.unwrap().as_deref(),
        Some("4406")
    );
    let found = s
        .units_by_ids(&["4406-zj".into(), "nope".into(), "44-xfj".into()])
        .await
        .unwrap();
    let ids: Vec<&str> = found.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids, ["44-xfj", "4406-zj"]);
    let path: Vec<String> = s
        .region_path("440604")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(path, ["中华人民共和国", "广东省", "佛山市", "禅城区"]);

    // A second run changes nothing and writes no history.
    let history = s.org_stats().await.unwrap().history_entries;
    let again = s.import_org(&p, 2_000).await.unwrap();
    assert!(again.is_noop(), "{again:?}");
    assert_eq!(again.units_unchanged as usize, p.units.len());
    assert_eq!(s.org_stats().await.unwrap().history_entries, history);
    assert!(s.unit_history("4406-zj").await.unwrap().len() == 1);

    // A name that changed in the catalogue is updated, with history, and only that unit.
    let mut renamed = p.clone();
    let u = renamed
        .units
        .iter_mut()
        .find(|u| u.id == "4406-jy")
        .unwrap();
    u.name = "广东省佛山市教育局（新）".into();
    let third = s.import_org(&renamed, 3_000).await.unwrap();
    assert_eq!(third.units_updated, 1);
    assert_eq!(third.units_added, 0);
    let h = s.unit_history("4406-jy").await.unwrap();
    assert_eq!(h.last().unwrap().change, "renamed");
    assert_eq!(
        h.last().unwrap().detail["after"]["name"],
        "广东省佛山市教育局（新）"
    );
    db.cleanup().await.unwrap();
}

#[tokio::test]
async fn rename_merge_and_retire_keep_history_and_never_delete() {
    let db = fresh().await.unwrap();
    let s = &db.store;
    let gd = Divisions::embedded().unwrap().province("44").unwrap();
    let p = plan(&gd, &Catalogue::default()).unwrap();
    s.import_org(&p, 1_000).await.unwrap();

    assert!(
        s.rename_unit("4406-cg", "佛山市城市管理和综合执法局", 2_000, None)
            .await
            .unwrap()
    );
    assert!(
        !s.rename_unit("4406-cg", "佛山市城市管理和综合执法局", 2_001, None)
            .await
            .unwrap()
    );
    assert!(matches!(
        s.rename_unit("4406-cg", "  ", 2_002, None).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.rename_unit("nope", "x", 2_002, None).await,
        Err(StoreError::NotFound(_))
    ));

    // 南海区 (440605) merges into 禅城区 (440604): its government retires, its departments
    // and townships' offices move under 禅城区人民政府.
    let children_before = s
        .units_in_region("440605")
        .await
        .unwrap()
        .into_iter()
        .filter(|u| u.parent_id.as_deref() == Some("440605-gov"))
        .count();
    assert!(children_before >= 16);
    s.merge_unit("440605-gov", "440604-gov", 3_000, None)
        .await
        .unwrap();
    let old = s.org_unit("440605-gov").await.unwrap().unwrap();
    assert_eq!(old.status, "retired");
    assert_eq!(old.successor_id.as_deref(), Some("440604-gov"));
    assert_eq!(old.retired_at_ms, Some(3_000));
    let moved = s.org_unit("440605-xfj").await.unwrap().unwrap();
    assert_eq!(moved.parent_id.as_deref(), Some("440604-gov"));
    let history = s.unit_history("440605-xfj").await.unwrap();
    assert_eq!(history.last().unwrap().change, "reparented");
    assert_eq!(
        s.unit_history("440604-gov")
            .await
            .unwrap()
            .last()
            .unwrap()
            .change,
        "absorbed"
    );
    assert_eq!(
        s.current_successor("440605-gov").await.unwrap().unwrap().id,
        "440604-gov"
    );
    // Merging into a retired unit, into itself or into its own sub-unit is refused.
    assert!(
        s.merge_unit("440604-jy", "440605-gov", 3_100, None)
            .await
            .is_err()
    );
    assert!(
        s.merge_unit("440604-jy", "440604-jy", 3_100, None)
            .await
            .is_err()
    );
    assert!(
        s.merge_unit("440604-gov", "440604-jy", 3_100, None)
            .await
            .is_err()
    );

    // A re-import neither resurrects the merged unit nor undoes the moves.
    let history_count = s.org_stats().await.unwrap().history_entries;
    let again = s.import_org(&p, 4_000).await.unwrap();
    assert_eq!(again.units_kept_retired, 1);
    // The renamed 4406-cg gets the catalogue name back: the catalogue is the source.
    assert_eq!(again.units_updated, 1, "{again:?}");
    assert_eq!(
        s.org_unit("440605-xfj")
            .await
            .unwrap()
            .unwrap()
            .parent_id
            .as_deref(),
        Some("440604-gov")
    );
    assert_eq!(
        s.org_stats().await.unwrap().history_entries,
        history_count + 1
    );

    // Retiring needs the unit to have no active sub-units.
    let err = s.retire_unit("4406-gov", 5_000, None).await.unwrap_err();
    assert!(err.to_string().contains("下级单位"), "{err}");
    s.retire_unit("4406-nn", 5_000, None).await.unwrap();
    assert!(s.retire_unit("4406-nn", 5_001, None).await.is_err());
    let nn = s.org_unit("4406-nn").await.unwrap().unwrap();
    assert_eq!(nn.status, "retired");
    let changes: Vec<String> = s
        .unit_history("4406-nn")
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.change)
        .collect();
    assert_eq!(changes, ["added", "retired"]);
    let stats = s.org_stats().await.unwrap();
    assert_eq!(stats.units_retired, 2);
    db.cleanup().await.unwrap();
}

#[tokio::test]
async fn a_bad_units_file_is_rejected_whole_with_line_numbers() {
    let db = fresh().await.unwrap();
    let s = &db.store;
    let gd = Divisions::embedded().unwrap().province("44").unwrap();
    s.import_org(&plan(&gd, &Catalogue::default()).unwrap(), 1_000)
        .await
        .unwrap();
    let before = s.org_stats().await.unwrap();

    let bad = "id,name,kind,region,parent\n\
               4406-wg,佛山市网格中心,department,4406,4406-gov\n\
               9901-x,某单位,department,9901,4406-gov\n\
               4406-a,甲,department,4406,4406-b\n\
               4406-b,乙,department,4406,4406-a\n\
               4406-c,丙,court,4406,4406-nowhere\n\
               4406-wg,重复,department,4406,4406-gov\n";
    let err = s.import_units_csv(bad, 2_000, None).await.unwrap_err();
    let OrgImportError::Rejected(OrgError::Lines(lines)) = &err else {
        panic!("unexpected {err}");
    };
    let got: Vec<(usize, &str)> = lines.iter().map(|l| (l.line, l.code)).collect();
    assert_eq!(got, [(7, "unit_duplicate")], "parse errors come first");
    assert!(err.to_string().contains("第7行"));

    let bad = &bad[..bad.rfind("4406-wg,重复").unwrap()];
    let err = s.import_units_csv(bad, 2_000, None).await.unwrap_err();
    let OrgImportError::Rejected(OrgError::Lines(lines)) = &err else {
        panic!("unexpected {err}");
    };
    let got: Vec<(usize, &str)> = lines.iter().map(|l| (l.line, l.code)).collect();
    assert_eq!(
        got,
        [
            (3, "region_unknown"),
            (4, "unit_cycle"),
            (5, "unit_cycle"),
            (6, "parent_missing")
        ]
    );
    assert_eq!(s.org_stats().await.unwrap(), before, "nothing was written");
    assert!(s.org_unit("4406-wg").await.unwrap().is_none());

    // The good part alone goes in, with the department column, and a re-run is a no-op.
    let good = "id,name,kind,region,parent,department\n\
                4406-wg,佛山市网格化服务管理中心,department,4406,4406-gov,grid\n\
                440604011-wg,祖庙街道网格站,township_office,440604011,440604011-office,\n";
    let r = s.import_units_csv(good, 3_000, None).await.unwrap();
    assert_eq!(r.units_added, 2);
    let wg = s.org_unit("440604011-wg").await.unwrap().unwrap();
    assert_eq!(wg.level, "township");
    assert_eq!(wg.kind, UnitKind::TownshipOffice.as_str());
    let r = s.import_units_csv(good, 4_000, None).await.unwrap();
    assert!(r.is_noop(), "{r:?}");
    // Adding (not importing) refuses an id that exists, under the organisation lock, and
    // writes nothing; an import of the same line would update the unit instead.
    let again = "id,name,kind,region,parent\n4406-wg,另一个中心,department,4406,4406-gov\n";
    let err = s.add_units_csv(again, 5_000, None).await.unwrap_err();
    let OrgImportError::Rejected(OrgError::Lines(lines)) = &err else {
        panic!("unexpected {err}");
    };
    assert_eq!((lines[0].line, lines[0].code), (2, "unit_duplicate"));
    let wg = s.org_unit("4406-wg").await.unwrap().unwrap();
    assert_eq!(wg.name, "佛山市网格化服务管理中心");
    db.cleanup().await.unwrap();
}

/// Slow: the whole country (≈45,000 regions, ≈98,000 units) into a fresh database, then a
/// re-import that must change nothing. Runs in every `cargo test`; see docs/org.md for the
/// release-build benchmark.
#[tokio::test]
async fn slow_national_import_loads_every_province_in_one_go() {
    let db = fresh().await.unwrap();
    let s = &db.store;
    let national = Divisions::embedded().unwrap();
    let p = plan(national, &Catalogue::default()).unwrap();
    let started = Instant::now();
    let report = s.import_org(&p, 1_000).await.unwrap();
    let took = started.elapsed();
    eprintln!("national import: {} units in {took:?}", p.units.len());
    assert_eq!(report.regions_added as usize, national.regions().len());
    assert_eq!(stats_by_kind(s).await, expected_units(national));
    let stats = s.org_stats().await.unwrap();
    assert_eq!(stats.regions.get("province"), Some(&31));
    assert_eq!(stats.regions.get("city"), Some(&342));
    assert_eq!(stats.regions.get("county"), Some(&2978));
    assert_eq!(stats.regions.get("township"), Some(&41352));
    let again = s.import_org(&p, 2_000).await.unwrap();
    assert!(again.is_noop(), "{again:?}");
    db.cleanup().await.unwrap();
}
