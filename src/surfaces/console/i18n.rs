//! The console's words in Chinese (first, the documents' own terms) and English.
//!
//! Each page module keeps its own `WORDS` (key, Chinese, English); they are gathered here once.
//! A key nobody wrote shows as itself, and a test checks that no two modules define one key.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The language a page is shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    /// From the `lang` cookie or parameter (`zh`, `en`); Chinese otherwise.
    pub fn parse(s: &str) -> Lang {
        if s.trim().eq_ignore_ascii_case("en") {
            Lang::En
        } else {
            Lang::Zh
        }
    }

    /// The HTML `lang` attribute.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The cookie value.
    pub fn key(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The word for a key.
    pub fn t(self, key: &str) -> &'static str {
        match words().get(key) {
            Some((zh, en)) => match self {
                Lang::Zh => zh,
                Lang::En => en,
            },
            None => unknown(key),
        }
    }
}

/// A key without words: shown as itself (leaked once per distinct key, so bounded by the
/// program's own keys, never by input).
fn unknown(key: &str) -> &'static str {
    static SEEN: OnceLock<std::sync::Mutex<HashMap<String, &'static str>>> = OnceLock::new();
    let seen = SEEN.get_or_init(Default::default);
    let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(s) = seen.get(key) {
        return s;
    }
    if seen.len() > 1000 {
        return "?";
    }
    let leaked: &'static str = Box::leak(key.to_owned().into_boxed_str());
    seen.insert(key.to_owned(), leaked);
    leaked
}

type Words = &'static [(&'static str, &'static str, &'static str)];

/// Every module's words.
fn all() -> [Words; 9] {
    [
        COMMON,
        super::overview::WORDS,
        super::heating::WORDS,
        super::meter::WORDS,
        super::retail::WORDS,
        super::charging::WORDS,
        super::charging::boxes::WORDS,
        super::iot::WORDS,
        super::table::WORDS,
    ]
}

fn words() -> &'static HashMap<&'static str, (&'static str, &'static str)> {
    static WORDS: OnceLock<HashMap<&'static str, (&'static str, &'static str)>> = OnceLock::new();
    WORDS.get_or_init(|| {
        all()
            .iter()
            .flat_map(|w| w.iter())
            .map(|(k, zh, en)| (*k, (*zh, *en)))
            .collect()
    })
}

/// Words every page uses.
const COMMON: Words = &[
    ("console", "运营管理后台", "Operations console"),
    ("sign_in", "登录", "Sign in"),
    ("sign_out", "退出", "Sign out"),
    ("username", "用户名", "User name"),
    ("password", "密码", "Password"),
    ("account_kind", "账号类型", "Account"),
    ("kind_operator", "运营管理员", "Operator"),
    (
        "kind_iot",
        "物联网平台账号（厂商/代理/经销商）",
        "IoT platform (vendor, agent, dealer)",
    ),
    (
        "wrong_password",
        "用户名或密码错误",
        "Wrong user name or password",
    ),
    (
        "locked",
        "尝试次数过多，请稍后再试",
        "Too many attempts; try again later",
    ),
    ("disabled_account", "账号已停用", "This account is disabled"),
    (
        "not_for_console",
        "此账号不能登录后台",
        "This account cannot use the console",
    ),
    ("area_overview", "总览", "Overview"),
    ("area_heating", "供热", "Heating"),
    ("area_meter", "预付费表", "Meters"),
    ("area_retail", "售电", "Retail"),
    ("area_charging", "充电站", "Charging"),
    ("area_iot", "净水器物联网", "IoT"),
    ("role_operator", "运营管理员", "operator"),
    ("role_platform", "平台运营", "platform"),
    ("role_vendor", "厂商", "vendor"),
    ("role_agent", "代理商", "agent"),
    ("role_dealer", "经销商", "dealer"),
    ("error", "错误", "Error"),
    ("forbidden", "无权访问", "Not allowed"),
    (
        "forbidden_text",
        "此账号无权查看或修改该内容。",
        "This account may not see or change this.",
    ),
    ("not_found", "未找到", "Not found"),
    (
        "not_found_text",
        "没有这个页面或记录。",
        "There is no such page or record.",
    ),
    ("bad_request", "请求有误", "Bad request"),
    (
        "csrf_failed",
        "页面已过期，请刷新后重试。",
        "The page has expired; reload it and try again.",
    ),
    (
        "internal",
        "服务器内部错误，请稍后再试。",
        "Internal error; try again later.",
    ),
    ("back", "返回", "Back"),
    ("done", "操作成功", "Done"),
    ("save", "保存", "Save"),
    ("confirm", "确认", "Confirm"),
    ("are_you_sure", "确定要执行此操作吗？", "Are you sure?"),
    ("language", "English", "中文"),
    ("yes", "是", "yes"),
    ("no", "否", "no"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_is_defined_twice() {
        let mut seen = std::collections::HashSet::new();
        for words in all() {
            for (k, zh, en) in words {
                assert!(seen.insert(*k), "the key {k} is defined twice");
                assert!(!zh.is_empty() && !en.is_empty(), "{k} lacks a word");
            }
        }
    }

    #[test]
    fn words_in_both_languages() {
        assert_eq!(Lang::Zh.t("sign_in"), "登录");
        assert_eq!(Lang::En.t("sign_in"), "Sign in");
        assert_eq!(Lang::En.t("no-such-key"), "no-such-key");
    }
}
