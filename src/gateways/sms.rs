//! Code delivery: the development outbox, or nothing at all when no provider is configured.

use std::path::PathBuf;

use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use crate::domain::codes::{Channel, DeliveryError, OutgoingCode, SendFuture, SmsSender};

/// `--dev`: every code is appended as one JSON line to a file instead of being sent.
pub struct DevOutbox {
    path: PathBuf,
    lock: Mutex<()>,
}

impl DevOutbox {
    pub fn new(path: PathBuf) -> anyhow::Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                anyhow::anyhow!(
                    "cannot create the dev outbox folder {}: {e}",
                    parent.display()
                )
            })?;
        }
        Ok(DevOutbox {
            path,
            lock: Mutex::new(()),
        })
    }
}

impl SmsSender for DevOutbox {
    fn can_deliver(&self, _channel: Channel) -> bool {
        true
    }

    fn send<'a>(&'a self, code: &'a OutgoingCode) -> SendFuture<'a> {
        Box::pin(async move {
            let mut line = serde_json::to_vec(code).map_err(|e| DeliveryError(e.to_string()))?;
            line.push(b'\n');
            let _guard = self.lock.lock().await;
            let mut file = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .await
                .map_err(|e| DeliveryError(format!("dev outbox: {e}")))?;
            file.write_all(&line)
                .await
                .map_err(|e| DeliveryError(format!("dev outbox: {e}")))?;
            file.flush()
                .await
                .map_err(|e| DeliveryError(format!("dev outbox: {e}")))
        })
    }
}

/// No provider configured: nothing can be delivered, and every send says so.
pub struct NoProvider;

impl SmsSender for NoProvider {
    fn can_deliver(&self, _channel: Channel) -> bool {
        false
    }

    fn send<'a>(&'a self, _code: &'a OutgoingCode) -> SendFuture<'a> {
        Box::pin(async { Err(DeliveryError("no provider is configured".into())) })
    }
}
