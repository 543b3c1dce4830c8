//! The text tools end to end (issue 5), through the real router on a fresh database (SQLite,
//! or PostgreSQL when HUIYIN_TEST_DATABASE_URL is set): repeats linked at intake (Art. 19) with
//! the petitioner told only about their own cases; related cases filtered by scope, with the
//! petitioner withheld where the policy hides it; staff links; suggestions learned from the
//! deployment's own registered cases; the reply check; masking; the index status.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{TimeZone, Utc};
use http_body_util::BodyExt;
use huiyin_app::{App, Clock, Config};
use huiyin_domain::case::Role;
use huiyin_store::UnitRecord;
use huiyin_store::testing::{TestDb, fresh};
use huiyin_web::ratelimit::Limit;
use huiyin_web::{WebConfig, router};
use serde_json::{Value, json};
use tower::ServiceExt;

const UNITS: &[(&str, &str, &str, &str, Option<&str>)] = &[
    ("44-xfj", "广东省信访局", "petition_bureau", "44", None),
    (
        "4406-xfj",
        "佛山市信访局",
        "petition_bureau",
        "4406",
        Some("44-xfj"),
    ),
    (
        "440604-xfj",
        "禅城区信访局",
        "petition_bureau",
        "440604",
        Some("4406-xfj"),
    ),
    (
        "440604-zj",
        "禅城区住建局",
        "department",
        "440604",
        Some("440604-xfj"),
    ),
    (
        "440604-hb",
        "禅城区环保局",
        "department",
        "440604",
        Some("440604-xfj"),
    ),
    (
        "440604-jw",
        "禅城区纪委监委",
        "discipline",
        "440604",
        Some("440604-xfj"),
    ),
    (
        "440605-xfj",
        "南海区信访局",
        "petition_bureau",
        "440605",
        Some("4406-xfj"),
    ),
];

const ACTORS: &[(&str, &str, &[Role])] = &[
    ("county_registrar", "440604-xfj", &[Role::Registrar]),
    ("zj_handler", "440604-zj", &[Role::Handler]),
    ("hb_handler", "440604-hb", &[Role::Handler]),
    ("sibling_registrar", "440605-xfj", &[Role::Registrar]),
    ("city_registrar", "4406-xfj", &[Role::Registrar]),
    ("analyst", "440604-xfj", &[Role::Analyst]),
    ("zj_head", "440604-zj", &[Role::UnitHead]),
    ("city_head", "4406-xfj", &[Role::UnitHead]),
    ("province_head", "44-xfj", &[Role::UnitHead]),
];

const LETTER: &str = "我家住在祖庙街道幸福小区3栋，小区物业长期不清理垃圾，楼道堆满杂物，电梯经常停运，业主多次向物业公司反映无人处理，请有关部门督促物业公司整改。";

struct T {
    router: Router,
    app: App,
    db: Option<TestDb>,
    tokens: BTreeMap<&'static str, String>,
}

async fn call(
    router: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<String>,
) -> (StatusCode, Value, String) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(Body::from(b))
            .unwrap(),
        None => req.body(Body::empty()).unwrap(),
    };
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    )
}

impl T {
    async fn start() -> T {
        let db = fresh().await.expect("test database");
        let store = db.store.clone();
        for (id, name, kind, region, parent) in UNITS {
            store
                .insert_unit(&UnitRecord {
                    id: (*id).into(),
                    name: (*name).into(),
                    kind: (*kind).into(),
                    region_code: (*region).into(),
                    parent_id: parent.map(str::to_string),
                })
                .await
                .unwrap();
        }
        let start = Utc.with_ymd_and_hms(2025, 3, 12, 2, 0, 0).unwrap();
        let app = App::new(
            store,
            Config {
                clock: Clock::manual(start),
                ..Config::default()
            },
        );
        let mut tokens = BTreeMap::new();
        for (name, unit, roles) in ACTORS {
            tokens.insert(
                *name,
                app.create_token(name, Some(unit), roles, None)
                    .await
                    .unwrap(),
            );
        }
        let router = router(
            app.clone(),
            WebConfig {
                public_limit: Limit {
                    burst: 1000.0,
                    per_second: 1000.0,
                },
            },
        );
        T {
            router,
            app,
            db: Some(db),
            tokens,
        }
    }

