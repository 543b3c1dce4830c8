//! Desk intake (来信/来访/来电登记): a registrar enters a letter, a visit or a call — also a
//! group visit with its headcount and up to five representatives (Art. 20) — and hands the
//! petitioner the receipt code and query secret. The form is parsed by the same code as the
//! JSON API ([`crate::input::PetitionInput`]), so the rules and messages are the same; a
//! hidden key makes a double submit create one petition.

use axum::extract::{Form, OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use huiyin_app::NewPetition;
use huiyin_domain::case::Role;
use huiyin_domain::petition::Group;
use serde_json::{Map, Value, json};

use super::forms::{Field, Fields, FormData, parse_datetime, place_errors, show_time};
use super::{Chrome, Signed, app_error_page, signed_in};
use crate::WebState;
use crate::error::ApiError;
use crate::input::PetitionInput;
use crate::pages::{Ctx, Prefs, render};

/// What the petitioner takes home.
pub struct Done {
    pub case_id: String,
    pub receipt_code: String,
    pub secret: String,
    pub bureau: String,
    pub register_due: String,
}

#[derive(askama::Template)]
#[template(path = "staff/intake.html")]
pub struct IntakePage {
    pub ctx: Ctx,
    pub chrome: Chrome,
    pub how: Fields,
    pub person: Fields,
    pub group: Fields,
    pub reps: Vec<Fields>,
    pub matter: Fields,
    pub key: String,
    pub errors: Vec<String>,
    pub done: Option<Done>,
}

fn channel_options(ctx: &Ctx, proxy_only: bool) -> Vec<(String, String)> {
    let list: &[&str] = if proxy_only {
        &["proxy"]
    } else {
        &["letter", "visit", "phone", "fax"]
    };
    list.iter()
        .map(|c| (c.to_string(), ctx.t(&format!("channel.{c}")).to_string()))
        .collect()
}

fn blank(ctx: &Ctx, signed: &Signed, now: &str) -> IntakePage {
    let proxy_only = !signed.actor.has(Role::Registrar) && signed.actor.has(Role::Proxy);
    let mut how = Fields(vec![
        Field::new("in", "channel", "radio", ctx.t("staff.intake.channel"))
            .required()
            .options(channel_options(ctx, proxy_only))
            .value(if proxy_only { "proxy" } else { "visit" }),
        Field::new(
            "in",
            "received_at",
            "datetime-local",
            ctx.t("staff.intake.received_at"),
        )
        .hint(ctx.t("staff.intake.received_hint"))
        .value(now),
    ]);
    if proxy_only {
        how.0.push(
            Field::new(
                "in",
                "proxy.consent",
                "textarea",
                ctx.t("staff.intake.consent"),
            )
            .required()
            .hint(ctx.t("staff.intake.consent_hint")),
        );
    }
    how.sync();
    let person = Fields(vec![
        Field::new(
            "in",
            "petitioner.anonymous",
            "checkbox",
            ctx.t("staff.intake.anonymous"),
        )
        .hint(ctx.t("staff.intake.anonymous_hint")),
        Field::new("in", "petitioner.name", "text", ctx.t("staff.intake.name")),
        Field::new("in", "petitioner.phone", "tel", ctx.t("staff.intake.phone"))
            .hint(ctx.t("staff.intake.phone_hint")),
        Field::new(
            "in",
            "petitioner.id_card",
            "text",
            ctx.t("staff.intake.id_card"),
        ),
        Field::new(
            "in",
            "petitioner.address",
            "text",
            ctx.t("staff.intake.address"),
        ),
    ]);
    let group = Fields(vec![
        Field::new("in", "is_group", "checkbox", ctx.t("staff.intake.is_group"))
            .hint(ctx.t("staff.intake.group_hint")),
        Field::new(
            "in",
            "group.headcount",
            "number",
            ctx.t("staff.intake.headcount"),
        ),
    ]);
    let reps = (0..Group::MAX_REPRESENTATIVES)
        .map(|i| {
            let n = (i + 1).to_string();
            Fields(vec![
                Field::new(
                    "in",
                    &format!("group.representatives[{i}].name"),
                    "text",
                    &ctx.tf("staff.intake.rep_name", &[("n", &n)]),
                ),
                Field::new(
                    "in",
                    &format!("group.representatives[{i}].phone"),
                    "tel",
                    &ctx.tf("staff.intake.rep_phone", &[("n", &n)]),
                ),
                Field::new(
                    "in",
                    &format!("group.representatives[{i}].id_card"),
                    "text",
                    &ctx.tf("staff.intake.rep_id_card", &[("n", &n)]),
                ),
            ])
        })
        .collect();
    let matter = Fields(vec![
        Field::new("in", "title", "text", ctx.t("staff.intake.title_field")).required(),
        Field::new("in", "text", "textarea", ctx.t("staff.intake.text"))
            .required()
            .hint(ctx.t("staff.intake.text_hint")),
        Field::new("in", "region", "text", ctx.t("staff.intake.region"))
            .required()
            .hint(ctx.t("staff.intake.region_hint")),
        Field::new("in", "category", "text", ctx.t("staff.intake.category"))
            .hint(ctx.t("staff.intake.category_hint")),
    ]);
    IntakePage {
        ctx: ctx.clone(),
        chrome: signed.chrome(ctx, "intake"),
        how,
        person,
        group,
        reps,
        matter,
        key: uuid::Uuid::now_v7().to_string(),
        errors: Vec::new(),
        done: None,
    }
}

fn may_intake(signed: &Signed) -> bool {
    signed.actor.has(Role::Registrar) || signed.actor.has(Role::Proxy)
}

fn refuse(ctx: Ctx) -> Response {
    let message = ctx.t("staff.intake.forbidden").to_string();
    crate::pages::error_page(ctx, StatusCode::FORBIDDEN, "staff.forbidden.title", message)
}

pub async fn page(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let signed = match signed_in(&state, &headers, uri.path()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let ctx = signed.ctx(prefs, "/staff/intake");
    if !may_intake(&signed) {
        return refuse(ctx);
    }
    let now = state.app.now().with_timezone(&super::forms::cst());
    let page = blank(&ctx, &signed, &now.format("%Y-%m-%dT%H:%M").to_string());
    render(StatusCode::OK, &page)
}

/// The JSON body the API would get for this form.
fn to_input(form: &FormData, received_at: Option<String>) -> Value {
    let opt = |name: &str| {
        let v = form.get(name);
        if v.is_empty() {
            Value::Null
        } else {
            Value::String(v.to_string())
        }
    };
    let mut body = Map::new();
    body.insert("channel".into(), opt("channel"));
    body.insert(
        "petitioner".into(),
        json!({
            "anonymous": form.has("petitioner.anonymous"),
            "name": opt("petitioner.name"),
            "phone": opt("petitioner.phone"),
            "id_card": opt("petitioner.id_card"),
            "address": opt("petitioner.address"),
        }),
    );
    if form.has("is_group") {
        let reps: Vec<Value> = (0..Group::MAX_REPRESENTATIVES)
            .filter(|i| {
                ["name", "phone", "id_card"]
                    .iter()
                    .any(|f| form.has(&format!("group.representatives[{i}].{f}")))
            })
            .map(|i| {
                json!({
                    "name": opt(&format!("group.representatives[{i}].name")),
                    "phone": opt(&format!("group.representatives[{i}].phone")),
                    "id_card": opt(&format!("group.representatives[{i}].id_card")),
                })
            })
            .collect();
        let headcount = form.get("group.headcount").parse::<u32>().unwrap_or(0);
        body.insert(
            "group".into(),
            json!({ "headcount": headcount, "representatives": reps }),
        );
    }
    body.insert("title".into(), Value::String(form.get("title").into()));
    body.insert("text".into(), Value::String(form.get("text").into()));
    body.insert("region".into(), Value::String(form.get("region").into()));
    body.insert("category".into(), opt("category"));
    if form.has("proxy.consent") {
        body.insert(
            "proxy".into(),
            json!({ "consent": form.get("proxy.consent") }),
        );
    }
    if let Some(t) = received_at {
        body.insert("received_at".into(), Value::String(t));
    }
    Value::Object(body)
}

pub async fn submit(
    State(state): State<WebState>,
    prefs: Prefs,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Form(form): Form<FormData>,
) -> Response {
    let signed = match signed_in(&state, &headers, uri.path()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if let Err(r) = signed.check_csrf(prefs, &form) {
        return r;
    }
    let ctx = signed.ctx(prefs, "/staff/intake");
    if !may_intake(&signed) {
        return refuse(ctx);
    }
    let mut page = blank(&ctx, &signed, "");
    for fields in [
        &mut page.how,
        &mut page.person,
        &mut page.group,
        &mut page.matter,
    ] {
        fields.fill(&form);
    }
    for r in &mut page.reps {
        r.fill(&form);
    }
    if form.has("_key") {
        page.key = form.get("_key").chars().take(100).collect();
    }
    let required = |label: &str| ctx.tf("staff.form.required", &[("field", label)]);
    let mut ok = page.how.check_required(required);
    ok &= page.matter.check_required(required);
    let received_at = match form.get("received_at") {
        "" => None,
        raw => match parse_datetime(raw) {
            Some(t) => Some(t.to_rfc3339()),
            None => {
                page.how
                    .set_error("received_at", ctx.t("staff.intake.bad_time").to_string());
                ok = false;
                None
            }
        },
    };
    if form.has("is_group") && form.get("group.headcount").parse::<u32>().is_err() {
        page.group.set_error(
            "group.headcount",
            ctx.t("staff.intake.bad_headcount").to_string(),
        );
        ok = false;
    }
    if !ok {
        return render(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    let result = async {
        let input: PetitionInput = serde_json::from_value(to_input(&form, received_at))
            .map_err(|e| ApiError::malformed(e.to_string()))?;
        let proxy_user = signed
            .actor
            .has(Role::Proxy)
            .then(|| signed.actor.id.to_string());
        let (petition, received_at) = input.parse(proxy_user.as_deref())?;
        let receipt = state
            .app
            .submit(
                signed.actor.clone(),
                NewPetition {
                    petition,
                    idempotency_key: Some(format!("page:{}:{}", signed.actor.id, page.key)),
                    received_at,
                },
            )
            .await?;
        Ok::<_, ApiError>(receipt)
    }
    .await;
    match result {
        Ok(receipt) => {
            page.done = Some(Done {
                case_id: receipt.case_id,
                receipt_code: receipt.receipt_code,
                secret: receipt.secret,
                bureau: receipt.bureau_name,
                register_due: receipt.register_due_at.map(show_time).unwrap_or_default(),
            });
            render(StatusCode::OK, &page)
        }
        Err(err) if err.status.is_server_error() => app_error_page(ctx, err),
        Err(err) => {
            let err = crate::pages::domain_text::localize(page.ctx.lang, err);
            let mut groups: Vec<&mut Fields> = vec![
                &mut page.how,
                &mut page.person,
                &mut page.group,
                &mut page.matter,
            ];
            groups.extend(page.reps.iter_mut());
            let left = place_errors(&err, &mut groups);
            page.errors = left;
            render(err.status, &page)
        }
    }
}
