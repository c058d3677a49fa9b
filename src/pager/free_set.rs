//! The set of page ids free for reuse now, kept as runs of consecutive ids: an overflow
//! value finds the shortest run that holds it without a walk over every free id.

use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Default, Clone)]
pub(crate) struct FreeSet {
    /// Run start -> run length. Runs never touch: two runs with no id between them are one.
    runs: BTreeMap<u64, u64>,
    /// The same runs as `(length, start)`, to find the shortest run of a given length.
    by_len: BTreeSet<(u64, u64)>,
    count: u64,
}

impl FreeSet {
    pub(crate) fn len(&self) -> u64 {
        self.count
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Every id, ascending.
    pub(crate) fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.runs
            .iter()
            .flat_map(|(&start, &len)| start..start + len)
    }

    /// The run holding `id`, if any.
    fn run_of(&self, id: u64) -> Option<(u64, u64)> {
        self.runs
            .range(..=id)
            .next_back()
            .map(|(&start, &len)| (start, len))
            .filter(|&(start, len)| id < start + len)
    }

    #[cfg(test)]
    pub(crate) fn contains(&self, id: u64) -> bool {
        self.run_of(id).is_some()
    }

    fn add_run(&mut self, start: u64, len: u64) {
        if len > 0 {
            self.runs.insert(start, len);
            self.by_len.insert((len, start));
        }
    }

    fn drop_run(&mut self, start: u64, len: u64) {
        self.runs.remove(&start);
        self.by_len.remove(&(len, start));
    }

    /// Adds `id`; returns false if it was already there.
    pub(crate) fn insert(&mut self, id: u64) -> bool {
        let before = self.runs.range(..=id).next_back().map(|(&s, &l)| (s, l));
        if let Some((start, len)) = before
            && id < start + len
        {
            return false;
        }
        let (mut start, mut len) = (id, 1);
        if let Some((prev_start, prev_len)) = before
            && prev_start + prev_len == id
        {
            self.drop_run(prev_start, prev_len);
            start = prev_start;
            len += prev_len;
        }
        if let Some(&next_len) = self.runs.get(&(id + 1)) {
            self.drop_run(id + 1, next_len);
            len += next_len;
        }
        self.add_run(start, len);
        self.count += 1;
        true
    }

    /// Removes `id`; returns false if it was not there.
    pub(crate) fn remove(&mut self, id: u64) -> bool {
        let Some((start, len)) = self.run_of(id) else {
            return false;
        };
        self.drop_run(start, len);
        self.add_run(start, id - start);
        self.add_run(id + 1, start + len - id - 1);
        self.count -= 1;
        true
    }

    #[cfg(test)]
    pub(crate) fn pop_first(&mut self) -> Option<u64> {
        let (&start, _) = self.runs.first_key_value()?;
        self.remove(start);
        Some(start)
    }

    /// The shortest run of at least `want` ids, or else the longest run, as `(start, len)`.
    pub(crate) fn best_fit(&self, want: u64) -> Option<(u64, u64)> {
        self.by_len
            .range((want, 0)..)
            .next()
            .or_else(|| self.by_len.last())
            .map(|&(len, start)| (start, len))
    }

    /// Takes `count` (at least one) consecutive ids from the shortest run that has them.
    pub(crate) fn take_run(&mut self, count: u64) -> Option<u64> {
        if count == 0 {
            return None;
        }
        let &(len, start) = self.by_len.range((count, 0)..).next()?;
        self.drop_run(start, len);
        self.add_run(start + count, len - count);
        self.count -= count;
        Some(start)
    }

    /// The lowest id, if any.
    pub(crate) fn first(&self) -> Option<u64> {
        self.runs.first_key_value().map(|(&start, _)| start)
    }

    /// Takes `count` (at least one) consecutive ids from the lowest run that has them
    /// (compaction packs pages toward the start of the file). Walks the runs in order.
    pub(crate) fn take_lowest_run(&mut self, count: u64) -> Option<u64> {
        if count == 0 {
            return None;
        }
        let (&start, &len) = self.runs.iter().find(|&(_, &len)| len >= count)?;
        self.drop_run(start, len);
        self.add_run(start + count, len - count);
        self.count -= count;
        Some(start)
    }

