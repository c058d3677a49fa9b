//! Keys and values on the command line: UTF-8 text, or hex with `--hex`.

use crate::open::Failure;

/// The bytes `text` stands for.
pub fn parse(text: &str, hex: bool) -> Result<Vec<u8>, Failure> {
    match hex {
        false => Ok(text.as_bytes().to_vec()),
        true => from_hex(text)
            .ok_or_else(|| Failure::new(2, format!("{text:?} is not hex (pairs of 0-9, a-f)"))),
    }
}

/// `bytes` as text (non-UTF-8 bytes shown as hex escapes, `\\x..`) or as hex.
pub fn show(bytes: &[u8], hex: bool) -> String {
    if hex {
        return to_hex(bytes);
    }
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect()
}
