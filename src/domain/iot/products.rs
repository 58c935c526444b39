//! Products (section 三, AC-01..AC-07): AC-02's whole configuration (prices, services, rent
//! plans, commission rates, specification with filters and flowmeter), checked and kept.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::listing::{self, List, ListRequest, Listed, Scope};
use super::model::{Object, Product};
use super::shared::Shared;
use super::{Caller, Input, PLATFORM_CODE, Range, money_json, money_of};
use crate::domain::money::Fen;
use crate::domain::{Clock, Entity, Error, Result};
use crate::store::Store;
use crate::store::iot::{self as store, ProductRow};

/// AC-02's configuration, as given: what is set (AC-04 changes only these).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProductFields {
    pub name: Option<String>,
    pub desc: Option<String>,
    pub tags: Option<String>,
    pub notify_url: Option<String>,
    /// 1 sold, 2 rented.
    pub ptype: Option<i64>,
    pub state: Option<i64>,
    pub sequence: Option<i64>,
    pub bonus: Option<bool>,
    pub install: Option<bool>,
    pub maintain: Option<bool>,
    pub price: Option<Fen>,
    pub freight: Option<Fen>,
    pub install_cost: Option<Fen>,
    pub maintain_cost: Option<Fen>,
    pub orig_price: Option<Fen>,
    /// Pictures and texts shown with it.
    pub resource: Option<Object>,
    pub rent: Option<Rent>,
    pub commis: Option<Commis>,
    pub specification: Option<Specification>,
}

/// A `{name, key, value}` item (a rent plan, a flowmeter setting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair<V> {
    pub name: String,
    pub key: String,
    pub value: V,
}

/// The rent: a deposit and plans of so many yuan for so many days.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rent {
    pub deposit: Fen,
    pub plans: Vec<Pair<Fen>>,
    /// Metered rentals and vending: the water's price per litre.
    pub price_per_l: Option<Fen>,
    /// Metered rentals: the least charged per period (保底消费).
    pub minimum: Option<Fen>,
}

/// Commission rates of the three levels, in hundredths of a percent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commis {
    pub enabled: bool,
    pub rates: Vec<i64>,
}

/// The specification: mode, filters and flowmeter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Specification {
    pub mode: i64,
    pub filters: Vec<FilterSpec>,
    pub flowmeter: Option<Flowmeter>,
}

/// A filter of the specification: its place, name, timer mode (0-2), lifetime and worklife
/// (hours).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterSpec {
    pub order: i64,
    pub name: String,
    pub timer_mode: i64,
    pub lifetime: i64,
    pub worklife: i64,
}

/// The flowmeter: measure mode (0-2) and outlet settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flowmeter {
    pub measure_mode: i64,
    pub config: Vec<Pair<i64>>,
}

impl Specification {
    /// As the product keeps it.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("mode".into(), Value::from(self.mode));
        let filters = self
            .filters
            .iter()
            .map(|f| {
                serde_json::json!({
                    "order": f.order,
                    "name": f.name,
                    "timer_mode": f.timer_mode,
                    "lifetime": f.lifetime,
                    "worklife": f.worklife,
                })
            })
            .collect();
        out.insert("filters".into(), Value::Array(filters));
        if let Some(fm) = &self.flowmeter {
            let config = fm
                .config
                .iter()
                .map(|p| serde_json::json!({"name": p.name, "key": p.key, "value": p.value}))
                .collect::<Vec<_>>();
            out.insert(
                "flowmeter".into(),
                serde_json::json!({"measure_mode": fm.measure_mode, "config": config}),
            );
        }
        Value::Object(out)
    }
}

fn bad(field: &'static str, message: &str) -> Error {
    Error::invalid(field, message.to_owned())
}