    /// Removes the run that ends just before `end`, if there is one, and returns its start:
    /// the free ids at the top of the file.
    pub(crate) fn take_run_ending_at(&mut self, end: u64) -> Option<u64> {
        let (&start, &len) = self.runs.range(..end).next_back()?;
        if start + len != end {
            return None;
        }
        self.drop_run(start, len);
        self.count -= len;
        Some(start)
    }

    /// The length of the run that ends just before `end` (0 if none does).
    pub(crate) fn run_len_ending_at(&self, end: u64) -> u64 {
        match self.runs.range(..end).next_back() {
            Some((&start, &len)) if start + len == end => len,
            _ => 0,
        }
    }
}

impl Extend<u64> for FreeSet {
    fn extend<I: IntoIterator<Item = u64>>(&mut self, ids: I) {
        for id in ids {
            self.insert(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn check(set: &FreeSet, model: &BTreeSet<u64>) {
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            model.iter().copied().collect::<Vec<_>>()
        );
        assert_eq!(set.len(), model.len() as u64);
        assert_eq!(set.runs.len(), set.by_len.len());
        let mut end = None;
        for (&start, &len) in &set.runs {
            assert!(len > 0 && set.by_len.contains(&(len, start)));
            assert!(
                end.is_none_or(|end| end < start),
                "runs {end:?} and {start} touch"
            );
            end = Some(start + len);
        }
    }

    #[test]
    fn inserts_and_removes_merge_and_split_runs_like_a_set() {
        let mut set = FreeSet::default();
        let mut model = BTreeSet::new();
        let mut seed = 7u64;
        for step in 0..4000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let id = (seed >> 33) % 64;
            if step % 3 == 0 {
                assert_eq!(set.remove(id), model.remove(&id));
            } else {
                assert_eq!(set.insert(id), model.insert(id));
            }
            assert_eq!(set.contains(id), model.contains(&id));
            check(&set, &model);
        }
    }

    #[test]
    fn best_fit_prefers_the_shortest_run_long_enough() {
        let mut set = FreeSet::default();
        set.extend([3, 10, 11, 12, 13, 20, 21, 22]);
        assert_eq!(set.best_fit(1), Some((3, 1)));
        assert_eq!(set.best_fit(3), Some((20, 3)));
        assert_eq!(set.best_fit(4), Some((10, 4)));
        assert_eq!(
            set.best_fit(9),
            Some((10, 4)),
            "none long enough: the longest"
        );
        assert_eq!(FreeSet::default().best_fit(1), None);
    }

    #[test]
    fn take_run_finds_consecutive_pages() {
        let mut set = FreeSet::default();
        set.extend([4, 6, 7, 8, 10]);
        assert_eq!(set.take_run(0), None);
        assert_eq!(set.take_run(3), Some(6));
        assert_eq!(set.take_run(2), None);
        assert_eq!(set.take_run(1), Some(4));
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![10]);
        assert_eq!(set.pop_first(), Some(10));
        assert!(set.is_empty());
    }

    #[test]
    fn compaction_takes_the_lowest_runs_and_trims_the_top_one() {
        let mut set = FreeSet::default();
        set.extend([4, 6, 7, 8, 12, 13, 14, 15]);
        assert_eq!(set.first(), Some(4));
        assert_eq!(set.take_lowest_run(2), Some(6));
        assert_eq!(set.take_lowest_run(1), Some(4));
        assert_eq!(set.run_len_ending_at(16), 4);
        assert_eq!(
            set.run_len_ending_at(15),
            0,
            "the run must end exactly there"
        );
        assert_eq!(set.take_run_ending_at(15), None);
        assert_eq!(set.take_run_ending_at(16), Some(12));
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![8]);
        assert_eq!(set.len(), 1);
    }
}
