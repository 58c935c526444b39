//! The W3C WebDriver protocol over `reqwest`: one command to one session, and its errors.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};

use super::Element;

/// The key the W3C protocol puts an element's id under.
pub(super) const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A WebDriver error: the protocol's `error` code and message (or a transport failure).
#[derive(Debug)]
pub(super) struct WdError {
    pub(super) error: String,
    pub(super) message: String,
}

impl WdError {
    pub(super) fn is(&self, code: &str) -> bool {
        self.error == code
    }
}

/// One WebDriver session: the HTTP client and `http://127.0.0.1:port/session/<id>`.
pub(super) struct Session {
    pub(super) http: reqwest::Client,
    pub(super) url: String,
}

impl Session {
    /// One command; the reply's `value`, or the error it names.
    pub(super) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, WdError> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.url));
        // W3C wants a JSON body on every POST, even one without parameters.
        if method == Method::POST {
            req = req.json(&body.unwrap_or_else(|| json!({})));
        }
        let transport = |e: reqwest::Error| WdError {
            error: "transport".into(),
            message: e.to_string(),
        };
        let resp = req.send().await.map_err(transport)?;
        let ok = resp.status().is_success();
        let reply: Value = resp.json().await.map_err(transport)?;
        let value = reply.get("value").cloned().unwrap_or(Value::Null);
        if ok {
            return Ok(value);
        }
        Err(WdError {
            error: value["error"].as_str().unwrap_or("unknown error").into(),
            message: value["message"].as_str().unwrap_or_default().into(),
        })
    }

    /// The page's URL for an error message; never fails.
    pub(super) async fn url_for_message(&self) -> String {
        match self.call(Method::GET, "/url", None).await {
            Ok(Value::String(url)) => url,
            Ok(other) => other.to_string(),
            Err(e) => format!("<unknown: {}>", e.message),
        }
    }

    /// A command that must succeed: panics with `what`, the error and the page's URL.
    pub(super) async fn must(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        what: &str,
    ) -> Value {
        match self.call(method, path, body).await {
            Ok(v) => v,
            Err(e) => {
                let url = self.url_for_message().await;
                panic!(
                    "WebDriver: {what} failed at {url}: {}: {}",
                    e.error, e.message
                )
            }
        }
    }

    /// `POST <path>` with a CSS selector: the first match, `None` when nothing matches.
    pub(super) async fn find_in(
        self: &Arc<Self>,
        path: &str,
        css: &str,
    ) -> Result<Option<Element>, WdError> {
        let body = json!({ "using": "css selector", "value": css });
        match self.call(Method::POST, path, Some(body)).await {
            Ok(v) => Ok(Some(Element::from_ref(self, &v, css))),
            Err(e) if e.is("no such element") => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(super) async fn find_all_in(
        self: &Arc<Self>,
        path: &str,
        css: &str,
        what: &str,
    ) -> Vec<Element> {
        let body = json!({ "using": "css selector", "value": css });
        let v = self.must(Method::POST, path, Some(body), what).await;
        v.as_array()
            .map(|a| a.iter().map(|r| Element::from_ref(self, r, css)).collect())
            .unwrap_or_default()
    }

    pub(super) async fn one(self: &Arc<Self>, path: &str, css: &str) -> Element {
        match self.find_in(path, css).await {
            Ok(Some(el)) => el,
            Ok(None) => {
                let url = self.url_for_message().await;
                panic!("WebDriver: no element matches `{css}` at {url}")
            }
            Err(e) => {
                let url = self.url_for_message().await;
                panic!(
                    "WebDriver: find `{css}` failed at {url}: {}: {}",
                    e.error, e.message
                )
            }
        }
    }
}
