//! The IoT platform's demo data: a platform operator, the document's vendor (东臣科技, user
//! `dochen`), an agent and a dealer, members with a chain of referrers, the AC-02 product,
//! devices, orders in several states and tickets. Loaded once (the vendor's user name marks it).

use serde_json::{Value, json};

use super::Iot;
use super::model::Party;
use super::parties::{caller_of, new_party};
use super::{Caller, Fields, Role, password_digest};
use crate::domain::Result;
use crate::store::iot::{self as store, UserRow};

/// Demo log-ins `(user, password)`; passwords travel as their MD5 hex.
pub const PLATFORM: (&str, &str) = ("platform", "platform123");
pub const VENDOR: (&str, &str) = ("dochen", "dochen123");
pub const AGENT: (&str, &str) = ("dochen_agent", "agent123");
pub const DEALER: (&str, &str) = ("dochen_dealer", "dealer123");
/// Demo members `(mobile, name)`, each referred by the one before (the first by the dealer);
/// their password is `member123`.
pub const MEMBERS: [(&str, &str); 4] = [
    ("13800000001", "张一"),
    ("13800000002", "李二"),
    ("13800000003", "王三"),
    ("13800000004", "赵四"),
];
pub const MEMBER_PASSWORD: &str = "member123";

fn fields(v: Value) -> Fields {
    Fields(v.as_object().cloned().unwrap_or_default())
}

/// AC-02's example, word for word (with a state of 1).
pub fn ac02_product() -> Value {
    json!({
        "state": 1, "type": 1,
        "name": "智能净水机", "desc": "免安装移动水吧", "tags": "智能, 净水机, 水吧",
        "sequence": 1, "bonus": true, "price": 2980, "freight": 0,
        "install": false, "maintain": false, "install_cost": 0, "maintain_cost": 0,
        "orig_price": 4999,
        "resource": {"prev_res": "", "intro_res": [], "detail_res": ""},
        "notify_url": "",
        "rent": {"deposit": 0, "config": [
            {"name": "30天", "key": "30d", "value": 60},
            {"name": "60天", "key": "60d", "value": 120},
            {"name": "90天", "key": "90d", "value": 180},
            {"name": "180天", "key": "180d", "value": 360},
            {"name": "360天", "key": "360d", "value": 720}
        ]},
        "commis": {"enabled": true, "config": [21, 9, 0]},
        "specification": {"mode": 0,
            "filters": [
                {"order": 1, "name": "PPC复合滤芯", "timer_mode": 0, "lifetime": 4320, "worklife": 540},
                {"order": 2, "name": "CPP复合滤芯", "timer_mode": 0, "lifetime": 4320, "worklife": 540},
                {"order": 3, "name": "RO反渗透滤芯", "timer_mode": 0, "lifetime": 17280, "worklife": 2160}
            ],
            "flowmeter": {"measure_mode": 0, "config": [
                {"name": "常温", "key": "normal", "value": 30},
                {"name": "冰水", "key": "cold", "value": 30},
                {"name": "温水", "key": "warm", "value": 30},
                {"name": "热水", "key": "hot", "value": 30}
            ]}
        }
    })
}

