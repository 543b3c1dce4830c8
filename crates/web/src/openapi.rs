//! The OpenAPI 3.1 document of the JSON API, served at `/api/v1/openapi.json`.

use serde_json::{Value, json};

use crate::error::CATALOGUE;

fn error_responses(codes: &[u16]) -> Value {
    let mut map = serde_json::Map::new();
    for code in codes {
        let listed: Vec<&str> = CATALOGUE
            .iter()
            .filter(|e| e.status == *code)
            .map(|e| e.code)
            .collect();
        map.insert(
            code.to_string(),
            json!({
                "description": format!("Error ({})", listed.join(", ")),
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
            }),
        );
    }
    Value::Object(map)
}

/// Adds a module's `paths` (a JSON object of path → operations) to the document's paths.
pub(crate) fn add_paths(doc: &mut Value, paths: Value) {
    if let (Some(target), Value::Object(new)) =
        (doc.get_mut("paths").and_then(|p| p.as_object_mut()), paths)
    {
        target.extend(new);
    }
}

pub(crate) fn with_errors(ok: Value, codes: &[u16]) -> Value {
    let mut responses = error_responses(codes);
    if let (Value::Object(r), Value::Object(ok)) = (&mut responses, ok) {
        r.extend(ok);
    }
    responses
}

fn command_schemas() -> Value {
    let reason = json!({"type": "string", "minLength": 2, "maxLength": 5000});
    let doc = json!({"type": "string", "minLength": 2, "maxLength": 50000});
    let opinion = json!({"$ref": "#/components/schemas/HandlingOpinion"});
    let outcome = json!({"type": "string", "enum": ["uphold", "revoke", "change"]});
    let satisfaction =
        json!({"type": "string", "enum": ["satisfied", "basically_satisfied", "unsatisfied"]});
    let cmd = |name: &str, props: Value, required: &[&str]| {
        let mut p = serde_json::Map::new();
        p.insert("command".into(), json!({"const": name}));
        if let Value::Object(m) = props {
            p.extend(m);
        }
        let mut req = vec!["command"];
        req.extend_from_slice(required);
        json!({"type": "object", "properties": p, "required": req, "title": name})
    };
    json!({"oneOf": [
        cmd("register", json!({"class": {"$ref": "#/components/schemas/StatutoryClass"}, "category": {"type": "string"}}), &["class"]),
        cmd("route", json!({"kind": {"oneOf": [
            {"type": "object", "properties": {"kind": {"const": "forward"}}, "required": ["kind"]},
            {"type": "object", "properties": {"kind": {"const": "assign"}, "due_at": {"type": "string", "format": "date-time"}}, "required": ["kind", "due_at"]},
            {"type": "object", "properties": {"kind": {"const": "bureau"}}, "required": ["kind"]}
        ]}, "unit": {"type": "string"}}), &["kind", "unit"]),
        cmd("accept", json!({}), &[]),
        cmd("decline", json!({"ground": {"type": "string", "enum": ["other_procedure", "concluded", "already_accepted", "not_petition_matter"]}, "reason": reason, "guidance": reason}), &["ground", "reason", "guidance"]),
        cmd("object", json!({"reason": reason}), &["reason"]),
        cmd("resolve_objection", json!({"agree": {"type": "boolean"}, "reason": reason}), &["agree", "reason"]),
        cmd("request_extension", json!({"days": {"type": "integer", "minimum": 1, "maximum": 30}, "reason": reason}), &["days", "reason"]),
        cmd("decide_extension", json!({"approve": {"type": "boolean"}, "reason": reason}), &["approve", "reason"]),
        cmd("reply", json!({"opinion": opinion}), &["opinion"]),
        cmd("submit_completion_report", json!({"report": doc}), &["report"]),
        cmd("check_completion_report", json!({"approve": {"type": "boolean"}, "reason": reason, "new_due_at": {"type": "string", "format": "date-time"}}), &["approve", "reason"]),
        cmd("rate", json!({"bureau": satisfaction, "unit": satisfaction, "comment": reason}), &["bureau", "unit"]),
        cmd("request_review", json!({"reason": reason, "review_unit": {"type": "string"}}), &["reason", "review_unit"]),
        cmd("decide_review", json!({"outcome": outcome, "opinion": opinion}), &["outcome", "opinion"]),
        cmd("request_rereview", json!({"reason": reason, "rereview_unit": {"type": "string"}}), &["reason", "rereview_unit"]),
        cmd("start_hearing", json!({"note": reason}), &["note"]),
        cmd("end_hearing", json!({"note": reason}), &["note"]),
        cmd("decide_rereview", json!({"outcome": outcome, "opinion": opinion}), &["outcome", "opinion"]),
        cmd("withdraw", json!({"reason": reason}), &["reason"]),
        cmd("merge_into", json!({"into": {"type": "string"}, "reason": {"type": "string", "enum": ["duplicate", "repeat"]}}), &["into", "reason"]),
        cmd("add_note", json!({"text": doc}), &["text"]),
        cmd("link", json!({"to": {"type": "string"}, "relation": {"type": "string", "enum": ["repeat", "repeat_after_conclusion", "multi_addressed", "group", "same_issue"]}}), &["to", "relation"]),
        cmd("instruct", json!({"text": doc}), &["text"]),
        cmd("take_charge", json!({}), &[]),
        cmd("release_charge", json!({"reason": reason}), &["reason"]),
        cmd("hand_over_charge", json!({"to": {"type": "string", "description": "the receiving leader's actor id (user:…)"}, "to_unit": {"type": "string"}, "reason": reason}), &["to", "to_unit", "reason"]),
        cmd("urge", json!({"text": doc}), &["text"]),
        cmd("supervise", json!({"form": {"type": "string", "enum": ["online", "phone", "on_site"]}, "text": doc, "reply_working_days": {"type": "integer", "minimum": 1, "maximum": 60, "description": "default: the policy's escalation.supervision_reply_working_days (5)"}, "named": {"type": "boolean", "description": "挂牌督办"}}), &["form", "text"]),
        cmd("answer_supervision", json!({"number": {"type": "integer", "minimum": 1}, "text": doc}), &["number", "text"]),
        cmd("circulate", json!({"text": doc, "order": {"type": "integer", "minimum": 1, "description": "the 督办单 that went unanswered"}}), &["text"]),
        cmd("end_named_supervision", json!({"reason": reason}), &["reason"]),
        cmd("schedule_follow_up", json!({"method": {"type": "string", "enum": ["phone", "visit"], "description": "回访: 电话 or 上门"}}), &["method"]),
        cmd("record_follow_up", json!({"method": {"type": "string", "enum": ["phone", "visit"]}, "outcome": {"type": "string", "enum": ["satisfied", "basically_satisfied", "unsatisfied", "unreachable"]}, "note": reason}), &["method", "outcome", "note"])
    ]})
}

