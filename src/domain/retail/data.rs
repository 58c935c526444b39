//! What the hall shows, the [`RetailData`] service: articles and the business guide (public),
//! and a bound user's own enterprise data (monthly use, electricity plans, contracts,
//! settlement bills); the operator side that fills them. Feedback is its too ([`super::feedback`]).
//!
//! Quantities (kWh) and the settlement figures are kept in ten-thousandths, as the document
//! writes them with four decimals; `user_benefits` is money in fen. Calendar dates are
//! `YYYY-MM-DD`.

use std::sync::Arc;

use super::{RetailUser, enterprise_of, store};
use crate::domain::identity::{CreditCode, long_text, text_field};
use crate::domain::money::{Fen, parse_fixed};
use crate::domain::time::parse_date;
use crate::domain::{Clock, Entity, Error, Result, Settings, Timestamp, ids};
use crate::store::Store;
use crate::store::retail::{ArticleRow, BillRow, ContractRow, GuideRow, PlanRow};

/// The three article channels of the document.
pub const CHANNELS: [&str; 3] = ["recommend", "policy", "science"];

/// An article.
#[derive(Debug, Clone)]
pub struct Article {
    pub id: String,
    pub channel: String,
    pub title: String,
    pub content: String,
    pub author: String,
    pub imgsrc: String,
    pub created_at: Timestamp,
}

impl From<ArticleRow> for Article {
    fn from(r: ArticleRow) -> Self {
        Article {
            id: r.id,
            channel: r.channel,
            title: r.title,
            content: r.content,
            author: r.author,
            imgsrc: r.imgsrc,
            created_at: Timestamp::from_millis(r.created_at),
        }
    }
}

/// A question of the business guide and its answer.
#[derive(Debug, Clone)]
pub struct GuideEntry {
    pub id: String,
    pub question: String,
    pub answer: String,
    pub position: i64,
}

/// A contract between an enterprise (party A) and a retail company (party B).
#[derive(Debug, Clone)]
pub struct Contract {
    pub contract_id: String,
    pub enterprise_code: String,
    pub company_id: String,
    pub title: String,
    pub party_a: String,
    pub party_b: String,
    pub content: String,
    pub files: Vec<String>,
    pub state: String,
    pub elec_number: i64,
    pub sign_date: String,
    pub expire_date: String,
}

impl From<ContractRow> for Contract {
    fn from(r: ContractRow) -> Self {
        Contract {
            contract_id: r.contract_id,
            enterprise_code: r.enterprise_code,
            company_id: r.company_id,
            title: r.title,
            party_a: r.party_a,
            party_b: r.party_b,
            content: r.content,
            files: serde_json::from_str(&r.files).unwrap_or_default(),
            state: r.state,
            elec_number: r.elec_number,
            sign_date: r.sign_date,
            expire_date: r.expire_date,
        }
    }
}

/// A contract as an operator enters it.
#[derive(Debug, Clone, Default)]
pub struct ContractInput {
    pub contract_id: String,
    pub credit_code: String,
    pub company_id: String,
    pub title: String,
    pub content: String,
    pub files: Vec<String>,
    pub state: String,
    pub elec_number: i64,
    pub sign_date: String,
    pub expire_date: String,
}

