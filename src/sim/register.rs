//! Registers devices for a simulated fleet with a running server: logs in on the IoT surface
//! as a platform operator (`POST /iot/auth/login {user, pwd}`) and registers them through
//! AB-02 (`POST /iot/devices`, at most 1,000 a request), keeping the secret each one is given.

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// Which devices to register, where, as whom.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The server's base URL, `http://127.0.0.1:8080`.
    pub server: String,
    /// A platform operator of the IoT surface (the demo's is `platform` / `platform123`).
    pub user: String,
    pub pwd: String,
    /// The vendor the devices belong to (default: the first vendor the operator sees).
    pub vendor: Option<String>,
    /// Their product (default: the vendor's first product, if it has one).
    pub product: Option<String>,
    /// The device type (1: sold; 2: timed rental; 3: metered rental; 4: vending).
    pub device_type: i64,
    pub count: usize,
    /// Device ids are this followed by a 6-digit number (`SIMab12cd000001`).
    pub id_prefix: String,
}

/// The most devices AB-02 takes in one request.
const BATCH: usize = 1000;

/// Registers the devices; `(device id, secret)` of each.
pub async fn register_devices(r: &Registration) -> anyhow::Result<Vec<(String, String)>> {
    let http = reqwest::Client::new();
    let base = format!("{}/iot", r.server.trim_end_matches('/'));
    let login = call(
        http.post(format!("{base}/auth/login"))
            .json(&json!({"user": r.user, "pwd": r.pwd})),
    )
    .await
    .context("cannot log in on the IoT surface")?;
    let token = login["data"]["token"]
        .as_str()
        .context("the log-in answer has no token")?
        .to_owned();
    let get = |path: &str| http.get(format!("{base}{path}")).bearer_auth(&token);
    let vendor = match &r.vendor {
        Some(v) => v.clone(),
        None => call(get("/vendors?limit=1"))
            .await?
            .pointer("/data/0/vid")
            .and_then(Value::as_str)
            .context("no vendor on this server: pass one")?
            .to_owned(),
    };
    let product = match &r.product {
        Some(p) => Some(p.clone()),
        None => call(get("/products?limit=100"))
            .await?
            .get("data")
            .and_then(Value::as_array)
            .and_then(|ps| {
                ps.iter()
                    .find(|p| p["vid"] == vendor.as_str())
                    .and_then(|p| p["product_id"].as_str())
                    .map(str::to_owned)
            }),
    };
    let ids: Vec<String> = (1..=r.count)
        .map(|i| format!("{}{i:06}", r.id_prefix))
        .collect();
    let mut devices = Vec::with_capacity(ids.len());
    for batch in ids.chunks(BATCH) {
        let mut body = json!({"device_ids": batch, "vendor_id": vendor, "type": r.device_type});
        if let Some(p) = &product {
            body["product_id"] = json!(p);
        }
        let answer = call(
            http.post(format!("{base}/devices"))
                .bearer_auth(&token)
                .json(&body),
        )
        .await
        .context("cannot register the devices")?;
        let Some(given) = answer.pointer("/data/devices").and_then(Value::as_array) else {
            bail!(
                "the server registered the devices but gave no secrets (it predates the device \
                 link?): {}",
                answer["data"]
            );
        };
        for d in given {
            match (d["device_id"].as_str(), d["secret"].as_str()) {
                (Some(did), Some(secret)) => devices.push((did.to_owned(), secret.to_owned())),
                _ => bail!("a registered device without its id or secret: {d}"),
            }
        }
    }
    Ok(devices)
}

/// Sends a request; its JSON body when it succeeded.
async fn call(request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
    let reply = request.send().await?;
    let status = reply.status();
    let body: Value = reply.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("{status}: {}", body["message"].as_str().unwrap_or_default());
    }
    Ok(body)
}

/// Reads a devices file: one `did,secret` a line (blank lines and `#` comments skipped).
pub fn read_devices(text: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once(',') {
            Some((did, secret)) if !did.trim().is_empty() && !secret.trim().is_empty() => {
                out.push((did.trim().to_owned(), secret.trim().to_owned()));
            }
            _ => bail!("line {}: expected did,secret", n + 1),
        }
    }
    Ok(out)
}

/// The devices file of `devices`.
pub fn write_devices(devices: &[(String, String)]) -> String {
    devices
        .iter()
        .map(|(did, secret)| format!("{did},{secret}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_files_round_trip() {
        let devices = vec![
            ("D1".to_owned(), "k1".to_owned()),
            ("D2".into(), "k2".into()),
        ];
        let text = write_devices(&devices);
        assert_eq!(read_devices(&text).expect("read"), devices);
        assert_eq!(
            read_devices("# fleet\n\n D1 , k1 \n").expect("read"),
            vec![("D1".to_owned(), "k1".to_owned())]
        );
        assert!(read_devices("D1\n").is_err());
    }
}