    fn token(&self, actor: &str) -> &str {
        &self.tokens[actor]
    }

    async fn get(&self, actor: &str, uri: &str) -> (StatusCode, Value, String) {
        call(&self.router, "GET", uri, Some(self.token(actor)), None).await
    }

    async fn post(&self, actor: &str, uri: &str, body: Value) -> (StatusCode, Value, String) {
        call(
            &self.router,
            "POST",
            uri,
            Some(self.token(actor)),
            Some(body.to_string()),
        )
        .await
    }

    async fn public(&self, uri: &str, body: Value) -> (StatusCode, Value, String) {
        call(&self.router, "POST", uri, None, Some(body.to_string())).await
    }

    /// A petitioner submits online; returns the whole answer.
    async fn submit(
        &self,
        name: &str,
        phone: &str,
        title: &str,
        text: &str,
        region: &str,
    ) -> Value {
        let (status, body, raw) = self
            .public(
                "/api/v1/petitions",
                json!({
                    "channel": "mobile_web",
                    "petitioner": {"name": name, "phone": phone},
                    "title": title, "text": text, "region": region,
                }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{raw}");
        body
    }

    async fn act(&self, actor: &str, case: &str, command: Value) -> Value {
        let (status, body, raw) = self
            .post(actor, &format!("/api/v1/cases/{case}/actions"), command)
            .await;
        assert_eq!(status, StatusCode::OK, "{raw}");
        body
    }

    async fn register_and_route(&self, registrar: &str, case: &str, category: &str, unit: &str) {
        self.act(
            registrar,
            case,
            json!({"command": "register", "class": {"class": "appeal", "route": "petition_procedure"}, "category": category}),
        )
        .await;
        self.act(
            registrar,
            case,
            json!({"command": "route", "kind": {"kind": "forward"}, "unit": unit}),
        )
        .await;
    }

    async fn finish(mut self) {
        let report = self.app.store().verify(true).await.unwrap();
        assert!(report.ok(), "{report:?}");
        if let Some(db) = self.db.take() {
            db.cleanup().await.unwrap();
        }
    }
}

fn ids(related: &Value) -> Vec<String> {
    related["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["case_id"].as_str().unwrap().to_string())
        .collect()
}

fn item<'a>(related: &'a Value, case: &str) -> &'a Value {
    related["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["case_id"] == case)
        .unwrap_or_else(|| panic!("{case} not in {related}"))
}

#[tokio::test]
async fn a_repeat_on_an_open_case_is_linked_and_only_the_petitioner_hears_of_it() {
    let t = T::start().await;
    let first = t
        .submit("张三", "13912345678", "小区物业不作为", LETTER, "440604")
        .await;
    assert_eq!(first["similar"]["outcome"], "none");
    let a = first["case_id"].as_str().unwrap().to_string();
    let a_receipt = first["receipt_code"].as_str().unwrap().to_string();

    // The draft check: the same phone hears of its own open case, nothing else.
    let draft = json!({"title": "小区物业不作为", "text": format!("尊敬的领导：{LETTER}谢谢！"), "region": "440604", "phone": "13912345678"});
    let (status, own, raw) = t.public("/api/v1/public/similar", draft.clone()).await;
    assert_eq!(status, StatusCode::OK, "{raw}");
    assert_eq!(own["outcome"], "own_open_case", "{raw}");
    assert_eq!(own["own_cases"].as_array().unwrap().len(), 1);
    assert_eq!(own["own_cases"][0]["open"], true);
    for secret in [a.as_str(), a_receipt.as_str(), "物业", "张"] {
        assert!(!raw.contains(secret), "{secret} leaked in {raw}");
    }
    let mut other_phone = draft.clone();
    other_phone["phone"] = json!("13800001111");
    let (_, other, raw) = t.public("/api/v1/public/similar", other_phone).await;
    assert_eq!(other["outcome"], "none", "{raw}");
    assert!(other["own_cases"].as_array().unwrap().is_empty());
    let mut no_phone = draft.clone();
    no_phone.as_object_mut().unwrap().remove("phone");
    let (_, anonymous, _) = t.public("/api/v1/public/similar", no_phone).await;
    assert_eq!(anonymous["outcome"], "none");

    // The same petitioner submits it again (greeting added, full-width digits): linked (Art. 19).
    let second = t
        .submit(
            "张三",
            "13912345678",
            "小区物业不作为",
            &format!("尊敬的领导：\n{}谢谢！", LETTER.replace('3', "３")),
            "440604",
        )
        .await;
    assert_eq!(second["similar"]["outcome"], "own_open_case", "{second}");
    assert_eq!(second["similar"]["linked"], true);
    let b = second["case_id"].as_str().unwrap().to_string();
    let (_, view, _) = t
        .get("county_registrar", &format!("/api/v1/cases/{b}"))
        .await;
    assert_eq!(view["state"]["links"][0]["to"], a.as_str(), "{view}");
    assert_eq!(view["state"]["links"][0]["relation"], "repeat");
    let (_, events, _) = t
        .get("county_registrar", &format!("/api/v1/cases/{b}/events"))
        .await;
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "linked"
                || e["kind"] == "linked"
                || e.to_string().contains("\"linked\"")),
        "{events}"
    );

