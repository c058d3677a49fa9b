//! Reading a log file by the format DESIGN.md gives ("Log format"), as a tool outside the
//! engine would. Checksums are not checked: the tests use it on logs they know are whole.

/// A commit found along the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoggedCommit {
    pub txn: u64,
    /// Offset of its first frame (after the jump that leads there, if any).
    pub start: u64,
    /// Offset just past its commit frame.
    pub end: u64,
    /// Offset of the data of its first page frame (0 if it has none).
    pub first_page_data: u64,
}

fn word(log: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(log[at..at + 8].try_into().unwrap())
}

fn half(log: &[u8], at: usize) -> usize {
    u32::from_le_bytes(log[at..at + 4].try_into().unwrap()) as usize
}

/// The newest valid header's offset.
fn header(log: &[u8]) -> usize {
    let valid = |at: usize| {
        log[at..at + 8] == *b"BOUGHWAL"
            && crc32c::crc32c(&log[at..at + 56]) as usize == half(log, at + 56)
    };
    [0, 4096]
        .into_iter()
        .filter(|&at| valid(at))
        .max_by_key(|&at| word(log, at + 24))
        .expect("a valid log header")
}

/// The newest header's `sealed` field, and the commits along the chain from its `start`,
/// oldest first, up to the first frame that is not one a writer writes.
pub fn chain(log: &[u8], page_size: usize) -> (u64, Vec<LoggedCommit>) {
    let header = header(log);
    let sealed = word(log, header + 40);
    let mut offset = word(log, header + 32) as usize;
    let mut commits = Vec::new();
    let mut current: Option<LoggedCommit> = None;
    while offset + 32 <= log.len() {
        let (txn, first, count, flags) = (
            word(log, offset),
            word(log, offset + 8),
            half(log, offset + 16),
            half(log, offset + 20),
        );
        if txn == 0 || current.is_some_and(|c| c.txn != txn) {
            break;
        }
        let commit = current.get_or_insert(LoggedCommit {
            txn,
            start: offset as u64,
            end: 0,
            first_page_data: 0,
        });
        match flags {
            // A jump: the commit starts where it leads.
            2 => {
                offset = first as usize;
                commit.start = offset as u64;
            }
            // A salt frame.
            4 => offset += 32,
            1 => {
                offset += 32 + 80;
                commit.end = offset as u64;
                commits.push(*commit);
                current = None;
            }
            0 if count > 0 => {
                if commit.first_page_data == 0 {
                    commit.first_page_data = offset as u64 + 32;
                }
                offset += 32 + count * page_size;
            }
            _ => break,
        }
    }
    (sealed, commits)
}

/// The newest header's `sealed` field, and the offset of the data of the newest commit's
/// first page frame.
pub fn newest_commit(log: &[u8], page_size: usize) -> (u64, u64) {
    let (sealed, commits) = chain(log, page_size);
    let newest = commits
        .iter()
        .rev()
        .find(|c| c.first_page_data > 0)
        .map_or(0, |c| c.first_page_data);
    (sealed, newest)
}
