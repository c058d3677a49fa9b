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

    /// The log offset of `page` as of transaction `upto`, if the log holds a version newer
    /// than `floor` (versions up to `floor` are in the main file, and their log bytes may
    /// hold other frames by now).
    pub(crate) fn lookup(&self, page: u64, floor: u64, upto: u64) -> Option<u64> {
        let versions = self.versions.get(&page)?;
        versions
            .iter()
            .rev()
            .find(|(txn, _)| *txn <= upto)
            .filter(|(txn, _)| *txn > floor)
            .map(|&(_, offset)| offset)
    }

    /// The newest version up to `upto` of every page with one newer than `floor`, for a
    /// checkpoint.
    pub(crate) fn newest_versions(
        &self,
        floor: u64,
        upto: u64,
    ) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.versions
            .keys()
            .filter_map(move |&page| self.lookup(page, floor, upto).map(|at| (page, at)))
    }

    /// Drops the versions up to `txn`: no reader looks below that floor any more.
    pub(crate) fn forget_through(&mut self, txn: u64) {
        self.versions.retain(|_, versions| {
            versions.retain(|&(t, _)| t > txn);
            !versions.is_empty()
        });
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
        assert_eq!(index.lookup(11, 0, 2), None);
        assert_eq!(index.lookup(11, 0, 4), Some(1000 + 4096));
        assert_eq!(index.lookup(11, 0, 5), Some(9000));
        assert_eq!(index.lookup(10, 0, u64::MAX), Some(1000));
    }

    #[test]
    fn versions_at_or_below_the_floor_are_read_from_the_file() {
        let mut index = WalIndex::default();
        index.add(3, 10, 1, 1000, 4096);
        index.add(5, 10, 1, 9000, 4096);
        assert_eq!(index.lookup(10, 3, 4), None, "version 3 is in the file");
        assert_eq!(index.lookup(10, 3, 5), Some(9000));
        assert_eq!(index.newest_versions(5, 9).count(), 0);
        index.forget_through(3);
        assert_eq!(index.lookup(10, 0, 4), None);
        assert_eq!(index.lookup(10, 0, 9), Some(9000));
    }
}
