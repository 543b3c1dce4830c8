//! Server render time of the petitioner portal's pages, through the real router (handler,
//! database reads and template) on an embedded SQLite database: the home page, a submission
//! step (the "where" step with its region list, the heaviest), and a tracking page of a
//! replied case (the lookup verifies the secret and replays the timeline).
//!
//! Run: `cargo bench -p huiyin-web --bench pages`; the numbers are in docs/benchmarks.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt;
use huiyin_app::{App, Config, NewPetition};
use huiyin_domain::case::{Actor, Role};
use huiyin_domain::ids::ActorId;
use huiyin_domain::petition::{Channel, Person, Petition, Petitioner};
use huiyin_domain::values::{PersonName, PetitionText, PhoneNumber, RegionCode, Title};
use huiyin_store::UnitRecord;
use huiyin_web::ratelimit::Limit;
use huiyin_web::{WebConfig, router};
use tower::ServiceExt;

async fn setup() -> (Router, String, String, huiyin_store::testing::TestDb) {
    let db = huiyin_store::testing::fresh().await.unwrap();
    db.store
        .insert_unit(&UnitRecord {
            id: "4406-xfj".into(),
            name: "佛山市信访局".into(),
            kind: "petition_bureau".into(),
            region_code: "4406".into(),
            parent_id: None,
        })
        .await
        .unwrap();
    let app = App::new(db.store.clone(), Config::default());
    let receipt = app
        .submit(
            Actor {
                id: ActorId::new("public:bench"),
                roles: vec![Role::Petitioner],
                unit: None,
                oversees_case: false,
                is_case_petitioner: true,
            },
            NewPetition {
                petition: Petition {
                    channel: Channel::MobileWeb,
                    petitioner: Petitioner::Named(Person {
                        name: PersonName::parse("张三").unwrap(),
                        phone: Some(PhoneNumber::parse("13912345678").unwrap()),
                        id_card: None,
                        address: None,
                    }),
                    group: None,
                    title: Title::parse("小区路灯不亮").unwrap(),
                    text: PetitionText::parse("小区路灯已经坏了一个月，晚上出行不便。").unwrap(),
                    region: RegionCode::parse("440604").unwrap(),
                    category: None,
                    class: None,
                    attachments: vec![],
                    also_sent_to: vec![],
                    publish_consent: false,
                    proxy: None,
                },
                idempotency_key: None,
                received_at: None,
            },
        )
        .await
        .unwrap();
    let router = router(
        app,
        WebConfig {
            public_limit: Limit {
                burst: 1e12,
                per_second: 1e12,
            },
        },
    );
    (router, receipt.receipt_code, receipt.secret, db)
}

async fn call(router: &Router, req: Request<Body>) -> usize {
    let res = router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.into_body().collect().await.unwrap().to_bytes().len()
}

fn form(path: &str, body: String) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (router, code, secret, _db) = rt.block_on(setup());
    let mut g = c.benchmark_group("portal");
    g.bench_function("home", |b| {
        b.to_async(&rt)
            .iter(|| call(&router, Request::get("/").body(Body::empty()).unwrap()))
    });
    let step = "draft=0123456789abcdef0123456789abcdef&step=ask&go=back&identity=named&name=%E5%BC%A0%E4%B8%89&phone=13912345678&title=%E8%B7%AF%E7%81%AF%E4%B8%8D%E4%BA%AE&text=%E8%B7%AF%E7%81%AF%E5%9D%8F%E4%BA%86%E4%B8%80%E4%B8%AA%E6%9C%88&region=4406";
    g.bench_function("submit_step_where", |b| {
        b.to_async(&rt)
            .iter(|| call(&router, form("/submit", step.to_string())))
    });
    let track = format!("receipt_code={code}&secret={secret}");
    g.bench_function("track", |b| {
        b.to_async(&rt)
            .iter(|| call(&router, form("/track", track.clone())))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
