//! Binding a hall user to an enterprise (the document's "用户绑定": company, services,
//! enterprise name, organisation code, the phone's last four digits and a 验证码).
//!
//! An enterprise's name and credit code are public and four digits are 10,000 guesses, so
//! they only say which enterprise is meant: the 验证码 is an SMS code sent to the contact
//! phone the operator registered for the enterprise, so only someone who holds that phone can
//! bind. Two steps: [`Retail::send_bind_code`] (the details and an image captcha; the code
//! goes to the enterprise's phone, for this user and this enterprise only), then
//! [`Retail::bind`] with the code. An enterprise takes at most `max_users` users at once
//! (one unless an operator allows more); a bound user can see who else is bound.
//!
//! Wrong details are counted per client address and enterprise (the guesser is locked out
//! for a while), and per enterprise from everywhere (every attempt on it is then slowed down,
//! never refused), so nobody's mistakes stop the enterprise's own people from binding.

use std::net::IpAddr;

use subtle::ConstantTimeEq;

use super::{Company, Retail, RetailUser, SURFACE, enterprise_of};
use crate::domain::codes::{Channel, CodeRequest};
use crate::domain::identity::{CreditCode, text_field};
use crate::domain::{Entity, Error, Result, Timestamp};
use crate::store::retail::{self as store, EnterpriseRow};

/// Which enterprise a user means, and through which company (both steps send these).
#[derive(Debug, Clone, Default)]
pub struct EnterpriseClaim {
    pub company_id: String,
    pub enterprise_name: String,
    pub credit_code: String,
    pub phone_last4: String,
}

/// What a user sends to have a binding code sent.
#[derive(Debug, Clone, Default)]
pub struct BindCodeRequest {
    pub claim: EnterpriseClaim,
    pub captcha_id: String,
    pub captcha: String,
}

/// What a user sends to bind.
#[derive(Debug, Clone, Default)]
pub struct BindRequest {
    pub claim: EnterpriseClaim,
    pub services: Vec<String>,
    /// The SMS code sent to the enterprise's contact phone.
    pub code: String,
}

/// A binding code on its way.
#[derive(Debug, Clone)]
pub struct BindCodeSent {
    /// The enterprise's phone, masked (`139****0001`).
    pub phone_masked: String,
    pub expires_in_secs: i64,
}

/// Someone bound to an enterprise, as the other bound users see them.
#[derive(Debug, Clone)]
pub struct BoundUser {
    pub phone_masked: String,
    pub bound_at: Timestamp,
    pub is_me: bool,
}

/// An enterprise and the users bound to it.
#[derive(Debug, Clone)]
pub struct EnterpriseUsers {
    pub credit_code: String,
    pub name: String,
    pub max_users: i64,
    pub users: Vec<BoundUser>,
}

/// `13900000001` -> `139****0001`.
pub fn mask_phone(phone: &str) -> String {
    if phone.len() < 8 || !phone.is_ascii() {
        return "****".into();
    }
    format!("{}****{}", &phone[..3], &phone[phone.len() - 4..])
}

/// The code's purpose: this user, this enterprise (a code sent for one binds nothing else).
fn purpose(user: &RetailUser, credit_code: &str) -> String {
    format!("bind:{}:{credit_code}", user.id)
}

fn mismatch() -> Error {
    Error::invalid("enterprise", "企业名称、组织机构代码或手机后4位不匹配")
}