    // A third copy links once, to the case being handled (not to every earlier copy).
    let again = t
        .submit("张三", "13912345678", "小区物业不作为", LETTER, "440604")
        .await;
    assert_eq!(again["similar"]["linked"], true);
    let d = again["case_id"].as_str().unwrap().to_string();
    let (_, view, _) = t
        .get("county_registrar", &format!("/api/v1/cases/{d}"))
        .await;
    assert_eq!(
        view["state"]["links"].as_array().unwrap().len(),
        1,
        "{view}"
    );
    assert_eq!(view["state"]["links"][0]["to"], a.as_str());

    // Someone else sends the same text: not told anything about the first petitioner, not linked.
    let third = t
        .submit("李四", "13700002222", "小区物业不作为", LETTER, "440604")
        .await;
    assert_eq!(third["similar"]["outcome"], "none");
    assert_eq!(third["similar"]["linked"], false);
    let c = third["case_id"].as_str().unwrap().to_string();

    // Staff see all three, with the relation and the recorded link.
    let (status, related, raw) = t
        .get("county_registrar", &format!("/api/v1/cases/{a}/related"))
        .await;
    assert_eq!(status, StatusCode::OK, "{raw}");
    assert_eq!(item(&related, &b)["relation"], "repeat", "{raw}");
    assert_eq!(item(&related, &b)["linked"], true);
    assert_eq!(item(&related, &b)["same_petitioner"], true);
    assert_eq!(item(&related, &c)["relation"], "group", "{raw}");
    assert_eq!(item(&related, &c)["linked"], false);
    assert!(!ids(&related).contains(&a));
    assert_eq!(related["index"]["behind_events"], 0);
    assert_eq!(related["index"]["indexed"], 4);
    assert_eq!(item(&related, &d)["linked"], true);
    t.finish().await;
}

