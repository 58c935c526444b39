//! Lists done in the database (section 3.3): the caller's range, field filters, sort and
//! window become SQL when every field named is one the rows keep in a column of their own;
//! otherwise the surface filters the rendered objects itself. Each service plans its own
//! lists with these.

use super::{Caller, Role};
use crate::store::iot::{Bind, Page};

/// What a client asked of a list.
#[derive(Debug, Clone, Default)]
pub struct ListSpec {
    pub filters: Vec<(String, String)>,
    pub sort: Option<String>,
    pub descending: bool,
    pub limit: i64,
    pub offset: i64,
}

/// A document field kept in a column: (field, column, whether it is an integer).
pub(super) type Field = (&'static str, &'static str, bool);

pub(super) const USER_FIELDS: &[Field] = &[
    ("uid", "uid", false),
    ("mobile", "mobile", false),
    ("state", "state", true),
    ("type", "type", true),
    ("rid", "rid", false),
    ("vid", "vid", false),
    ("reg_tms", "reg_at", true),
];
pub(super) const DEVICE_FIELDS: &[Field] = &[
    ("device_id", "did", false),
    ("user_id", "uid", false),
    ("vendor_id", "vid", false),
    ("state", "state", true),
    ("type", "type", true),
    ("reg_tms", "reg_at", true),
];
pub(super) const PRODUCT_FIELDS: &[Field] = &[
    ("prod_id", "pid", false),
    ("product_id", "pid", false),
    ("vid", "vid", false),
    ("create_tms", "created_at", true),
];
pub(super) const ORDER_FIELDS: &[Field] = &[
    ("order_id", "oid", false),
    ("user_id", "uid", false),
    ("vid", "vid", false),
    ("state", "state", false),
    ("create_tms", "created_at", true),
];
pub(super) const TICKET_FIELDS: &[Field] = &[
    ("ticket_id", "tid", false),
    ("user_id", "uid", false),
    ("device_id", "device_id", false),
    ("order_id", "order_id", false),
    ("vid", "vid", false),
    ("status", "status", true),
    ("type", "type", true),
    ("create_tms", "created_at", true),
];

/// The caller's range as conditions (the same rule as [`Caller::sees`]); `owner` is the column
/// of the member an object belongs to.
pub(super) fn range(caller: &Caller, owner: &'static str) -> Vec<(&'static str, Bind)> {
    let vid = Bind::Text(caller.vid.clone().unwrap_or_default());
    let me = Bind::Text(caller.uid.clone());
    match caller.role {
        Role::Platform => vec![],
        Role::Vendor => vec![("vid", vid)],
        Role::Agent => vec![("vid", vid), ("agent", me)],
        Role::Dealer => vec![("vid", vid), ("dealer", me)],
        Role::Member => vec![("vid", vid), (owner, me)],
    }
}

/// The SQL page for `spec`, or none when it names a field without a column.
pub(super) fn plan(
    mut conditions: Vec<(&'static str, Bind)>,
    spec: &ListSpec,
    fields: &[Field],
    order: &str,
    id: &str,
) -> Option<Page> {
    let column = |name: &str| fields.iter().find(|(f, _, _)| *f == name);
    for (name, value) in &spec.filters {
        let (_, col, int) = column(name)?;
        let bind = if *int {
            Bind::Int(value.trim().parse().ok()?)
        } else {
            Bind::Text(value.clone())
        };
        // A time filter compares the rendered text: leave it to the surface.
        if name.ends_with("_tms") {
            return None;
        }
        conditions.push((col, bind));
    }
    let direction = if spec.descending { "DESC" } else { "ASC" };
    let order = match &spec.sort {
        None => format!("{order} {direction}, {id} {direction}"),
        Some(s) => format!("{} {direction}, {id} {direction}", column(s)?.1),
    };
    Some(Page {
        conditions,
        order,
        limit: spec.limit,
        offset: spec.offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_fields_with_columns_go_to_sql() {
        let spec = ListSpec {
            filters: vec![("state".into(), "paid".into())],
            sort: Some("create_tms".into()),
            descending: true,
            limit: 20,
            offset: 0,
        };
        let p = plan(vec![], &spec, ORDER_FIELDS, "created_at", "oid").expect("planned");
        assert_eq!(p.order, "created_at DESC, oid DESC");
        assert_eq!(p.conditions.len(), 1);
        let spec = ListSpec {
            filters: vec![("memo".into(), "x".into())],
            ..spec
        };
        assert!(plan(vec![], &spec, ORDER_FIELDS, "created_at", "oid").is_none());
        let spec = ListSpec {
            filters: vec![("state".into(), "x".into())],
            ..Default::default()
        };
        assert!(
            plan(vec![], &spec, USER_FIELDS, "reg_at", "uid").is_none(),
            "state is an integer"
        );
    }
}
