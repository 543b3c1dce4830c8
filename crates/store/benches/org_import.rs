//! Times the national organisation-tree import (≈45,000 regions, ≈98,000 units) into a fresh
//! SQLite database, and into a fresh PostgreSQL schema when HUIYIN_BENCH_DATABASE_URL is set.
//! Run: `cargo bench -p huiyin-store --bench org_import` (results: docs/org.md).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use huiyin_org::{Catalogue, Divisions, OrgPlan, plan};
use huiyin_store::Store;

async fn run(label: &str, store: &Store, p: &OrgPlan) {
    let started = Instant::now();
    let report = store.import_org(p, 1_000).await.unwrap();
    let first = started.elapsed();
    let started = Instant::now();
    let again = store.import_org(p, 2_000).await.unwrap();
    let second = started.elapsed();
    assert!(again.is_noop());
    println!(
        "{label:<10} import {:>6} regions + {:>6} units: {:>7.2} s; re-import (no change): {:>6.2} s",
        report.regions_added,
        report.units_added + report.units_updated,
        first.as_secs_f64(),
        second.as_secs_f64()
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let started = Instant::now();
        let divisions = Divisions::embedded().unwrap();
        let p = plan(divisions, &Catalogue::default()).unwrap();
        println!(
            "plan: {} regions, {} units in {:.2} s (parse + compose)",
            p.regions.len(),
            p.units.len(),
            started.elapsed().as_secs_f64()
        );

        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&format!("sqlite://{}", dir.path().join("b.db").display()))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        run("SQLite", &store, &p).await;
        store.close().await;

        if let Ok(base) = std::env::var("HUIYIN_BENCH_DATABASE_URL")
            && !base.trim().is_empty()
        {
            let schema = format!("bench_org_{}", std::process::id());
            let admin = Store::connect(&base).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .execute(admin.pool())
                .await
                .unwrap();
            let sep = if base.contains('?') { '&' } else { '?' };
            let store = Store::connect(&format!("{base}{sep}options=-csearch_path%3D{schema}"))
                .await
                .unwrap();
            store.migrate().await.unwrap();
            run("PostgreSQL", &store, &p).await;
            store.close().await;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(admin.pool())
                .await
                .unwrap();
            admin.close().await;
        }
    });
}
