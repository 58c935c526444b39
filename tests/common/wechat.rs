//! An in-process fake of WeChat Pay API v3: checks our request signatures with the merchant
//! public key, signs its replies and notifications with the platform key, encrypts resources
//! with the APIv3 key. Keys: tests/fixtures/wechatpay (test-only).
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::rand::SystemRandom;
use ring::signature::{
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair, UnparsedPublicKey,
};
use serde_json::{Value, json};
use utilhall::gateways::wechat_pay::{pem_to_der, spki_rsa_public_key};

pub const MCHID: &str = "1900000109";
pub const APPID: &str = "wxd678efh567hg6787";
pub const APIV3_KEY: &str = "0123456789abcdef0123456789ABCDEF";
pub const PUBLIC_KEY_ID: &str = "PUB_KEY_ID_0114232134912410000000000000";
pub const MERCHANT_SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";

pub fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/wechatpay")
        .join(name)
}

fn private_key(name: &str) -> RsaKeyPair {
    let pem = std::fs::read_to_string(fixture(name)).expect("key file");
    RsaKeyPair::from_pkcs8(&pem_to_der(&pem, "PRIVATE KEY").expect("pem")).expect("pkcs8")
}

pub fn public_key(name: &str) -> UnparsedPublicKey<Vec<u8>> {
    let pem = std::fs::read_to_string(fixture(name)).expect("key file");
    let rsa = spki_rsa_public_key(&pem_to_der(&pem, "PUBLIC KEY").expect("pem")).expect("spki");
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, rsa)
}

pub fn sign_with(key: &RsaKeyPair, message: &str) -> String {
    let mut sig = vec![0u8; key.public().modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        message.as_bytes(),
        &mut sig,
    )
    .expect("sign");
    B64.encode(sig)
}

/// A trade as the fake knows it.
#[derive(Debug, Clone)]
pub struct Trade {
    pub total: i64,
    pub openid: String,
    pub notify_url: String,
    pub state: String,
    pub transaction_id: Option<String>,
}

#[derive(Clone)]
pub struct FakeWechat {
    pub trades: Arc<Mutex<HashMap<String, Trade>>>,
    pub bad_signatures: Arc<Mutex<u32>>,
    pub closed: Arc<Mutex<Vec<String>>>,
    pub base: String,
}

struct Keys {
    platform: RsaKeyPair,
    merchant: UnparsedPublicKey<Vec<u8>>,
}

#[derive(Clone)]
struct FakeState {
    fake: FakeWechat,
    keys: Arc<Keys>,
}

fn signed_reply(keys: &Keys, status: StatusCode, body: String) -> Response {
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs()
        .to_string();
    let nonce = utilhall::domain::ids::random_hex_id();
    let sig = sign_with(&keys.platform, &format!("{ts}\n{nonce}\n{body}\n"));
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert("Wechatpay-Timestamp", ts.parse().expect("hv"));
    h.insert("Wechatpay-Nonce", nonce.parse().expect("hv"));
    h.insert("Wechatpay-Signature", sig.parse().expect("hv"));
    h.insert("Wechatpay-Serial", PUBLIC_KEY_ID.parse().expect("hv"));
    h.insert("Content-Type", "application/json".parse().expect("hv"));
    resp
}

