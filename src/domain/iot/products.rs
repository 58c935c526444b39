//! Products (section 三, AC-01..AC-07): AC-02's whole configuration (prices, services, rent
//! plans, commission rates, specification with filters and flowmeter), checked and kept.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::listing::{self, List, ListRequest, Listed, Scope};
use super::model::Product;
use super::shared::Shared;
use super::{Caller, Fields, PLATFORM_CODE, Range, money_json, money_of};
use crate::domain::money::Fen;
use crate::domain::{Clock, Entity, Error, Result};
use crate::store::Store;
use crate::store::iot::{self as store, ProductRow};

/// Money fields of a product (yuan).
const MONEY: [&str; 5] = [
    "price",
    "freight",
    "install_cost",
    "maintain_cost",
    "orig_price",
];

fn bad(field: &'static str, message: &str) -> Error {
    Error::invalid(field, message.to_owned())
}

/// `{"name", "key", "value"}` lists (rent plans, flowmeter settings); `money` for yuan values.
fn check_pairs(v: &Value, field: &'static str, money: bool) -> Result<Value> {
    let list = v
        .as_array()
        .ok_or_else(|| bad(field, "must be a list of {name, key, value}"))?;
    let mut out = Vec::new();
    let mut keys = Vec::new();
    for item in list {
        let f = Fields(
            item.as_object()
                .cloned()
                .ok_or_else(|| bad(field, "each item is {name, key, value}"))?,
        );
        let key = f
            .required("key", 32)
            .map_err(|_| bad(field, "each item needs a key"))?;
        if keys.contains(&key) {
            return Err(Error::invalid(field, format!("key {key} appears twice")));
        }
        keys.push(key.clone());
        let name = f.text("name", 64)?.unwrap_or_default();
        let value = if money {
            money_json(
                f.money("value")?
                    .ok_or_else(|| bad(field, "each plan needs a value in yuan"))?,
            )
        } else {
            Value::from(
                f.int("value", 0, 1_000_000)?
                    .ok_or_else(|| bad(field, "each item needs a value"))?,
            )
        };
        out.push(serde_json::json!({"name": name, "key": key, "value": value}));
    }
    Ok(Value::Array(out))
}

/// The specification: mode, filters (order, name, timer_mode 0-2, lifetime, worklife in
/// hours) and flowmeter (measure_mode 0-2, outlet settings).
pub fn check_specification(v: &Value) -> Result<Value> {
    let f = Fields(
        v.as_object()
            .cloned()
            .ok_or_else(|| bad("specification", "must be an object"))?,
    );
    let mut out = Map::new();
    out.insert(
        "mode".into(),
        Value::from(f.int("mode", 0, 255)?.unwrap_or(0)),
    );
    let mut filters = Vec::new();
    for (i, item) in f.array("filters")?.unwrap_or_default().iter().enumerate() {
        let g = Fields(
            item.as_object()
                .cloned()
                .ok_or_else(|| bad("filters", "each filter is an object"))?,
        );
        filters.push(serde_json::json!({
            "order": g.int("order", 0, 100)?.unwrap_or(i as i64 + 1),
            "name": g.required("name", 64).map_err(|_| bad("filters", "each filter needs a name"))?,
            "timer_mode": g.int("timer_mode", 0, 2)?.unwrap_or(0),
            "lifetime": g.int("lifetime", 0, 1_000_000)?.unwrap_or(0),
            "worklife": g.int("worklife", 0, 1_000_000)?.unwrap_or(0),
        }));
    }
    out.insert("filters".into(), Value::Array(filters));
    if let Some(fm) = f.object("flowmeter")? {
        let g = Fields(fm);
        let config = match g.get("config") {
            Some(c) => check_pairs(c, "flowmeter", false)?,
            None => Value::Array(vec![]),
        };
        out.insert(
            "flowmeter".into(),
            serde_json::json!({"measure_mode": g.int("measure_mode", 0, 2)?.unwrap_or(0), "config": config}),
        );
    }
    Ok(Value::Object(out))
}

