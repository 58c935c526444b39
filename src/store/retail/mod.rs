//! SQL of the electricity retail business hall (seed 000), by topic: [`accounts`] (companies,
//! enterprises, users, tokens, bindings), [`content`] (articles, the guide), [`records`] (an
//! enterprise's contracts, monthly use, plans and settlement bills) and [`feedback`].
//!
//! Every item is re-exported here, so callers write `store::retail::user_by_phone`.

pub mod accounts;
pub mod console;
pub mod content;
pub mod feedback;
pub mod records;

pub use accounts::*;
pub use content::*;
pub use feedback::*;
pub use records::*;