/// An electricity plan: a month's or a year's kWh, `draft` until `declared`.
#[derive(Debug, Clone)]
pub struct Plan {
    pub plan_type: String,
    pub year: i64,
    /// 0 for a year plan.
    pub month: i64,
    /// kWh in ten-thousandths.
    pub quantity: i64,
    pub state: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<PlanRow> for Plan {
    fn from(r: PlanRow) -> Self {
        Plan {
            plan_type: r.plan_type,
            year: r.year,
            month: r.month,
            quantity: r.quantity,
            state: r.state,
            created_at: Timestamp::from_millis(r.created_at),
            updated_at: Timestamp::from_millis(r.updated_at),
        }
    }
}

/// A plan as the user sends it.
#[derive(Debug, Clone, Default)]
pub struct PlanInput {
    pub year: String,
    pub month: Option<String>,
    pub number: String,
    pub state: String,
    pub plan_type: Option<String>,
}

/// A settlement bill.
#[derive(Debug, Clone)]
pub struct SettlementBill {
    pub id: String,
    pub enterprise_code: String,
    pub date: String,
    pub elec_use_date: String,
    pub username: String,
    pub user_benefits: Fen,
    /// The ten figures below, in ten-thousandths, in the document's order.
    pub settle_number: i64,
    pub actual_elec_use: i64,
    pub declare_elec_number: i64,
    pub decompose_elec_number: i64,
    pub consultation_earn: i64,
    pub assign_elec_number: i64,
    pub bid_income: i64,
    pub check_elec_number: i64,
    pub check_bill: i64,
    pub confirmer: Option<String>,
    pub confirm_date: Option<String>,
}

impl SettlementBill {
    pub fn state(&self) -> &'static str {
        if self.confirmer.is_some() {
            "confirmed"
        } else {
            "unconfirmed"
        }
    }
}

impl From<BillRow> for SettlementBill {
    fn from(r: BillRow) -> Self {
        SettlementBill {
            id: r.id,
            enterprise_code: r.enterprise_code,
            date: r.bill_date,
            elec_use_date: r.elec_use_date,
            username: r.username,
            user_benefits: Fen(r.user_benefits),
            settle_number: r.settle_number,
            actual_elec_use: r.actual_elec_use,
            declare_elec_number: r.declare_elec_number,
            decompose_elec_number: r.decompose_elec_number,
            consultation_earn: r.consultation_earn,
            assign_elec_number: r.assign_elec_number,
            bid_income: r.bid_income,
            check_elec_number: r.check_elec_number,
            check_bill: r.check_bill,
            confirmer: r.confirmer,
            confirm_date: r.confirm_date,
        }
    }
}

/// A bill as an operator enters it: figures as decimal text (at most four decimals,
/// `user_benefits` at most two).
#[derive(Debug, Clone, Default)]
pub struct BillInput {
    pub id: Option<String>,
    pub credit_code: String,
    pub date: String,
    pub elec_use_date: String,
    pub user_benefits: String,
    /// `settle_number` .. `check_bill`, in the document's order.
    pub figures: [String; 9],
}

/// The names of [`BillInput::figures`], in order.
pub const BILL_FIGURES: [&str; 9] = [
    "settle_number",
    "actual_elec_use",
    "declare_elec_number",
    "decompose_elec_number",
    "consultation_earn",
    "assign_elec_number",
    "bid_income",
    "check_elec_number",
    "check_bill",
];

fn date(s: &str, field: &'static str) -> Result<String> {
    parse_date(s)
        .map(crate::domain::time::date_string)
        .ok_or_else(|| Error::invalid(field, "日期格式应为 YYYY-MM-DD"))
}

fn quantity(s: &str, field: &'static str) -> Result<i64> {
    parse_fixed(s, 4).ok_or_else(|| Error::invalid(field, "须为数字，最多四位小数"))
}

fn channel(s: &str) -> Result<&'static str> {
    CHANNELS
        .into_iter()
        .find(|c| *c == s.trim())
        .ok_or_else(|| Error::invalid("channel", "channel is recommend, policy or science"))
}

/// The hall's content and records: articles, the guide, each enterprise's monthly use, plans,
/// contracts and settlement bills, and the users' feedback ([`super::feedback`]).
pub struct RetailData {
    pub(super) store: Store,
    pub(super) clock: Clock,
    pub(super) settings: Arc<Settings>,
}

impl RetailData {
    pub fn new(store: Store, clock: Clock, settings: Arc<Settings>) -> RetailData {
        RetailData {
            store,
            clock,
            settings,
        }
    }

    /// The current year in the local zone (the year monthly use shows by default).
    pub fn this_year(&self) -> i64 {
        i64::from(
            self.clock
                .now()
                .local_calendar_date(self.settings.zone)
                .year(),
        )
    }