/// Checks a product's configuration (AC-02), merged over `base` (AC-04); returns it with
/// money in canonical yuan.
pub fn check_product(f: &Fields, mut doc: Map<String, Value>) -> Result<Map<String, Value>> {
    for key in ["name", "desc", "tags", "notify_url"] {
        if let Some(v) = f.text(key, if key == "desc" { 2000 } else { 256 })? {
            doc.insert(key.into(), Value::String(v));
        }
    }
    if doc
        .get("name")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(bad("name", "name is required"));
    }
    if let Some(t) = f.int("type", 1, 2)? {
        doc.insert("type".into(), Value::from(t));
    }
    doc.entry("type").or_insert(Value::from(1));
    for (key, max) in [("state", 255), ("sequence", 1_000_000)] {
        if let Some(v) = f.int(key, 0, max)? {
            doc.insert(key.into(), Value::from(v));
        }
        doc.entry(key).or_insert(Value::from(0));
    }
    for key in ["bonus", "install", "maintain"] {
        if let Some(v) = f.bool(key)? {
            doc.insert(key.into(), Value::Bool(v));
        }
        doc.entry(key).or_insert(Value::Bool(false));
    }
    if !f.has("price") && !doc.contains_key("price") {
        return Err(bad("price", "price is required"));
    }
    for key in MONEY {
        if let Some(v) = f.money(key)? {
            doc.insert(key.into(), money_json(v));
        }
        doc.entry(key).or_insert(Value::from(0));
    }
    if let Some(r) = f.object("resource")? {
        doc.insert("resource".into(), Value::Object(r));
    }
    if let Some(rent) = f.object("rent")? {
        let g = Fields(rent);
        let config = match g.get("config") {
            Some(c) => check_pairs(c, "rent", true)?,
            None => Value::Array(vec![]),
        };
        doc.insert(
            "rent".into(),
            serde_json::json!({"deposit": money_json(g.money("deposit")?.unwrap_or(Fen(0))), "config": config}),
        );
    }
    if let Some(commis) = f.object("commis")? {
        let g = Fields(commis);
        let mut rates = Vec::new();
        for v in g.array("config")?.unwrap_or_default() {
            let rate = crate::domain::money::parse_fixed(v.to_string().trim_matches('"'), 2)
                .filter(|r| (0..=10_000).contains(r))
                .ok_or_else(|| bad("commis", "each commission rate is a percent from 0 to 100"))?;
            rates.push(rate);
        }
        if rates.len() > 3 {
            return Err(bad("commis", "commissions go to three levels at most"));
        }
        if rates.iter().sum::<i64>() > 10_000 {
            return Err(bad(
                "commis",
                "the commission rates add up to more than 100 percent",
            ));
        }
        doc.insert(
            "commis".into(),
            serde_json::json!({
                "enabled": g.bool("enabled")?.unwrap_or(true),
                "config": rates.iter().map(|r| money_json(Fen(*r))).collect::<Vec<_>>(),
            }),
        );
    }
    if let Some(spec) = f.get("specification") {
        doc.insert("specification".into(), check_specification(spec)?);
    }
    Ok(doc)
}

/// A product's price of one unit, freight, install cost (when it is installed), and commission
/// rates in hundredths of a percent.
pub struct Pricing {
    pub price: Fen,
    pub freight: Fen,
    pub install: Option<Fen>,
    pub rates: Vec<i64>,
    pub name: String,
}

impl Pricing {
    pub fn of(doc: &Map<String, Value>, rent_key: Option<&str>) -> Result<Pricing> {
        let money = |k: &str| doc.get(k).and_then(money_of).unwrap_or(Fen(0));
        let price = match rent_key {
            None => money("price"),
            Some(key) => {
                let rent = doc.get("rent").cloned().unwrap_or(Value::Null);
                let plan = rent
                    .get("config")
                    .and_then(Value::as_array)
                    .and_then(|plans| {
                        plans
                            .iter()
                            .find(|p| p.get("key").and_then(Value::as_str) == Some(key))
                    })
                    .ok_or_else(|| {
                        Error::invalid("rent", format!("the product has no rent plan {key}"))
                    })?;
                let value = plan.get("value").and_then(money_of).unwrap_or(Fen(0));
                let deposit = rent.get("deposit").and_then(money_of).unwrap_or(Fen(0));
                Fen(value.0 + deposit.0)
            }
        };
        let commis = doc.get("commis");
        let rates = if commis
            .and_then(|c| c.get("enabled"))
            .and_then(Value::as_bool)
            == Some(true)
        {
            commis
                .and_then(|c| c.get("config"))
                .and_then(Value::as_array)
                .map(|a| a.iter().map(|v| money_of(v).map_or(0, |f| f.0)).collect())
                .unwrap_or_default()
        } else {
            vec![]
        };
        Ok(Pricing {
            price,
            freight: money("freight"),
            install: (doc.get("install").and_then(Value::as_bool) == Some(true))
                .then(|| money("install_cost")),
            rates,
            name: doc
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        })
    }
}

