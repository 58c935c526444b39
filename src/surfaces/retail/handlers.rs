//! Handlers of the retail surface: parse the document's fields, call the domain, answer in the
//! document's shapes.

use std::net::IpAddr;

use axum::Json;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use super::envelope::{
    Auth, CAPTCHA, CAPTCHA_COOKIE, CAPTCHA_ID, COMPANY, CREDIT_CODE, ENTERPRISE_NAME, Fields,
    PASSWORD, PHONE, PHONE_LAST4, QueryParams, RetailError, SMS_CODE,
};
use crate::domain::money::{FixedNumber, fixed_string};
use crate::domain::retail::binding::{BindCodeRequest, BindRequest, EnterpriseClaim};
use crate::domain::retail::data::{Article, Contract, Plan, PlanInput, SettlementBill};
use crate::domain::retail::{self, RetailUser};
use crate::surfaces::AppState;
use crate::surfaces::ClientIp;

type Reply = Result<Response, RetailError>;

fn ok<T: Serialize>(status: StatusCode, body: &T) -> Reply {
    Ok((status, Json(body)).into_response())
}

pub fn user_json(user: &RetailUser) -> Value {
    let binding = user.binding.as_ref().map(|b| {
        json!({
            "enterprise_code": b.enterprise_code,
            "company_id": b.company_id,
            "services": b.services,
            "bound_at": b.bound_at.iso_utc_ms(),
        })
    });
    json!({
        "id": user.id,
        "phone": user.phone,
        "binding": binding,
        "create_at": user.created_at.iso_utc_ms(),
    })
}

/// `GET /qr_code`: a new image captcha. JSON `{captcha_id, image (PNG data URL), expires_in}`;
/// with `?format=png` the PNG itself, its id in the `X-Captcha-Id` header.
pub async fn captcha(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    QueryParams(query): QueryParams,
) -> Reply {
    if let Some(ip) = ip {
        if let Err(wait) = state.captcha_limiter.check(ip).await {
            return Err(RetailError::rate_limited(
                format!("验证码请求过于频繁，请{wait}秒后再试"),
                wait,
            ));
        }
    }
    let captcha = state.codes.issue_captcha(retail::SURFACE).await?;
    let png = crate::surfaces::captcha::png(&captcha.answer);
    let cookie = format!(
        "{CAPTCHA_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}",
        captcha.id, captcha.expires_in_secs
    );
    if query.get("format").map(String::as_str) == Some("png") {
        return Ok((
            [
                (header::CONTENT_TYPE, "image/png".to_owned()),
                (header::CACHE_CONTROL, "no-store".to_owned()),
                (
                    header::HeaderName::from_static("x-captcha-id"),
                    captcha.id.clone(),
                ),
                (header::SET_COOKIE, cookie),
            ],
            png,
        )
            .into_response());
    }
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(json!({
            "captcha_id": captcha.id,
            "image": crate::surfaces::captcha::data_url(&png),
            "expires_in": captcha.expires_in_secs,
        })),
    )
        .into_response())
}

/// `POST /user/register`: phone, password (8+), captcha.
pub async fn register(State(state): State<AppState>, f: Fields) -> Reply {
    let user = state
        .retail
        .register(
            &f.text_of(PHONE),
            &f.text_of(PASSWORD),
            &f.text_of(CAPTCHA_ID),
            &f.text_of(CAPTCHA),
        )
        .await?;
    ok(StatusCode::CREATED, &user_json(&user))
}

fn is_binding(f: &Fields) -> bool {
    [
        "company_id",
        "enterprise_name",
        "credit_code",
        "organization_code",
    ]
    .iter()
    .any(|k| f.has(k))
}

/// `POST /user/login`: phone and password; or, with a bearer token and the binding fields, the
/// binding the document also writes at this path.
pub async fn login(State(state): State<AppState>, ClientIp(ip): ClientIp, req: Request) -> Reply {
    let has_token = crate::surfaces::bearer(req.headers()).is_some();
    let (mut parts, body) = req.into_parts();
    let auth = if has_token {
        Some(
            <Auth as axum::extract::FromRequestParts<AppState>>::from_request_parts(
                &mut parts, &state,
            )
            .await,
        )
    } else {
        None
    };
    let f = Fields::from_request(Request::from_parts(parts, body), &state).await?;
    if is_binding(&f) {
        let auth = auth.ok_or_else(|| {
            RetailError::from(crate::domain::Error::Unauthorized(
                crate::domain::AuthFailure::Missing,
            ))
        })??;
        return bind_with(&state, &auth, &f, ip).await;
    }
    let (token, user) = state
        .retail
        .login(&f.text_of(PHONE), &f.text_of(PASSWORD), ip)
        .await?;
    ok(
        StatusCode::OK,
        &json!({
            "token": token,
            "token_type": "Bearer",
            "expires_in": retail::TOKEN_TTL_SECS,
            "user": user_json(&user),
        }),
    )
}

