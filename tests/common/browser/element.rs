//! An element on the page, by its WebDriver reference.

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};

use super::session::{ELEMENT_KEY, Session, WdError};

/// An element on the page.
#[derive(Clone)]
pub struct Element {
    session: Arc<Session>,
    id: String,
    /// The selector it was found by, for error messages.
    css: String,
}

impl Element {
    pub(super) fn from_ref(session: &Arc<Session>, reference: &Value, css: &str) -> Element {
        let id = reference[ELEMENT_KEY]
            .as_str()
            .unwrap_or_else(|| panic!("WebDriver: not an element reference: {reference}"));
        Element {
            session: session.clone(),
            id: id.to_string(),
            css: css.to_string(),
        }
    }

    /// The element as a WebDriver reference, to pass to `Browser::execute`.
    pub fn reference(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }

    async fn must(&self, method: Method, path: &str, body: Option<Value>, what: &str) -> Value {
        let path = format!("/element/{}{path}", self.id);
        let what = format!("{what} on `{}`", self.css);
        self.session.must(method, &path, body, &what).await
    }

    pub(super) async fn try_text(&self) -> Result<String, WdError> {
        let v = self
            .session
            .call(Method::GET, &format!("/element/{}/text", self.id), None)
            .await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// Clicks it (scrolled into view; fails when something else covers it).
    pub async fn click(&self) {
        self.must(Method::POST, "/click", None, "click").await;
    }

    /// Types `text` into it; on `<input type=file>`, `text` is an absolute path to upload.
    pub async fn send_keys(&self, text: &str) {
        let body = json!({ "text": text });
        self.must(Method::POST, "/value", Some(body), "send keys")
            .await;
    }

    /// Empties an input or textarea.
    pub async fn clear(&self) {
        self.must(Method::POST, "/clear", None, "clear").await;
    }

    /// Its rendered text (what a reader sees: hidden parts left out).
    pub async fn text(&self) -> String {
        let v = self.must(Method::GET, "/text", None, "text").await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// Its HTML attribute `name`, if set.
    pub async fn attr(&self, name: &str) -> Option<String> {
        let v = self
            .must(
                Method::GET,
                &format!("/attribute/{name}"),
                None,
                "attribute",
            )
            .await;
        v.as_str().map(str::to_string)
    }

    /// Its DOM property `name` (`value`, `checked`, ...), `null` when it has none.
    pub async fn prop(&self, name: &str) -> Value {
        self.must(Method::GET, &format!("/property/{name}"), None, "property")
            .await
    }

    /// The first element matching `css` inside it; panics when there is none.
    pub async fn find(&self, css: &str) -> Element {
        self.session
            .one(&format!("/element/{}/element", self.id), css)
            .await
    }

    /// Every element matching `css` inside it.
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        let what = format!("find all `{css}` in `{}`", self.css);
        self.session
            .find_all_in(&format!("/element/{}/elements", self.id), css, &what)
            .await
    }

    /// Whether it is displayed.
    pub async fn is_displayed(&self) -> bool {
        self.must(Method::GET, "/displayed", None, "is displayed")
            .await
            == json!(true)
    }
}
