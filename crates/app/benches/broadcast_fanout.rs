//! A broadcast (定向发送) to a group of `HUIYIN_BENCH_PEOPLE` people (default 10,000): how long
//! until every person has their notice, on SQLite and, when `HUIYIN_BENCH_DATABASE_URL` is set,
//! PostgreSQL (issue 6). 100 departments in 广东省's cities each have people with case roles;
//! the group is "everyone with a case role in province 44". Timed, in one run: resolving the
//! group's members (the query a send and the groups page make), and the whole delivery — the
//! broadcast and its job committed, the worker claiming it, writing one notice per person in
//! one transaction and recording the job done. Each configuration runs five times on a fresh
//! broadcast; medians are reported.
//!
//! ```text
//! cargo bench -p huiyin-app --bench broadcast_fanout
//! HUIYIN_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/huiyin_bench cargo bench -p huiyin-app --bench broadcast_fanout
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;

use std::time::{Duration, Instant};

use huiyin_app::staff_notify::{BroadcastSpec, GroupSpec};
use huiyin_app::{App, Config};
use huiyin_domain::case::Role;
use huiyin_store::{Store, UserRecord};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn run(label: &str, store: Store, people: u64) {
    store
        .insert_unit(&common::bureau("44-xfj", "44"))
        .await
        .unwrap();
    let units = 100u64;
    for u in 0..units {
        let region = format!("44{:02}", 1 + u % 20);
        store
            .insert_unit(&common::department(&format!("dept-{u}"), &region, "44-xfj"))
            .await
            .unwrap();
    }
    let t = Instant::now();
    for i in 0..people {
        let id = format!("bench-user-{i:06}");
        store
            .insert_user(&UserRecord {
                id: id.clone(),
                username: id.clone(),
                display_name: format!("工作人员{i}"),
                // Never used to sign in: the benchmark does not hash 10,000 passwords.
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$bench$bench".into(),
                totp_secret: None,
                totp_pending: None,
                totp_last_step: None,
                must_change_password: false,
                failed_logins: 0,
                locked_until_ms: None,
                disabled: false,
                created_at_ms: 0,
                password_changed_at_ms: 0,
            })
            .await
            .unwrap();
        let role = ["handler", "unit_head", "leader"][(i % 3) as usize];
        store
            .set_membership(&id, &format!("dept-{}", i % units), &[role.to_string()])
            .await
            .unwrap();
    }
    println!(
        "{label}: {people} people set up in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let app = App::new(store, Config::default());
    let admin = common::staff("admin", "44-xfj", &[Role::Administrator]);
    let group = app
        .create_broadcast_group(
            &admin,
            &GroupSpec {
                name: "全省承办人员".into(),
                region_code: "44".into(),
                levels: vec![],
                kinds: vec![],
                roles: vec!["handler".into(), "unit_head".into(), "leader".into()],
            },
        )
        .await
        .unwrap();
    let mut resolve = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let n = app.store().group_members(&group).await.unwrap().len();
        resolve.push(t.elapsed());
        assert_eq!(n as u64, people);
    }
    let sender = common::staff("leader", "44-xfj", &[Role::Leader]);
    let mut deliver = Vec::new();
    for round in 0..5 {
        let t = Instant::now();
        let b = app
            .send_broadcast(
                &sender,
                &BroadcastSpec {
                    group_id: group.id.clone(),
                    kind: "instruction".into(),
                    title: format!("关于做好节前信访工作的通知（第{round}次）"),
                    body: "请各单位落实领导接访制度，节日期间保持值班，重要情况及时报告。".into(),
                    case_id: None,
                },
            )
            .await
            .unwrap();
        let report = huiyin_app::jobs::run_until_idle(&app).await.unwrap();
        deliver.push(t.elapsed());
        assert_eq!(report.dead, 0);
        let delivered = app
            .store()
            .broadcast(&b.id)
            .await
            .unwrap()
            .unwrap()
            .delivered;
        assert_eq!(delivered as u64, people, "every person has the notice");
    }
    let d = median(deliver);
    println!(
        "{label}: resolve {people} members: median {:.1} ms; broadcast delivered to all: \
         median {:.0} ms = {:.0} notices/s",
        median(resolve).as_secs_f64() * 1000.0,
        d.as_secs_f64() * 1000.0,
        people as f64 / d.as_secs_f64()
    );
    app.store().close().await;
}

fn main() {
    // `cargo test --benches` runs bench targets without `--bench`: skip the setup there.
    if !std::env::args().any(|a| a == "--bench") {
        println!("broadcast_fanout: skipped (run with `cargo bench`)");
        return;
    }
    let people = common::env_u64("HUIYIN_BENCH_PEOPLE", 10_000);
    let rt = common::runtime();
    rt.block_on(async {
        let (store, _dir) = common::sqlite_fresh().await.unwrap();
        run("sqlite", store, people).await;
        if let Some(base) = common::pg_base() {
            let store = common::pg_store(&base, "bench_fanout", true).await.unwrap();
            run("postgres", store, people).await;
            common::pg_drop_schema(&base, "bench_fanout").await.unwrap();
        }
    });
}