/// The enterprise a binding request names (both steps).
fn claim(f: &Fields) -> EnterpriseClaim {
    EnterpriseClaim {
        company_id: f.text_of(COMPANY),
        enterprise_name: f.text_of(ENTERPRISE_NAME),
        credit_code: f.text_of(CREDIT_CODE),
        phone_last4: f.text_of(PHONE_LAST4),
    }
}

/// `POST /user/bind_code`: enterprise name, its code, phone's last 4 and the image captcha;
/// the binding code goes by SMS to the enterprise's contact phone.
pub async fn bind_code(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    auth: Auth,
    f: Fields,
) -> Reply {
    let req = BindCodeRequest {
        claim: claim(&f),
        captcha_id: f.text_of(CAPTCHA_ID),
        captcha: f.text_of(CAPTCHA),
    };
    let sent = state.retail.send_bind_code(&auth.user, &req, ip).await?;
    ok(
        StatusCode::OK,
        &json!({
            "message": format!("验证码已发送至企业联系手机 {}", sent.phone_masked),
            "phone": sent.phone_masked,
            "expires_in": sent.expires_in_secs,
        }),
    )
}

/// `POST /user/bind`: company, services, enterprise name, its code, phone's last 4, and the
/// 验证码 sent to the enterprise's phone.
pub async fn bind(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    auth: Auth,
    f: Fields,
) -> Reply {
    bind_with(&state, &auth, &f, ip).await
}

async fn bind_with(state: &AppState, auth: &Auth, f: &Fields, ip: Option<IpAddr>) -> Reply {
    let req = BindRequest {
        claim: claim(f),
        services: [f.list("services"), f.list("service")].concat(),
        code: f.text_of(SMS_CODE),
    };
    let user = state.retail.bind(&auth.user, &req, ip).await?;
    ok(StatusCode::OK, &user_json(&user))
}

/// `GET /user/bind`: the enterprise the user is bound to and everyone bound to it (phones
/// masked), so a holder sees who else acts for it.
pub async fn bound_users(State(state): State<AppState>, auth: Auth) -> Reply {
    let e = state.retail.enterprise_users(&auth.user).await?;
    let users: Vec<Value> = e
        .users
        .iter()
        .map(|u| json!({"phone": u.phone_masked, "bound_at": u.bound_at.iso_utc_ms(), "me": u.is_me}))
        .collect();
    ok(
        StatusCode::OK,
        &json!({
            "credit_code": e.credit_code,
            "enterprise_name": e.name,
            "max_users": e.max_users,
            "users": users,
        }),
    )
}