impl Iot {
    async fn demo_member(
        &self,
        vendor: &Party,
        mobile: &str,
        name: &str,
        rid: &Party,
    ) -> Result<Party> {
        let (agent, dealer) = match rid.role {
            Role::Dealer => (rid.agent.clone(), Some(rid.uid.clone())),
            Role::Agent => (Some(rid.uid.clone()), None),
            _ => (rid.agent.clone(), rid.dealer.clone()),
        };
        let hash = self
            .passwords
            .hash(&password_digest(MEMBER_PASSWORD))
            .await?;
        let mut tx = self.shared.store.begin_write().await?;
        let uid = self
            .shared
            .id(&mut tx, vendor.code.as_deref().unwrap_or_default(), "user")
            .await?;
        let row = Party {
            agent,
            dealer,
            mobile: Some(mobile.into()),
            pwd_hash: Some(hash),
            rid: Some(rid.uid.clone()),
            ..new_party(
                uid,
                Role::Member,
                Some(vendor.uid.clone()),
                fields(json!({"name": name, "area": "广东省珠海市香洲区", "address": "南方软件园A123"}))
                    .0,
                self.shared.clock.now().millis(),
            )
        };
        store::insert_user(&mut tx, &UserRow::from(&row)).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Loads the IoT demo data once.
    pub async fn load_demo(&self) -> Result<()> {
        if store::user_by_login(self.shared.store.pool(), VENDOR.0)
            .await?
            .is_some()
        {
            return Ok(());
        }
        let platform = match store::user_by_login(self.shared.store.pool(), PLATFORM.0).await? {
            Some(p) => Party::from(p),
            None => {
                self.partners
                    .create_operator(&fields(
                        json!({"user": PLATFORM.0, "pwd": PLATFORM.1, "name": "平台管理员"}),
                    ))
                    .await?
            }
        };
        let admin: Caller = caller_of(&platform);
        let vendor = self
            .partners
            .create_vendor(&admin, &fields(json!({
                "user": VENDOR.0, "pwd": VENDOR.1, "code": "DOCH",
                "name": "广东东臣科技实业有限公司", "abbv": "东臣科技", "domain": "www.dochen.cn",
                "contact": "周成华", "mobile": "01234567890", "wechat": "01234567890",
                "email": "marvin.nps@gmail.com", "area": "广东省珠海市香洲区", "address": "南方软件园A123",
                "mp_gid": "gh_demo", "mp_appid": "wxdemo00000000001", "mp_secret": "demo-mp-secret",
                "mch_gid": "1900000001", "mch_appid": "wxdemo00000000001", "mch_secret": "demo-mch-secret"
            })))
            .await?;
        let brand = caller_of(&vendor);
        let agent = self
            .partners
            .create_agent(&brand, &fields(json!({"user": AGENT.0, "pwd": AGENT.1, "name": "珠海代理商", "mobile": "13700000001"})))
            .await?;
        let dealer = self
            .partners
            .create_agent(&caller_of(&agent), &fields(json!({"user": DEALER.0, "pwd": DEALER.1, "name": "香洲经销商", "mobile": "13700000002"})))
            .await?;
        let mut members = Vec::new();
        let mut referrer = dealer.clone();
        for (mobile, name) in MEMBERS {
            let m = self.demo_member(&vendor, mobile, name, &referrer).await?;
            referrer = m.clone();
            members.push(m);
        }
        let product = self.catalog.create(&brand, &fields(ac02_product())).await?;
        let mut installed = ac02_product();
        installed["name"] = json!("智能净水机(上门安装)");
        installed["install"] = json!(true);
        installed["install_cost"] = json!(100);
        let installed = self.catalog.create(&brand, &fields(installed)).await?;
        self.devices.register(
            &admin,
            &fields(json!({
                "device_ids": ["DOCH01234567A001", "DOCH01234567A002", "DOCH01234567A003"],
                "type": 1, "model": "000000", "hw_version": "1.0", "sw_version": "1.0",
                "manufacture_tms": "20121221", "vendor_id": vendor.uid, "product_id": product.pid,
                "brand": "东臣", "name": "智能净水机"
            })),
        )
        .await?;
        let first = caller_of(&members[0]);
        self.devices
            .bind(&first, "DOCH01234567A001", &Fields::default())
            .await?;
        self.devices
            .share(
                &first,
                "DOCH01234567A001",
                &fields(json!({"user_id": members[1].uid})),
            )
            .await?;
        // Orders of the last member (three referrers above): unpaid, paid (with its install
        // ticket), delivered.
        let buyer = caller_of(&members[3]);
        let receiver = json!({"name": "赵四", "phone": "13800000004", "area": "广东省珠海市香洲区", "address": "南方软件园A123", "zipcode": "519000"});
        let order = |pid: &str| {
            fields(
                json!({"content": [{"product_id": pid, "quantity": 1}], "receiver": receiver, "memo": "演示订单"}),
            )
        };
        self.orders.create(&buyer, &order(&product.pid)).await?;
        let paid = self.orders.create(&buyer, &order(&installed.pid)).await?;
        self.orders
            .record_payment(&paid.oid, &format!("DEMO{}", paid.oid), paid.amount)
            .await?;
        let shipped = self.orders.create(&buyer, &order(&product.pid)).await?;
        self.orders
            .record_payment(
                &shipped.oid,
                &format!("DEMO{}", shipped.oid),
                shipped.amount,
            )
            .await?;
        self.orders.act(&brand, &shipped.oid, super::orders::OrderAction::Deliver, &fields(json!({"company": "顺丰速运", "tracking_num": "SF1234567890", "delivery_clerk": "小王"}))).await?;
        self.tickets
            .create(
                &first,
                &fields(json!({"type": 4, "detail": "制水故障", "device_id": "DOCH01234567A001"})),
            )
            .await?;
        tracing::info!("iot demo data loaded");
        Ok(())
    }
}
