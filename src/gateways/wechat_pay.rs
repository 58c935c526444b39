//! WeChat Pay API v3, spoken directly: every request signed `WECHATPAY2-SHA256-RSA2048` with the
//! merchant key, every response and notification believed only after its signature verifies
//! with the WeChat Pay public key; notification resources decrypted with the APIv3 key
//! (AEAD_AES_256_GCM). ring does the cryptography, reqwest (rustls) the transport.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::rand::SystemRandom;
use ring::signature::{
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair, UnparsedPublicKey,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::domain::Timestamp;
use crate::domain::clock::Clock;
use crate::domain::ids;
use crate::domain::money::Fen;
use crate::domain::payments::{
    ClientPayParams, GatewayError, GatewayFuture, Notification, NotificationHeaders,
    PaymentGateway, PrepayRequest, TradeState,
};

/// Where WeChat Pay is and who we are to it (from `[wechat_pay]` in the configuration).
#[derive(Clone)]
pub struct WechatPayConfig {
    pub base_url: String,
    pub mchid: String,
    pub appid: String,
    pub merchant_serial: String,
    /// PKCS#8 PEM of the merchant API private key.
    pub merchant_key_pem: String,
    /// The 32-character APIv3 key.
    pub apiv3_key: String,
    /// SPKI PEM of the WeChat Pay public key, and its id (`PUB_KEY_ID_...`).
    pub public_key_pem: String,
    pub public_key_id: String,
    pub notify_url: String,
}

/// Notifications older or newer than this are refused (replays, clock games).
const NOTIFY_WINDOW_SECS: i64 = 300;

/// The DER inside a PEM block.
pub fn pem_to_der(pem: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = pem[start..].find(&end)? + start;
    let body: String = pem[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    B64.decode(body).ok()
}

/// One DER TLV: `(tag, contents, rest)`.
fn read_tlv(d: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, d) = d.split_first()?;
    let (&first, d) = d.split_first()?;
    let (len, d) = if first < 0x80 {
        (usize::from(first), d)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || d.len() < n {
            return None;
        }
        (
            d[..n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b)),
            &d[n..],
        )
    };
    (d.len() >= len).then(|| (tag, &d[..len], &d[len..]))
}

/// The PKCS#1 `RSAPublicKey` inside an X.509 `SubjectPublicKeyInfo` (what ring verifies with).
pub fn spki_rsa_public_key(der: &[u8]) -> Option<Vec<u8>> {
    const RSA_OID: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
    ];
    let (0x30, spki, _) = read_tlv(der)? else {
        return None;
    };
    let (0x30, algorithm, rest) = read_tlv(spki)? else {
        return None;
    };
    if !algorithm.starts_with(RSA_OID) {
        return None;
    }
    let (0x03, bits, _) = read_tlv(rest)? else {
        return None;
    };
    let (&0, key) = bits.split_first()? else {
        return None;
    };
    Some(key.to_vec())
}

/// The WeChat Pay gateway.
pub struct WechatPay {
    cfg: WechatPayConfig,
    key: RsaKeyPair,
    platform: UnparsedPublicKey<Vec<u8>>,
    apiv3: LessSafeKey,
    rng: SystemRandom,
    http: reqwest::Client,
    clock: Clock,
    zone: crate::domain::Zone,
}

#[derive(Deserialize)]
struct Resource {
    algorithm: String,
    ciphertext: String,
    #[serde(default)]
    associated_data: String,
    nonce: String,
}

#[derive(Deserialize)]
struct NotifyBody {
    event_type: Option<String>,
    resource: Resource,
}

#[derive(Deserialize)]
struct Transaction {
    mchid: String,
    appid: String,
    out_trade_no: String,
    transaction_id: Option<String>,
    trade_state: String,
    amount: Option<TransactionAmount>,
}

#[derive(Deserialize)]
struct TransactionAmount {
    total: i64,
}

fn err(message: impl Into<String>) -> GatewayError {
    GatewayError(message.into())
}

