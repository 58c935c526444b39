//! The device protocol of the purifiers' MQTT link: topics, signed frames and the messages
//! both sides send. Pure: no IO, shared by the server, the simulator and the tests.
//!
//! A frame is `JSON "\n" SIG`: `SIG` is the lowercase hex HMAC-SHA256, keyed with the device's
//! secret, of `TOPIC "\n" JSON`. The MAC covers the topic, so a frame cannot be moved to
//! another device's topic; every message carries `seq`, strictly increasing per direction, so
//! a frame cannot be replayed.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Why a frame was dropped (the `reason` label of `utilhall_iot_dropped_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dropped {
    /// The topic names no registered device (or is not one of ours).
    UnknownDevice,
    /// The signature does not verify under the device's secret.
    BadSignature,
    /// Its `seq` is not above the last accepted one.
    Replay,
    /// Not a frame, not JSON, or a field missing or of the wrong type.
    Malformed,
    /// Well formed but impossible: negative or decreasing counters, TDS out of range, more
    /// dispensed than asked, an unknown command.
    Absurd,
}

impl Dropped {
    pub const ALL: [Dropped; 5] = [
        Dropped::UnknownDevice,
        Dropped::BadSignature,
        Dropped::Replay,
        Dropped::Malformed,
        Dropped::Absurd,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dropped::UnknownDevice => "unknown_device",
            Dropped::BadSignature => "bad_signature",
            Dropped::Replay => "replay",
            Dropped::Malformed => "malformed",
            Dropped::Absurd => "absurd",
        }
    }
}

/// The hex signature of `json` sent on `topic`.
pub fn sign(secret: &str, topic: &str, json: &str) -> String {
    let mut mac = mac(secret);
    mac.update(topic.as_bytes());
    mac.update(b"\n");
    mac.update(json.as_bytes());
    hex(&mac.finalize().into_bytes())
}

fn mac(secret: &str) -> HmacSha256 {
    // HMAC takes a key of any length.
    HmacSha256::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    s.as_bytes()
        .chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

/// The frame of `json` on `topic`: `json "\n" sig`.
pub fn frame(secret: &str, topic: &str, json: &str) -> Vec<u8> {
    let sig = sign(secret, topic, json);
    let mut out = Vec::with_capacity(json.len() + 1 + sig.len());
    out.extend_from_slice(json.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(sig.as_bytes());
    out
}

/// A frame's JSON and signature, split at its last newline.
pub fn split(payload: &[u8]) -> Option<(&str, &str)> {
    let text = std::str::from_utf8(payload).ok()?;
    let (json, sig) = text.rsplit_once('\n')?;
    Some((json, sig.trim_end_matches('\r')))
}

/// The JSON of a frame whose signature verifies (compared in constant time).
pub fn open<'a>(secret: &str, topic: &str, payload: &'a [u8]) -> Result<&'a str, Dropped> {
    let (json, sig) = split(payload).ok_or(Dropped::Malformed)?;
    let sig = unhex(sig).ok_or(Dropped::BadSignature)?;
    let mut mac = mac(secret);
    mac.update(topic.as_bytes());
    mac.update(b"\n");
    mac.update(json.as_bytes());
    mac.verify_slice(&sig).map_err(|_| Dropped::BadSignature)?;
    Ok(json)
}

/// A device's secret: the first 32 hex digits of HMAC-SHA256(master, `did:generation`).
/// Nothing but the generation is stored; rotating a secret moves to the next generation.
pub fn device_secret(master: &str, did: &str, generation: i64) -> String {
    let mut mac = mac(master);
    mac.update(did.as_bytes());
    mac.update(b":");
    mac.update(generation.to_string().as_bytes());
    let mut s = hex(&mac.finalize().into_bytes());
    s.truncate(32);
    s
}

/// Which of a device's topics a message came on or goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// Device -> server: reports, acks, results.
    Up,
    /// Device -> server, retained: `online`, and the device's last will `offline`.
    Status,
    /// Server -> device: commands.
    Down,
    /// Server -> device, retained: the state the device must hold.
    Desired,
}

impl Channel {
    fn as_str(self) -> &'static str {
        match self {
            Channel::Up => "up",
            Channel::Status => "status",
            Channel::Down => "down",
            Channel::Desired => "desired",
        }
    }
}

/// The topics under a prefix: `{prefix}/d/{did}/{up|status|down|desired}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    prefix: String,
}