    /// A channel's articles, newest first.
    pub async fn articles(&self, channel_name: &str) -> Result<Vec<Article>> {
        let channel = channel(channel_name)?;
        Ok(store::articles(self.store.pool(), Some(channel))
            .await?
            .into_iter()
            .map(Article::from)
            .collect())
    }

    /// The business guide, in its order.
    pub async fn guide(&self) -> Result<Vec<GuideEntry>> {
        Ok(store::guide(self.store.pool())
            .await?
            .into_iter()
            .map(|g| GuideEntry {
                id: g.id,
                question: g.question,
                answer: g.answer,
                position: g.position,
            })
            .collect())
    }

    /// The bound enterprise's use per month of `year`: `(month, kWh in ten-thousandths)`; an
    /// unbound user has none.
    pub async fn monthly_use(&self, user: &RetailUser, year: i64) -> Result<Vec<(i64, i64)>> {
        let Some(b) = &user.binding else {
            return Ok(Vec::new());
        };
        Ok(store::monthly_use(self.store.pool(), &b.enterprise_code, year).await?)
    }

    /// The bound enterprise's plans; an unbound user has none.
    pub async fn plans(&self, user: &RetailUser) -> Result<Vec<Plan>> {
        let Some(b) = &user.binding else {
            return Ok(Vec::new());
        };
        Ok(store::plans(self.store.pool(), &b.enterprise_code)
            .await?
            .into_iter()
            .map(Plan::from)
            .collect())
    }

    /// Adds a plan for a month (or a year), or changes the draft of that period; a declared
    /// plan can no longer change. True when the plan is new.
    pub async fn add_plan(&self, user: &RetailUser, input: &PlanInput) -> Result<(bool, Plan)> {
        let enterprise = enterprise_of(user)?;
        let year: i64 = input
            .year
            .trim()
            .parse()
            .ok()
            .filter(|y| (2000..=2100).contains(y))
            .ok_or_else(|| Error::invalid("year", "年份须为2000-2100"))?;
        let plan_type = match input.plan_type.as_deref().map(str::trim) {
            Some("month") => "month",
            Some("year") => "year",
            None | Some("") if input.month.as_deref().is_some_and(|m| !m.trim().is_empty()) => {
                "month"
            }
            None | Some("") => "year",
            Some(_) => return Err(Error::invalid("type", "type 须为 month 或 year")),
        };
        let month = if plan_type == "month" {
            input
                .month
                .as_deref()
                .and_then(|m| m.trim().parse::<i64>().ok())
                .filter(|m| (1..=12).contains(m))
                .ok_or_else(|| Error::invalid("month", "月份须为1-12"))?
        } else {
            0
        };
        let quantity = quantity(&input.number, "number")?;
        if quantity < 0 {
            return Err(Error::invalid("number", "用电量不能为负"));
        }
        let state = match input.state.trim() {
            "draft" | "" => "draft",
            "declared" => "declared",
            _ => return Err(Error::invalid("state", "state 须为 draft 或 declared")),
        };
        let now = self.clock.now().millis();
        let mut tx = self.store.begin_write().await?;
        let row = PlanRow {
            id: ids::random_hex_id(),
            enterprise_code: enterprise.to_owned(),
            plan_type: plan_type.to_owned(),
            year,
            month,
            quantity,
            state: state.to_owned(),
            created_at: now,
            updated_at: now,
        };
        let created = store::insert_plan(&mut tx, &row).await?;
        if !created {
            let existing = store::plan(&mut *tx, enterprise, plan_type, year, month)
                .await?
                .ok_or(Error::NotFound(Entity::Plan))?;
            if !store::update_draft_plan(&mut tx, &existing.id, quantity, state, now).await? {
                return Err(Error::State("该计划已申报，不能再修改".into()));
            }
        }
        let plan = store::plan(&mut *tx, enterprise, plan_type, year, month)
            .await?
            .ok_or(Error::NotFound(Entity::Plan))?;
        tx.commit().await?;
        Ok((created, plan.into()))
    }

