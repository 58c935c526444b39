//! The retail hall's demo data, from the document's own examples (idempotent). It fills both
//! services, so [`load`] takes both.

use super::data::{BillInput, ContractInput};
use super::{Retail, RetailData, store};
use crate::domain::{Entity, Error, Result, ids};

/// The demo hall user, bound to 珠海魅族科技有限公司.
pub const DEMO_USER: (&str, &str) = ("13900000000", "retail123456");

const COMPANY: &str = "珠海高远电能科技有限公司";
const MEIZU: (&str, &str, &str) = ("珠海魅族科技有限公司", "91440400MA4UJ7Q0X5", "13800000001");
const YGSOFT: (&str, &str, &str) = (
    "珠海远光软件股份有限公司",
    "91440400MA4WKP8N18",
    "13800000002",
);

const CONTRACT_CONTENT: &str = "根据中发【2015】9号《中共中央 国务院关于进一步深化电力体制改革的若干意见》的精神，按照《广东电力市场交易基本规则（试行）》要求，甲、乙双方本着平等、自愿、公平和诚信的原则，现就年度电力交易事宜达成以下合作协议：
一、甲方同意向乙方购买在2017年1月1日至2017年12月31日期间（又称“交易周期”）的用电量。
二、甲、乙双方约定按以下方式进行购售电：
1、甲方同意在乙方购买约 2000 万千瓦时电量，其中年度双边协商交易电量 2000 万千瓦时（分解至各月如下表所示），余下部分根据每月的需求作为增量参与月度集中竞价，成交量即为月度集中竞争电量。
2、年度双边协商交易电量的电价在政府规定的甲方目录电价基础上下降 5 分/千瓦时（含税），此价差按相关电价文件要求联动。
3、月度集中竞争电量结算按广东电力交易规则执行，此部分电量的价差电费双方按比例分成，其中甲方占6成，乙方占 4 成。
4、甲方月度实际用电量与月度总市场电量之间的偏差造成的考核费用，按比例由甲方和乙方进行分摊，其中甲方占 5 成，乙方占 5 成。";

const ARTICLES: [(&str, &str, &str, &str); 6] = [
    (
        "recommend",
        "售电公司如何帮助企业降低用电成本",
        "通过年度双边协商与月度集中竞价相结合，企业可在目录电价基础上获得稳定的价差收益。",
        "高远电能",
    ),
    (
        "recommend",
        "读懂您的结算账单",
        "结算账单包含申报电量、分解电量、考核电量与考核电费等项目，本文逐项说明。",
        "高远电能",
    ),
    (
        "policy",
        "关于进一步深化电力体制改革的若干意见（中发〔2015〕9号）",
        "有序推进电价改革，理顺电价形成机制；推进电力交易体制改革，完善市场化交易机制。",
        "国务院",
    ),
    (
        "policy",
        "广东电力市场交易基本规则（试行）",
        "规定了市场成员、交易品种、交易组织、结算与偏差考核等基本规则。",
        "广东省经信委",
    ),
    (
        "science",
        "什么是峰谷电价",
        "峰谷电价按用电时段区分价格，引导用户在低谷时段用电，提高电网运行效率。",
        "电力科普",
    ),
    (
        "science",
        "功率因数与力调电费",
        "功率因数低于考核标准时会产生力调电费，加装无功补偿装置可以有效改善。",
        "电力科普",
    ),
];

const GUIDE: [(&str, &str); 3] = [
    (
        "帐号登录之后为什么使用不了功能？",
        " Lorem ipsum dolor sit amet, consectetur adipisicing elit. Dicta ipsam, nisi itaque accusamus exercitationem voluptatum cupiditate placeat nihil doloremque modi ipsa suscipit, nobis asperiores labore. Doloremque iure, recusandae voluptatem quis?",
    ),
    (
        "如何绑定企业？",
        "登录后进入“用户绑定”，选择售电公司与开通的服务，填写企业名称、统一社会信用代码、企业联系手机后4位及验证码。",
    ),
    (
        "用电计划申报后还能修改吗？",
        "草稿状态的计划可以修改；申报（declared）后不能再修改，如需调整请联系售电公司。",
    ),
];

