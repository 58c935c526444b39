//! The operator side of the retail hall: companies and their services, enterprises, users and
//! their bindings, articles, the business guide, contracts, monthly use, settlement bills (and
//! their confirmation), and the feedback users sent.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::envelope::text_of as text;
use super::envelope::{AdminError, Body, OperatorAuth};
use crate::domain::retail::data::{BILL_FIGURES, BillInput, ContractInput};
use crate::surfaces::AppState;
use crate::surfaces::retail::wire;

type Reply = Result<Response, AdminError>;

fn ok(status: StatusCode, body: Value) -> Reply {
    Ok((status, Json(body)).into_response())
}

#[derive(Deserialize)]
pub struct CompanyRequest {
    name: Option<String>,
    services: Option<Vec<String>>,
}

/// `POST /admin/v1/retail/companies {name, services: [..]}` (201).
pub async fn create_company(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Body(req): Body<CompanyRequest>,
) -> Reply {
    let c = state
        .retail
        .create_company(
            req.name.as_deref().unwrap_or_default(),
            &req.services.unwrap_or_default(),
        )
        .await?;
    tracing::info!(operator = %op.username, company = %c.name, "retail company created");
    ok(
        StatusCode::CREATED,
        json!({"id": c.id, "name": c.name, "services": c.services}),
    )
}

#[derive(Deserialize)]
pub struct CompanyPatch {
    name: Option<String>,
    services: Option<Vec<String>>,
}

/// `PATCH /admin/v1/retail/companies/{id} {name?, services?}`
pub async fn update_company(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Path(id): Path<String>,
    Body(req): Body<CompanyPatch>,
) -> Reply {
    let c = state
        .retail
        .update_company(&id, req.name.as_deref(), req.services.as_deref())
        .await?;
    tracing::info!(operator = %op.username, company = %c.id, "retail company changed");
    ok(
        StatusCode::OK,
        json!({"id": c.id, "name": c.name, "services": c.services}),
    )
}

/// `GET /admin/v1/retail/companies`
pub async fn list_companies(State(state): State<AppState>, _op: OperatorAuth) -> Reply {
    let list: Vec<Value> = state
        .retail
        .companies()
        .await?
        .into_iter()
        .map(|c| json!({"id": c.id, "name": c.name, "services": c.services}))
        .collect();
    ok(StatusCode::OK, json!({"items": list}))
}

#[derive(Deserialize)]
pub struct EnterpriseRequest {
    name: Option<String>,
    credit_code: Option<String>,
    contact_phone: Option<String>,
}

fn enterprise_json(e: &crate::domain::retail::Enterprise) -> Value {
    json!({"name": e.name, "credit_code": e.credit_code, "contact_phone": e.contact_phone, "max_users": e.max_users})
}

/// `POST /admin/v1/retail/enterprises {name, credit_code, contact_phone}` (201).
pub async fn create_enterprise(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Body(req): Body<EnterpriseRequest>,
) -> Reply {
    let e = state
        .retail
        .create_enterprise(
            req.name.as_deref().unwrap_or_default(),
            req.credit_code.as_deref().unwrap_or_default(),
            req.contact_phone.as_deref().unwrap_or_default(),
        )
        .await?;
    tracing::info!(operator = %op.username, enterprise = %e.credit_code, "enterprise registered");
    ok(StatusCode::CREATED, enterprise_json(&e))
}

#[derive(Deserialize)]
pub struct EnterprisePatch {
    name: Option<String>,
    contact_phone: Option<String>,
    max_users: Option<i64>,
}

/// `PATCH /admin/v1/retail/enterprises/{credit_code} {name?, contact_phone?, max_users?}`:
/// `max_users` is how many hall users may be bound to it at once (1 by default).
pub async fn update_enterprise(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Path(code): Path<String>,
    Body(req): Body<EnterprisePatch>,
) -> Reply {
    let e = state
        .retail
        .update_enterprise(
            &code,
            req.name.as_deref(),
            req.contact_phone.as_deref(),
            req.max_users,
        )
        .await?;
    tracing::info!(operator = %op.username, enterprise = %e.credit_code, "enterprise changed");
    ok(StatusCode::OK, enterprise_json(&e))
}

