//! SQL of the IoT platform (seed 002), by topic: [`parties`] and their tokens and serials,
//! [`devices`] and their shares, [`products`], [`orders`], [`tickets`], [`commissions`] with
//! withdrawals, vendors' [`signings`], and [`lists`].
//!
//! Rows are read whole and written whole; a state change is a conditional update on the state
//! it expects, so two requests racing on one object cannot both move it. Each row's written
//! columns are bound by one function, used by its insertion and its update alike.

pub mod commissions;
pub mod console;
pub mod devices;
pub mod link;
pub mod lists;
pub mod orders;
pub mod parties;
pub mod products;
pub mod signings;
pub mod tickets;

pub use commissions::*;
pub use devices::*;
pub use lists::*;
pub use orders::*;
pub use parties::*;
pub use products::*;
pub use signings::*;
pub use tickets::*;

/// A statement being bound.
type Query<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// `$from, $from+1, ...`: `n` placeholders.
fn marks(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `column = $from, ...`: the columns assigned placeholders from `from` on.
fn assignments(from: usize, columns: &[&str]) -> String {
    columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ${}", from + i))
        .collect::<Vec<_>>()
        .join(", ")
}