/// Loads the retail demo: the company, two enterprises, the demo user bound to 魅族, the
/// document's contract and settlement bill, monthly use, a plan, articles and the guide.
pub async fn load(accounts: &Retail, data: &RetailData) -> Result<()> {
    let services = ["售电服务", "需求侧响应", "能效管理"].map(String::from);
    let company = accounts.ensure_company(COMPANY, &services).await?;
    for (name, code, phone) in [MEIZU, YGSOFT] {
        match accounts.create_enterprise(name, code, phone).await {
            Ok(_) | Err(Error::Conflict(Entity::Enterprise)) => {}
            Err(e) => return Err(e),
        }
    }
    if store::user_by_phone(accounts.store.pool(), DEMO_USER.0)
        .await?
        .is_none()
    {
        let hash = accounts.passwords.hash(DEMO_USER.1).await?;
        let id = ids::random_hex_id();
        let now = accounts.clock.now().millis();
        store::insert_user(accounts.store.pool(), &id, DEMO_USER.0, &hash, now).await?;
        let chosen = serde_json::to_string(&services[..2]).map_err(Error::internal)?;
        store::set_binding(
            accounts.store.pool(),
            &id,
            Some((MEIZU.1, &company.id, &chosen)),
            now,
        )
        .await?;
    }
    let contract = ContractInput {
        contract_id: "GD441520170601".into(),
        credit_code: MEIZU.1.into(),
        company_id: company.id.clone(),
        title: format!("{COMPANY}与{}购售电协议", MEIZU.0),
        content: CONTRACT_CONTENT.into(),
        files: vec!["客户名单列表.xls".into(), "现场图片001.jpg".into()],
        state: "fullfill".into(),
        elec_number: 2000,
        sign_date: "2017-01-01".into(),
        expire_date: "2017-12-31".into(),
    };
    match data.create_contract(&contract).await {
        Ok(_) | Err(Error::Conflict(Entity::Contract)) => {}
        Err(e) => return Err(e),
    }
    let figures = [
        "30.0000",
        "30.0000",
        "5000.0000",
        "28.0000",
        "198.0000",
        "0.0000",
        "-100.0000",
        "500.0000",
        "28.3400",
    ]
    .map(String::from);
    for (id, code, confirmed) in [
        ("SB201706-MEIZU", MEIZU.1, true),
        ("SB201707-MEIZU", MEIZU.1, false),
        ("SB201706-YGSOFT", YGSOFT.1, true),
    ] {
        let bill = BillInput {
            id: Some(id.into()),
            credit_code: code.into(),
            date: if id.contains("201707") {
                "2017-08-05"
            } else {
                "2017-07-05"
            }
            .into(),
            elec_use_date: if id.contains("201707") {
                "2017-07-01"
            } else {
                "2017-06-01"
            }
            .into(),
            user_benefits: "30.00".into(),
            figures: figures.clone(),
        };
        match data.create_settlement_bill(&bill).await {
            Ok(_) => {
                if confirmed {
                    data.confirm_settlement_bill(id, "刘杰", Some("2017-07-10"))
                        .await?;
                }
            }
            Err(Error::Conflict(Entity::SettlementBill)) => {}
            Err(e) => return Err(e),
        }
    }
    for (month, number) in [(1, "500.0000"), (2, "460.5000"), (3, "520.2500")] {
        data.put_monthly_use(MEIZU.1, 2017, month, number).await?;
    }
    let this_year = data.this_year();
    for month in 1..=3 {
        data.put_monthly_use(MEIZU.1, this_year, month, "480.0000")
            .await?;
    }
    if store::plans(accounts.store.pool(), MEIZU.1)
        .await?
        .is_empty()
    {
        let now = accounts.clock.now().millis();
        let mut tx = accounts.store.begin_write().await?;
        store::insert_plan(
            &mut tx,
            &crate::store::retail::PlanRow {
                id: ids::random_hex_id(),
                enterprise_code: MEIZU.1.into(),
                plan_type: "month".into(),
                year: 2017,
                month: 1,
                quantity: 8_880_000,
                state: "draft".into(),
                created_at: now,
                updated_at: now,
            },
        )
        .await?;
        tx.commit().await?;
    }
    if store::articles(accounts.store.pool(), None)
        .await?
        .is_empty()
    {
        for (channel, title, content, author) in ARTICLES {
            data.create_article(channel, title, content, author, "")
                .await?;
        }
    }
    if store::guide(accounts.store.pool()).await?.is_empty() {
        for (question, answer) in GUIDE {
            data.create_guide_entry(question, answer.trim(), None)
                .await?;
        }
    }
    Ok(())
}