/// `GET /admin/v1/retail/enterprises`
pub async fn list_enterprises(State(state): State<AppState>, _op: OperatorAuth) -> Reply {
    let list: Vec<Value> = state
        .retail
        .enterprises()
        .await?
        .iter()
        .map(enterprise_json)
        .collect();
    ok(StatusCode::OK, json!({"items": list}))
}

/// `GET /admin/v1/retail/users`: hall users with their bindings.
pub async fn list_users(State(state): State<AppState>, _op: OperatorAuth) -> Reply {
    let list: Vec<Value> = state
        .retail
        .users()
        .await?
        .iter()
        .map(wire::user_json)
        .collect();
    ok(StatusCode::OK, json!({"items": list}))
}

/// `POST /admin/v1/retail/users/{id}/unbind`
pub async fn unbind_user(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Path(id): Path<String>,
) -> Reply {
    state.retail.unbind(&id).await?;
    tracing::info!(operator = %op.username, user = %id, "retail user unbound");
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
pub struct ArticleRequest {
    channel: Option<String>,
    title: Option<String>,
    content: Option<String>,
    author: Option<String>,
    imgsrc: Option<String>,
}

/// `POST /admin/v1/retail/articles {channel, title, content, author, imgsrc}` (201).
pub async fn create_article(
    State(state): State<AppState>,
    _op: OperatorAuth,
    Body(req): Body<ArticleRequest>,
) -> Reply {
    let a = state
        .retail_data
        .create_article(
            req.channel.as_deref().unwrap_or_default(),
            req.title.as_deref().unwrap_or_default(),
            req.content.as_deref().unwrap_or_default(),
            req.author.as_deref().unwrap_or_default(),
            req.imgsrc.as_deref().unwrap_or_default(),
        )
        .await?;
    let mut body = wire::article_json(&a);
    body["channel"] = json!(a.channel);
    ok(StatusCode::CREATED, body)
}

/// `GET /admin/v1/retail/articles`: every channel.
pub async fn list_articles(State(state): State<AppState>, _op: OperatorAuth) -> Reply {
    let list: Vec<Value> = state
        .retail_data
        .all_articles()
        .await?
        .iter()
        .map(|a| {
            let mut v = wire::article_json(a);
            v["channel"] = json!(a.channel);
            v
        })
        .collect();
    ok(StatusCode::OK, json!({"items": list}))
}

/// `DELETE /admin/v1/retail/articles/{id}`
pub async fn delete_article(
    State(state): State<AppState>,
    _op: OperatorAuth,
    Path(id): Path<String>,
) -> Reply {
    state.retail_data.delete_article(&id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
pub struct GuideRequest {
    question: Option<String>,
    answer: Option<String>,
    position: Option<i64>,
}

/// `POST /admin/v1/retail/guide {question, answer, position?}` (201).
pub async fn create_guide(
    State(state): State<AppState>,
    _op: OperatorAuth,
    Body(req): Body<GuideRequest>,
) -> Reply {
    let g = state
        .retail_data
        .create_guide_entry(
            req.question.as_deref().unwrap_or_default(),
            req.answer.as_deref().unwrap_or_default(),
            req.position,
        )
        .await?;
    ok(
        StatusCode::CREATED,
        json!({"id": g.id, "question": g.question, "answer": g.answer, "position": g.position}),
    )
}

/// `GET /admin/v1/retail/guide`
pub async fn list_guide(State(state): State<AppState>, _op: OperatorAuth) -> Reply {
    let list: Vec<Value> = state
        .retail_data
        .guide()
        .await?
        .into_iter()
        .map(|g| json!({"id": g.id, "question": g.question, "answer": g.answer, "position": g.position}))
        .collect();
    ok(StatusCode::OK, json!({"items": list}))
}

/// `DELETE /admin/v1/retail/guide/{id}`
pub async fn delete_guide(
    State(state): State<AppState>,
    _op: OperatorAuth,
    Path(id): Path<String>,
) -> Reply {
    state.retail_data.delete_guide_entry(&id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
pub struct ContractRequest {
    contract_id: Option<String>,
    credit_code: Option<String>,
    company_id: Option<String>,
    title: Option<String>,
    content: Option<String>,
    files: Option<Vec<String>>,
    state: Option<String>,
    elec_number: Option<i64>,
    sign_date: Option<String>,
    expire_date: Option<String>,
}

/// `POST /admin/v1/retail/contracts` (201): the document's fields, with the enterprise's
/// `credit_code` and the `company_id` (party A and B are their names).
pub async fn create_contract(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Body(req): Body<ContractRequest>,
) -> Reply {
    let input = ContractInput {
        contract_id: req.contract_id.unwrap_or_default(),
        credit_code: req.credit_code.unwrap_or_default(),
        company_id: req.company_id.unwrap_or_default(),
        title: req.title.unwrap_or_default(),
        content: req.content.unwrap_or_default(),
        files: req.files.unwrap_or_default(),
        state: req.state.unwrap_or_else(|| "notfullfill".into()),
        elec_number: req.elec_number.unwrap_or(0),
        sign_date: req.sign_date.unwrap_or_default(),
        expire_date: req.expire_date.unwrap_or_default(),
    };
    let c = state.retail_data.create_contract(&input).await?;
    tracing::info!(operator = %op.username, contract = %c.contract_id, "contract created");
    let mut body = wire::contract_json(&c);
    body["credit_code"] = json!(c.enterprise_code);
    ok(StatusCode::CREATED, body)
}

#[derive(Deserialize)]
pub struct ContractPatch {
    state: Option<String>,
    files: Option<Vec<String>>,
    expire_date: Option<String>,
}

/// `PATCH /admin/v1/retail/contracts/{contract_id} {state?, files?, expire_date?}`
pub async fn update_contract(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Path(id): Path<String>,
    Body(req): Body<ContractPatch>,
) -> Reply {
    let c = state
        .retail_data
        .update_contract(
            &id,
            req.state.as_deref(),
            req.files.as_deref(),
            req.expire_date.as_deref(),
        )
        .await?;
    tracing::info!(operator = %op.username, contract = %c.contract_id, "contract changed");
    let mut body = wire::contract_json(&c);
    body["credit_code"] = json!(c.enterprise_code);
    ok(StatusCode::OK, body)
}

/// `GET /admin/v1/retail/contracts`
pub async fn list_contracts(State(state): State<AppState>, _op: OperatorAuth) -> Reply {
    let list: Vec<Value> = state
        .retail_data
        .all_contracts()
        .await?
        .iter()
        .map(|c| {
            let mut v = wire::contract_json(c);
            v["credit_code"] = json!(c.enterprise_code);
            v
        })
        .collect();
    ok(StatusCode::OK, json!({"items": list}))
}

#[derive(Deserialize)]
pub struct UseRequest {
    credit_code: Option<String>,
    year: Option<i64>,
    month: Option<i64>,
    number: Option<Value>,
}

/// `PUT /admin/v1/retail/monthly-use {credit_code, year, month, number}`
pub async fn put_monthly_use(
    State(state): State<AppState>,
    _op: OperatorAuth,
    Body(req): Body<UseRequest>,
) -> Reply {
    state
        .retail_data
        .put_monthly_use(
            req.credit_code.as_deref().unwrap_or_default(),
            req.year.unwrap_or(0),
            req.month.unwrap_or(0),
            &text(&req.number),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /admin/v1/retail/monthly-use?credit_code=&year=`
pub async fn get_monthly_use(
    State(state): State<AppState>,
    _op: OperatorAuth,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Reply {
    let year = q
        .get("year")
        .and_then(|y| y.trim().parse::<i64>().ok())
        .ok_or_else(|| AdminError::bad_request("year: a year such as 2017"))?;
    let list: Vec<Value> = state
        .retail_data
        .enterprise_monthly_use(q.get("credit_code").map_or("", String::as_str), year)
        .await?
        .into_iter()
        .map(|(month, n)| json!({"month": month, "number": crate::domain::money::fixed_string(n, 4)}))
        .collect();
    ok(StatusCode::OK, json!({"items": list}))
}

/// `GET /admin/v1/retail/plans?credit_code=`: an enterprise's plans, declared or not.
pub async fn list_plans(
    State(state): State<AppState>,
    _op: OperatorAuth,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Reply {
    let list: Vec<Value> = state
        .retail_data
        .enterprise_plans(q.get("credit_code").map_or("", String::as_str))
        .await?
        .iter()
        .map(wire::plan_json)
        .collect();
    ok(StatusCode::OK, json!({"items": list}))
}

/// `POST /admin/v1/retail/bills` (201): `credit_code`, `date`, `elec_use_date`,
/// `user_benefits` and the nine figures of the document (numbers or decimal strings).
pub async fn create_bill(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Body(req): Body<std::collections::HashMap<String, Value>>,
) -> Reply {
    // The texts are strings, the amounts numbers or decimal strings (null: absent); anything
    // else is refused, not read as "".
    let texts = ["id", "credit_code", "date", "elec_use_date"];
    let amounts = std::iter::once(&"user_benefits").chain(BILL_FIGURES.iter());
    for (name, number_too) in texts
        .iter()
        .map(|n| (n, false))
        .chain(amounts.map(|n| (n, true)))
    {
        match req.get(*name) {
            None | Some(Value::Null | Value::String(_)) => {}
            Some(Value::Number(_)) if number_too => {}
            Some(_) => {
                let kind = if number_too {
                    "a number or a string"
                } else {
                    "a string"
                };
                return Err(AdminError::bad_request(format!("{name}: must be {kind}")));
            }
        }
    }
    let field = |name: &str| text(&req.get(name).cloned());
    let input = BillInput {
        id: Some(field("id")).filter(|s| !s.is_empty()),
        credit_code: field("credit_code"),
        date: field("date"),
        elec_use_date: field("elec_use_date"),
        user_benefits: field("user_benefits"),
        figures: BILL_FIGURES.map(field),
    };
    let bill = state.retail_data.create_settlement_bill(&input).await?;
    tracing::info!(operator = %op.username, bill = %bill.id, "settlement bill created");
    Ok((StatusCode::CREATED, Json(wire::BillWire::from(&bill))).into_response())
}

/// `GET /admin/v1/retail/bills`
pub async fn list_bills(State(state): State<AppState>, _op: OperatorAuth) -> Reply {
    let list: Vec<wire::BillWire> = state
        .retail_data
        .all_settlement_bills()
        .await?
        .iter()
        .map(wire::BillWire::from)
        .collect();
    // A struct, not `json!`: the figures keep their four decimals only when serialized directly.
    #[derive(serde::Serialize)]
    struct Items {
        items: Vec<wire::BillWire>,
    }
    Ok(Json(Items { items: list }).into_response())
}

#[derive(Deserialize)]
pub struct ConfirmRequest {
    confirmer: Option<String>,
    confirm_date: Option<String>,
}

/// `POST /admin/v1/retail/bills/{id}/confirm {confirmer, confirm_date?}`
pub async fn confirm_bill(
    State(state): State<AppState>,
    OperatorAuth(op): OperatorAuth,
    Path(id): Path<String>,
    Body(req): Body<ConfirmRequest>,
) -> Reply {
    let bill = state
        .retail_data
        .confirm_settlement_bill(
            &id,
            req.confirmer.as_deref().unwrap_or_default(),
            req.confirm_date.as_deref(),
        )
        .await?;
    tracing::info!(operator = %op.username, bill = %bill.id, "settlement bill confirmed");
    Ok(Json(wire::BillWire::from(&bill)).into_response())
}

/// `GET /admin/v1/retail/feedback`: newest first; `picture` is the URL of its picture, if any.
pub async fn list_feedback(State(state): State<AppState>, _op: OperatorAuth) -> Reply {
    let list: Vec<Value> = state
        .retail_data
        .all_feedback()
        .await?
        .into_iter()
        .map(|f| {
            json!({
                "id": f.id,
                "user_id": f.user_id,
                "phone": f.phone,
                "content": f.content,
                "contact": f.contact,
                "picture": f.picture_type.map(|_| format!("/admin/v1/retail/feedback/{}/picture", f.id)),
                "create_at": f.created_at.iso_utc_ms(),
            })
        })
        .collect();
    ok(StatusCode::OK, json!({"items": list}))
}

/// `GET /admin/v1/retail/feedback/{id}/picture`: the picture as an attachment of its sniffed
/// type, never rendered inline or sniffed into something executable.
pub async fn feedback_picture(
    State(state): State<AppState>,
    _op: OperatorAuth,
    Path(id): Path<String>,
) -> Reply {
    let (bytes, kind) = state.retail_data.feedback_picture(&id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, kind.mime().to_owned()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"feedback-{id}\""),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox".to_owned(),
            ),
        ],
        bytes,
    )
        .into_response())
}
