//! Fixtures for `bench/notify.sh`: COUNT pending heating orders (one bill each) in a database, and
//! COUNT signed, encrypted WeChat Pay notifications for them: `OUT.tsv` (nonce, signature, body per
//! line) and `OUT.lua`, the wrk script that reads it. Test keys only.
//!
//! `cargo run --release --example notify_bench_fixtures -- DATABASE_URL COUNT THREADS OUT`

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use std::fmt::Write as _;
use utilhall::config::{Config, Secret};
use utilhall::gateways::wechat_pay::pem_to_der;
use utilhall::store::heating::{accounts as heat, orders, users};

const APIV3_KEY: &str = "0123456789abcdef0123456789ABCDEF";
const PUBLIC_KEY_ID: &str = "PUB_KEY_ID_0114232134912410000000000000";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(
        args.len() == 5,
        "usage: notify_bench_fixtures DATABASE_URL COUNT THREADS OUT"
    );
    let count: usize = args[2].parse()?;
    let threads: usize = args[3].parse()?;
    let mut config = Config::default();
    config.server.database_url = Secret(args[1].clone());
    let store = utilhall::app::open_store(&config).await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;

    users::insert(
        store.pool(),
        &users::UserRow {
            id: "benchuser0000000000000001".into(),
            phone: "19900000001".into(),
            password_hash: "not-a-hash".into(),
            nickname: "bench".into(),
            avatar: String::new(),
            real_name: None,
            id_card: None,
            address: None,
            login_count: 0,
            created_at: now,
            updated_at: now,
            disabled_at: None,
        },
    )
    .await?;
    heat::upsert_account(
        store.pool(),
        &heat::HeatAccountRow {
            heat_account: "HBENCH0001".into(),
            real_name: "bench".into(),
            id_card: "650102199001011231".into(),
            address: "bench".into(),
            heating_area_centi: 10_000,
            bound_user_id: None,
            bound_at: None,
            created_at: now,
            updated_at: now,
        },
    )
    .await?;
    for chunk in (0..count).collect::<Vec<_>>().chunks(1000) {
        let mut tx = store.begin_write().await?;
        for i in chunk {
            let bill_id = format!("BBENCH{i:07}");
            heat::insert_bill(
                &mut *tx,
                &heat::BillRow {
                    bill_id: bill_id.clone(),
                    heat_account: "HBENCH0001".into(),
                    heating_season: "2025-2026".into(),
                    amount: 1000,
                    bill_date: now,
                    due_date: "2099-12-31".into(),
                    status: "unpaid".into(),
                    paid_at: None,
                    created_at: now,
                },
            )
            .await?;
            let order_id = format!("OBENCH{i:07}");
            orders::insert(
                &mut tx,
                &orders::OrderRow {
                    order_id: order_id.clone(),
                    user_id: "benchuser0000000000000001".into(),
                    heat_account: "HBENCH0001".into(),
                    amount: 1000,
                    status: "pending".into(),
                    gateway: "wechat".into(),
                    openid: Some("oBench".into()),
                    prepay_id: Some(format!("wx_{order_id}")),
                    transaction_id: None,
                    created_at: now,
                    expires_at: now + 3_600_000,
                    paid_at: None,
                    closed_at: None,
                    checked_at: None,
                },
            )
            .await?;
            orders::add_bill(&mut tx, &order_id, &bill_id, 1000, 0).await?;
        }
        tx.commit().await?;
    }
    store.close().await;

    let pem = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/wechatpay/platform_key.pem"
    ))?;
    let key = RsaKeyPair::from_pkcs8(
        &pem_to_der(&pem, "PRIVATE KEY").ok_or_else(|| anyhow::anyhow!("pem"))?,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let aead = LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, APIV3_KEY.as_bytes()).map_err(|e| anyhow::anyhow!("{e}"))?,
    );
    let rng = SystemRandom::new();
    let ts = (now / 1000).to_string();
    let mut tsv = String::new();
    for i in 0..count {
        let tx = serde_json::json!({
            "mchid": "1900000109", "appid": "wxd678efh567hg6787", "out_trade_no": format!("OBENCH{i:07}"),
            "transaction_id": format!("42000BENCH{i:07}"), "trade_type": "JSAPI", "trade_state": "SUCCESS",
            "amount": {"total": 1000, "payer_total": 1000, "currency": "CNY"}, "payer": {"openid": "oBench"}
        });
        let mut data = tx.to_string().into_bytes();
        aead.seal_in_place_append_tag(
            Nonce::try_assume_unique_for_key(b"benchnonce12")
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            Aad::from(b"transaction"),
            &mut data,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let body = serde_json::json!({
            "id": format!("EV-BENCH-{i}"), "create_time": "2026-01-01T00:00:00+08:00", "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
            "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM", "ciphertext": B64.encode(&data),
                          "associated_data": "transaction", "nonce": "benchnonce12"}
        })
        .to_string();
        let nonce = format!("benchnonce{i}");
        let mut sig = vec![0u8; key.public().modulus_len()];
        key.sign(
            &RSA_PKCS1_SHA256,
            &rng,
            format!("{ts}\n{nonce}\n{body}\n").as_bytes(),
            &mut sig,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        writeln!(tsv, "{nonce}\t{}\t{body}", B64.encode(sig))?;
    }
    let data = format!("{}.tsv", args[4]);
    std::fs::write(&data, tsv)?;
    let mut lua = String::new();
    writeln!(
        lua,
        "local ts = \"{ts}\"\nlocal serial = \"{PUBLIC_KEY_ID}\"\nlocal stride = {threads}\nlocal data = \"{data}\""
    )?;
    lua.push_str(
        r#"
local bodies, nonces, sigs, n = {}, {}, {}, 0
function init(args)
  for line in io.lines(data) do
    local nonce, sig, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
    n = n + 1
    nonces[n], sigs[n], bodies[n] = nonce, sig, body
  end
end
local counter = 0
function setup(thread)
  thread:set("offset", counter)
  counter = counter + 1
end
local i = nil
function request()
  if i == nil then i = (offset or 0) + 1 else i = i + stride end
  if i > n then i = ((i - 1) % n) + 1 end
  return wrk.format("POST", "/heating/api/payment/notify", {
    ["Content-Type"] = "application/json",
    ["Wechatpay-Timestamp"] = ts,
    ["Wechatpay-Nonce"] = nonces[i],
    ["Wechatpay-Signature"] = sigs[i],
    ["Wechatpay-Serial"] = serial,
  }, bodies[i])
end
"#,
    );
    std::fs::write(format!("{}.lua", args[4]), lua)?;
    eprintln!("{count} pending orders and notifications ready");
    Ok(())
}