/// Checks the `WECHATPAY2-SHA256-RSA2048` Authorization of a request.
fn authorized(s: &FakeState, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> bool {
    let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(params) = auth.strip_prefix("WECHATPAY2-SHA256-RSA2048 ") else {
        return false;
    };
    let mut fields = HashMap::new();
    for part in params.split(',') {
        if let Some((k, v)) = part.split_once('=') {
            fields.insert(k.trim().to_owned(), v.trim().trim_matches('"').to_owned());
        }
    }
    if fields.get("mchid").map(String::as_str) != Some(MCHID)
        || fields.get("serial_no").map(String::as_str) != Some(MERCHANT_SERIAL)
    {
        return false;
    }
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("");
    let message = format!(
        "{method}\n{path}\n{}\n{}\n{}\n",
        fields.get("timestamp").cloned().unwrap_or_default(),
        fields.get("nonce_str").cloned().unwrap_or_default(),
        String::from_utf8_lossy(body)
    );
    let Ok(sig) = B64.decode(fields.get("signature").cloned().unwrap_or_default()) else {
        return false;
    };
    s.keys.merchant.verify(message.as_bytes(), &sig).is_ok()
}

async fn jsapi(
    State(s): State<FakeState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorized(&s, &method, &uri, &headers, &body) {
        *s.fake.bad_signatures.lock().expect("lock") += 1;
        return signed_reply(
            &s.keys,
            StatusCode::UNAUTHORIZED,
            json!({"code": "SIGN_ERROR", "message": "bad signature"}).to_string(),
        );
    }
    let req: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(req["mchid"], MCHID);
    assert_eq!(req["appid"], APPID);
    assert_eq!(req["amount"]["currency"], "CNY");
    assert!(
        req["time_expire"]
            .as_str()
            .expect("time_expire")
            .ends_with("+08:00")
    );
    let no = req["out_trade_no"]
        .as_str()
        .expect("out_trade_no")
        .to_owned();
    s.fake.trades.lock().expect("lock").insert(
        no.clone(),
        Trade {
            total: req["amount"]["total"].as_i64().expect("total"),
            openid: req["payer"]["openid"].as_str().expect("openid").to_owned(),
            notify_url: req["notify_url"].as_str().expect("notify_url").to_owned(),
            state: "NOTPAY".into(),
            transaction_id: None,
        },
    );
    signed_reply(
        &s.keys,
        StatusCode::OK,
        json!({"prepay_id": format!("wx_fake_{no}")}).to_string(),
    )
}

async fn query(
    State(s): State<FakeState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(no): Path<String>,
) -> Response {
    if !authorized(&s, &method, &uri, &headers, b"") {
        *s.fake.bad_signatures.lock().expect("lock") += 1;
        return signed_reply(&s.keys, StatusCode::UNAUTHORIZED, "{}".into());
    }
    let Some(t) = s.fake.trades.lock().expect("lock").get(&no).cloned() else {
        return signed_reply(
            &s.keys,
            StatusCode::NOT_FOUND,
            json!({"code": "ORDER_NOT_EXIST"}).to_string(),
        );
    };
    signed_reply(
        &s.keys,
        StatusCode::OK,
        transaction_json(&no, &t).to_string(),
    )
}

async fn close(
    State(s): State<FakeState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(no): Path<String>,
    body: Bytes,
) -> Response {
    if !authorized(&s, &method, &uri, &headers, &body) {
        *s.fake.bad_signatures.lock().expect("lock") += 1;
        return signed_reply(&s.keys, StatusCode::UNAUTHORIZED, "{}".into());
    }
    if let Some(t) = s.fake.trades.lock().expect("lock").get_mut(&no) {
        t.state = "CLOSED".into();
    }
    s.fake.closed.lock().expect("lock").push(no);
    signed_reply(&s.keys, StatusCode::NO_CONTENT, String::new())
}

pub fn transaction_json(no: &str, t: &Trade) -> Value {
    json!({
        "mchid": MCHID,
        "appid": APPID,
        "out_trade_no": no,
        "transaction_id": t.transaction_id,
        "trade_type": "JSAPI",
        "trade_state": t.state,
        "trade_state_desc": "",
        "amount": {"total": t.total, "payer_total": t.total, "currency": "CNY", "payer_currency": "CNY"},
        "payer": {"openid": t.openid},
        "success_time": "2026-01-05T10:00:00+08:00",
    })
}

impl FakeWechat {
    pub async fn start() -> FakeWechat {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let fake = FakeWechat {
            trades: Arc::default(),
            bad_signatures: Arc::default(),
            closed: Arc::default(),
            base,
        };
        let state = FakeState {
            fake: fake.clone(),
            keys: Arc::new(Keys {
                platform: private_key("platform_key.pem"),
                merchant: public_key("merchant_public.pem"),
            }),
        };
        let app = Router::new()
            .route("/v3/pay/transactions/jsapi", axum::routing::post(jsapi))
            .route(
                "/v3/pay/transactions/out-trade-no/{no}",
                axum::routing::get(query),
            )
            .route(
                "/v3/pay/transactions/out-trade-no/{no}/close",
                axum::routing::post(close),
            )
            .with_state(state);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        fake
    }

    /// The trade is paid at WeChat (as if the payer confirmed in WeChat).
    pub fn pay(&self, no: &str, transaction_id: &str) -> Trade {
        let mut trades = self.trades.lock().expect("lock");
        let t = trades.get_mut(no).expect("known trade");
        t.state = "SUCCESS".into();
        t.transaction_id = Some(transaction_id.to_owned());
        t.clone()
    }
}

/// A notification as WeChat would send it: `(headers, body)`.
pub struct Notice {
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// Options for building (or spoiling) a notification.
pub struct NoticeSpec<'a> {
    pub transaction: Value,
    pub timestamp: i64,
    pub signing_key: &'a str,
    pub serial: &'a str,
    pub apiv3_key: &'a str,
}

pub fn notice(spec: NoticeSpec<'_>) -> Notice {
    let plain = spec.transaction.to_string();
    let nonce = "n0nce1234567";
    let key =
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, spec.apiv3_key.as_bytes()).expect("key"));
    let mut data = plain.into_bytes();
    key.seal_in_place_append_tag(
        Nonce::try_assume_unique_for_key(nonce.as_bytes()).expect("nonce"),
        Aad::from(b"transaction"),
        &mut data,
    )
    .expect("seal");
    let body = json!({
        "id": format!("EV-{}", utilhall::domain::ids::random_hex_id()),
        "create_time": "2026-01-05T10:00:00+08:00",
        "resource_type": "encrypt-resource",
        "event_type": "TRANSACTION.SUCCESS",
        "summary": "支付成功",
        "resource": {
            "original_type": "transaction",
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": B64.encode(&data),
            "associated_data": "transaction",
            "nonce": nonce,
        }
    })
    .to_string();
    let ts = spec.timestamp.to_string();
    let header_nonce = utilhall::domain::ids::random_hex_id();
    let sig = sign_with(
        &private_key(spec.signing_key),
        &format!("{ts}\n{header_nonce}\n{body}\n"),
    );
    Notice {
        headers: vec![
            ("Wechatpay-Timestamp", ts),
            ("Wechatpay-Nonce", header_nonce),
            ("Wechatpay-Signature", sig),
            ("Wechatpay-Serial", spec.serial.to_owned()),
        ],
        body,
    }
}