/// A product's configuration: `fields` over what it had (`doc`, empty for a new one), each
/// field not set keeping its value or taking its default; the name and price are required.
pub fn configure(fields: ProductFields, mut doc: Object) -> Result<Object> {
    for (key, value) in [
        ("name", fields.name),
        ("desc", fields.desc),
        ("tags", fields.tags),
        ("notify_url", fields.notify_url),
    ] {
        if let Some(v) = value {
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
    if let Some(t) = fields.ptype {
        doc.insert("type".into(), Value::from(t));
    }
    doc.entry("type").or_insert(Value::from(1));
    for (key, value) in [("state", fields.state), ("sequence", fields.sequence)] {
        if let Some(v) = value {
            doc.insert(key.into(), Value::from(v));
        }
        doc.entry(key).or_insert(Value::from(0));
    }
    for (key, value) in [
        ("bonus", fields.bonus),
        ("install", fields.install),
        ("maintain", fields.maintain),
    ] {
        if let Some(v) = value {
            doc.insert(key.into(), Value::Bool(v));
        }
        doc.entry(key).or_insert(Value::Bool(false));
    }
    if fields.price.is_none() && !doc.contains_key("price") {
        return Err(bad("price", "price is required"));
    }
    for (key, value) in [
        ("price", fields.price),
        ("freight", fields.freight),
        ("install_cost", fields.install_cost),
        ("maintain_cost", fields.maintain_cost),
        ("orig_price", fields.orig_price),
    ] {
        if let Some(v) = value {
            doc.insert(key.into(), money_json(v));
        }
        doc.entry(key).or_insert(Value::from(0));
    }
    if let Some(r) = fields.resource {
        doc.insert("resource".into(), Value::Object(r));
    }
    if let Some(rent) = fields.rent {
        let config = rent
            .plans
            .iter()
            .map(
                |p| serde_json::json!({"name": p.name, "key": p.key, "value": money_json(p.value)}),
            )
            .collect::<Vec<_>>();
        let mut r = serde_json::json!({"deposit": money_json(rent.deposit), "config": config});
        if let Some(p) = rent.price_per_l {
            r["price_per_l"] = money_json(p);
        }
        if let Some(m) = rent.minimum {
            r["minimum"] = money_json(m);
        }
        doc.insert("rent".into(), r);
    }
    if let Some(commis) = fields.commis {
        doc.insert(
            "commis".into(),
            serde_json::json!({
                "enabled": commis.enabled,
                "config": commis.rates.iter().map(|r| money_json(Fen(*r))).collect::<Vec<_>>(),
            }),
        );
    }
    if let Some(spec) = fields.specification {
        doc.insert("specification".into(), spec.to_json());
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

/// AC-02's new product: its vendor (named by the platform) and configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct NewProduct {
    pub vid: Option<String>,
    pub fields: ProductFields,
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
        let row = store::product(&self.store, pid)
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
    pub async fn create(&self, caller: &Caller, new: Input<NewProduct>) -> Result<Product> {
        caller.require(Range::Brand)?;
        let new = new.read()?;
        let vid = match caller.vid.clone() {
            Some(v) => v,
            None => new.vid.unwrap_or_default(),
        };
        let code = self
            .shared
            .vendor_code(Some(&vid))
            .await
            .map_err(|_| Error::invalid("vid", "vid is not a vendor"))?;
        if code == PLATFORM_CODE {
            return Err(Error::invalid("vid", "vid is not a vendor"));
        }
        let doc = configure(new.fields, Object::new())?;
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
    pub async fn update(
        &self,
        caller: &Caller,
        pid: &str,
        fields: Input<ProductFields>,
    ) -> Result<Product> {
        caller.require(Range::Brand)?;
        let mut row = self.get(caller, pid).await?;
        row.doc = configure(fields.read()?, row.doc.clone())?;
        store::update_product(self.store.pool(), &ProductRow::from(&row)).await?;
        Ok(row)
    }

    /// AC-06: replaces the specification.
    pub async fn update_prof(
        &self,
        caller: &Caller,
        pid: &str,
        spec: Input<Specification>,
    ) -> Result<Product> {
        caller.require(Range::Brand)?;
        let mut row = self.get(caller, pid).await?;
        let spec = spec.read()?;
        row.doc.insert("specification".into(), spec.to_json());
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
