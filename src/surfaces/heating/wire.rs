//! Request and response bodies with the heating document's field names.

use serde::{Deserialize, Serialize};

use crate::domain::Timestamp;
use crate::domain::heating::Area;
use crate::domain::heating::accounts::HeatAccount;
use crate::domain::heating::bills::{AccountSummary, PaymentInfo};
use crate::domain::heating::content::{Agreement, SystemConfig};
use crate::domain::heating::orders::{HeatingStatistics, Order, PayableOrder, PaymentRecord};
use crate::domain::heating::users::User;
use crate::domain::identity::mask_id_card;
use crate::domain::money::{Fen, YuanNumber};
use crate::domain::time::date_iso;

/// 1.1 / 1.2: `{phone, type}` and `{phone, code, type}`.
#[derive(Debug, Deserialize)]
pub struct SmsRequest {
    pub phone: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub code: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SmsSent {
    pub phone: String,
    pub expire_time: i64,
}

#[derive(Debug, Serialize)]
pub struct SmsVerified {
    pub is_valid: bool,
}

/// 2.1: `{phone, code}`; `password` is accepted instead of `code`.
#[derive(Debug, Deserialize)]
pub struct LoginRequest {
    pub phone: Option<String>,
    pub code: Option<String>,
    pub password: Option<String>,
    /// Ours: the payer's WeChat openid, remembered for JSAPI payments.
    pub openid: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct UserInfo {
    pub id: String,
    pub phone: String,
    pub nickname: String,
    pub avatar: String,
    pub is_first_login: bool,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize)]
pub struct LoginReply {
    pub token: String,
    pub refresh_token: String,
    pub expires_in: i64,
    pub user_info: UserInfo,
}

/// 2.2
#[derive(Debug, Deserialize)]
pub struct RegisterRequest {
    pub phone: Option<String>,
    pub code: Option<String>,
    pub password: Option<String>,
    pub nickname: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Registered {
    pub user_id: String,
    pub phone: String,
    pub nickname: String,
    pub created_at: String,
}

impl From<User> for Registered {
    fn from(u: User) -> Self {
        Registered {
            user_id: u.id,
            phone: u.phone,
            nickname: u.nickname,
            created_at: u.created_at.iso_utc_ms(),
        }
    }
}

/// 2.3
#[derive(Debug, Deserialize)]
pub struct RefreshRequest {
    pub refresh_token: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Refreshed {
    pub token: String,
    pub refresh_token: String,
    pub expires_in: i64,
}

/// 3.1
#[derive(Debug, Serialize)]
pub struct Profile {
    pub id: String,
    pub phone: String,
    pub nickname: String,
    pub avatar: String,
    pub real_name: String,
    pub id_card: String,
    pub address: String,
    pub heat_account: Option<String>,
    pub balance: YuanNumber,
    pub created_at: String,
    pub updated_at: String,
}

impl Profile {
    pub fn new(u: User, heat_account: Option<String>, balance: Fen) -> Self {
        Profile {
            id: u.id,
            phone: u.phone,
            nickname: u.nickname,
            avatar: u.avatar,
            real_name: u.real_name.unwrap_or_default(),
            id_card: u.id_card.as_deref().map(mask_id_card).unwrap_or_default(),
            address: u.address.unwrap_or_default(),
            heat_account,
            balance: YuanNumber(balance),
            created_at: u.created_at.iso_utc_ms(),
            updated_at: u.updated_at.iso_utc_ms(),
        }
    }
}

/// 3.2
#[derive(Debug, Deserialize)]
pub struct ProfileUpdateRequest {
    pub nickname: Option<String>,
    pub real_name: Option<String>,
    pub id_card: Option<String>,
    pub address: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ProfileUpdated {
    pub updated_fields: Vec<&'static str>,
}

/// 3.3
#[derive(Debug, Deserialize)]
pub struct PasswordRequest {
    pub old_password: Option<String>,
    pub new_password: Option<String>,
    pub phone: Option<String>,
    pub code: Option<String>,
}

/// 6.1: one agreement.
#[derive(Debug, Serialize)]
pub struct AgreementText {
    pub title: String,
    pub content: String,
    pub version: String,
    pub updated_at: String,
}

impl From<Agreement> for AgreementText {
    fn from(a: Agreement) -> Self {
        AgreementText {
            title: a.title,
            content: a.content,
            version: a.version,
            updated_at: a.updated_at,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Agreements {
    pub user_agreement: Option<AgreementText>,
    pub privacy_policy: Option<AgreementText>,
}

/// 6.2
#[derive(Debug, Serialize)]
pub struct SystemConfigReply {
    pub customer_service_phone: String,
    pub business_hours: String,
    pub company_name: String,
    pub company_address: String,
    pub app_version: String,
    pub announcement: Option<String>,
    pub maintenance_notice: Option<String>,
}

impl From<SystemConfig> for SystemConfigReply {
    fn from(c: SystemConfig) -> Self {
        SystemConfigReply {
            customer_service_phone: c.customer_service_phone,
            business_hours: c.business_hours,
            company_name: c.company_name,
            company_address: c.company_address,
            app_version: c.app_version,
            announcement: c.announcement,
            maintenance_notice: c.maintenance_notice,
        }
    }
}

/// 8.1
#[derive(Debug, Serialize)]
pub struct HealthReply {
    pub status: &'static str,
    pub timestamp: String,
    /// Kept under the document's name: whether the database (SQLite or PostgreSQL) answers.
    pub mongodb: &'static str,
    pub database: &'static str,
}

/// Renders an instant as the document does.
pub fn iso(t: Timestamp) -> String {
    t.iso_utc_ms()
}

/// 4.1
#[derive(Debug, Deserialize)]
pub struct BindRequest {
    pub heat_account: Option<String>,
    pub real_name: Option<String>,
    pub id_card: Option<String>,
    pub address: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct BindReply {
    pub heat_account: String,
    pub real_name: String,
    pub address: String,
    pub heating_area: Area,
    pub heating_fee: YuanNumber,
    pub bind_time: String,
}

/// Unbinding (ours: the document has no endpoint for it).
#[derive(Debug, Serialize)]
pub struct UnbindReply {
    pub heat_account: String,
}

/// 4.2
#[derive(Debug, Serialize)]
pub struct HeatAccountReply {
    pub heat_account: String,
    pub real_name: String,
    pub address: String,
    pub heating_area: Area,
    pub current_balance: YuanNumber,
    pub total_fee: YuanNumber,
    pub paid_fee: YuanNumber,
    pub unpaid_fee: YuanNumber,
    pub heating_season: String,
    pub payment_deadline: Option<String>,
    pub heating_start: Option<String>,
    pub heating_end: Option<String>,
}

impl HeatAccountReply {
    pub fn new(a: HeatAccount, s: AccountSummary) -> Self {
        HeatAccountReply {
            heat_account: a.heat_account,
            real_name: a.real_name,
            address: a.address,
            heating_area: a.heating_area,
            current_balance: YuanNumber(s.current_balance),
            total_fee: YuanNumber(s.total),
            paid_fee: YuanNumber(s.paid),
            unpaid_fee: YuanNumber(s.unpaid),
            heating_season: s.heating_season,
            payment_deadline: s.payment_deadline.map(date_iso),
            heating_start: s.heating_start.map(date_iso),
            heating_end: s.heating_end.map(date_iso),
        }
    }
}

/// 5.1: one unpaid bill.
#[derive(Debug, Serialize)]
pub struct UnpaidBill {
    pub bill_id: String,
    pub heating_season: String,
    pub amount: YuanNumber,
    pub bill_date: String,
    pub due_date: String,
    pub status: &'static str,
    pub late_fee: YuanNumber,
}

#[derive(Debug, Serialize)]
pub struct PaymentInfoReply {
    pub heat_account: String,
    pub unpaid_bills: Vec<UnpaidBill>,
    pub total_unpaid: YuanNumber,
    pub total_late_fee: YuanNumber,
}

impl From<PaymentInfo> for PaymentInfoReply {
    fn from(p: PaymentInfo) -> Self {
        PaymentInfoReply {
            heat_account: p.heat_account,
            unpaid_bills: p
                .unpaid_bills
                .into_iter()
                .map(|(b, fee)| UnpaidBill {
                    bill_id: b.bill_id,
                    heating_season: b.heating_season,
                    amount: YuanNumber(b.amount),
                    bill_date: iso(b.bill_date),
                    due_date: date_iso(b.due_date),
                    status: b.status.as_str(),
                    late_fee: YuanNumber(fee),
                })
                .collect(),
            total_unpaid: YuanNumber(p.total_unpaid),
            total_late_fee: YuanNumber(p.total_late_fee),
        }
    }
}

/// 5.2 (`openid` is ours: WeChat JSAPI needs the payer; it may also be given at login).
#[derive(Debug, Deserialize)]
pub struct CreatePaymentRequest {
    pub bill_ids: Option<Vec<String>>,
    pub amount: Option<serde_json::Value>,
    pub openid: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WechatPayParams {
    pub app_id: String,
    pub time_stamp: String,
    pub nonce_str: String,
    pub package: String,
    pub sign_type: String,
    pub pay_sign: String,
}

#[derive(Debug, Serialize)]
pub struct CreatedPayment {
    pub order_id: String,
    pub amount: YuanNumber,
    pub wechat_pay_params: WechatPayParams,
    pub created_at: String,
}

impl From<PayableOrder> for CreatedPayment {
    fn from(p: PayableOrder) -> Self {
        CreatedPayment {
            order_id: p.order.order_id,
            amount: YuanNumber(p.order.amount),
            wechat_pay_params: WechatPayParams {
                app_id: p.params.app_id,
                time_stamp: p.params.time_stamp,
                nonce_str: p.params.nonce_str,
                package: p.params.package,
                sign_type: p.params.sign_type,
                pay_sign: p.params.pay_sign,
            },
            created_at: iso(p.order.created_at),
        }
    }
}

/// 5.3
#[derive(Debug, Serialize)]
pub struct PaymentStatusReply {
    pub order_id: String,
    pub status: &'static str,
    pub amount: YuanNumber,
    pub paid_at: Option<String>,
    pub payment_method: &'static str,
}

impl From<Order> for PaymentStatusReply {
    fn from(o: Order) -> Self {
        PaymentStatusReply {
            order_id: o.order_id,
            status: o.status.as_str(),
            amount: YuanNumber(o.amount),
            paid_at: o.paid_at.map(iso),
            payment_method: "wechat",
        }
    }
}

/// 5.4: one record.
#[derive(Debug, Serialize)]
pub struct HistoryRecord {
    pub order_id: String,
    pub bill_id: String,
    pub amount: YuanNumber,
    pub heating_season: String,
    pub payment_method: &'static str,
    pub status: &'static str,
    pub paid_at: String,
    pub receipt_url: &'static str,
}

impl From<PaymentRecord> for HistoryRecord {
    fn from(r: PaymentRecord) -> Self {
        HistoryRecord {
            payment_method: if r.order_id.is_some() {
                "wechat"
            } else {
                "offline"
            },
            order_id: r.order_id.unwrap_or_default(),
            bill_id: r.bill_id,
            amount: YuanNumber(r.amount),
            heating_season: r.heating_season,
            status: "paid",
            paid_at: iso(r.paid_at),
            receipt_url: "",
        }
    }
}

#[derive(Debug, Serialize)]
pub struct HistoryReply {
    pub total: i64,
    pub page: i64,
    pub size: i64,
    pub records: Vec<HistoryRecord>,
}

/// A ratio with two decimals as a JSON number (`0.95`).
#[derive(Debug, Clone, Copy)]
pub struct Ratio(pub f64);

impl Serialize for Ratio {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = format!("{:.2}", self.0.clamp(0.0, 1.0));
        let raw =
            serde_json::value::RawValue::from_string(text).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

/// 7.1
#[derive(Debug, Serialize)]
pub struct StatisticsReply {
    pub total_heating_seasons: i64,
    pub total_paid_amount: YuanNumber,
    pub current_season_paid: YuanNumber,
    pub average_monthly_consumption: YuanNumber,
    pub on_time_payment_rate: Ratio,
}

impl From<HeatingStatistics> for StatisticsReply {
    fn from(s: HeatingStatistics) -> Self {
        StatisticsReply {
            total_heating_seasons: s.total_heating_seasons,
            total_paid_amount: YuanNumber(s.total_paid_amount),
            current_season_paid: YuanNumber(s.current_season_paid),
            average_monthly_consumption: YuanNumber(s.average_monthly_consumption),
            on_time_payment_rate: Ratio(s.on_time_payment_rate),
        }
    }
}