/// The environment that points a server process at the fake (`base`) with the fixtures' keys.
pub fn server_env(base: &str, notify_url: &str) -> Vec<(&'static str, String)> {
    let fixture = |name: &str| fixture(name).display().to_string();
    vec![
        ("UTILHALL_WECHAT_PAY__BASE_URL", base.to_owned()),
        ("UTILHALL_WECHAT_PAY__MCHID", MCHID.into()),
        ("UTILHALL_WECHAT_PAY__APPID", APPID.into()),
        (
            "UTILHALL_WECHAT_PAY__MERCHANT_SERIAL",
            MERCHANT_SERIAL.into(),
        ),
        (
            "UTILHALL_WECHAT_PAY__MERCHANT_KEY_FILE",
            fixture("merchant_key.pem"),
        ),
        ("UTILHALL_WECHAT_PAY__APIV3_KEY", APIV3_KEY.into()),
        (
            "UTILHALL_WECHAT_PAY__PUBLIC_KEY_FILE",
            fixture("platform_public.pem"),
        ),
        ("UTILHALL_WECHAT_PAY__PUBLIC_KEY_ID", PUBLIC_KEY_ID.into()),
        ("UTILHALL_WECHAT_PAY__NOTIFY_URL", notify_url.to_owned()),
    ]
}