impl Retail {
    /// The enterprise and company a claim names, when name, code and phone digits all match;
    /// a mismatch says only that the details do not match, and counts against this address.
    async fn claimed(
        &self,
        user: &RetailUser,
        claim: &EnterpriseClaim,
        from: Option<IpAddr>,
    ) -> Result<(EnterpriseRow, Company)> {
        let code = CreditCode::parse(&claim.credit_code, "credit_code")?;
        let name = text_field(&claim.enterprise_name, "enterprise_name", "企业名称", 100)?;
        let last4 = claim.phone_last4.trim();
        if last4.len() != 4 || !last4.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::invalid("phone_last4", "请输入手机后4位数字"));
        }
        // The company by its id, or by its exact name (clients that show names only).
        let chosen = claim.company_id.trim();
        let company: Company = match store::company(self.store.pool(), chosen).await? {
            Some(row) => row,
            None => store::company_by_name(self.store.pool(), chosen)
                .await?
                .ok_or(Error::NotFound(Entity::RetailCompany))?,
        }
        .into();
        let guard = format!("retail-bind:{}", code.as_str());
        let user_guard = format!("retail-bind-user:{}", user.id);
        let too_many = |e: Error| match e {
            Error::RateLimited {
                retry_after_secs, ..
            } => Error::RateLimited {
                message: "绑定信息错误次数过多，请稍后再试".into(),
                retry_after_secs,
            },
            other => other,
        };
        self.guard
            .ensure_not_locked(&user_guard, from)
            .await
            .map_err(too_many)?;
        self.guard
            .ensure_not_locked(&guard, from)
            .await
            .map_err(too_many)?;
        let enterprise = store::enterprise(self.store.pool(), code.as_str()).await?;
        let matching = enterprise.filter(|e| {
            let tail = &e.contact_phone[e.contact_phone.len().saturating_sub(4)..];
            e.name == name && bool::from(tail.as_bytes().ct_eq(last4.as_bytes()))
        });
        let Some(enterprise) = matching else {
            self.guard.record_failure(&user_guard, from).await?;
            self.guard.record_failure(&guard, from).await?;
            tracing::warn!(user = %user.id, enterprise = %code.as_str(), "retail binding refused: details do not match");
            return Err(mismatch());
        };
        self.guard.clear_failures(&user_guard, from).await?;
        self.guard.clear_failures(&guard, from).await?;
        Ok((enterprise, company))
    }

    /// Step one: checks the captcha and the details, then sends the binding code to the
    /// enterprise's contact phone.
    pub async fn send_bind_code(
        &self,
        user: &RetailUser,
        req: &BindCodeRequest,
        from: Option<IpAddr>,
    ) -> Result<BindCodeSent> {
        self.codes
            .take_captcha(&req.captcha_id, &req.captcha)
            .await?;
        let (enterprise, _) = self.claimed(user, &req.claim, from).await?;
        self.ensure_room(user, &enterprise).await?;
        let purpose = purpose(user, &enterprise.credit_code);
        let sent = self
            .codes
            .send_for(
                CodeRequest {
                    channel: Channel::Sms,
                    recipient: &enterprise.contact_phone,
                    purpose: &purpose,
                    surface: SURFACE,
                },
                &user.id,
            )
            .await?;
        tracing::info!(user = %user.id, enterprise = %enterprise.credit_code, "retail binding code sent");
        Ok(BindCodeSent {
            phone_masked: mask_phone(&enterprise.contact_phone),
            expires_in_secs: sent.expires_in_secs,
        })
    }

    /// Refuses when the enterprise already has as many users as it may (the user itself
    /// aside, so re-binding works).
    async fn ensure_room(&self, user: &RetailUser, e: &EnterpriseRow) -> Result<()> {
        let bound = store::bound_users(self.store.pool(), &e.credit_code).await?;
        let others = bound
            .iter()
            .filter(|(phone, _)| *phone != user.phone)
            .count();
        if others as i64 >= e.max_users {
            return Err(full());
        }
        Ok(())
    }

    /// Step two: binds the user with the code sent to the enterprise's phone.
    pub async fn bind(
        &self,
        user: &RetailUser,
        req: &BindRequest,
        from: Option<IpAddr>,
    ) -> Result<RetailUser> {
        let (enterprise, company) = self.claimed(user, &req.claim, from).await?;
        let mut services: Vec<String> = Vec::new();
        for s in &req.services {
            let s = s.trim();
            if !company.services.iter().any(|offered| offered == s) {
                return Err(Error::invalid(
                    "services",
                    format!("{} 不提供服务: {s}", company.name),
                ));
            }
            if !services.iter().any(|chosen| chosen == s) {
                services.push(s.to_owned());
            }
        }
        if services.is_empty() {
            return Err(Error::invalid("services", "请选择至少一项开通的服务"));
        }
        let code = req.code.trim();
        if code.is_empty() {
            return Err(Error::invalid(
                "code",
                "请输入发送到企业联系手机的验证码 (POST /user/bind_code)",
            ));
        }
        let purpose = purpose(user, &enterprise.credit_code);
        let request = CodeRequest {
            channel: Channel::Sms,
            recipient: &enterprise.contact_phone,
            purpose: &purpose,
            surface: SURFACE,
        };
        let code_id = self.codes.check(request, code).await?;
        let services_json = serde_json::to_string(&services).map_err(Error::internal)?;
        let now = self.clock.now();
        let mut tx = self.store.begin_write().await?;
        let bound = store::bind_if_room(
            &mut tx,
            &user.id,
            (&enterprise.credit_code, &company.id, &services_json),
            now.millis(),
        )
        .await?;
        match bound {
            None => return Err(Error::NotFound(Entity::Enterprise)),
            Some(false) => return Err(full()),
            Some(true) => {}
        }
        self.codes.consume(&mut tx, &code_id, now).await?;
        tx.commit().await?;
        tracing::info!(user = %user.id, enterprise = %enterprise.credit_code, "retail user bound");
        self.user_by_phone(&user.phone).await
    }

    /// The enterprise the user is bound to and everyone bound to it (phones masked).
    pub async fn enterprise_users(&self, user: &RetailUser) -> Result<EnterpriseUsers> {
        let code = enterprise_of(user)?;
        let e = store::enterprise(self.store.pool(), code)
            .await?
            .ok_or(Error::NotFound(Entity::Enterprise))?;
        let users = store::bound_users(self.store.pool(), code)
            .await?
            .into_iter()
            .map(|(phone, at)| BoundUser {
                phone_masked: mask_phone(&phone),
                bound_at: Timestamp::from_millis(at),
                is_me: phone == user.phone,
            })
            .collect();
        Ok(EnterpriseUsers {
            credit_code: e.credit_code,
            name: e.name,
            max_users: e.max_users,
            users,
        })
    }
}

fn full() -> Error {
    Error::State("该企业已由其他用户绑定；如需多个用户，请联系售电公司开通".into())
}

#[cfg(test)]
mod tests {
    use super::mask_phone;

    #[test]
    fn masks_all_but_the_ends() {
        assert_eq!(mask_phone("13900000001"), "139****0001");
        assert_eq!(mask_phone("123"), "****");
    }
}
