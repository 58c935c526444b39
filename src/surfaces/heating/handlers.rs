//! Handlers for sections 1, 2, 3, 6 and 8: translate the wire to one domain call and back.

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::envelope::{ApiError, ApiResult, Auth, BearerToken, Body, Reply, SURFACE, required};
use super::wire::*;
use crate::domain::codes::{Channel, CodeRequest};
use crate::domain::heating::users::{
    LoginProof, PURPOSE_LOGIN, PURPOSE_REGISTER, PURPOSE_RESET_PASSWORD, PasswordChange,
    ProfileUpdate, Registration,
};
use crate::domain::identity::{OpenId, Password, Phone};
use crate::domain::{AuthFailure, Error};
use crate::surfaces::AppState;
use crate::surfaces::ClientIp;

fn phone(value: &Option<String>) -> Result<Phone, ApiError> {
    Ok(Phone::parse(required(value, "手机号不能为空")?)?)
}

fn code_purpose(value: &Option<String>) -> Result<&'static str, ApiError> {
    match required(value, "验证码类型不能为空")? {
        "login" => Ok(PURPOSE_LOGIN),
        "register" => Ok(PURPOSE_REGISTER),
        "reset_password" => Ok(PURPOSE_RESET_PASSWORD),
        _ => Err(ApiError::bad_request(
            "验证码类型不正确，可选值: login, register, reset_password",
        )),
    }
}

fn sms_request<'a>(phone: &'a Phone, purpose: &'static str) -> CodeRequest<'a> {
    CodeRequest {
        channel: Channel::Sms,
        recipient: phone.as_str(),
        purpose,
        surface: SURFACE,
    }
}

/// 1.1 `POST /api/sms/send`
pub async fn send_sms(
    State(state): State<AppState>,
    Body(req): Body<SmsRequest>,
) -> ApiResult<SmsSent> {
    let phone = phone(&req.phone)?;
    let purpose = code_purpose(&req.kind)?;
    let sent = state.codes.send(sms_request(&phone, purpose)).await?;
    Ok(Reply::ok(
        &state,
        "验证码发送成功",
        SmsSent {
            phone: phone.as_str().to_owned(),
            expire_time: sent.expires_in_secs,
        },
    ))
}

/// 1.2 `POST /api/sms/verify`: checks without using the code up (login/register still need it).
pub async fn verify_sms(
    State(state): State<AppState>,
    Body(req): Body<SmsRequest>,
) -> ApiResult<SmsVerified> {
    let phone = phone(&req.phone)?;
    let code = required(&req.code, "验证码不能为空")?;
    let purpose = code_purpose(&req.kind)?;
    state
        .codes
        .check(sms_request(&phone, purpose), code)
        .await?;
    Ok(Reply::ok(
        &state,
        "验证码正确",
        SmsVerified { is_valid: true },
    ))
}

/// 2.1 `POST /api/auth/login`: phone + SMS code (or phone + password).
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Body(req): Body<LoginRequest>,
) -> ApiResult<LoginReply> {
    let phone = phone(&req.phone)?;
    let proof = match (req.code.as_deref().map(str::trim), req.password.as_deref()) {
        (Some(code), _) if !code.is_empty() => LoginProof::Code(code),
        (_, Some(password)) if !password.is_empty() => {
            LoginProof::Password(Password::presented(password, "password")?)
        }
        _ => return Err(ApiError::bad_request("验证码不能为空")),
    };
    // Checked before the login so a bad openid does not use up the code.
    let openid = OpenId::parse_optional(req.openid.as_deref())?;
    let outcome = state
        .heating
        .users
        .login(&phone, proof, openid.as_ref(), SURFACE, ip)
        .await?;
    let user = outcome.user;
    Ok(Reply::ok(
        &state,
        "登录成功",
        LoginReply {
            token: outcome.tokens.access_token,
            refresh_token: outcome.tokens.refresh_token,
            expires_in: outcome.tokens.expires_in,
            user_info: UserInfo {
                id: user.id,
                phone: user.phone,
                nickname: user.nickname,
                avatar: user.avatar,
                is_first_login: outcome.first_login,
                created_at: iso(user.created_at),
                updated_at: iso(user.updated_at),
            },
        },
    ))
}

/// 2.2 `POST /api/auth/register`
pub async fn register(
    State(state): State<AppState>,
    Body(req): Body<RegisterRequest>,
) -> ApiResult<Registered> {
    let phone = phone(&req.phone)?;
    let code = required(&req.code, "验证码不能为空")?;
    let password =
        Password::parse_new(required(&req.password, "密码不能为空")?, "password", 6, 20)?;
    let user = state
        .heating
        .users
        .register(
            Registration {
                phone,
                code,
                password,
                nickname: req.nickname.as_deref(),
            },
            SURFACE,
        )
        .await?;
    Ok(Reply::ok(&state, "注册成功", user.into()))
}

