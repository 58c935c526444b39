//! A browser-less client of the console: a session cookie, the CSRF value read off each page,
//! forms posted as a browser posts them (urlencoded, same origin), redirects not followed.
#![allow(dead_code)]

use super::TestApp;

/// A page or a redirect.
#[derive(Debug)]
pub struct Html {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
}

impl Html {
    /// The page's CSRF value (the first `_csrf` field on it).
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"_csrf\" value=\"")
            .unwrap_or_else(|| panic!("no _csrf on the page: {}", self.body));
        let rest = &self.body[at + "name=\"_csrf\" value=\"".len()..];
        rest[..rest.find('"').expect("end of value")].to_owned()
    }

    /// Whether the page's text contains `needle`.
    pub fn has(&self, needle: &str) -> bool {
        self.body.contains(needle)
    }

    /// The message a change came back with (the `ok=`/`err=` of the redirect), decoded.
    pub fn flash(&self) -> Option<(bool, String)> {
        let loc = self.location.as_deref()?;
        let query = loc.split_once('?')?.1;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
        pairs.into_iter().find_map(|(k, v)| match k.as_str() {
            "ok" => Some((true, v)),
            "err" => Some((false, v)),
            _ => None,
        })
    }
}

/// A signed-in console session.
pub struct Console {
    pub base: String,
    pub client: reqwest::Client,
    pub cookie: String,
    /// The CSRF value of this session.
    pub csrf: String,
    pub lang: &'static str,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn read(resp: reqwest::Response) -> Html {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let location = headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = resp.text().await.expect("body");
    Html {
        status,
        body,
        location,
        headers,
    }
}

/// Signs in; `kind` is `operator` or `iot`. Panics unless it succeeds.
pub async fn sign_in(app: &TestApp, kind: &str, username: &str, password: &str) -> Console {
    try_sign_in(app, kind, username, password)
        .await
        .unwrap_or_else(|page| {
            panic!(
                "sign-in of {username} failed: {} {}",
                page.status, page.body
            )
        })
}

/// Signs in as the operator `admin` (created on first use).
pub async fn operator(app: &TestApp) -> Console {
    let _ = app.state.operators.ensure("admin", "admin123456").await;
    sign_in(app, "operator", "admin", "admin123456").await
}

/// Signs in; the sign-in page is the error.
pub async fn try_sign_in(
    app: &TestApp,
    kind: &str,
    username: &str,
    password: &str,
) -> Result<Console, Html> {
    let client = client();
    let page = read(
        client
            .post(format!("{}/console/login", app.base))
            .form(&[
                ("kind", kind),
                ("username", username),
                ("password", password),
                ("next", "/console/"),
            ])
            .send()
            .await
            .expect("sent"),
    )
    .await;
    if page.status != 303 {
        return Err(page);
    }
    let cookie = page
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("uh_console="))
        .map(|v| v.split(';').next().unwrap_or("").to_owned())
        .expect("a session cookie");
    let mut console = Console {
        base: app.base.clone(),
        client,
        cookie,
        csrf: String::new(),
        lang: "zh",
    };
    // Home sends each account to its first page; that page carries the CSRF value.
    let mut page = console.get("/console/").await;
    for _ in 0..3 {
        match page.location.clone() {
            Some(to) if page.status == 303 || page.status == 308 => page = console.get(&to).await,
            _ => break,
        }
    }
    if page.body.contains("name=\"_csrf\"") {
        console.csrf = page.csrf();
    }
    Ok(console)
}

impl Console {
    fn cookies(&self) -> String {
        format!("{}; uh_lang={}", self.cookie, self.lang)
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Html {
        read(
            self.client
                .get(format!("{}{path}", self.base))
                .header("cookie", self.cookies())
                .send()
                .await
                .expect("sent"),
        )
        .await
    }

    /// Posts a form with this session's CSRF value, as a page of `back` would.
    pub async fn post(&self, path: &str, back: &str, fields: &[(&str, &str)]) -> Html {
        let mut all: Vec<(&str, &str)> = vec![("_csrf", &self.csrf), ("_back", back)];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// Posts exactly these fields (no CSRF value added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Html {
        read(
            self.client
                .post(format!("{}{path}", self.base))
                .header("cookie", self.cookies())
                .form(fields)
                .send()
                .await
                .expect("sent"),
        )
        .await
    }

    /// Posts a multipart form (a file upload) with this session's CSRF value.
    pub async fn upload(
        &self,
        path: &str,
        file_field: &str,
        file_name: &str,
        content: Vec<u8>,
        fields: &[(&str, &str)],
    ) -> Html {
        let boundary = "----utilhall-test-boundary-7d93a1";
        let mut body: Vec<u8> = Vec::new();
        let mut text = |k: &str, v: &str| {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        };
        text("_csrf", &self.csrf);
        for (k, v) in fields {
            text(k, v);
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{file_field}\"; filename=\"{file_name}\"\r\nContent-Type: text/csv\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(&content);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        read(
            self.client
                .post(format!("{}{path}", self.base))
                .header("cookie", self.cookies())
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(body)
                .send()
                .await
                .expect("sent"),
        )
        .await
    }
}
