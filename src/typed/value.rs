//! How typed values are stored: the [`Value`] trait and its implementations for the standard
//! types (DESIGN.md, "Typed tables").

use crate::error::{Error, Result};

/// A type a typed table stores. Implement it for your own types: `encode` appends the bytes,
/// `decode` reads back what `encode` wrote (and must return an error, never panic, for
/// other bytes), `type_name` names the encoding in the catalog.
pub trait Value {
    /// What a read gives: borrowed from the page where the type allows (`&'a str` for
    /// `&str`), owned otherwise.
    type SelfType<'a>
    where
        Self: 'a;
    /// Appends the encoding of `value` to `out`.
    fn encode(value: &Self::SelfType<'_>, out: &mut Vec<u8>) -> Result<()>;
    /// Reads back what `encode` wrote: [`Error::InvalidEncoding`] for other bytes.
    fn decode<'a>(bytes: &'a [u8]) -> Result<Self::SelfType<'a>>
    where
        Self: 'a;
    /// The encoding's name, recorded in the catalog: a table opened with a type of another
    /// name gives [`Error::TableTypeMismatch`]. Types that encode alike share a name
    /// (`&str` and `String` are both `str`).
    fn type_name() -> String;
}

/// The error for bytes `T` never writes.
pub(crate) fn invalid<T: Value + ?Sized>(reason: impl Into<String>) -> Error {
    Error::InvalidEncoding {
        type_name: T::type_name(),
        reason: reason.into(),
    }
}

/// Exactly `N` bytes, or the error for `T`.
pub(crate) fn fixed<T: Value + ?Sized, const N: usize>(bytes: &[u8]) -> Result<[u8; N]> {
    bytes
        .try_into()
        .map_err(|_| invalid::<T>(format!("{} bytes, expected {N}", bytes.len())))
}

impl Value for &str {
    type SelfType<'a>
        = &'a str
    where
        Self: 'a;

    fn encode(value: &&str, out: &mut Vec<u8>) -> Result<()> {
        out.extend_from_slice(value.as_bytes());
        Ok(())
    }

    fn decode<'a>(bytes: &'a [u8]) -> Result<&'a str>
    where
        Self: 'a,
    {
        std::str::from_utf8(bytes).map_err(|e| invalid::<Self>(e.to_string()))
    }

    fn type_name() -> String {
        "str".into()
    }
}

impl Value for String {
    type SelfType<'a> = String;

    fn encode(value: &String, out: &mut Vec<u8>) -> Result<()> {
        out.extend_from_slice(value.as_bytes());
        Ok(())
    }

    fn decode<'a>(bytes: &'a [u8]) -> Result<String>
    where
        Self: 'a,
    {
        <&str>::decode(bytes).map(str::to_owned)
    }

    fn type_name() -> String {
        "str".into()
    }
}

impl Value for &[u8] {
    type SelfType<'a>
        = &'a [u8]
    where
        Self: 'a;

    fn encode(value: &&[u8], out: &mut Vec<u8>) -> Result<()> {
        out.extend_from_slice(value);
        Ok(())
    }

    fn decode<'a>(bytes: &'a [u8]) -> Result<&'a [u8]>
    where
        Self: 'a,
    {
        Ok(bytes)
    }

    fn type_name() -> String {
        crate::txn::BYTES.into()
    }
}

impl Value for Vec<u8> {
    type SelfType<'a> = Vec<u8>;

    fn encode(value: &Vec<u8>, out: &mut Vec<u8>) -> Result<()> {
        out.extend_from_slice(value);
        Ok(())
    }

    fn decode<'a>(bytes: &'a [u8]) -> Result<Vec<u8>>
    where
        Self: 'a,
    {
        Ok(bytes.to_vec())
    }

    fn type_name() -> String {
        crate::txn::BYTES.into()
    }
}

impl<const N: usize> Value for [u8; N] {
    type SelfType<'a> = [u8; N];

    fn encode(value: &[u8; N], out: &mut Vec<u8>) -> Result<()> {
        out.extend_from_slice(value);
        Ok(())
    }

    fn decode<'a>(bytes: &'a [u8]) -> Result<[u8; N]>
    where
        Self: 'a,
    {
        fixed::<Self, N>(bytes)
    }

    fn type_name() -> String {
        format!("[u8;{N}]")
    }
}

impl Value for bool {
    type SelfType<'a> = bool;

    fn encode(value: &bool, out: &mut Vec<u8>) -> Result<()> {
        out.push(u8::from(*value));
        Ok(())
    }

    fn decode<'a>(bytes: &'a [u8]) -> Result<bool>
    where
        Self: 'a,
    {
        match bytes {
            [0] => Ok(false),
            [1] => Ok(true),
            _ => Err(invalid::<Self>(format!("bytes {bytes:?}"))),
        }
    }

    fn type_name() -> String {
        "bool".into()
    }
}

