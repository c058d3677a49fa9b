//! Typed tables: keys and values of Rust types over the byte tables, in encodings whose
//! bytewise order is the type's order (DESIGN.md, "Typed tables").

mod definition;
mod key;
mod table;
mod value;

pub use definition::TableDefinition;
pub use key::{Element, Key};
pub use table::{TypedRange, TypedReadTable, TypedTable};
pub use value::Value;