/// 2.3 `POST /api/auth/refresh`
pub async fn refresh(
    State(state): State<AppState>,
    Body(req): Body<RefreshRequest>,
) -> ApiResult<Refreshed> {
    let token = required(&req.refresh_token, "refresh_token不能为空")?;
    let tokens = state.heating.users.refresh(token, SURFACE).await?;
    Ok(Reply::ok(
        &state,
        "token刷新成功",
        Refreshed {
            token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            expires_in: tokens.expires_in,
        },
    ))
}

/// 2.4 `POST /api/auth/logout`
pub async fn logout(State(state): State<AppState>, Auth(principal): Auth) -> ApiResult<()> {
    state.heating.users.logout(&principal).await?;
    Ok(Reply::ok(&state, "登出成功", ()))
}

/// 3.1 `GET /api/user/profile`: token check and profile read in one query.
pub async fn profile(
    State(state): State<AppState>,
    BearerToken(token): BearerToken,
) -> ApiResult<Profile> {
    let me = state
        .heating
        .users
        .authenticated_user(&token, SURFACE)
        .await?;
    Ok(Reply::ok(
        &state,
        "获取成功",
        Profile::new(me.user, me.heat_account, me.owed),
    ))
}

/// 3.2 `PUT /api/user/profile`
pub async fn update_profile(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Body(req): Body<ProfileUpdateRequest>,
) -> ApiResult<ProfileUpdated> {
    let updated_fields = state
        .heating
        .users
        .update_profile(
            &principal.user_id,
            ProfileUpdate {
                nickname: req.nickname.as_deref(),
                real_name: req.real_name.as_deref(),
                id_card: req.id_card.as_deref(),
                address: req.address.as_deref(),
            },
        )
        .await?;
    Ok(Reply::ok(
        &state,
        "更新成功",
        ProfileUpdated { updated_fields },
    ))
}

/// 3.3 `PUT /api/user/password`: old password, new password, and a `reset_password` SMS code.
pub async fn change_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Auth(principal): Auth,
    Body(req): Body<PasswordRequest>,
) -> ApiResult<()> {
    let old_password = Password::presented(
        required(&req.old_password, "旧密码不能为空")?,
        "old_password",
    )?;
    let new_password = Password::parse_new(
        required(&req.new_password, "新密码不能为空")?,
        "new_password",
        6,
        20,
    )?;
    let phone = phone(&req.phone)?;
    let code = required(&req.code, "验证码不能为空")?;
    let change = PasswordChange {
        old_password,
        new_password,
        phone,
        code,
    };
    match state
        .heating
        .users
        .change_password(&principal, change, SURFACE, ip)
        .await
    {
        Ok(()) => Ok(Reply::ok(&state, "密码修改成功", ())),
        Err(Error::Unauthorized(AuthFailure::WrongPassword)) => {
            Err(ApiError::new(1005, "旧密码错误"))
        }
        Err(e) => Err(e.into()),
    }
}

/// 6.1 `GET /api/config/agreements`
pub async fn agreements(State(state): State<AppState>) -> ApiResult<Agreements> {
    let mut reply = Agreements {
        user_agreement: None,
        privacy_policy: None,
    };
    for a in state.heating.content.agreements().await? {
        match a.kind.as_str() {
            "user_agreement" => reply.user_agreement = Some(a.into()),
            "privacy_policy" => reply.privacy_policy = Some(a.into()),
            _ => {}
        }
    }
    Ok(Reply::ok(&state, "获取成功", reply))
}

/// 6.2 `GET /api/config/system`
pub async fn system_config(State(state): State<AppState>) -> ApiResult<SystemConfigReply> {
    let config = state.heating.content.system_config().await?;
    Ok(Reply::ok(&state, "获取成功", config.into()))
}

/// 8.1 `GET /health` (at `/heating/health`): keeps the document's `mongodb` field.
pub async fn health(State(state): State<AppState>) -> Response {
    let reachable = state.database_reachable().await;
    let data = HealthReply {
        status: if reachable { "OK" } else { "ERROR" },
        timestamp: iso(state.now()),
        mongodb: if reachable {
            "connected"
        } else {
            "disconnected"
        },
        database: state.database_backend(),
    };
    if reachable {
        Reply::ok(&state, "success", data).into_response()
    } else {
        Reply::with_code(&state, 503, "数据库不可用", data).into_response()
    }
}