impl Value for () {
    type SelfType<'a> = ();

    fn encode(_: &(), _: &mut Vec<u8>) -> Result<()> {
        Ok(())
    }

    fn decode<'a>(bytes: &'a [u8]) -> Result<()>
    where
        Self: 'a,
    {
        match bytes.is_empty() {
            true => Ok(()),
            false => Err(invalid::<Self>(format!(
                "{} bytes, expected 0",
                bytes.len()
            ))),
        }
    }

    fn type_name() -> String {
        "()".into()
    }
}

/// Unsigned integers: big-endian, so bytewise order is numeric order.
macro_rules! unsigned {
    ($($t:ty => $name:literal),*) => {$(
        impl Value for $t {
            type SelfType<'a> = $t;

            fn encode(value: &$t, out: &mut Vec<u8>) -> Result<()> {
                out.extend_from_slice(&value.to_be_bytes());
                Ok(())
            }

            fn decode<'a>(bytes: &'a [u8]) -> Result<$t>
            where
                Self: 'a,
            {
                Ok(<$t>::from_be_bytes(fixed::<Self, { size_of::<$t>() }>(bytes)?))
            }

            fn type_name() -> String {
                $name.into()
            }
        }
    )*};
}

unsigned!(u8 => "u8", u16 => "u16", u32 => "u32", u64 => "u64", u128 => "u128");

/// Signed integers: big-endian with the sign bit flipped, so bytewise order is numeric
/// order (negative numbers first).
macro_rules! signed {
    ($($t:ty => $u:ty, $name:literal),*) => {$(
        impl Value for $t {
            type SelfType<'a> = $t;

            fn encode(value: &$t, out: &mut Vec<u8>) -> Result<()> {
                let flipped = (*value as $u) ^ (1 << (<$u>::BITS - 1));
                out.extend_from_slice(&flipped.to_be_bytes());
                Ok(())
            }

            fn decode<'a>(bytes: &'a [u8]) -> Result<$t>
            where
                Self: 'a,
            {
                let raw = <$u>::from_be_bytes(fixed::<Self, { size_of::<$t>() }>(bytes)?);
                Ok((raw ^ (1 << (<$u>::BITS - 1))) as $t)
            }

            fn type_name() -> String {
                $name.into()
            }
        }
    )*};
}

signed!(i8 => u8, "i8", i16 => u16, "i16", i32 => u32, "i32", i64 => u64, "i64", i128 => u128, "i128");

/// `usize` and `isize` are stored as 64-bit integers, the same on every platform.
impl Value for usize {
    type SelfType<'a> = usize;

    fn encode(value: &usize, out: &mut Vec<u8>) -> Result<()> {
        u64::encode(&(*value as u64), out)?;
        Ok(())
    }

    fn decode<'a>(bytes: &'a [u8]) -> Result<usize>
    where
        Self: 'a,
    {
        usize::try_from(u64::decode(bytes)?).map_err(|e| invalid::<Self>(e.to_string()))
    }

    fn type_name() -> String {
        u64::type_name()
    }
}

impl Value for isize {
    type SelfType<'a> = isize;

    fn encode(value: &isize, out: &mut Vec<u8>) -> Result<()> {
        i64::encode(&(*value as i64), out)?;
        Ok(())
    }

    fn decode<'a>(bytes: &'a [u8]) -> Result<isize>
    where
        Self: 'a,
    {
        isize::try_from(i64::decode(bytes)?).map_err(|e| invalid::<Self>(e.to_string()))
    }

    fn type_name() -> String {
        i64::type_name()
    }
}

/// `None` is one 0 byte; `Some(v)` a 1 byte, then `v`. As a key, `None` sorts first.
impl<T: Value> Value for Option<T> {
    type SelfType<'a>
        = Option<T::SelfType<'a>>
    where
        Self: 'a;

    fn encode(value: &Self::SelfType<'_>, out: &mut Vec<u8>) -> Result<()> {
        match value {
            None => out.push(0),
            Some(inner) => {
                out.push(1);
                T::encode(inner, out)?;
            }
        }
        Ok(())
    }

    fn decode<'a>(bytes: &'a [u8]) -> Result<Self::SelfType<'a>>
    where
        Self: 'a,
    {
        match bytes.split_first() {
            Some((0, [])) => Ok(None),
            Some((1, rest)) => T::decode(rest).map(Some),
            _ => Err(invalid::<Self>("no 0 or 1 tag")),
        }
    }

    fn type_name() -> String {
        format!("Option<{}>", T::type_name())
    }
}