    /// The bound enterprise's contracts; an unbound user has none.
    pub async fn contracts(&self, user: &RetailUser) -> Result<Vec<Contract>> {
        let Some(b) = &user.binding else {
            return Ok(Vec::new());
        };
        Ok(
            store::contracts(self.store.pool(), Some(&b.enterprise_code))
                .await?
                .into_iter()
                .map(Contract::from)
                .collect(),
        )
    }

    /// The bound enterprise's settlement bills; an unbound user has none.
    pub async fn bills(&self, user: &RetailUser) -> Result<Vec<SettlementBill>> {
        let Some(b) = &user.binding else {
            return Ok(Vec::new());
        };
        Ok(store::bills(self.store.pool(), Some(&b.enterprise_code))
            .await?
            .into_iter()
            .map(SettlementBill::from)
            .collect())
    }

    // --- operators -------------------------------------------------------------------------

    /// An enterprise's use per month of `year` (operators).
    pub async fn enterprise_monthly_use(
        &self,
        credit_code: &str,
        year: i64,
    ) -> Result<Vec<(i64, i64)>> {
        let code = CreditCode::parse(credit_code, "credit_code")?;
        Ok(store::monthly_use(self.store.pool(), code.as_str(), year).await?)
    }

    /// An enterprise's plans, declared or not (operators).
    pub async fn enterprise_plans(&self, credit_code: &str) -> Result<Vec<Plan>> {
        let code = CreditCode::parse(credit_code, "credit_code")?;
        Ok(store::plans(self.store.pool(), code.as_str())
            .await?
            .into_iter()
            .map(Plan::from)
            .collect())
    }

    pub async fn create_article(
        &self,
        channel_name: &str,
        title: &str,
        content: &str,
        author: &str,
        imgsrc: &str,
    ) -> Result<Article> {
        let row = ArticleRow {
            id: ids::random_hex_id(),
            channel: channel(channel_name)?.to_owned(),
            title: text_field(title, "title", "标题", 200)?,
            content: long_text(content, "content", "内容", 100_000)?,
            author: text_field(author, "author", "作者", 50)?,
            imgsrc: imgsrc.trim().to_owned(),
            created_at: self.clock.now().millis(),
        };
        if row.imgsrc.len() > 1000 {
            return Err(Error::invalid("imgsrc", "图片地址过长"));
        }
        store::insert_article(self.store.pool(), &row).await?;
        Ok(row.into())
    }

    /// Every article of every channel (operators).
    pub async fn all_articles(&self) -> Result<Vec<Article>> {
        Ok(store::articles(self.store.pool(), None)
            .await?
            .into_iter()
            .map(Article::from)
            .collect())
    }

    pub async fn delete_article(&self, id: &str) -> Result<()> {
        if !store::delete_article(self.store.pool(), id).await? {
            return Err(Error::NotFound(Entity::Article));
        }
        Ok(())
    }

    /// Adds a guide entry at `position` (the end when `None`).
    pub async fn create_guide_entry(
        &self,
        question: &str,
        answer: &str,
        position: Option<i64>,
    ) -> Result<GuideEntry> {
        let position = match position {
            Some(p) => p,
            None => store::guide(self.store.pool())
                .await?
                .iter()
                .map(|g| g.position.saturating_add(1))
                .max()
                .unwrap_or(1),
        };
        let row = GuideRow {
            id: ids::random_hex_id(),
            question: text_field(question, "question", "问题", 500)?,
            answer: long_text(answer, "answer", "答案", 20_000)?,
            position,
        };
        store::insert_guide(self.store.pool(), &row, self.clock.now().millis()).await?;
        Ok(GuideEntry {
            id: row.id,
            question: row.question,
            answer: row.answer,
            position: row.position,
        })
    }

    pub async fn delete_guide_entry(&self, id: &str) -> Result<()> {
        if !store::delete_guide(self.store.pool(), id).await? {
            return Err(Error::NotFound(Entity::GuideEntry));
        }
        Ok(())
    }