/// Whether a product is the caller's vendor's (every product is the platform's).
fn sees(caller: &Caller, p: &Product) -> bool {
    caller.vendor_filter().is_none_or(|v| v == p.vid)
}

/// The catalog: the vendors' products.
pub struct Catalog {
    store: Store,
    clock: Clock,
    shared: Arc<Shared>,
}

impl Catalog {
    pub fn new(shared: Arc<Shared>) -> Catalog {
        Catalog {
            store: shared.store.clone(),
            clock: shared.clock.clone(),
            shared,
        }
    }

    /// AC-01: the products of the caller's vendor (every vendor's for the platform).
    pub async fn list(&self, caller: &Caller, req: &ListRequest) -> Result<Listed<Product>> {
        caller.require(Range::Anyone)?;
        let planned = listing::plan(List::Products, Scope::vendor_of(caller), req);
        listing::run::<ProductRow, _>(&self.store, planned).await
    }

    /// AC-03 and the product checks of the others.
    pub async fn get(&self, caller: &Caller, pid: &str) -> Result<Product> {
        caller.require(Range::Anyone)?;
        let row = store::product(self.store.pool(), pid)
            .await?
            .map(Product::from)
            .filter(|p| sees(caller, p))
            .ok_or(Error::NotFound(Entity::Product))?;
        if row.deleted_at.is_some() {
            return Err(Error::Gone(Entity::Product));
        }
        Ok(row)
    }

    /// AC-02: a vendor's new product (the platform names the vendor with `vid`).
    pub async fn create(&self, caller: &Caller, f: &Fields) -> Result<Product> {
        caller.require(Range::Brand)?;
        let vid = match caller.vid.clone() {
            Some(v) => v,
            None => f
                .required("vid", 32)
                .or_else(|_| f.required("vendor_id", 32))?,
        };
        let code = self
            .shared
            .vendor_code(Some(&vid))
            .await
            .map_err(|_| Error::invalid("vid", "vid is not a vendor"))?;
        if code == PLATFORM_CODE {
            return Err(Error::invalid("vid", "vid is not a vendor"));
        }
        let doc = check_product(f, Map::new())?;
        let mut tx = self.store.begin_write().await?;
        let pid = self.shared.id(&mut tx, &code, "product").await?;
        let row = Product {
            pid,
            vid,
            doc,
            created_at: self.clock.now().millis(),
            deleted_at: None,
        };
        store::insert_product(&mut tx, &ProductRow::from(&row)).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// AC-04: changes the fields given (checked as on creation).
    pub async fn update(&self, caller: &Caller, pid: &str, f: &Fields) -> Result<Product> {
        caller.require(Range::Brand)?;
        let mut row = self.get(caller, pid).await?;
        let doc = check_product(f, row.doc.clone())?;
        row.doc = doc;
        store::update_product(self.store.pool(), &ProductRow::from(&row)).await?;
        Ok(row)
    }

    /// AC-06: replaces the specification (the body is the specification, or holds it under
    /// `specification`).
    pub async fn update_prof(&self, caller: &Caller, pid: &str, f: &Fields) -> Result<Product> {
        caller.require(Range::Brand)?;
        let mut row = self.get(caller, pid).await?;
        let spec = match f.get("specification") {
            Some(s) => check_specification(s)?,
            None => check_specification(&Value::Object(f.0.clone()))?,
        };
        let mut doc = row.doc.clone();
        doc.insert("specification".into(), spec);
        row.doc = doc;
        store::update_product(self.store.pool(), &ProductRow::from(&row)).await?;
        Ok(row)
    }

    /// AC-07: deletes a product (orders keep what they bought).
    pub async fn delete(&self, caller: &Caller, pid: &str) -> Result<()> {
        caller.require(Range::Brand)?;
        let mut row = self.get(caller, pid).await?;
        row.deleted_at = Some(self.clock.now().millis());
        store::update_product(self.store.pool(), &ProductRow::from(&row)).await?;
        Ok(())
    }
}
