//! The workbench's server render time (issue 4: p95 under 20 ms) and the unit picker's search
//! over the whole national tree (under 100 ms), on embedded SQLite.
//!
//! Setup: the national organisation tree from the shipped GB/T 2260 divisions (≈98,000 units,
//! as `huiyin org import` loads it), a signed-in registrar of 佛山市信访局 and 400 cases in its
//! inbox, one of them with a long history. Timed through the real router in-process (session
//! lookup, the scoped queries, counts, the template): `GET /staff` (50 rows with counts) and
//! `GET /staff/cases/{id}` (timeline, deadlines, the available actions' dry runs); and
//! `Store::search_units` for names, names within a region, and names of one kind. Besides
//! criterion's estimate, each target prints p50/p95/p99 of 300 timed runs.
//!
//! Run: `cargo bench -p huiyin-web --bench staff_pages`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt;
use huiyin_app::{App, Config, NewPetition};
use huiyin_domain::case::{Actor, Command, Role};
use huiyin_domain::ids::{ActorId, CaseId, UnitId};
use huiyin_domain::petition::{Channel, Person, Petition, Petitioner};
use huiyin_domain::values::{
    DocumentText, PersonName, PetitionText, PhoneNumber, RegionCode, Title,
};
use huiyin_org::{Catalogue, Divisions, plan};
use huiyin_store::UnitSearch;
use tower::ServiceExt;

const PASSWORD: &str = "Correct-Horse-7";

fn percentiles(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    println!(
        "{name}: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms ({} runs)",
        at(0.50).as_secs_f64() * 1e3,
        at(0.95).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        samples.len()
    );
}

async fn get(router: &axum::Router, uri: &str, cookie: &str) -> (StatusCode, usize) {
    let req = Request::get(uri)
        .header("cookie", cookie)
        .body(Body::empty())
        .unwrap();
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, body.len())
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    // The application spawns its writer task on this runtime.
    let _guard = rt.enter();
    let db = rt.block_on(huiyin_store::testing::fresh()).unwrap();
    let store = db.store.clone();
    // The national tree.
    let started = Instant::now();
    let divisions = Divisions::embedded().unwrap();
    let org = plan(divisions, &Catalogue::default()).unwrap();
    let report = rt.block_on(store.import_org(&org, 0)).unwrap();
    println!(
        "imported {} units in {:.1} s",
        report.units_added,
        started.elapsed().as_secs_f64()
    );
    let app = App::new(store.clone(), Config::default());
    let router = huiyin_web::router(app.clone(), huiyin_web::WebConfig::default());
    rt.block_on(app.add_user(
        "dengji",
        "登记员",
        "4406-xfj",
        &["registrar".to_string()],
        Some(PASSWORD),
    ))
    .unwrap();
    // 400 cases received by 佛山市信访局; the first gets a long history.
    let registrar = Actor {
        id: ActorId::new("bench"),
        roles: vec![Role::Registrar],
        unit: Some(UnitId::new("4406-xfj")),
        oversees_case: false,
        is_case_petitioner: false,
    };
    let mut first = None;
    rt.block_on(async {
        for i in 0..400 {
            let petition = Petition {
                channel: Channel::Visit,
                petitioner: Petitioner::Named(Person {
                    name: PersonName::parse("陈建国").unwrap(),
                    phone: Some(PhoneNumber::parse("13912345678").unwrap()),
                    id_card: None,
                    address: None,
                }),
                group: None,
                title: Title::parse(&format!("小区路灯不亮 #{i}")).unwrap(),
                text: PetitionText::parse("小区路灯已经坏了一个月，晚上出行不便。").unwrap(),
                region: RegionCode::parse("4406").unwrap(),
                category: Some("城乡建设".into()),
                class: None,
                attachments: Vec::new(),
                also_sent_to: Vec::new(),
                publish_consent: false,
                proxy: None,
            };
            let r = app
                .submit(
                    registrar.clone(),
                    NewPetition {
                        petition,
                        idempotency_key: None,
                        received_at: None,
                    },
                )
                .await
                .unwrap();
            if first.is_none() {
                first = Some(r.case_id.clone());
            }
        }
        let id = CaseId::new(first.clone().unwrap());
        for n in 0..20 {
            app.execute(
                registrar.clone(),
                id.clone(),
                Command::AddNote {
                    text: DocumentText::parse(&format!("第{n}次电话联系信访人，说明办理进展。"))
                        .unwrap(),
                },
                None,
            )
            .await
            .unwrap();
        }
    });
    let case = first.unwrap();
    // Sign in through the form.
    let cookie = rt.block_on(async {
        let res = router
            .clone()
            .oneshot(Request::get("/staff/login").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let pair = res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let token = pair.split('=').nth(1).unwrap().to_string();
        let body = format!("_csrf={token}&username=dengji&password={PASSWORD}");
        let res = router
            .clone()
            .oneshot(
                Request::post("/staff/login")
                    .header("cookie", &pair)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await
            .unwrap();
        res.headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
            .find(|c| c.starts_with("huiyin_session="))
            .unwrap()
    });
    let (s, len) = rt.block_on(get(&router, "/staff", &cookie));
    assert_eq!(s, StatusCode::OK);
    println!("inbox page: {len} bytes");
    let case_uri = format!("/staff/cases/{case}");
    let (s, len) = rt.block_on(get(&router, &case_uri, &cookie));
    assert_eq!(s, StatusCode::OK);
    println!("case page: {len} bytes");

    for (name, uri) in [
        ("inbox_50_rows", "/staff".to_string()),
        ("case_page", case_uri.clone()),
    ] {
        let samples: Vec<Duration> = (0..300)
            .map(|_| {
                let t = Instant::now();
                rt.block_on(get(&router, &uri, &cookie));
                t.elapsed()
            })
            .collect();
        percentiles(name, samples);
        c.bench_function(name, |b| {
            b.iter(|| rt.block_on(get(&router, &uri, &cookie)))
        });
    }

    let searches = [
        ("units_by_name", "住房", None, None),
        ("units_by_name_in_region", "住房", Some("4406"), None),
        (
            "units_by_name_and_kind",
            "信访",
            None,
            Some("petition_bureau"),
        ),
        ("units_rare_name", "禅城", None, None),
    ];
    for (name, q, region, kind) in searches {
        let search = UnitSearch {
            name: q.to_string(),
            region: region.map(str::to_string),
            kind: kind.map(str::to_string),
            limit: 20,
            with_retired: false,
        };
        let found = rt.block_on(store.search_units(&search)).unwrap();
        assert!(!found.is_empty(), "{name} found nothing");
        let samples: Vec<Duration> = (0..300)
            .map(|_| {
                let t = Instant::now();
                rt.block_on(store.search_units(&search)).unwrap();
                t.elapsed()
            })
            .collect();
        percentiles(name, samples);
        c.bench_function(name, |b| {
            b.iter(|| rt.block_on(store.search_units(&search)).unwrap())
        });
    }
    rt.block_on(db.cleanup()).unwrap();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