impl WechatPay {
    /// Checks and loads the keys; fails at start-up, not at the first payment.
    pub fn new(
        cfg: WechatPayConfig,
        clock: Clock,
        zone: crate::domain::Zone,
    ) -> anyhow::Result<WechatPay> {
        let der = pem_to_der(&cfg.merchant_key_pem, "PRIVATE KEY").ok_or_else(|| {
            anyhow::anyhow!("wechat_pay: the merchant key is not a PKCS#8 PEM (BEGIN PRIVATE KEY)")
        })?;
        let key = RsaKeyPair::from_pkcs8(&der)
            .map_err(|e| anyhow::anyhow!("wechat_pay: bad merchant key: {e}"))?;
        let spki = pem_to_der(&cfg.public_key_pem, "PUBLIC KEY").ok_or_else(|| {
            anyhow::anyhow!("wechat_pay: the WeChat Pay public key is not a PEM (BEGIN PUBLIC KEY)")
        })?;
        let rsa = spki_rsa_public_key(&spki)
            .ok_or_else(|| anyhow::anyhow!("wechat_pay: the public key is not RSA"))?;
        anyhow::ensure!(
            cfg.apiv3_key.len() == 32,
            "wechat_pay: the APIv3 key must be 32 characters"
        );
        let apiv3 = LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, cfg.apiv3_key.as_bytes())
                .map_err(|_| anyhow::anyhow!("wechat_pay: bad APIv3 key"))?,
        );
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| anyhow::anyhow!("wechat_pay: http client: {e}"))?;
        Ok(WechatPay {
            platform: UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, rsa),
            cfg,
            key,
            apiv3,
            rng: SystemRandom::new(),
            http,
            clock,
            zone,
        })
    }

    /// SHA256withRSA over `message`, base64.
    fn sign(&self, message: &str) -> Result<String, GatewayError> {
        let mut sig = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &self.rng, message.as_bytes(), &mut sig)
            .map_err(|_| err("signing failed"))?;
        Ok(B64.encode(sig))
    }

    /// Verifies a WeChat Pay signature over `timestamp\nnonce\nbody\n`.
    fn verify(&self, h: &NotificationHeaders, body: &[u8]) -> Result<(), GatewayError> {
        if h.serial != self.cfg.public_key_id {
            return Err(err("unknown Wechatpay-Serial"));
        }
        let signature = B64
            .decode(h.signature.trim())
            .map_err(|_| err("Wechatpay-Signature is not base64"))?;
        let mut message = Vec::with_capacity(body.len() + 64);
        message.extend_from_slice(h.timestamp.as_bytes());
        message.push(b'\n');
        message.extend_from_slice(h.nonce.as_bytes());
        message.push(b'\n');
        message.extend_from_slice(body);
        message.push(b'\n');
        self.platform
            .verify(&message, &signature)
            .map_err(|_| err("the signature does not verify"))
    }

    /// Sends a signed request; returns the status and the verified body.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Vec<u8>), GatewayError> {
        let payload = body.map(|b| b.to_string()).unwrap_or_default();
        let timestamp = self.clock.now().secs().to_string();
        let nonce = ids::random_hex_id();
        let signature = self.sign(&format!(
            "{method}\n{path}\n{timestamp}\n{nonce}\n{payload}\n"
        ))?;
        let authorization = format!(
            "WECHATPAY2-SHA256-RSA2048 mchid=\"{}\",nonce_str=\"{nonce}\",signature=\"{signature}\",timestamp=\"{timestamp}\",serial_no=\"{}\"",
            self.cfg.mchid, self.cfg.merchant_serial
        );
        let mut req = self
            .http
            .request(
                method,
                format!("{}{path}", self.cfg.base_url.trim_end_matches('/')),
            )
            .header("Authorization", authorization)
            .header("Accept", "application/json")
            .header(
                "User-Agent",
                concat!("utilhall/", env!("CARGO_PKG_VERSION")),
            );
        if !payload.is_empty() {
            req = req.header("Content-Type", "application/json").body(payload);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| err(format!("WeChat Pay unreachable: {e}")))?;
        let status = resp.status().as_u16();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let headers = NotificationHeaders {
            timestamp: header("Wechatpay-Timestamp"),
            nonce: header("Wechatpay-Nonce"),
            signature: header("Wechatpay-Signature"),
            serial: header("Wechatpay-Serial"),
        };
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| err(format!("WeChat Pay reply: {e}")))?;
        self.verify(&headers, &bytes)
            .map_err(|e| err(format!("WeChat Pay reply refused: {}", e.0)))?;
        if !(200..300).contains(&status) {
            return Err(err(format!(
                "WeChat Pay answered {status}: {}",
                String::from_utf8_lossy(&bytes)
            )));
        }
        Ok((status, bytes.to_vec()))
    }

    fn state_of(&self, t: Transaction) -> Result<TradeState, GatewayError> {
        if t.mchid != self.cfg.mchid || t.appid != self.cfg.appid {
            return Err(err("the transaction is for another merchant or app"));
        }
        Ok(match t.trade_state.as_str() {
            "SUCCESS" => TradeState::Success {
                transaction_id: t
                    .transaction_id
                    .ok_or_else(|| err("SUCCESS without transaction_id"))?,
                amount: Fen(t.amount.ok_or_else(|| err("SUCCESS without amount"))?.total),
            },
            "NOTPAY" | "USERPAYING" => TradeState::NotPaid,
            "CLOSED" | "REVOKED" => TradeState::Closed,
            other => TradeState::Failed(other.to_owned()),
        })
    }
}

