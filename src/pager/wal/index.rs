//! Where in the log each page's committed versions are.

use crate::ids::PageMap;

/// For every page in the log, its versions in commit order: (transaction, byte offset of the
/// page's bytes in the log).
#[derive(Debug, Default)]
pub(crate) struct WalIndex {
    versions: PageMap<Vec<(u64, u64)>>,
}

impl WalIndex {
    /// Records that `pages` pages starting at `first` were written by `txn` at `offset`.
    pub(crate) fn add(&mut self, txn: u64, first: u64, pages: u64, offset: u64, page_size: usize) {
        for i in 0..pages {
            self.versions
                .entry(first + i)
                .or_default()
                .push((txn, offset + i * page_size as u64));
        }
    }

    /// The log offset of `page` as of transaction `upto`, if the log holds a version.
    pub(crate) fn lookup(&self, page: u64, upto: u64) -> Option<u64> {
        let versions = self.versions.get(&page)?;
        versions
            .iter()
            .rev()
            .find(|(txn, _)| *txn <= upto)
            .map(|&(_, offset)| offset)
    }

    /// The newest version of every page, for a checkpoint.
    pub(crate) fn newest_versions(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.versions
            .iter()
            .filter_map(|(&page, v)| v.last().map(|&(_, offset)| (page, offset)))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.versions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_the_version_of_a_snapshot() {
        let mut index = WalIndex::default();
        index.add(3, 10, 2, 1000, 4096);
        index.add(5, 11, 1, 9000, 4096);
        assert_eq!(index.lookup(11, 2), None);
        assert_eq!(index.lookup(11, 4), Some(1000 + 4096));
        assert_eq!(index.lookup(11, 5), Some(9000));
        assert_eq!(index.lookup(10, u64::MAX), Some(1000));
    }
}
