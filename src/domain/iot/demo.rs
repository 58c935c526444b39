//! The IoT platform's demo data: a platform operator, the document's vendor (东臣科技, user
//! `dochen`), an agent and a dealer, members with a chain of referrers, the AC-02 product,
//! devices, orders in several states and tickets. Loaded once (the vendor's user name marks it).

use serde_json::{Value, json};

use super::devices::{NewDevices, ShareWith};
use super::model::{Object, Party};
use super::orders::{Delivery, NewOrder, OrderLine, OrderMove, Receiver, Shipping};
use super::parties::{caller_of, new_party};
use super::partners::{NewAgent, NewOperator, NewVendor, VendorDetails};
use super::products::{
    Commis, FilterSpec, Flowmeter, NewProduct, Pair, ProductFields, Rent, Specification,
};
use super::tickets::NewTicket;
use super::{Caller, Input, Iot, Role, password_digest};
use crate::domain::Result;
use crate::domain::money::Fen;
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

/// A JSON object literal.
fn object(v: Value) -> Object {
    v.as_object().cloned().unwrap_or_default()
}

/// A `{name, key, value}` item.
fn pair<V>(name: &str, key: &str, value: V) -> Pair<V> {
    Pair {
        name: name.into(),
        key: key.into(),
        value,
    }
}

/// AC-02's example, word for word (with a state of 1).
pub fn ac02_product() -> ProductFields {
    let filter = |order, name: &str, lifetime, worklife| FilterSpec {
        order,
        name: name.into(),
        timer_mode: 0,
        lifetime,
        worklife,
    };
    ProductFields {
        name: Some("智能净水机".into()),
        desc: Some("免安装移动水吧".into()),
        tags: Some("智能, 净水机, 水吧".into()),
        notify_url: Some(String::new()),
        ptype: Some(1),
        state: Some(1),
        sequence: Some(1),
        bonus: Some(true),
        install: Some(false),
        maintain: Some(false),
        price: Some(Fen(298_000)),
        freight: Some(Fen(0)),
        install_cost: Some(Fen(0)),
        maintain_cost: Some(Fen(0)),
        orig_price: Some(Fen(499_900)),
        resource: Some(object(
            json!({"prev_res": "", "intro_res": [], "detail_res": ""}),
        )),
        rent: Some(Rent {
            price_per_l: None,
            minimum: None,
            deposit: Fen(0),
            plans: vec![
                pair("30天", "30d", Fen(6_000)),
                pair("60天", "60d", Fen(12_000)),
                pair("90天", "90d", Fen(18_000)),
                pair("180天", "180d", Fen(36_000)),
                pair("360天", "360d", Fen(72_000)),
            ],
        }),
        commis: Some(Commis {
            enabled: true,
            rates: vec![2_100, 900, 0],
        }),
        specification: Some(Specification {
            mode: 0,
            filters: vec![
                filter(1, "PPC复合滤芯", 4320, 540),
                filter(2, "CPP复合滤芯", 4320, 540),
                filter(3, "RO反渗透滤芯", 17280, 2160),
            ],
            flowmeter: Some(Flowmeter {
                measure_mode: 0,
                config: vec![
                    pair("常温", "normal", 30),
                    pair("冰水", "cold", 30),
                    pair("温水", "warm", 30),
                    pair("热水", "hot", 30),
                ],
            }),
        }),
    }
}

