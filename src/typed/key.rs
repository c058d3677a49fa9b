//! Typed keys: encodings whose bytewise order is the type's order, so the tree compares
//! bytes and never calls back into user code (DESIGN.md, "Typed tables").

use super::value::{Value, invalid};
use crate::error::Result;

/// A [`Value`] that can be a key: for any two values, the bytewise order of their encodings
/// is the order of the values. Implement it for your own types only with such an encoding.
pub trait Key: Value {}

/// A key that can stand before other elements in a tuple key: its element encoding is also
/// self-delimiting (no encoding is a prefix of another), so that tuples compare element by
/// element. Fixed-width types are elements as they are; `String` and `Vec<u8>` escape their
/// zero bytes (`00` becomes `00 FF`) and end with `00 00`. Borrowed `&str` and `&[u8]` can
/// be the last element of a tuple (which is stored as it is), not an earlier one.
pub trait Element: Key {
    /// Appends the self-delimiting encoding of `value`.
    fn encode_element(value: &Self::SelfType<'_>, out: &mut Vec<u8>) -> Result<()>;
    /// Reads one element from the front of `bytes`; returns it and the bytes after it.
    fn decode_element<'a>(bytes: &'a [u8]) -> Result<(Self::SelfType<'a>, &'a [u8])>
    where
        Self: 'a;
}

/// Fixed-width keys, with the width of their encoding.
macro_rules! fixed_width_keys {
    ($($t:ty => $width:expr),*) => {$(
        impl Key for $t {}

        impl Element for $t {
            fn encode_element(value: &Self::SelfType<'_>, out: &mut Vec<u8>) -> Result<()> {
                <$t as Value>::encode(value, out)?;
                Ok(())
            }

            fn decode_element<'a>(bytes: &'a [u8]) -> Result<(Self::SelfType<'a>, &'a [u8])>
            where
                Self: 'a,
            {
                let (this, rest) = bytes
                    .split_at_checked($width)
                    .ok_or_else(|| invalid::<$t>("tuple element cut short"))?;
                Ok((<$t as Value>::decode(this)?, rest))
            }
        }
    )*};
}

fixed_width_keys!(
    u8 => 1, u16 => 2, u32 => 4, u64 => 8, u128 => 16, usize => 8,
    i8 => 1, i16 => 2, i32 => 4, i64 => 8, i128 => 16, isize => 8,
    bool => 1, () => 0
);

impl<const N: usize> Key for [u8; N] {}

impl<const N: usize> Element for [u8; N] {
    fn encode_element(value: &[u8; N], out: &mut Vec<u8>) -> Result<()> {
        out.extend_from_slice(value);
        Ok(())
    }

    fn decode_element<'a>(bytes: &'a [u8]) -> Result<([u8; N], &'a [u8])>
    where
        Self: 'a,
    {
        let (this, rest) = bytes
            .split_at_checked(N)
            .ok_or_else(|| invalid::<Self>("tuple element cut short"))?;
        Ok((Self::decode(this)?, rest))
    }
}

impl Key for &str {}
impl Key for String {}
impl Key for &[u8] {}
impl Key for Vec<u8> {}

/// Appends `bytes` with each zero byte escaped and the `00 00` end.
fn escape(bytes: &[u8], out: &mut Vec<u8>) {
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

/// Reads an escaped run from the front of `bytes`.
fn unescape<T: Value>(bytes: &[u8]) -> Result<(Vec<u8>, &[u8])> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        match (bytes.get(i), bytes.get(i + 1)) {
            (Some(0), Some(0)) => return Ok((out, &bytes[i + 2..])),
            (Some(0), Some(0xFF)) => {
                out.push(0);
                i += 2;
            }
            (Some(0), _) | (None, _) => return Err(invalid::<T>("unterminated tuple element")),
            (Some(&b), _) => {
                out.push(b);
                i += 1;
            }
        }
    }
}