    /// Adds a contract between a registered enterprise and a company.
    pub async fn create_contract(&self, input: &ContractInput) -> Result<Contract> {
        let contract_id = text_field(&input.contract_id, "contract_id", "合同编号", 64)?;
        let code = CreditCode::parse(&input.credit_code, "credit_code")?;
        store::enterprise(self.store.pool(), code.as_str())
            .await?
            .ok_or(Error::NotFound(Entity::Enterprise))?;
        store::company(self.store.pool(), input.company_id.trim())
            .await?
            .ok_or(Error::NotFound(Entity::RetailCompany))?;
        let state = match input.state.trim() {
            "fullfill" | "notfullfill" => input.state.trim().to_owned(),
            _ => {
                return Err(Error::invalid(
                    "state",
                    "state 须为 fullfill 或 notfullfill",
                ));
            }
        };
        if input.elec_number < 0 {
            return Err(Error::invalid("elec_number", "电量不能为负"));
        }
        let mut files = Vec::new();
        for f in &input.files {
            files.push(text_field(f, "files", "附件名", 200)?);
        }
        let sign_date = date(&input.sign_date, "sign_date")?;
        let expire_date = date(&input.expire_date, "expire_date")?;
        if expire_date < sign_date {
            return Err(Error::invalid("expire_date", "到期日期早于签订日期"));
        }
        let row = ContractRow {
            contract_id,
            enterprise_code: code.as_str().to_owned(),
            company_id: input.company_id.trim().to_owned(),
            title: text_field(&input.title, "title", "合同标题", 200)?,
            content: long_text(&input.content, "content", "合同内容", 200_000)?,
            files: serde_json::to_string(&files).map_err(Error::internal)?,
            state,
            elec_number: input.elec_number,
            sign_date,
            expire_date,
            party_a: String::new(),
            party_b: String::new(),
        };
        if !store::insert_contract(self.store.pool(), &row, self.clock.now().millis()).await? {
            return Err(Error::Conflict(Entity::Contract));
        }
        store::contracts(self.store.pool(), Some(code.as_str()))
            .await?
            .into_iter()
            .find(|c| c.contract_id == row.contract_id)
            .map(Contract::from)
            .ok_or(Error::NotFound(Entity::Contract))
    }

    /// Changes a contract's state, attached file names and/or expiry date (operators).
    pub async fn update_contract(
        &self,
        contract_id: &str,
        state: Option<&str>,
        files: Option<&[String]>,
        expire_date: Option<&str>,
    ) -> Result<Contract> {
        let contract_id = text_field(contract_id, "contract_id", "合同编号", 64)?;
        let state = match state.map(str::trim) {
            Some(s @ ("fullfill" | "notfullfill")) => Some(s),
            Some(_) => {
                return Err(Error::invalid(
                    "state",
                    "state 须为 fullfill 或 notfullfill",
                ));
            }
            None => None,
        };
        let files = match files {
            Some(list) => {
                let mut clean = Vec::new();
                for f in list {
                    clean.push(text_field(f, "files", "附件名", 200)?);
                }
                Some(serde_json::to_string(&clean).map_err(Error::internal)?)
            }
            None => None,
        };
        let expire = expire_date.map(|d| date(d, "expire_date")).transpose()?;
        if !store::update_contract(
            self.store.pool(),
            &contract_id,
            state,
            files.as_deref(),
            expire.as_deref(),
        )
        .await?
        {
            return Err(Error::NotFound(Entity::Contract));
        }
        self.contract(&contract_id).await
    }

    /// One contract (operators).
    pub async fn contract(&self, contract_id: &str) -> Result<Contract> {
        store::contract(self.store.pool(), contract_id)
            .await?
            .map(Contract::from)
            .ok_or(Error::NotFound(Entity::Contract))
    }

    /// Every contract (operators).
    pub async fn all_contracts(&self) -> Result<Vec<Contract>> {
        Ok(store::contracts(self.store.pool(), None)
            .await?
            .into_iter()
            .map(Contract::from)
            .collect())
    }

