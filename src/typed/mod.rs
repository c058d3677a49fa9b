//! Typed tables: keys and values of Rust types over the byte tables, in encodings whose
//! bytewise order is the type's order (DESIGN.md, "Typed tables").

mod definition;
mod key;
#[cfg(feature = "serde")]
mod serde;
mod table;
mod value;

pub use definition::TableDefinition;
pub use key::{Element, Key};
#[cfg(feature = "serde")]
pub use serde::Postcard;
pub use table::{TypedRange, TypedReadTable, TypedTable};
pub use value::Value;
