//! Values of any serde type, in postcard's compact format (feature `serde`).

use super::value::{Value, invalid};
use crate::error::Result;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::marker::PhantomData;

/// A typed-table value of any type serde can serialize, stored in the
/// [postcard](https://docs.rs/postcard) format (compact, varint-encoded, no field names):
/// `TableDefinition<u64, Postcard<Order>>`. Reads decode into an owned `T`. Not a key type:
/// postcard's bytes do not order as the values do.
///
/// The catalog records the format's name, `postcard`, not `T`'s: the type check catches a
/// table of another format, not a change to `T`'s fields (serde's own rules for evolving a
/// type apply).
pub struct Postcard<T>(PhantomData<fn() -> T>);

impl<T> std::fmt::Debug for Postcard<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Postcard")
    }
}

impl<T: Serialize + DeserializeOwned> Value for Postcard<T> {
    type SelfType<'a>
        = T
    where
        Self: 'a;

    fn encode(value: &T, out: &mut Vec<u8>) -> Result<()> {
        let bytes = postcard::to_allocvec(value).map_err(|e| invalid::<Self>(e.to_string()))?;
        out.extend_from_slice(&bytes);
        Ok(())
    }

    fn decode<'a>(bytes: &'a [u8]) -> Result<T>
    where
        Self: 'a,
    {
        postcard::from_bytes(bytes).map_err(|e| invalid::<Self>(e.to_string()))
    }

    fn type_name() -> String {
        "postcard".into()
    }
}