impl PaymentGateway for WechatPay {
    fn name(&self) -> &'static str {
        "wechat"
    }

    fn needs_payer_id(&self) -> bool {
        true
    }

    fn prepay(&self, req: PrepayRequest) -> GatewayFuture<'_, String> {
        Box::pin(async move {
            let openid = req.openid.ok_or_else(|| {
                err("JSAPI needs the payer's openid (send `openid` at login or with the payment)")
            })?;
            let expire = req.expires_at.rfc3339_local(self.zone);
            let body = json!({
                "appid": self.cfg.appid,
                "mchid": self.cfg.mchid,
                "description": req.description,
                "out_trade_no": req.out_trade_no,
                "time_expire": expire,
                "notify_url": self.cfg.notify_url,
                "amount": {"total": req.amount.0, "currency": "CNY"},
                "payer": {"openid": openid},
            });
            let (_, bytes) = self
                .call(
                    reqwest::Method::POST,
                    "/v3/pay/transactions/jsapi",
                    Some(body),
                )
                .await?;
            let reply: Value =
                serde_json::from_slice(&bytes).map_err(|e| err(format!("prepay reply: {e}")))?;
            reply["prepay_id"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| err("prepay reply has no prepay_id"))
        })
    }

    fn client_params(
        &self,
        prepay_id: &str,
        now: Timestamp,
    ) -> Result<ClientPayParams, GatewayError> {
        let time_stamp = now.secs().to_string();
        let nonce_str = ids::random_hex_id();
        let package = format!("prepay_id={prepay_id}");
        let pay_sign = self.sign(&format!(
            "{}\n{time_stamp}\n{nonce_str}\n{package}\n",
            self.cfg.appid
        ))?;
        Ok(ClientPayParams {
            app_id: self.cfg.appid.clone(),
            time_stamp,
            nonce_str,
            package,
            sign_type: "RSA".into(),
            pay_sign,
        })
    }

    fn query(&self, out_trade_no: String) -> GatewayFuture<'_, TradeState> {
        Box::pin(async move {
            let path = format!(
                "/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={}",
                self.cfg.mchid
            );
            let (_, bytes) = self.call(reqwest::Method::GET, &path, None).await?;
            let t: Transaction =
                serde_json::from_slice(&bytes).map_err(|e| err(format!("query reply: {e}")))?;
            if t.out_trade_no != out_trade_no {
                return Err(err("query reply is for another order"));
            }
            self.state_of(t)
        })
    }

    fn close(&self, out_trade_no: String) -> GatewayFuture<'_, ()> {
        Box::pin(async move {
            let path = format!("/v3/pay/transactions/out-trade-no/{out_trade_no}/close");
            self.call(
                reqwest::Method::POST,
                &path,
                Some(json!({"mchid": self.cfg.mchid})),
            )
            .await
            .map(|_| ())
        })
    }

    fn parse_notification(
        &self,
        headers: &NotificationHeaders,
        body: &[u8],
    ) -> Result<Notification, GatewayError> {
        self.verify(headers, body)?;
        let sent: i64 = headers
            .timestamp
            .trim()
            .parse()
            .map_err(|_| err("bad Wechatpay-Timestamp"))?;
        if (self.clock.now().secs() - sent).abs() >= NOTIFY_WINDOW_SECS {
            return Err(err("the notification is too old or from the future"));
        }
        let notice: NotifyBody =
            serde_json::from_slice(body).map_err(|e| err(format!("notification body: {e}")))?;
        let r = notice.resource;
        if r.algorithm != "AEAD_AES_256_GCM" || r.nonce.len() != 12 {
            return Err(err("unsupported notification encryption"));
        }
        let mut data = B64
            .decode(r.ciphertext)
            .map_err(|_| err("ciphertext is not base64"))?;
        let nonce =
            Nonce::try_assume_unique_for_key(r.nonce.as_bytes()).map_err(|_| err("bad nonce"))?;
        let plain = self
            .apiv3
            .open_in_place(nonce, Aad::from(r.associated_data.as_bytes()), &mut data)
            .map_err(|_| err("the resource does not decrypt with the APIv3 key"))?;
        let t: Transaction =
            serde_json::from_slice(plain).map_err(|e| err(format!("transaction: {e}")))?;
        let out_trade_no = t.out_trade_no.clone();
        let state = self.state_of(t)?;
        Ok(Notification {
            event_type: notice.event_type.unwrap_or_default(),
            out_trade_no,
            state,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pem_and_spki() {
        let pem = include_str!("../../tests/fixtures/wechatpay/platform_public.pem");
        let der = pem_to_der(pem, "PUBLIC KEY").expect("pem");
        let rsa = spki_rsa_public_key(&der).expect("rsa");
        assert_eq!(rsa[0], 0x30);
        assert!(spki_rsa_public_key(&der[..20]).is_none());
        assert!(pem_to_der("nonsense", "PUBLIC KEY").is_none());
    }
}