    /// Sets an enterprise's use for one month (kWh, at most four decimals).
    pub async fn put_monthly_use(
        &self,
        credit_code: &str,
        year: i64,
        month: i64,
        number: &str,
    ) -> Result<()> {
        let code = CreditCode::parse(credit_code, "credit_code")?;
        if !(2000..=2100).contains(&year) || !(1..=12).contains(&month) {
            return Err(Error::invalid("month", "year 2000-2100 and month 1-12"));
        }
        let q = quantity(number, "number")?;
        if q < 0 {
            return Err(Error::invalid("number", "用电量不能为负"));
        }
        store::enterprise(self.store.pool(), code.as_str())
            .await?
            .ok_or(Error::NotFound(Entity::Enterprise))?;
        store::put_monthly_use(self.store.pool(), code.as_str(), year, month, q).await?;
        Ok(())
    }

    /// Adds a settlement bill of a registered enterprise (unconfirmed).
    pub async fn create_settlement_bill(&self, input: &BillInput) -> Result<SettlementBill> {
        let code = CreditCode::parse(&input.credit_code, "credit_code")?;
        store::enterprise(self.store.pool(), code.as_str())
            .await?
            .ok_or(Error::NotFound(Entity::Enterprise))?;
        let id = match input.id.as_deref().map(str::trim) {
            Some(id) if !id.is_empty() => text_field(id, "id", "账单编号", 64)?,
            _ => ids::random_hex_id(),
        };
        let user_benefits = Fen::parse_yuan(&input.user_benefits)
            .ok_or_else(|| Error::invalid("user_benefits", "须为金额，最多两位小数"))?;
        let mut f = [0i64; 9];
        for (i, name) in BILL_FIGURES.iter().enumerate() {
            f[i] = quantity(&input.figures[i], name)?;
        }
        let row = BillRow {
            id,
            enterprise_code: code.as_str().to_owned(),
            bill_date: date(&input.date, "date")?,
            elec_use_date: date(&input.elec_use_date, "elec_use_date")?,
            user_benefits: user_benefits.0,
            settle_number: f[0],
            actual_elec_use: f[1],
            declare_elec_number: f[2],
            decompose_elec_number: f[3],
            consultation_earn: f[4],
            assign_elec_number: f[5],
            bid_income: f[6],
            check_elec_number: f[7],
            check_bill: f[8],
            confirmer: None,
            confirm_date: None,
            username: String::new(),
        };
        if !store::insert_bill(self.store.pool(), &row, self.clock.now().millis()).await? {
            return Err(Error::Conflict(Entity::SettlementBill));
        }
        self.settlement_bill(&row.id).await
    }

    pub async fn settlement_bill(&self, id: &str) -> Result<SettlementBill> {
        store::bill(self.store.pool(), id)
            .await?
            .map(SettlementBill::from)
            .ok_or(Error::NotFound(Entity::SettlementBill))
    }

    /// Every settlement bill (operators).
    pub async fn all_settlement_bills(&self) -> Result<Vec<SettlementBill>> {
        Ok(store::bills(self.store.pool(), None)
            .await?
            .into_iter()
            .map(SettlementBill::from)
            .collect())
    }

    /// Confirms a bill once: who confirmed it and on which date (today when `None`).
    pub async fn confirm_settlement_bill(
        &self,
        id: &str,
        confirmer: &str,
        on: Option<&str>,
    ) -> Result<SettlementBill> {
        let confirmer = text_field(confirmer, "confirmer", "确认人", 50)?;
        let on = match on.map(str::trim).filter(|d| !d.is_empty()) {
            Some(d) => date(d, "confirm_date")?,
            None => self.clock.now().local_date(self.settings.zone),
        };
        self.settlement_bill(id).await?;
        if !store::confirm_bill(self.store.pool(), id, &confirmer, &on).await? {
            return Err(Error::State("该账单已确认".into()));
        }
        self.settlement_bill(id).await
    }
}
