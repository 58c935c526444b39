//! Validating newtypes for what people type in: phone numbers, ID card numbers, passwords.

use super::{Error, Result};

/// A mainland China mobile number: 11 digits starting with 1[3-9].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(s: &str) -> Result<Phone> {
        let s = s.trim();
        let b = s.as_bytes();
        let ok = b.len() == 11
            && b.iter().all(u8::is_ascii_digit)
            && b[0] == b'1'
            && (b'3'..=b'9').contains(&b[1]);
        if ok {
            Ok(Phone(s.to_owned()))
        } else {
            Err(Error::invalid("phone", "手机号格式不正确"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A WeChat openid as a mini-program sends it: 1-128 URL-safe characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenId(String);

impl OpenId {
    pub fn parse(s: &str) -> Result<OpenId> {
        let s = s.trim();
        let ok = !s.is_empty()
            && s.len() <= 128
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(OpenId(s.to_owned()))
        } else {
            Err(Error::invalid("openid", "openid 格式不正确"))
        }
    }

    /// An optional openid: absent or blank is none.
    pub fn parse_optional(s: Option<&str>) -> Result<Option<OpenId>> {
        match s.map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => OpenId::parse(s).map(Some),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password as typed: 6-20 characters, no control characters.
#[derive(Clone)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    /// A new password for an account (length rules apply).
    pub fn parse_new(s: &str, field: &'static str, min: usize, max: usize) -> Result<Password> {
        let n = s.chars().count();
        if n < min || n > max {
            return Err(Error::invalid(field, format!("密码长度须为{min}-{max}位")));
        }
        if s.chars().any(char::is_control) {
            return Err(Error::invalid(field, "密码不能包含控制字符"));
        }
        Ok(Password(s.to_owned()))
    }

    /// A password presented at login: only bounded, so a huge body cannot make hashing slow.
    pub fn presented(s: &str, field: &'static str) -> Result<Password> {
        if s.is_empty() || s.len() > 256 {
            return Err(Error::invalid(field, "密码不能为空且不超过256字节"));
        }
        Ok(Password(s.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A resident identity card number (GB 11643-1999): 18 characters with a valid check digit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdCard(String);

impl IdCard {
    pub fn parse(s: &str) -> Result<IdCard> {
        let s = s.trim().to_ascii_uppercase();
        let bad = || Error::invalid("id_card", "身份证号格式不正确");
        let b = s.as_bytes();
        if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
        const CHECK: &[u8; 11] = b"10X98765432";
        let sum: u32 = b[..17]
            .iter()
            .zip(WEIGHTS)
            .map(|(d, w)| u32::from(d - b'0') * w)
            .sum();
        if CHECK[(sum % 11) as usize] != b[17] {
            return Err(Error::invalid("id_card", "身份证号校验位不正确"));
        }
        let year: u32 = s[6..10].parse().map_err(|_| bad())?;
        let month: u32 = s[10..12].parse().map_err(|_| bad())?;
        let day: u32 = s[12..14].parse().map_err(|_| bad())?;
        let month_ok = u8::try_from(month)
            .ok()
            .and_then(|m| time::Month::try_from(m).ok());
        let valid_date = match month_ok {
            Some(m) if (1900..=2100).contains(&year) => {
                day >= 1 && day <= u32::from(m.length(year as i32))
            }
            _ => false,
        };
        if !valid_date {
            return Err(Error::invalid("id_card", "身份证号出生日期不正确"));
        }
        Ok(IdCard(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `610102********1234`: the first six and last four characters of an ID number, as the heating document shows it.
pub fn mask_id_card(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 10 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 10))
}

/// Invisible format characters (Unicode Cf that show nothing or reorder text): zero-width
/// spaces and joiners, bidirectional overrides and isolates, the BOM, the soft hyphen.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

/// A short free-text field: trimmed, non-empty, at most `max` characters, no control characters.
pub fn text_field(value: &str, field: &'static str, label: &str, max: usize) -> Result<String> {
    checked_text(value, field, label, max, false)
}

/// Like [`text_field`], for text of several lines: line breaks and tabs are kept.
pub fn long_text(value: &str, field: &'static str, label: &str, max: usize) -> Result<String> {
    checked_text(value, field, label, max, true)
}

fn checked_text(
    value: &str,
    field: &'static str,
    label: &str,
    max: usize,
    lines: bool,
) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::invalid(field, format!("{label}不能为空")));
    }
    if v.chars().count() > max {
        return Err(Error::invalid(field, format!("{label}不能超过{max}个字符")));
    }
    let allowed = |c: char| lines && matches!(c, '\n' | '\r' | '\t');
    if v.chars()
        .any(|c| (c.is_control() && !allowed(c)) || is_invisible_format(c))
    {
        return Err(Error::invalid(
            field,
            format!("{label}不能包含控制字符或不可见字符"),
        ));
    }
    Ok(v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credit_codes() {
        assert!(CreditCode::parse("91440400MA4UJ7Q0X5", "c").is_ok());
        assert!(CreditCode::parse("91440400ma4uj7q0x5", "c").is_ok());
        assert!(CreditCode::parse("91440400MA4UJ7Q0X6", "c").is_err());
        assert!(CreditCode::parse("D2143569-X", "c").is_ok());
        assert_eq!(
            CreditCode::parse("D2143569-X", "c").map(|c| c.0).ok(),
            Some("D2143569X".to_owned())
        );
        assert!(CreditCode::parse("D2143569-1", "c").is_err());
        assert!(CreditCode::parse("", "c").is_err());
        assert!(CreditCode::parse("91440400MA4UJ7Q0I5", "c").is_err());
    }

    #[test]
    fn phones() {
        assert!(Phone::parse("13888888888").is_ok());
        assert!(Phone::parse("12888888888").is_err());
        assert!(Phone::parse("1388888888").is_err());
        assert!(Phone::parse("1388888888a").is_err());
    }

    #[test]
    fn id_cards() {
        assert!(IdCard::parse("610102199001011231").is_ok());
        assert!(IdCard::parse("11010519491231002x").is_ok());
        // The heating document's own example fails the check digit.
        assert!(IdCard::parse("610102199001011234").is_err());
        assert!(IdCard::parse("61010219900101123").is_err());
        assert!(IdCard::parse("610102199013011231").is_err());
        assert_eq!(mask_id_card("610102199001011234"), "610102********1234");
    }

    #[test]
    fn passwords() {
        assert!(Password::parse_new("12345", "password", 6, 20).is_err());
        assert!(Password::parse_new("123456", "password", 6, 20).is_ok());
    }

    #[test]
    fn text_fields_refuse_invisible_characters() {
        assert_eq!(text_field(" 张三 ", "n", "名", 10).expect("ok"), "张三");
        assert!(text_field("a\u{200B}b", "n", "名", 10).is_err());
        assert!(text_field("\u{202E}evil", "n", "名", 10).is_err());
        assert!(text_field("a\nb", "n", "名", 10).is_err());
        assert!(text_field("12345678901", "n", "名", 10).is_err());
        assert!(Password::parse_new(&"a".repeat(21), "password", 6, 20).is_err());
    }
}

/// An enterprise's registration code: the 18-character unified social credit code
/// (GB 32100-2015) or the older 9-character organisation code (GB 11714, `XXXXXXXX-Y` or
/// `XXXXXXXXY`), check character verified. Kept upper-case, without the hyphen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditCode(String);

impl CreditCode {
    pub fn parse(s: &str, field: &'static str) -> Result<CreditCode> {
        let code: String = s
            .trim()
            .chars()
            .filter(|c| *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let valid = match code.len() {
            18 => uscc_valid(&code),
            9 => organisation_code_valid(&code),
            _ => false,
        };
        if !valid {
            return Err(Error::invalid(
                field,
                "统一社会信用代码（18位）或组织机构代码（9位）格式或校验位不正确",
            ));
        }
        Ok(CreditCode(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn uscc_valid(code: &str) -> bool {
    const CHARS: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    const WEIGHTS: [usize; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    let values: Option<Vec<usize>> = code.chars().map(|c| CHARS.find(c)).collect();
    let Some(values) = values else {
        return false;
    };
    let sum: usize = values[..17].iter().zip(WEIGHTS).map(|(v, w)| v * w).sum();
    (31 - sum % 31) % 31 == values[17]
}

fn organisation_code_valid(code: &str) -> bool {
    const WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    let bytes = code.as_bytes();
    let mut sum = 0;
    for (b, w) in bytes[..8].iter().zip(WEIGHTS) {
        let v = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            _ => return false,
        };
        sum += v * w;
    }
    let expected = match 11 - sum % 11 {
        10 => b'X',
        11 => b'0',
        n => b'0' + n as u8,
    };
    bytes[8] == expected
}