/// A party of the demo: user name, password (MD5 form) and descriptive fields.
fn party(login: &str, pwd: &str, profile: Value) -> (String, String, Object) {
    (login.into(), password_digest(pwd), object(profile))
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
                object(
                    json!({"name": name, "area": "广东省珠海市香洲区", "address": "南方软件园A123"}),
                ),
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
                let (login, pwd, profile) =
                    party(PLATFORM.0, PLATFORM.1, json!({"name": "平台管理员"}));
                self.partners
                    .create_operator(NewOperator {
                        login,
                        pwd,
                        profile,
                    })
                    .await?
            }
        };
        let admin: Caller = caller_of(&platform);
        let (login, pwd, texts) = party(
            VENDOR.0,
            VENDOR.1,
            json!({
                "name": "广东东臣科技实业有限公司", "abbv": "东臣科技", "domain": "www.dochen.cn",
                "contact": "周成华", "wechat": "01234567890", "email": "marvin.nps@gmail.com",
                "area": "广东省珠海市香洲区", "address": "南方软件园A123"
            }),
        );
        let vendor = NewVendor {
            login,
            pwd,
            code: Some("DOCH".into()),
            mobile: Some("01234567890".into()),
            details: VendorDetails {
                texts,
                wechat: object(json!({
                    "mp_gid": "gh_demo", "mp_appid": "wxdemo00000000001",
                    "mch_gid": "1900000001", "mch_appid": "wxdemo00000000001"
                })),
                secrets: object(
                    json!({"mp_secret": "demo-mp-secret", "mch_secret": "demo-mch-secret"}),
                ),
                mch_appid_given: true,
            },
            state: None,
            utype: None,
        };
        let vendor = self
            .partners
            .create_vendor(&admin, Input::ok(vendor))
            .await?;
        let brand = caller_of(&vendor);
        let agent_of = |(login, pwd): (&str, &str), name: &str, mobile: &str| {
            let (login, pwd, profile) = party(login, pwd, json!({ "name": name }));
            Input::ok(NewAgent {
                vid: None,
                parent: None,
                login,
                pwd,
                profile,
                mobile: Some(mobile.into()),
            })
        };
        let agent = self
            .partners
            .create_agent(&brand, agent_of(AGENT, "珠海代理商", "13700000001"))
            .await?;
        let dealer = self
            .partners
            .create_agent(
                &caller_of(&agent),
                agent_of(DEALER, "香洲经销商", "13700000002"),
            )
            .await?;
        let mut members = Vec::new();
        let mut referrer = dealer.clone();
        for (mobile, name) in MEMBERS {
            let m = self.demo_member(&vendor, mobile, name, &referrer).await?;
            referrer = m.clone();
            members.push(m);
        }
        let product_of = |fields| Input::ok(NewProduct { vid: None, fields });
        let product = self
            .catalog
            .create(&brand, product_of(ac02_product()))
            .await?;
        let installed = ProductFields {
            name: Some("智能净水机(上门安装)".into()),
            install: Some(true),
            install_cost: Some(Fen(10_000)),
            ..ac02_product()
        };
        let installed = self.catalog.create(&brand, product_of(installed)).await?;
        let devices = NewDevices {
            dids: ["DOCH01234567A001", "DOCH01234567A002", "DOCH01234567A003"]
                .map(String::from)
                .to_vec(),
            vid: vendor.uid.clone(),
            product_id: Some(product.pid.clone()),
            dtype: 1,
            profile: object(json!({
                "model": "000000", "hw_version": "1.0", "sw_version": "1.0",
                "manufacture_tms": "20121221", "brand": "东臣", "name": "智能净水机"
            })),
        };
        self.devices.register(&admin, Input::ok(devices)).await?;
        let first = caller_of(&members[0]);
        self.devices
            .bind(&first, "DOCH01234567A001", Input::ok(None))
            .await?;
        self.devices
            .share(
                &first,
                "DOCH01234567A001",
                Input::ok(ShareWith::Member(members[1].uid.clone())),
            )
            .await?;
        // Orders of the last member (three referrers above): unpaid, paid (with its install
        // ticket), delivered.
        let buyer = caller_of(&members[3]);
        let order = |pid: &str| {
            Input::ok(NewOrder {
                lines: vec![OrderLine {
                    product_id: pid.into(),
                    quantity: 1,
                    rent: None,
                    device_id: None,
                }],
                shipping: Input::ok(Shipping {
                    receiver: Receiver {
                        name: "赵四".into(),
                        phone: "13800000004".into(),
                        area: "广东省珠海市香洲区".into(),
                        address: "南方软件园A123".into(),
                        zipcode: "519000".into(),
                    },
                    memo: "演示订单".into(),
                }),
            })
        };
        self.orders.create(&buyer, order(&product.pid)).await?;
        let paid = self.orders.create(&buyer, order(&installed.pid)).await?;
        self.orders
            .record_payment(&paid.oid, &format!("DEMO{}", paid.oid), paid.amount)
            .await?;
        let shipped = self.orders.create(&buyer, order(&product.pid)).await?;
        self.orders
            .record_payment(
                &shipped.oid,
                &format!("DEMO{}", shipped.oid),
                shipped.amount,
            )
            .await?;
        let delivery = Delivery {
            company: "顺丰速运".into(),
            tracking_num: "SF1234567890".into(),
            clerk: "小王".into(),
        };
        self.orders
            .act(
                &brand,
                &shipped.oid,
                OrderMove::Deliver(Input::ok(delivery)),
            )
            .await?;
        let ticket = NewTicket {
            ttype: super::tickets::FAULT,
            detail: "制水故障".into(),
            device_id: Some("DOCH01234567A001".into()),
            order_id: Input::ok(None),
            user_id: Input::ok(None),
            appoint_at: Input::ok(None),
        };
        self.tickets.create(&first, Input::ok(ticket)).await?;
        tracing::info!("iot demo data loaded");
        Ok(())
    }
}

