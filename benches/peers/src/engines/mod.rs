//! One module per engine, each implementing `crate::engine::Engine` with that engine's documented
//! durable defaults.

pub mod bough;
pub mod lmdb;
pub mod redb;
pub mod sqlite;