impl Topics {
    pub fn new(prefix: &str) -> Topics {
        Topics {
            prefix: prefix.trim_end_matches('/').to_owned(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn of(&self, did: &str, channel: Channel) -> String {
        format!("{}/d/{did}/{}", self.prefix, channel.as_str())
    }

    pub fn up(&self, did: &str) -> String {
        self.of(did, Channel::Up)
    }

    pub fn status(&self, did: &str) -> String {
        self.of(did, Channel::Status)
    }

    pub fn down(&self, did: &str) -> String {
        self.of(did, Channel::Down)
    }

    pub fn desired(&self, did: &str) -> String {
        self.of(did, Channel::Desired)
    }

    /// What the server subscribes to.
    pub fn server_filters(&self) -> [String; 2] {
        [
            format!("{}/d/+/up", self.prefix),
            format!("{}/d/+/status", self.prefix),
        ]
    }

    /// The device and channel of a topic under this prefix.
    pub fn parse<'t>(&self, topic: &'t str) -> Option<(&'t str, Channel)> {
        let rest = topic
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix("/d/")?;
        let (did, channel) = rest.split_once('/')?;
        let channel = match channel {
            "up" => Channel::Up,
            "status" => Channel::Status,
            "down" => Channel::Down,
            "desired" => Channel::Desired,
            _ => return None,
        };
        (!did.is_empty()).then_some((did, channel))
    }
}

/// The kinds of water a purifier gives, in the order of the product's `flowmeter`.
pub const WATER_KINDS: [&str; 4] = ["normal", "cold", "warm", "hot"];

/// Cumulative water per kind, in millilitres.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Water {
    pub normal: i64,
    pub cold: i64,
    pub warm: i64,
    pub hot: i64,
}

impl Water {
    pub fn total(&self) -> i64 {
        self.normal + self.cold + self.warm + self.hot
    }

    pub fn kinds(&self) -> [i64; 4] {
        [self.normal, self.cold, self.warm, self.hot]
    }

    pub fn add(&mut self, kind: &str, ml: i64) {
        match kind {
            "cold" => self.cold += ml,
            "warm" => self.warm += ml,
            "hot" => self.hot += ml,
            _ => self.normal += ml,
        }
    }
}

/// A filter cycle the device has applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterCycle {
    pub order: i64,
    pub cycle: i64,
}

/// What a device reports (at least every heartbeat interval).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    #[serde(default)]
    pub power: bool,
    #[serde(default)]
    pub working: bool,
    #[serde(default)]
    pub locked: bool,
    #[serde(default)]
    pub errors: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lbs: Option<String>,
    pub powered_h: f64,
    pub working_h: f64,
    pub water_ml: Water,
    pub tds_in: i64,
    pub tds_out: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<FilterCycle>,
}

/// The most a counter may say: hours (about 114 years) and millilitres.
pub const MAX_HOURS: f64 = 1e6;
pub const MAX_ML: i64 = 1_000_000_000_000;
/// The TDS range a purifier's probe can read (ppm).
pub const MAX_TDS: i64 = 5000;
pub const MAX_ERRORS: usize = 16;

impl Report {
    /// Whether the values are possible on their own (the order of counters is checked
    /// against the last report by the service).
    pub fn plausible(&self) -> bool {
        let hours = |h: f64| h.is_finite() && (0.0..=MAX_HOURS).contains(&h);
        hours(self.powered_h)
            && hours(self.working_h)
            && self
                .water_ml
                .kinds()
                .iter()
                .all(|v| (0..=MAX_ML).contains(v))
            && (0..=MAX_TDS).contains(&self.tds_in)
            && (0..=MAX_TDS).contains(&self.tds_out)
            && self.errors.len() <= MAX_ERRORS
            && self
                .errors
                .iter()
                .all(|e| (1..=16).contains(&e.len()) && e.bytes().all(|b| b.is_ascii_graphic()))
            && self.lbs.as_ref().is_none_or(|l| l.len() <= 64)
    }
}

/// What a device sends, on `up` or `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Up {
    Online {
        seq: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fw: Option<String>,
    },
    Offline {
        seq: i64,
    },
    Report {
        seq: i64,
        #[serde(default)]
        ts: i64,
        #[serde(flatten)]
        report: Report,
    },
    Ack {
        seq: i64,
        cmd: String,
    },
    Result {
        seq: i64,
        cmd: String,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dispensed_ml: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
}

/// The largest `seq` (exact in a JSON number everywhere).
pub const MAX_SEQ: i64 = 1 << 53;