/// The ids of the demo's simulated purifiers: a vending machine, a timed rental and a metered
/// rental, then again.
pub fn demo_device_ids(n: u32) -> Vec<(String, i64)> {
    const TYPES: [i64; 3] = [
        super::fleet::VENDING,
        super::fleet::TIMED_RENTAL,
        super::fleet::METERED_RENTAL,
    ];
    (1..=n)
        .map(|i| (format!("DOCHSIM{i:04}"), TYPES[(i as usize - 1) % 3]))
        .collect()
}

impl Iot {
    /// The demo's simulated purifiers (registered on the first start that asks for them, with
    /// a water product priced per litre; the rentals bound to 张一): `(device id, secret)`.
    pub async fn demo_fleet(&self, n: u32) -> Result<Vec<(String, String)>> {
        let pool = self.shared.store.pool();
        let (Some(platform), Some(vendor)) = (
            store::user_by_login(pool, PLATFORM.0).await?,
            store::user_by_login(pool, VENDOR.0).await?,
        ) else {
            return Ok(Vec::new());
        };
        let (admin, vendor) = (Party::from(platform), Party::from(vendor));
        let brand = caller_of(&vendor);
        let wanted = demo_device_ids(n);
        let mut missing: Vec<(String, i64)> = Vec::new();
        for (did, dtype) in &wanted {
            if store::device(pool, did).await?.is_none() {
                missing.push((did.clone(), *dtype));
            }
        }
        if !missing.is_empty() {
            let water = ProductFields {
                name: Some("共享净水机 (售水/计量租赁)".into()),
                price: Some(Fen(0)),
                orig_price: Some(Fen(0)),
                rent: Some(Rent {
                    deposit: Fen(0),
                    plans: vec![
                        pair("30天", "30d", Fen(6_000)),
                        pair("充值50元", "50", Fen(5_000)),
                        pair("充值100元", "100", Fen(10_000)),
                    ],
                    price_per_l: Some(Fen(50)),
                    minimum: Some(Fen(3_000)),
                }),
                ..ac02_product()
            };
            let water = self
                .catalog
                .create(
                    &brand,
                    Input::ok(NewProduct {
                        vid: None,
                        fields: water,
                    }),
                )
                .await?;
            let member = store::member_by_mobile(pool, &vendor.uid, MEMBERS[0].0)
                .await?
                .map(Party::from);
            for dtype in [
                super::fleet::VENDING,
                super::fleet::TIMED_RENTAL,
                super::fleet::METERED_RENTAL,
            ] {
                let dids: Vec<String> = missing
                    .iter()
                    .filter(|(_, t)| *t == dtype)
                    .map(|(d, _)| d.clone())
                    .collect();
                if dids.is_empty() {
                    continue;
                }
                let product_id = Some(water.pid.clone());
                let devices = NewDevices {
                    dids: dids.clone(),
                    vid: vendor.uid.clone(),
                    product_id,
                    dtype,
                    profile: object(json!({
                        "model": "SIM-1", "hw_version": "1.0", "sw_version": "1.0",
                        "brand": "东臣", "name": "模拟净水机"
                    })),
                };
                self.devices
                    .register(&caller_of(&admin), Input::ok(devices))
                    .await?;
                if dtype != super::fleet::VENDING
                    && let Some(m) = &member
                {
                    for did in &dids {
                        self.devices
                            .bind(&caller_of(m), did, Input::ok(None))
                            .await?;
                    }
                }
            }
        }
        let mut out = Vec::new();
        for (did, _) in wanted {
            if let Some(generation) = crate::store::iot::link::key_gen(pool, &did).await? {
                out.push((did.clone(), self.fleet.secret(&did, generation)));
            }
        }
        Ok(out)
    }
}
