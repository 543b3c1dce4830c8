//! Scoped access end to end (issue 3): every read path, with actors of every relation to the
//! case, through the real router on a fresh database (SQLite, or PostgreSQL when
//! HUIYIN_TEST_DATABASE_URL is set). Proves that no response carries a case or a personal
//! field outside the caller's scope, that a 检举控告's petitioner never reaches the accused
//! unit (not even as its handler), that every personal-data read and refusal is audited, that
//! the database never holds the phone number in plaintext, and that key rotation re-encrypts
//! everything while old data still opens.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use huiyin_domain::ids::CaseId;

include!("fixtures/access.rs");

impl Fixture {
    async fn audit_count(&self) -> usize {
        self.app
            .store()
            .audit_entries(None, None, 1000)
            .await
            .unwrap()
            .len()
    }
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

#[tokio::test]
async fn every_read_path_stays_in_scope() {
    let f = Fixture::start().await;
    assert_eq!(EXPECTED.len(), ACTORS.len(), "every actor has a row");
    for (actor, _, _) in ACTORS {
        let (cases, events, personal) = expected(actor);
        let id_of = |key: &str| f.cases[key].clone();
        let key_of = |id: &str| {
            f.cases
                .iter()
                .find(|(_, v)| v.as_str() == id)
                .map(|(k, _)| *k)
        };

        // Lists: the caller's own work list, everything in scope, and other units' lists.
        let mut listed = BTreeSet::new();
        let mut paths: Vec<String> = vec![
            "/api/v1/cases".into(),
            "/api/v1/cases?all=true".into(),
            "/api/v1/cases?all=true&open=false".into(),
        ];
        for (unit, ..) in UNITS {
            paths.push(format!("/api/v1/cases?unit={unit}&open=false"));
        }
        for path in &paths {
            let (status, body) = f.get(actor, path).await;
            assert_no_leak(&f, actor, path, &body, &personal);
            if status != StatusCode::OK {
                assert!(
                    status == StatusCode::FORBIDDEN,
                    "{actor} {path}: {status} {body}"
                );
                continue;
            }
            for item in json_of(&body)["items"].as_array().unwrap() {
                let id = item["id"].as_str().unwrap();
                let key = key_of(id).unwrap();
                assert!(
                    cases.contains(key),
                    "{actor} {path}: lists {key} out of scope"
                );
                listed.insert(key);
            }
        }
        assert_eq!(
            listed, cases,
            "{actor}: lists show exactly the cases in scope"
        );
        // Keyset pages of two through everything in scope give the same cases, in order.
        if !cases.is_empty() {
            let mut paged = Vec::new();
            let mut uri = "/api/v1/cases?all=true&limit=2".to_string();
            loop {
                let (status, body) = f.get(actor, &uri).await;
                assert_eq!(status, StatusCode::OK, "{body}");
                let page = json_of(&body);
                for item in page["items"].as_array().unwrap() {
                    paged.push((
                        item["next_due_at_ms"].as_i64().unwrap_or(i64::MAX),
                        item["id"].as_str().unwrap().to_string(),
                    ));
                }
                let Some(next) = page["next"].as_object() else {
                    break;
                };
                uri = format!(
                    "/api/v1/cases?all=true&limit=2&after_due={}&after_id={}",
                    next["after_due"],
                    next["after_id"].as_str().unwrap()
                );
            }
            let mut sorted = paged.clone();
            sorted.sort();
            assert_eq!(paged, sorted, "{actor}: pages in urgency order");
            let keys: BTreeSet<&str> = paged.iter().map(|(_, id)| key_of(id).unwrap()).collect();
            assert_eq!(keys, cases, "{actor}: paging loses or repeats nothing");
            assert_eq!(paged.len(), cases.len());
        }

        for spec in CASES {
            let id = id_of(spec.key);
            // Detail.
            let path = format!("/api/v1/cases/{id}");
            let (status, body) = f.get(actor, &path).await;
            assert_no_leak(&f, actor, &path, &body, &personal);
            assert_eq!(
                status == StatusCode::OK,
                cases.contains(spec.key),
                "{actor} detail {}: {status} {body}",
                spec.key
            );
            if status != StatusCode::OK {
                assert!(matches!(
                    status,
                    StatusCode::NOT_FOUND | StatusCode::FORBIDDEN
                ));
                assert!(!body.contains(&id), "{actor}: refusal names the case");
            }
            // Events.
            let path = format!("/api/v1/cases/{id}/events");
            let (status, body) = f.get(actor, &path).await;
            assert_no_leak(&f, actor, &path, &body, &personal);
            assert_eq!(
                status == StatusCode::OK,
                events.contains(spec.key),
                "{actor} events {}: {status}",
                spec.key
            );
            // Actions: out of scope is refused before the lifecycle sees it, and says nothing.
            if !cases.contains(spec.key) {
                let (status, body) = call(
                    &f.router,
                    "POST",
                    &format!("/api/v1/cases/{id}/actions"),
                    f.token(actor),
                    Some(json!({"command": "add_note", "text": "查看进度"})),
                )
                .await;
                assert!(
                    matches!(status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
                    "{actor} acts on {}: {status}",
                    spec.key
                );
                assert_no_leak(&f, actor, "actions", &body, &personal);
            }
            // Personal data: exactly the expected ones, each read and refusal audited.
            let before = f.audit_count().await;
            let path = format!("/api/v1/cases/{id}/personal");
            let (status, body) = f.get(actor, &path).await;
            assert_eq!(
                f.audit_count().await,
                before + 1,
                "{actor} {path} not audited"
            );
            let last = &f.app.store().audit_entries(None, None, 1).await.unwrap()[0];
            assert_eq!(last.entry.case_id.as_deref(), Some(id.as_str()));
            assert!(last.entry.actor.starts_with("token:"));
            if personal.contains(spec.key) {
                assert_eq!(
                    status,
                    StatusCode::OK,
                    "{actor} personal {}: {body}",
                    spec.key
                );
                assert!(body.contains(spec.phone) && body.contains(spec.name));
                assert_eq!(last.entry.action, "read_personal_data");
            } else {
                assert_ne!(
                    status,
                    StatusCode::OK,
                    "{actor} reads personal {}",
                    spec.key
                );
                assert_no_leak(&f, actor, &path, &body, &personal);
                assert_eq!(last.entry.action, "read_personal_data_refused");
                if cases.contains(spec.key) && !spec.accused.is_empty() {
                    assert_eq!(status, StatusCode::FORBIDDEN);
                    assert_eq!(json_of(&body)["error"]["code"], "personal_data_protected");
                }
            }
            // The audit trail: auditors only, and within their region.
            let path = format!("/api/v1/audit?case_id={id}");
            let (status, body) = f.get(actor, &path).await;
            assert_no_leak(&f, actor, &path, &body, &personal);
            let auditor_sees = *actor == "auditor" && events.contains(spec.key);
            assert_eq!(
                status == StatusCode::OK,
                auditor_sees,
                "{actor} audit {}: {status}",
                spec.key
            );
        }
        // Units: every member of staff may read the tree; /me shows no case data.
        for path in ["/api/v1/units", "/api/v1/me"] {
            let (status, body) = f.get(actor, path).await;
            assert_eq!(status, StatusCode::OK, "{actor} {path}");
            assert_no_leak(&f, actor, path, &body, &personal);
        }
    }
    f.finish().await;
}

#[tokio::test]
async fn the_accused_unit_never_sees_the_petitioner_even_as_handler() {
    let f = Fixture::start().await;
    let case = f.cases["acc_self"].clone();
    for actor in ["zj_handler", "zj_leader"] {
        // It handles the case, so it sees it, redacted.
        let (status, body) = f.get(actor, &format!("/api/v1/cases/{case}")).await;
        assert_eq!(status, StatusCode::OK);
        let view = json_of(&body);
        assert!(
            view["state"]["petition"].get("petitioner_masked").is_none(),
            "{body}"
        );
        assert_eq!(view["state"]["accused_units"], json!(["440604-zj"]));
        let (_, body) = f.get(actor, &format!("/api/v1/cases/{case}/events")).await;
        assert!(!body.contains("petitioner_masked"), "{body}");
        let (status, body) = f
            .get(actor, &format!("/api/v1/cases/{case}/personal"))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(json_of(&body)["error"]["code"], "personal_data_protected");
    }
    // A clearance does not lift Art. 30 for the accused; it does for the county leader.
    let (_, me) = f.get("zj_handler", "/api/v1/me").await;
    let zj_handler_id = json_of(&me)["id"].as_str().unwrap().to_string();
    let (_, me) = f.get("county_leader", "/api/v1/me").await;
    let leader_id = json_of(&me)["id"].as_str().unwrap().to_string();
    let grant = |by: &'static str, who: String| {
        let router = f.router.clone();
        let token = f.token(by).to_string();
        let case = case.clone();
        async move {
            call(
                &router,
                "POST",
                &format!("/api/v1/cases/{case}/clearances"),
                &token,
                Some(json!({"actor_id": who})),
            )
            .await
        }
    };
    // Only a unit head who may see the petitioner grants: the accused unit's head may not.
    let (status, _) = grant("zj_leader", leader_id.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = grant("county_bureau_head", leader_id.clone()).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "bureau head is not cleared: {body}"
    );
    // The county bureau's registrar is cleared but no unit head; a registrar + head is.
    let head = f
        .app
        .create_token(
            "head",
            Some("440604-xfj"),
            &[Role::Registrar, Role::UnitHead],
            None,
        )
        .await
        .unwrap();
    let (status, body) = call(
        &f.router,
        "POST",
        &format!("/api/v1/cases/{case}/clearances"),
        &head,
        Some(json!({"actor_id": leader_id})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = call(
        &f.router,
        "POST",
        &format!("/api/v1/cases/{case}/clearances"),
        &head,
        Some(json!({"actor_id": zj_handler_id})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = f
        .get("county_leader", &format!("/api/v1/cases/{case}/personal"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("13912340003"));
    let (status, _) = f
        .get("zj_handler", &format!("/api/v1/cases/{case}/personal"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the accused stays refused");
    let (status, body) = f.get("zj_handler", &format!("/api/v1/cases/{case}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.contains("petitioner_masked"));
    // Grants are audited.
    let (status, body) = f
        .get("auditor", &format!("/api/v1/audit?case_id={case}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let actions: Vec<String> = json_of(&body)
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert!(
        actions.iter().filter(|a| *a == "grant_clearance").count() == 2,
        "{actions:?}"
    );
    assert!(actions.contains(&"read_personal_data_refused".to_string()));
    f.finish().await;
}

#[tokio::test]
async fn the_database_never_holds_the_phone_in_plaintext() {
    let f = Fixture::start().await;
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT case_id, data FROM personal_data")
        .fetch_all(f.app.store().pool())
        .await
        .unwrap();
    assert_eq!(rows.len(), CASES.len());
    for (_, data) in &rows {
        assert!(data.starts_with("sm4gcm:v1:"), "{data}");
        for spec in CASES {
            assert!(!data.contains(spec.phone) && !data.contains(spec.name));
        }
    }
    // No table holds it: the projection and the log carry only masks and digests.
    let states: Vec<(String,)> = sqlx::query_as("SELECT state FROM cases")
        .fetch_all(f.app.store().pool())
        .await
        .unwrap();
    let payloads: Vec<(String,)> = sqlx::query_as("SELECT payload FROM events")
        .fetch_all(f.app.store().pool())
        .await
        .unwrap();
    for (text,) in states.iter().chain(payloads.iter()) {
        for spec in CASES {
            assert!(!text.contains(spec.phone) && !text.contains(spec.id_card));
        }
    }
    // For SQLite, the file itself (and its write-ahead log).
    let url = f.db.as_ref().unwrap().url.clone();
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = path.split('?').next().unwrap();
        sqlx::query("PRAGMA wal_checkpoint(FULL)")
            .execute(f.app.store().pool())
            .await
            .unwrap();
        for file in [path.to_string(), format!("{path}-wal")] {
            if let Ok(bytes) = std::fs::read(&file) {
                for spec in CASES {
                    let needle = spec.phone.as_bytes();
                    assert!(
                        !bytes.windows(needle.len()).any(|w| w == needle),
                        "{file} contains {}",
                        spec.phone
                    );
                }
            }
        }
    }
    f.finish().await;
}

#[tokio::test]
async fn key_rotation_reencrypts_everything_and_old_data_still_opens() {
    let old_key = huiyin_app::crypto::new_key();
    let new_key = huiyin_app::crypto::new_key();
    let f = Fixture::start_with(Arc::new(Keyring::single(old_key))).await;
    let store = f.app.store().clone();
    let old_id = Keyring::single(old_key).current_key_id().to_string();
    let new_id = Keyring::single(new_key).current_key_id().to_string();
    assert_eq!(
        f.app.data_keys_in_use().await.unwrap(),
        vec![old_id.clone()]
    );

    // The rotating application: the new key current, the old one still loaded.
    let rotating = App::new(
        store.clone(),
        Config {
            cipher: Arc::new(Keyring::single(new_key).with_old(old_key)),
            ..Config::default()
        },
    );
    // Before rotation, the old rows open through the rotating keyring.
    let case = CaseId::new(f.cases["zj"].clone());
    let token = f.tokens["county_registrar"].clone();
    let reader = |app: &App| {
        let app = app.clone();
        let case = case.clone();
        let token = token.clone();
        async move {
            let actor = app.authenticate_token(&token).await.unwrap();
            app.personal_data(&actor, &case).await
        }
    };
    assert!(
        reader(&rotating)
            .await
            .unwrap()
            .data
            .to_string()
            .contains("13912340001")
    );
    let first = rotating.reencrypt_personal_data(2).await.unwrap();
    assert_eq!(first.examined, CASES.len() as u64);
    assert_eq!(first.reencrypted, CASES.len() as u64);
    assert_eq!(first.current_key, new_id);
    assert_eq!(
        rotating.data_keys_in_use().await.unwrap(),
        vec![new_id.clone()]
    );
    // Idempotent: a second run finds nothing to do.
    let second = rotating.reencrypt_personal_data(2).await.unwrap();
    assert_eq!(second.reencrypted, 0);
    assert_eq!(second.already_current, CASES.len() as u64);
    // Only the new key is needed now; the old key alone no longer opens the data.
    let new_only = App::new(
        store.clone(),
        Config {
            cipher: Arc::new(Keyring::single(new_key)),
            ..Config::default()
        },
    );
    let view = reader(&new_only).await.unwrap();
    assert!(view.data.to_string().contains("13912340001"));
    // The digest over the plaintext still matches the one in the `submitted` event.
    let events = store.events_of(&case).await.unwrap();
    let huiyin_domain::case::EventKind::Submitted { petition, .. } = &events[0].event.kind else {
        panic!("first event is not submitted");
    };
    assert_eq!(
        petition.personal_digest.as_deref(),
        Some(view.digest.as_str())
    );
    assert!(
        reader(&f.app).await.is_err(),
        "the old key alone cannot open rotated rows"
    );
    // Rotation is audited.
    let audit = store.audit_entries(None, None, 1000).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.entry.action == "rotate_data_key")
            .count(),
        2
    );
    f.finish().await;
}