impl Up {
    pub fn seq(&self) -> i64 {
        match self {
            Up::Online { seq, .. }
            | Up::Offline { seq }
            | Up::Report { seq, .. }
            | Up::Ack { seq, .. }
            | Up::Result { seq, .. } => *seq,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Up::Online { .. } => "online",
            Up::Offline { .. } => "offline",
            Up::Report { .. } => "report",
            Up::Ack { .. } => "ack",
            Up::Result { .. } => "result",
        }
    }

    /// Reads a verified frame's JSON: malformed when it is not one of the messages, absurd
    /// when its values are impossible on their own.
    pub fn parse(json: &str) -> Result<Up, Dropped> {
        let up: Up = serde_json::from_str(json).map_err(|_| Dropped::Malformed)?;
        if !(1..=MAX_SEQ).contains(&up.seq()) {
            return Err(Dropped::Malformed);
        }
        match &up {
            Up::Report { report, .. } if !report.plausible() => Err(Dropped::Absurd),
            Up::Result {
                dispensed_ml: Some(ml),
                ..
            } if !(0..=MAX_ML).contains(ml) => Err(Dropped::Absurd),
            Up::Ack { cmd, .. } | Up::Result { cmd, .. } if cmd.is_empty() || cmd.len() > 64 => {
                Err(Dropped::Malformed)
            }
            _ => Ok(up),
        }
    }
}

/// What the server sends on `down` and `desired`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Down {
    Cmd {
        seq: i64,
        ts: i64,
        /// The server's clock (milliseconds) after which the device must not carry it out:
        /// the server has given up on it and charges nothing for it.
        #[serde(default)]
        expires: i64,
        cmd: String,
        op: String,
        #[serde(default)]
        args: serde_json::Value,
    },
    Desired {
        seq: i64,
        locked: bool,
        filters: Vec<FilterCycle>,
    },
}

impl Down {
    pub fn seq(&self) -> i64 {
        match self {
            Down::Cmd { seq, .. } | Down::Desired { seq, .. } => *seq,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_opens_only_under_its_secret_and_topic() {
        let t = Topics::new("uh");
        let json = r#"{"type":"online","seq":1}"#;
        let f = frame("k1", &t.up("D1"), json);
        assert_eq!(open("k1", &t.up("D1"), &f), Ok(json));
        assert_eq!(open("k2", &t.up("D1"), &f), Err(Dropped::BadSignature));
        assert_eq!(open("k1", &t.up("D2"), &f), Err(Dropped::BadSignature));
        assert_eq!(
            open("k1", &t.up("D1"), b"no newline"),
            Err(Dropped::Malformed)
        );
        let mut tampered = f.clone();
        tampered[10] ^= 1;
        assert_eq!(
            open("k1", &t.up("D1"), &tampered),
            Err(Dropped::BadSignature)
        );
    }

    #[test]
    fn topics_round_trip() {
        let t = Topics::new("uh/");
        assert_eq!(t.up("D1"), "uh/d/D1/up");
        assert_eq!(t.parse("uh/d/D1/status"), Some(("D1", Channel::Status)));
        assert_eq!(t.parse("uh/d//up"), None);
        assert_eq!(t.parse("other/d/D1/up"), None);
        assert_eq!(t.parse("uh/d/D1/what"), None);
    }

    #[test]
    fn reports_are_read_and_checked() {
        let ok = r#"{"type":"report","seq":3,"ts":1,"power":true,"working":false,"errors":[],
            "powered_h":1.5,"working_h":0.5,"water_ml":{"normal":10,"hot":2},"tds_in":180,"tds_out":8}"#;
        let up = Up::parse(ok).expect("a report");
        assert_eq!(up.seq(), 3);
        let absurd = ok.replace("\"tds_in\":180", "\"tds_in\":90000");
        assert_eq!(Up::parse(&absurd), Err(Dropped::Absurd));
        let negative = ok.replace("\"normal\":10", "\"normal\":-10");
        assert_eq!(Up::parse(&negative), Err(Dropped::Absurd));
        assert_eq!(
            Up::parse(r#"{"type":"report","seq":3}"#),
            Err(Dropped::Malformed)
        );
        assert_eq!(
            Up::parse(r#"{"type":"online","seq":0}"#),
            Err(Dropped::Malformed)
        );
        assert_eq!(Up::parse("[]"), Err(Dropped::Malformed));
    }

    #[test]
    fn secrets_differ_by_device_and_generation() {
        let a = device_secret("m", "D1", 0);
        assert_eq!(a.len(), 32);
        assert_ne!(a, device_secret("m", "D1", 1));
        assert_ne!(a, device_secret("m", "D2", 0));
        assert_eq!(a, device_secret("m", "D1", 0));
    }
}
