//! Reading a log file by the format DESIGN.md gives ("Log format"), as a tool outside the
//! engine would.

/// The newest commit in a log file, read by the format in DESIGN.md ("Log format"): the
/// newest header's `sealed` field, and the offset of the data of the newest commit's first
/// page frame.
pub fn newest_commit(log: &[u8], page_size: usize) -> (u64, u64) {
    let word = |at: usize| u64::from_le_bytes(log[at..at + 8].try_into().unwrap());
    let half = |at: usize| u32::from_le_bytes(log[at..at + 4].try_into().unwrap()) as usize;
    let valid = |at: usize| {
        log[at..at + 8] == *b"BOUGHWAL"
            && crc32c::crc32c(&log[at..at + 56]) as usize == half(at + 56)
    };
    let header = [0, 4096]
        .into_iter()
        .filter(|&at| valid(at))
        .max_by_key(|&at| word(at + 24))
        .expect("a valid log header");
    let sealed = word(header + 40);
    let mut offset = word(header + 32) as usize;
    let mut first_frame_of = (0, 0);
    let mut newest_page_frame = 0;
    while offset + 32 <= log.len() {
        let (txn, first, count, flags) = (
            word(offset),
            word(offset + 8),
            half(offset + 16),
            half(offset + 20),
        );
        match flags {
            2 => offset = first as usize,
            1 => {
                newest_page_frame = first_frame_of.1;
                offset += 32 + 80;
            }
            0 if count > 0 => {
                if first_frame_of.0 != txn {
                    first_frame_of = (txn, offset as u64 + 32);
                }
                offset += 32 + count * page_size;
            }
            _ => break,
        }
        if txn == 0 {
            break;
        }
    }
    (sealed, newest_page_frame)
}