/// The document.
pub fn document() -> Value {
    let person = json!({"type": "object", "properties": {
        "name": {"type": "string", "maxLength": 50},
        "phone": {"type": "string", "description": "11-digit mobile or landline with area code"},
        "id_card": {"type": "string", "description": "18-character GB 11643 number, check digit verified"},
        "address": {"type": "string", "maxLength": 200}
    }});
    let catalogue: Vec<Value> = CATALOGUE
        .iter()
        .map(|e| json!({"code": e.code, "status": e.status, "meaning": e.meaning}))
        .collect();
    let bearer = json!([{"bearer": []}]);
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Huiyin (回音) petition information system API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "网上信访信息系统 JSON API. Errors share one body: {\"error\": {\"code\", \"message\", \"fields\"}}. The catalogue of codes is under x-error-catalogue.",
        },
        "x-error-catalogue": catalogue,
        "servers": [{"url": "/"}],
        "paths": {
            "/healthz": {"get": {"summary": "Liveness and database check", "responses": {"200": {"description": "OK"}, "503": {"description": "Database unreachable"}}}},
            "/api/v1/petitions": {"post": {
                "summary": "Submit a petition online (public, rate-limited); answers with the receipt code and query secret",
                "parameters": [{"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string", "maxLength": 200}, "description": "The same key twice creates one petition and returns the same receipt"}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PetitionInput"}}}},
                "responses": with_errors(json!({"201": {"description": "Received", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Receipt"}}}}, "200": {"description": "Replayed by idempotency key"}}), &[400, 422, 429, 503])
            }},
            "/api/v1/public/lookup": {"post": {
                "summary": "The petitioner's own case by receipt code and secret (public, rate-limited)",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "properties": {"receipt_code": {"type": "string"}, "secret": {"type": "string"}}, "required": ["receipt_code", "secret"]}}}},
                "responses": with_errors(json!({"200": {"description": "The petitioner's view: timeline, deadline, documents"}}), &[400, 404, 422, 429])
            }},
            "/api/v1/public/actions": {"post": {
                "summary": "The petitioner rates, asks for review or re-review, or withdraws",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"allOf": [{"type": "object", "properties": {"receipt_code": {"type": "string"}, "secret": {"type": "string"}}, "required": ["receipt_code", "secret"]}, {"$ref": "#/components/schemas/Command"}]}}}},
                "responses": with_errors(json!({"200": {"description": "The updated petitioner view"}}), &[400, 403, 404, 409, 422, 429])
            }},
            "/api/v1/me": {"get": {"summary": "The authenticated actor", "security": bearer, "responses": with_errors(json!({"200": {"description": "Actor"}}), &[401])}},
            "/api/v1/cases": {
                "get": {"summary": "A unit's work list, most urgent first, keyset-paginated", "security": bearer,
                    "parameters": [
                        {"name": "unit", "in": "query", "schema": {"type": "string"}},
                        {"name": "stage", "in": "query", "schema": {"type": "string"}},
                        {"name": "open", "in": "query", "schema": {"type": "boolean", "default": true}},
                        {"name": "overdue", "in": "query", "schema": {"type": "boolean"}},
                        {"name": "after_due", "in": "query", "schema": {"type": "integer"}},
                        {"name": "after_id", "in": "query", "schema": {"type": "string"}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}}
                    ],
                    "responses": with_errors(json!({"200": {"description": "A page of cases and the cursor of the next"}}), &[401, 403, 422])},
                "post": {"summary": "Staff entry of a letter, visit, call, fax, proxy or API petition", "security": bearer,
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PetitionInput"}}}},
                    "responses": with_errors(json!({"201": {"description": "Received", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Receipt"}}}}}), &[400, 401, 403, 422, 503])}
            },
            "/api/v1/cases/{id}": {"get": {"summary": "A case with deadlines and lights", "security": bearer,
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": with_errors(json!({"200": {"description": "CaseView"}}), &[401, 404])}},
            "/api/v1/cases/{id}/events": {"get": {"summary": "The case's events with their chain hashes", "security": bearer,
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": with_errors(json!({"200": {"description": "Events in version order"}}), &[401, 404])}},
            "/api/v1/cases/{id}/actions": {"post": {"summary": "Run a lifecycle command on the case", "security": bearer,
                "parameters": [
                    {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
                    {"name": "If-Match", "in": "header", "schema": {"type": "string"}, "description": "The case version the caller saw"}
                ],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"allOf": [{"$ref": "#/components/schemas/Command"}, {"type": "object", "properties": {"expected_version": {"type": "integer"}}}]}}}},
                "responses": with_errors(json!({"200": {"description": "The updated CaseView; after `reply`, `decide_review` or `decide_rereview` also `reply_check` ({document, version, at, score, findings, topic_overlap_pct}): the reply-quality check stored with the opinion (also in `state.reply_checks`)"}}), &[400, 401, 403, 404, 409, 422])}},
            "/api/v1/cases/{id}/personal": {"get": {"summary": "The petitioner's unmasked personal data (cleared staff only; every read and refusal is audited)", "security": bearer,
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": with_errors(json!({"200": {"description": "PersonalView"}}), &[401, 403, 404])}},
            "/api/v1/cases/{id}/clearances": {"post": {"summary": "Clear a person to see a 检举控告 petitioner (unit heads who may see it)", "security": bearer,
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["actor_id"], "properties": {"actor_id": {"type": "string"}}}}}},
                "responses": with_errors(json!({"201": {"description": "Cleared"}, "200": {"description": "Already cleared"}}), &[400, 401, 403, 404, 422])}},
            "/api/v1/audit": {"get": {"summary": "The hash-chained audit trail (auditors)", "security": bearer,
                "parameters": [
                    {"name": "case_id", "in": "query", "schema": {"type": "string"}},
                    {"name": "before_seq", "in": "query", "schema": {"type": "integer"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}
                ],
                "responses": with_errors(json!({"200": {"description": "Audit entries, newest first"}}), &[401, 403, 404, 422])}},
            "/api/v1/units": {
                "get": {"summary": "All units", "security": bearer, "responses": with_errors(json!({"200": {"description": "Units"}}), &[401])},
                "post": {"summary": "Create a unit (administrators)", "security": bearer, "responses": with_errors(json!({"201": {"description": "Created"}}), &[400, 401, 403, 409, 422])}
            }
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "An API token from `huiyin token create`"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
                    "code": {"type": "string", "enum": CATALOGUE.iter().map(|e| e.code).collect::<Vec<_>>()},
                    "message": {"type": "string"},
                    "fields": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"}}}}
                }}}},
                "Person": person,
                "StatutoryClass": {"oneOf": [
                    {"type": "object", "properties": {"class": {"const": "suggestion"}}, "required": ["class"]},
                    {"type": "object", "properties": {"class": {"const": "accusation"}}, "required": ["class"]},
                    {"type": "object", "properties": {"class": {"const": "appeal"}, "route": {"type": "string", "enum": ["law_and_litigation", "arbitration", "party_member_appeal", "administrative_procedure", "legal_duty", "petition_procedure"]}}, "required": ["class", "route"]}
                ]},
                "PetitionInput": {"type": "object", "required": ["channel", "petitioner", "title", "text", "region"], "properties": {
                    "channel": {"type": "string", "enum": ["online_web", "mobile_web", "letter", "visit", "phone", "fax", "proxy", "api"]},
                    "petitioner": {"allOf": [{"$ref": "#/components/schemas/Person"}, {"type": "object", "properties": {"anonymous": {"type": "boolean"}}}]},
                    "group": {"type": "object", "properties": {"headcount": {"type": "integer", "minimum": 2}, "representatives": {"type": "array", "maxItems": 5, "items": {"$ref": "#/components/schemas/Person"}}}},
                    "title": {"type": "string", "minLength": 2, "maxLength": 100},
                    "text": {"type": "string", "minLength": 5, "maxLength": 20000},
                    "region": {"type": "string", "description": "GB/T 2260 code (2, 4, 6 or 9 digits)"},
                    "category": {"type": "string"},
                    "class": {"$ref": "#/components/schemas/StatutoryClass"},
                    "also_sent_to": {"type": "array", "items": {"type": "string"}},
                    "proxy": {"type": "object", "properties": {"consent": {"type": "string"}}},
                    "publish_consent": {"type": "boolean", "default": false, "description": "同意公开: the reply may be published, personal data masked (never for 检举控告); withdrawable"},
                    "received_at": {"type": "string", "format": "date-time", "description": "Staff entry only"}
                }},
                "Receipt": {"type": "object", "properties": {
                    "case_id": {"type": "string"}, "receipt_code": {"type": "string", "example": "7K3M-Q9XD-2B4T"},
                    "secret": {"type": "string"}, "bureau_id": {"type": "string"}, "bureau_name": {"type": "string"},
                    "received_at": {"type": "string", "format": "date-time"}, "register_due_at": {"type": "string", "format": "date-time"},
                    "replayed": {"type": "boolean"},
                    "similar": {"$ref": "#/components/schemas/SimilarAnswer"}
                }},
                "HandlingOpinion": {"type": "object", "required": ["request", "facts", "reasons", "legal_basis", "decision"], "properties": {
                    "request": {"type": "string"}, "facts": {"type": "string"}, "reasons": {"type": "string"}, "legal_basis": {"type": "string"},
                    "decision": {"type": "string", "enum": ["support", "explain", "not_support"]}
                }},
                "Command": command_schemas()
            }
        }
    });
    crate::auth::document_paths(&mut doc);
    crate::text::document_paths(&mut doc);
    crate::stats::document_paths(&mut doc);
    crate::settings::document_paths(&mut doc);
    crate::search::document_paths(&mut doc);
    crate::warnings::document_paths(&mut doc);
    doc
}