#[tokio::test]
async fn related_cases_never_leave_the_callers_scope() {
    let t = T::start().await;
    // the same letter in two counties and a whistleblower's copy, all from one phone
    let county = t
        .submit("王五", "13612345678", "小区物业不作为", LETTER, "440604")
        .await["case_id"]
        .as_str()
        .unwrap()
        .to_string();
    let sibling = t
        .submit("王五", "13612345678", "小区物业不作为", LETTER, "440605")
        .await["case_id"]
        .as_str()
        .unwrap()
        .to_string();
    let accusation = t
        .submit(
            "王五",
            "13612345678",
            "举报住建局",
            &format!("{LETTER}住建局工作人员收受物业公司好处。"),
            "440604",
        )
        .await["case_id"]
        .as_str()
        .unwrap()
        .to_string();
    t.register_and_route("county_registrar", &county, "城乡建设", "440604-zj")
        .await;
    t.act(
        "sibling_registrar",
        &sibling,
        json!({"command": "register", "class": {"class": "appeal", "route": "petition_procedure"}, "category": "城乡建设"}),
    )
    .await;
    t.act(
        "sibling_registrar",
        &sibling,
        json!({"command": "route", "kind": {"kind": "bureau"}, "unit": "440605-xfj"}),
    )
    .await;
    t.act(
        "county_registrar",
        &accusation,
        json!({"command": "register", "class": {"class": "accusation"}, "accused": ["440604-zj"]}),
    )
    .await;
    t.act(
        "county_registrar",
        &accusation,
        json!({"command": "route", "kind": {"kind": "forward"}, "unit": "440604-zj"}),
    )
    .await;

    // The county bureau sees its two cases, never the sibling county's.
    let (_, related, raw) = t
        .get(
            "county_registrar",
            &format!("/api/v1/cases/{county}/related"),
        )
        .await;
    let seen = ids(&related);
    assert!(seen.contains(&accusation), "{raw}");
    assert!(!seen.contains(&sibling), "out-of-scope case leaked: {raw}");
    assert!(!raw.contains(&sibling));
    // The sibling county's registrar sees none of the county's.
    let (status, related, raw) = t
        .get(
            "sibling_registrar",
            &format!("/api/v1/cases/{sibling}/related"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{raw}");
    assert!(ids(&related).is_empty(), "{raw}");
    assert!(!raw.contains(&county) && !raw.contains(&accusation));
    // The city bureau oversees both counties: both, with the same petitioner.
    let (_, related, raw) = t
        .get("city_registrar", &format!("/api/v1/cases/{county}/related"))
        .await;
    assert!(ids(&related).contains(&sibling), "{raw}");
    assert_eq!(
        item(&related, &sibling)["relation"],
        "multi_addressed",
        "{raw}"
    );
    // The accused unit handles the accusation but must not learn who sent it: the link to the
    // other case of the same petitioner is shown without the petitioner.
    let (status, related, raw) = t
        .get("zj_handler", &format!("/api/v1/cases/{accusation}/related"))
        .await;
    assert_eq!(status, StatusCode::OK, "{raw}");
    let other = item(&related, &county);
    assert!(other["same_petitioner"].is_null(), "{raw}");
    assert_ne!(other["relation"], "repeat");
    // Not in scope at all: not found, as for the case itself.
    let (status, body, _) = t
        .get("hb_handler", &format!("/api/v1/cases/{county}/related"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    let (status, _, _) = t
        .get("analyst", &format!("/api/v1/cases/{county}/related"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = t
        .get("county_registrar", "/api/v1/cases/no-such-case/related")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    t.finish().await;
}

#[tokio::test]
async fn staff_link_cases_and_bad_links_are_refused() {
    let t = T::start().await;
    let a = t
        .submit(
            "赵六",
            "13512345678",
            "路灯不亮",
            "幸福小区门口路灯坏了一个月，晚上出行不便，请尽快维修。",
            "440604",
        )
        .await["case_id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = t
        .submit(
            "钱七",
            "13412345678",
            "路灯损坏",
            "祖庙街道幸福路的路灯已经坏了很久，居民夜间出行有安全隐患。",
            "440604",
        )
        .await["case_id"]
        .as_str()
        .unwrap()
        .to_string();
    let view = t
        .act(
            "county_registrar",
            &b,
            json!({"command": "link", "to": a, "relation": "same_issue"}),
        )
        .await;
    assert_eq!(view["state"]["links"][0]["relation"], "same_issue");
    let (status, body, _) = t
        .post(
            "county_registrar",
            &format!("/api/v1/cases/{b}/actions"),
            json!({"command": "link", "to": a, "relation": "same_issue"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "not_allowed");
    let (status, body, _) = t
        .post(
            "county_registrar",
            &format!("/api/v1/cases/{b}/actions"),
            json!({"command": "link", "to": b, "relation": "repeat"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["code"], "invalid_command");
    let (status, body, _) = t
        .post(
            "county_registrar",
            &format!("/api/v1/cases/{b}/actions"),
            json!({"command": "link", "to": a, "relation": "cousin"}),
        )
        .await;
    assert!(status.is_client_error(), "{body}");
    // the link shows on the related list of both sides
    let (_, related, raw) = t
        .get("county_registrar", &format!("/api/v1/cases/{a}/related"))
        .await;
    assert_eq!(item(&related, &b)["linked"], true, "{raw}");
    t.finish().await;
}

#[tokio::test]
async fn suggestions_are_learned_from_the_deployments_own_cases() {
    let t = T::start().await;
    let first = t
        .submit("甲", "13300000000", "物业问题", LETTER, "440604")
        .await["case_id"]
        .as_str()
        .unwrap()
        .to_string();
    // no history yet: manual, saying why
    let (status, s, raw) = t
        .get(
            "county_registrar",
            &format!("/api/v1/cases/{first}/suggestions"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{raw}");
    assert_eq!(s["category"]["label"], "manual", "{raw}");
    assert_eq!(s["category"]["reason"], "not_enough_history");
    let housing = [
        "小区物业不清理垃圾，电梯经常停运",
        "物业公司乱收费，小区绿化无人维护",
        "小区电梯故障多次，物业拖延维修",
        "物业服务差，小区楼道堆满杂物",
        "小区物业管理混乱，业主投诉无门",
        "物业擅自提高物业费，小区业主不满",
        "小区违建无人管，物业不作为",
        "电梯坏了一个月物业不修，小区老人上下楼困难",
    ];
    let pollution = [
        "工厂夜间排放废气，臭味刺鼻",
        "河道污水直排，鱼虾死亡，臭气熏天",
        "工地粉尘污染严重，噪音扰民",
        "化工厂排放污水污染农田",
        "垃圾焚烧厂臭味影响周边居民",
        "工厂废气排放超标，居民呼吸困难",
        "养殖场污水横流，臭味严重",
        "搅拌站粉尘噪音污染，附近居民无法休息",
    ];
    let mut n = 0;
    for (texts, category, unit) in [
        (&housing, "城乡建设/物业管理", "440604-zj"),
        (&pollution, "环境保护/大气污染", "440604-hb"),
    ] {
        for text in texts {
            n += 1;
            let case = t
                .submit(
                    &format!("居民{n}"),
                    &format!("135000000{n:02}"),
                    "反映问题",
                    &format!("{text}，请有关部门尽快处理。"),
                    "440604",
                )
                .await["case_id"]
                .as_str()
                .unwrap()
                .to_string();
            t.register_and_route("county_registrar", &case, category, unit)
                .await;
        }
    }
    let (status, info, raw) = t
        .post("county_registrar", "/api/v1/text/retrain", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{raw}");
    assert_eq!(info["cases"], 16);
    assert_eq!(info["category_labels"], 2);
    assert_eq!(info["unit_labels"], 2);
    let probe = t
        .submit(
            "乙",
            "13311111111",
            "工厂污染",
            "附近工厂排放废气和污水，臭味很重，请环保部门查处。",
            "440604",
        )
        .await["case_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, s, raw) = t
        .get(
            "county_registrar",
            &format!("/api/v1/cases/{probe}/suggestions"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{raw}");
    assert_eq!(s["category"]["best_label"], "环境保护", "{raw}");
    assert!(
        !s["category"]["words"].as_array().unwrap().is_empty(),
        "{raw}"
    );
    assert_eq!(s["unit"]["best_label"], "440604-hb", "{raw}");
    assert_eq!(s["unit"]["unit_name"], "禅城区环保局");
    assert!(s["category"]["confidence"].as_f64().unwrap() > 0.0);
    // the category path: both levels learned from the registered paths, the second chosen
    // among the first level's children, its confidence no higher than the first's
    assert_eq!(info["category_labels_per_level"], json!([2, 2]), "{info}");
    let levels = s["category_path"]["levels"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(levels.len(), 2, "{raw}");
    assert_eq!(levels[0]["path"], "环境保护");
    assert_eq!(levels[1]["path"], "环境保护/大气污染");
    assert!(levels[1]["confidence"].as_f64() <= levels[0]["confidence"].as_f64());
    if s["category_path"]["manual"] == false {
        assert!(
            s["category_path"]["label"]
                .as_str()
                .is_some_and(|l| l.starts_with("环境保护")),
            "{raw}"
        );
    }
    // a handler of another unit does not see the case, so gets no suggestion either
    let (status, _, _) = t
        .get("zj_handler", &format!("/api/v1/cases/{probe}/suggestions"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // only some roles retrain
    let (status, body, _) = t
        .post("zj_handler", "/api/v1/text/retrain", json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "forbidden");
    t.finish().await;
}

#[tokio::test]
async fn reply_check_scores_drafts_and_refuses_bad_input() {
    let t = T::start().await;
    let case = t
        .submit("孙八", "13212345678", "小区物业不作为", LETTER, "440604")
        .await["case_id"]
        .as_str()
        .unwrap()
        .to_string();
    let uri = format!("/api/v1/cases/{case}/reply-check");
    let (status, poor, raw) = t
        .post("county_registrar", &uri, json!({"reply": "已转相关部门。"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{raw}");
    let good_reply = "您反映的幸福小区物业不清理垃圾、电梯停运的问题收悉。经调查核实，物业公司确实存在垃圾清运不及时、电梯维保不到位的情况。根据《物业管理条例》第三十五条，我局已责令物业公司于2025年3月31日前完成楼道杂物清理和电梯维修，并将跟踪检查。您的诉求予以支持。如对本意见不服，可在收到本意见书之日起30日内向上一级行政机关申请复查。";
    let (_, good, raw) = t
        .post("county_registrar", &uri, json!({"reply": good_reply}))
        .await;
    let score = |v: &Value| v["score"].as_u64().unwrap();
    assert!(score(&good) > score(&poor), "{raw}");
    assert!(
        poor["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "too_short" || f["code"] == "perfunctory"),
        "{poor}"
    );
    let (status, body, _) = t
        .post("county_registrar", &uri, json!({"reply": "   "}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["fields"][0]["code"], "reply_empty");
    let (status, body, _) = t
        .post(
            "county_registrar",
            &uri,
            json!({"reply": "字".repeat(20_001)}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["fields"][0]["code"], "reply_too_long");
    let (status, body, _) = t.post("county_registrar", &uri, json!({"text": "x"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["code"], "validation_failed");
    let (status, body, _) = call(
        &t.router,
        "POST",
        &uri,
        Some(t.token("county_registrar")),
        Some("{not json".into()),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "malformed_request");
    let (status, _, _) = t
        .post(
            "sibling_registrar",
            &uri,
            json!({"reply": "已转相关部门。"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    t.finish().await;
}

#[tokio::test]
async fn draft_check_masking_and_status_refuse_bad_input() {
    let t = T::start().await;
    for (body, field) in [
        (json!({"text": "", "region": "440604"}), "text"),
        (json!({"text": LETTER, "region": "44060x"}), "region"),
        (
            json!({"text": LETTER, "region": "440604", "phone": "123"}),
            "phone",
        ),
    ] {
        let (status, answer, raw) = t.public("/api/v1/public/similar", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{raw}");
        assert_eq!(answer["error"]["fields"][0]["field"], field, "{raw}");
    }
    let (status, answer, _) = t
        .public("/api/v1/public/similar", json!({"region": "440604"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["error"]["code"], "validation_failed");
    let (status, _, raw) = call(
        &t.router,
        "POST",
        "/api/v1/public/similar",
        None,
        Some("{not json".into()),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{raw}");
    // control characters, emoji and mixed scripts are a sensible result, not an error
    let (status, answer, raw) = t
        .public(
            "/api/v1/public/similar",
            json!({"text": "😀\u{0007}Ｈｅｌｌｏ 物业 ١٢٣ 不作为", "region": "440604", "phone": "13912345678"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{raw}");
    assert_eq!(answer["outcome"], "none");

    let (status, masked, raw) = t
        .post(
            "county_registrar",
            "/api/v1/text/mask",
            json!({"text": "联系人：张三，电话13912345678，身份证11010519491231002X"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{raw}");
    let m = masked["masked_text"].as_str().unwrap();
    assert!(
        !m.contains("13912345678") && !m.contains("11010519491231002X"),
        "{m}"
    );
    assert!(m.contains("139****5678"), "{m}");
    assert_eq!(
        huiyin_app::text::mask_personal_data("电话13912345678"),
        "电话139****5678"
    );
    let (status, _, _) = t
        .post("analyst", "/api/v1/text/mask", json!({"text": "x"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = call(
        &t.router,
        "POST",
        "/api/v1/text/mask",
        None,
        Some("{}".into()),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, st, raw) = t.get("county_registrar", "/api/v1/text/status").await;
    assert_eq!(status, StatusCode::OK, "{raw}");
    assert!(st["head_seq"].as_i64().is_some() && st["behind_events"].as_i64().is_some());

    let (_, doc, _) = call(&t.router, "GET", "/api/v1/openapi.json", None, None).await;
    for path in [
        "/api/v1/public/similar",
        "/api/v1/cases/{id}/related",
        "/api/v1/cases/{id}/suggestions",
        "/api/v1/cases/{id}/reply-check",
        "/api/v1/text/status",
        "/api/v1/text/retrain",
        "/api/v1/text/mask",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from OpenAPI"
        );
    }
    t.finish().await;
}

fn opinion() -> Value {
    json!({
        "request": "请求督促物业公司清理垃圾、维修电梯",
        "facts": "经查，物业公司垃圾清运不及时，电梯维保不到位",
        "reasons": "物业公司未履行物业服务合同约定的义务",
        "legal_basis": "《物业管理条例》第三十五条",
        "decision": "support"
    })
}

#[tokio::test]
async fn a_repeat_after_conclusion_is_linked_and_flagged() {
    let t = T::start().await;
    let first = t
        .submit("周九", "13112345678", "小区物业不作为", LETTER, "440604")
        .await;
    let a = first["case_id"].as_str().unwrap().to_string();
    let code = first["receipt_code"].as_str().unwrap().to_string();
    let secret = first["secret"].as_str().unwrap().to_string();
    t.register_and_route("county_registrar", &a, "城乡建设", "440604-zj")
        .await;
    t.act("zj_handler", &a, json!({"command": "accept"})).await;
    let replied = t
        .act(
            "zj_head",
            &a,
            json!({"command": "reply", "opinion": opinion()}),
        )
        .await;
    // the 处理意见书 is checked as it is sent: score and findings in the answer
    assert!(
        replied["reply_check"]["score"].as_u64().is_some(),
        "{replied}"
    );
    assert!(replied["reply_check"]["findings"].is_array());
    assert_eq!(replied["state"]["stage"], "replied");
    let petitioner = |command: Value| {
        let mut body = command;
        body["receipt_code"] = json!(code);
        body["secret"] = json!(secret);
        body
    };
    let (status, _, raw) = t
        .public(
            "/api/v1/public/actions",
            petitioner(json!({"command": "request_review", "reason": "物业仍未整改", "review_unit": "4406-xfj"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{raw}");
    t.act(
        "city_head",
        &a,
        json!({"command": "decide_review", "outcome": "uphold", "opinion": opinion()}),
    )
    .await;
    let (status, _, raw) = t
        .public(
            "/api/v1/public/actions",
            petitioner(json!({"command": "request_rereview", "reason": "仍不服复查意见", "rereview_unit": "44-xfj"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{raw}");
    let view = t
        .act(
            "province_head",
            &a,
            json!({"command": "decide_rereview", "outcome": "uphold", "opinion": opinion()}),
        )
        .await;
    assert_eq!(view["state"]["stage"], "concluded");
    assert_eq!(view["reply_check"]["document"], "rereview", "{view}");

    // Every issued opinion carries the reply check computed when it was issued, stored with the
    // case (in the event that issued it): the assigner reads it in the case API.
    let (status, case, raw) = t
        .get("county_registrar", &format!("/api/v1/cases/{a}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{raw}");
    let checks = case["state"]["reply_checks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let documents: Vec<&str> = checks
        .iter()
        .filter_map(|c| c["document"].as_str())
        .collect();
    assert_eq!(documents, vec!["opinion", "review", "rereview"], "{raw}");
    let parsed: huiyin_domain::case::HandlingOpinion = serde_json::from_value(opinion()).unwrap();
    let (status, fresh, raw) = t
        .post(
            "county_registrar",
            &format!("/api/v1/cases/{a}/reply-check"),
            json!({"reply": huiyin_app::text::opinion_text(&parsed)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{raw}");
    for c in &checks {
        assert_eq!(c["score"], fresh["score"], "{c}");
        assert_eq!(
            c["findings"].as_array().map(Vec::len),
            fresh["findings"].as_array().map(Vec::len)
        );
        assert!(c["version"].as_u64().is_some() && c["at"].is_string());
    }
    assert_eq!(
        replied["reply_check"], checks[0],
        "the answer shows the stored check"
    );
    // the stored checks are part of the hash chain, and replaying the events gives them back
    let report = t.app.store().verify(true).await.unwrap();
    assert!(report.first_broken.is_none(), "{report:?}");
    assert!(report.projection_mismatches.is_empty(), "{report:?}");

    let again = t
        .submit("周九", "13112345678", "小区物业不作为", LETTER, "440604")
        .await;
    assert_eq!(again["similar"]["outcome"], "own_concluded_case", "{again}");
    assert_eq!(again["similar"]["linked"], true);
    assert_eq!(again["similar"]["own_cases"][0]["open"], false);
    let b = again["case_id"].as_str().unwrap().to_string();
    let (_, view, _) = t
        .get("county_registrar", &format!("/api/v1/cases/{b}"))
        .await;
    assert_eq!(
        view["state"]["links"][0]["relation"],
        "repeat_after_conclusion"
    );
    assert_eq!(view["state"]["links"][0]["to"], a.as_str());
    let (_, related, raw) = t
        .get("county_registrar", &format!("/api/v1/cases/{b}/related"))
        .await;
    assert_eq!(
        item(&related, &a)["relation"],
        "repeat_after_conclusion",
        "{raw}"
    );
    t.finish().await;
}

#[tokio::test]
async fn the_index_is_rebuilt_from_the_event_log_by_a_new_app() {
    let t = T::start().await;
    let a = t
        .submit("吴十", "13012345678", "小区物业不作为", LETTER, "440604")
        .await["case_id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = t
        .submit("吴十", "13012345678", "小区物业不作为", LETTER, "440604")
        .await["case_id"]
        .as_str()
        .unwrap()
        .to_string();
    // A restarted server: a new app on the same database, its index empty until it reads the log.
    let restarted = App::new(
        t.app.store().clone(),
        Config {
            clock: t.app.clock().clone(),
            ..Config::default()
        },
    );
    let fresh_router = router(restarted.clone(), WebConfig::default());
    let (status, before, raw) = call(
        &fresh_router,
        "GET",
        "/api/v1/text/status",
        Some(t.token("county_registrar")),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{raw}");
    assert_eq!(before["indexed"], 0);
    assert!(before["behind_events"].as_i64().unwrap() > 0, "{raw}");
    restarted.start_text_feeder();
    // waits for the feeder's start-up rebuild if it holds the index, else does it
    let status = restarted.text_catch_up().await.unwrap();
    assert_eq!(status.behind_events, 0);
    let (_, related, raw) = call(
        &fresh_router,
        "GET",
        &format!("/api/v1/cases/{a}/related"),
        Some(t.token("county_registrar")),
        None,
    )
    .await;
    let other = item(&related, &b);
    assert_eq!(other["relation"], "repeat", "{raw}");
    assert_eq!(other["linked"], true, "{raw}");
    assert_eq!(other["same_petitioner"], true, "{raw}");
    assert_eq!(related["index"]["indexed"], 2);
    assert_eq!(related["index"]["behind_events"], 0);
    t.finish().await;
}