impl Element for Vec<u8> {
    fn encode_element(value: &Vec<u8>, out: &mut Vec<u8>) -> Result<()> {
        escape(value, out);
        Ok(())
    }

    fn decode_element<'a>(bytes: &'a [u8]) -> Result<(Vec<u8>, &'a [u8])>
    where
        Self: 'a,
    {
        unescape::<Self>(bytes)
    }
}

impl Element for String {
    fn encode_element(value: &String, out: &mut Vec<u8>) -> Result<()> {
        escape(value.as_bytes(), out);
        Ok(())
    }

    fn decode_element<'a>(bytes: &'a [u8]) -> Result<(String, &'a [u8])>
    where
        Self: 'a,
    {
        let (raw, rest) = unescape::<Self>(bytes)?;
        let text = String::from_utf8(raw).map_err(|e| invalid::<Self>(e.to_string()))?;
        Ok((text, rest))
    }
}

impl<T: Key> Key for Option<T> {}

impl<T: Element> Element for Option<T> {
    fn encode_element(value: &Self::SelfType<'_>, out: &mut Vec<u8>) -> Result<()> {
        match value {
            None => out.push(0),
            Some(inner) => {
                out.push(1);
                T::encode_element(inner, out)?;
            }
        }
        Ok(())
    }

    fn decode_element<'a>(bytes: &'a [u8]) -> Result<(Self::SelfType<'a>, &'a [u8])>
    where
        Self: 'a,
    {
        match bytes.split_first() {
            Some((0, rest)) => Ok((None, rest)),
            Some((1, rest)) => T::decode_element(rest).map(|(v, rest)| (Some(v), rest)),
            _ => Err(invalid::<Self>("no 0 or 1 tag")),
        }
    }
}

/// Tuples: every element but the last in its element encoding, the last as it is, so the
/// tuple's bytes compare element by element.
macro_rules! tuple {
    ($($head:ident $h:ident),+ ; $last:ident $l:ident) => {
        impl<$($head: Element,)+ $last: Key> Value for ($($head,)+ $last) {
            type SelfType<'a>
                = ($($head::SelfType<'a>,)+ $last::SelfType<'a>)
            where
                Self: 'a;

            fn encode(value: &Self::SelfType<'_>, out: &mut Vec<u8>) -> Result<()> {
                let ($($h,)+ $l) = value;
                $($head::encode_element($h, out)?;)+
                $last::encode($l, out)?;
                Ok(())
            }

            fn decode<'a>(bytes: &'a [u8]) -> Result<Self::SelfType<'a>>
            where
                Self: 'a,
            {
                let rest = bytes;
                $(let ($h, rest) = $head::decode_element(rest)?;)+
                Ok(($($h,)+ $last::decode(rest)?))
            }

            fn type_name() -> String {
                let names = [$($head::type_name(),)+ $last::type_name()];
                format!("({})", names.join(","))
            }
        }

        impl<$($head: Element,)+ $last: Key> Key for ($($head,)+ $last) {}

        impl<$($head: Element,)+ $last: Element> Element for ($($head,)+ $last) {
            fn encode_element(value: &Self::SelfType<'_>, out: &mut Vec<u8>) -> Result<()> {
                let ($($h,)+ $l) = value;
                $($head::encode_element($h, out)?;)+
                $last::encode_element($l, out)?;
                Ok(())
            }

            fn decode_element<'a>(bytes: &'a [u8]) -> Result<(Self::SelfType<'a>, &'a [u8])>
            where
                Self: 'a,
            {
                let rest = bytes;
                $(let ($h, rest) = $head::decode_element(rest)?;)+
                let ($l, rest) = $last::decode_element(rest)?;
                Ok((($($h,)+ $l), rest))
            }
        }
    };
}

tuple!(A a; B b);
tuple!(A a, B b; C c);
tuple!(A a, B b, C c; D d);