/// `POST /user/logout`
pub async fn logout(State(state): State<AppState>, auth: Auth) -> Reply {
    state.retail.logout(&auth.token).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /user/info`: the signed-in user and its binding.
pub async fn info(auth: Auth) -> Reply {
    ok(StatusCode::OK, &user_json(&auth.user))
}

/// `GET /companies`: the retail companies to bind to, with their services.
pub async fn companies(State(state): State<AppState>) -> Reply {
    let list: Vec<Value> = state
        .retail
        .companies()
        .await?
        .into_iter()
        .map(|c| json!({"id": c.id, "name": c.name, "services": c.services}))
        .collect();
    ok(StatusCode::OK, &list)
}

/// `POST /user/change_password`: old and new password; other logins end.
pub async fn change_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    auth: Auth,
    f: Fields,
) -> Reply {
    state
        .retail
        .change_password(
            &auth.user,
            &auth.token,
            &f.text_of(&["old_password", "oldPassword", "password"]),
            &f.text_of(&["new_password", "newPassword"]),
            ip,
        )
        .await?;
    ok(StatusCode::OK, &json!({"message": "密码已修改"}))
}

/// `POST /user/send_code`: an SMS code to the new phone number (for the change of number), at
/// most 5 per user per 10 minutes. The answer is the same whether or not the number is taken,
/// so it cannot be used to find registered numbers; a taken one fails at the change itself.
pub async fn send_code(State(state): State<AppState>, auth: Auth, f: Fields) -> Reply {
    if let Err(wait) = state.retail_sms_limiter.check(&auth.user.id).await {
        return Err(RetailError::rate_limited(
            format!("验证码发送过于频繁，请{wait}秒后再试"),
            wait,
        ));
    }
    let expires_in = state
        .retail
        .send_phone_code(&f.text_of(&["phone", "new_phone", "newPhone", "mobile"]))
        .await?;
    ok(StatusCode::OK, &json!({"expires_in": expires_in}))
}

/// `POST /user/change_phone_number`: old number, new number, the code sent to the new one.
pub async fn change_phone(State(state): State<AppState>, auth: Auth, f: Fields) -> Reply {
    let user = state
        .retail
        .change_phone(
            &auth.user,
            &f.text_of(&["old_phone", "old_phone_number", "oldPhone"]),
            &f.text_of(&["new_phone", "new_phone_number", "newPhone"]),
            &f.text("code"),
        )
        .await?;
    ok(StatusCode::OK, &user_json(&user))
}

/// `POST /user/recommend`: `content`, optional `contact`, optional `picture` (multipart file);
/// a JSON or form body works for feedback without a picture.
pub async fn recommend(State(state): State<AppState>, auth: Auth, req: Request) -> Reply {
    let (content, contact, picture) = if crate::surfaces::body::is_multipart(req.headers()) {
        read_multipart(&state, req).await?
    } else {
        let f = Fields::from_request(req, &state).await?;
        if ["picture", "image", "file"].iter().any(|k| f.has(k)) {
            return Err(RetailError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_type",
                "图片须以 multipart/form-data 上传",
            ));
        }
        (f.text("content"), Some(f.text("contact")), None)
    };
    let id = state
        .retail_data
        .record_feedback(&auth.user, &content, contact.as_deref(), picture.as_deref())
        .await??;
    ok(
        StatusCode::CREATED,
        &json!({"id": id, "message": "感谢您的建议"}),
    )
}

async fn read_multipart(
    state: &AppState,
    req: Request,
) -> Result<(String, Option<String>, Option<Vec<u8>>), RetailError> {
    let max = state.retail_data.max_picture_bytes();
    let bad = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            RetailError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("图片不能超过 {max} 字节"),
            )
        } else {
            RetailError::invalid(format!("multipart 格式错误: {}", e.body_text()))
        }
    };
    let mut form = Multipart::from_request(req, state)
        .await
        .map_err(|e| RetailError::invalid(e.body_text()))?;
    let (mut content, mut contact, mut picture) = (String::new(), None, None);
    while let Some(mut field) = form.next_field().await.map_err(bad)? {
        match field.name().unwrap_or_default() {
            "content" => content = field.text().await.map_err(bad)?,
            "contact" => contact = Some(field.text().await.map_err(bad)?),
            "picture" | "image" | "file" => {
                let mut bytes = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(bad)? {
                    if bytes.len() + chunk.len() > max {
                        return Err(RetailError::new(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "too_large",
                            format!("图片不能超过 {max} 字节"),
                        ));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                if !bytes.is_empty() {
                    picture = Some(bytes);
                }
            }
            other => {
                return Err(RetailError::invalid(format!("未知字段: {other}")));
            }
        }
    }
    Ok((content, contact, picture))
}

/// `GET /user/elec_situation[?year=YYYY]`: `[{"month": "1", "number": "500.0000"}]`, this year
/// by default.
pub async fn elec_situation(
    State(state): State<AppState>,
    auth: Auth,
    QueryParams(q): QueryParams,
) -> Reply {
    let year = match q.get("year").map(|y| y.trim()).filter(|y| !y.is_empty()) {
        Some(y) => y
            .parse::<i64>()
            .ok()
            .filter(|y| (2000..=2100).contains(y))
            .ok_or_else(|| RetailError::invalid("year: 年份须为2000-2100"))?,
        None => state.retail_data.this_year(),
    };
    let list: Vec<Value> = state
        .retail_data
        .monthly_use(&auth.user, year)
        .await?
        .into_iter()
        .map(|(month, q)| json!({"month": month.to_string(), "number": fixed_string(q, 4)}))
        .collect();
    ok(StatusCode::OK, &list)
}

/// A quantity without trailing zeros: `888`, `888.5`.
fn plain_number(q: i64) -> String {
    let s = fixed_string(q, 4);
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

pub fn plan_json(p: &Plan) -> Value {
    json!({
        "year": p.year.to_string(),
        "month": if p.month == 0 { String::new() } else { p.month.to_string() },
        "state": p.state,
        "create_at": p.created_at.iso_utc_ms(),
        "update_at": p.updated_at.iso_utc_ms(),
        "type": p.plan_type,
        "number": plain_number(p.quantity),
    })
}

/// `GET /user/elec_plan`
pub async fn elec_plan(State(state): State<AppState>, auth: Auth) -> Reply {
    let list: Vec<Value> = state
        .retail_data
        .plans(&auth.user)
        .await?
        .iter()
        .map(plan_json)
        .collect();
    ok(StatusCode::OK, &list)
}

/// `POST /user/add_elec_plan`: year, month, number (kWh), state `draft|declared`, optional
/// `type` `month|year`. 201 for a new plan, 200 for a changed draft, 409 once declared.
pub async fn add_elec_plan(State(state): State<AppState>, auth: Auth, f: Fields) -> Reply {
    let input = PlanInput {
        year: f.text("year"),
        month: Some(f.text("month")),
        number: f.text_of(&["number", "elec_number"]),
        state: f.text("state"),
        plan_type: Some(f.text("type")),
    };
    let (created, plan) = state.retail_data.add_plan(&auth.user, &input).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    ok(status, &plan_json(&plan))
}

pub fn article_json(a: &Article) -> Value {
    json!({
        "id": a.id,
        "imgsrc": a.imgsrc,
        "title": a.title,
        "create_at": a.created_at.iso_utc_ms(),
        "content": a.content,
        "author": a.author,
    })
}

/// `GET /articles/recommend`
pub async fn recommend_articles(State(state): State<AppState>) -> Reply {
    articles(&state, "recommend").await
}

/// `GET /articles/policy`
pub async fn policy_articles(State(state): State<AppState>) -> Reply {
    articles(&state, "policy").await
}

/// `GET /articles/science`
pub async fn science_articles(State(state): State<AppState>) -> Reply {
    articles(&state, "science").await
}

async fn articles(state: &AppState, channel: &str) -> Reply {
    let list: Vec<Value> = state
        .retail_data
        .articles(channel)
        .await?
        .iter()
        .map(article_json)
        .collect();
    ok(StatusCode::OK, &list)
}

/// `GET /business_guide`: emits the document's misspelt `questiuon`, and `question` too.
pub async fn business_guide(State(state): State<AppState>) -> Reply {
    let list: Vec<Value> = state
        .retail_data
        .guide()
        .await?
        .into_iter()
        .map(|g| json!({"questiuon": g.question, "question": g.question, "answer": g.answer}))
        .collect();
    ok(StatusCode::OK, &list)
}

pub fn contract_json(c: &Contract) -> Value {
    json!({
        "title": c.title,
        "party_a": c.party_a,
        "party_b": c.party_b,
        "content": c.content,
        "files": c.files,
        "contract_id": c.contract_id,
        "state": c.state,
        "elec_number": c.elec_number,
        "sign_date": c.sign_date,
        "expire_date": c.expire_date,
    })
}

/// `GET /user/contracts`: the bound enterprise's contracts.
pub async fn contracts(State(state): State<AppState>, auth: Auth) -> Reply {
    let list: Vec<Value> = state
        .retail_data
        .contracts(&auth.user)
        .await?
        .iter()
        .map(contract_json)
        .collect();
    ok(StatusCode::OK, &list)
}

/// A settlement bill with the document's fields; the figures keep their four decimals
/// (`30.0000`), so this is serialized as a struct, never through `serde_json::Value`.
#[derive(Serialize)]
pub struct BillWire {
    id: String,
    date: String,
    state: &'static str,
    user_benefits: FixedNumber,
    confirmer: String,
    confirm_date: String,
    elec_use_date: String,
    username: String,
    settle_number: FixedNumber,
    actual_elec_use: FixedNumber,
    declare_elec_number: FixedNumber,
    decompose_elec_number: FixedNumber,
    consultation_earn: FixedNumber,
    assign_elec_number: FixedNumber,
    bid_income: FixedNumber,
    check_elec_number: FixedNumber,
    check_bill: FixedNumber,
}

impl From<&SettlementBill> for BillWire {
    fn from(b: &SettlementBill) -> Self {
        let n = |v: i64| FixedNumber(v, 4);
        BillWire {
            id: b.id.clone(),
            date: b.date.clone(),
            state: b.state(),
            user_benefits: FixedNumber(b.user_benefits.0, 2),
            confirmer: b.confirmer.clone().unwrap_or_default(),
            confirm_date: b.confirm_date.clone().unwrap_or_default(),
            elec_use_date: b.elec_use_date.clone(),
            username: b.username.clone(),
            settle_number: n(b.settle_number),
            actual_elec_use: n(b.actual_elec_use),
            declare_elec_number: n(b.declare_elec_number),
            decompose_elec_number: n(b.decompose_elec_number),
            consultation_earn: n(b.consultation_earn),
            assign_elec_number: n(b.assign_elec_number),
            bid_income: n(b.bid_income),
            check_elec_number: n(b.check_elec_number),
            check_bill: n(b.check_bill),
        }
    }
}

/// `GET /user/settlement_bills`: the bound enterprise's settlement bills.
pub async fn settlement_bills(State(state): State<AppState>, auth: Auth) -> Reply {
    let list: Vec<BillWire> = state
        .retail_data
        .bills(&auth.user)
        .await?
        .iter()
        .map(BillWire::from)
        .collect();
    ok(StatusCode::OK, &list)
}
