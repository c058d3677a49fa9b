//! A write transaction as one compaction step (DESIGN.md, "Giving space back"): it packs
//! underfull leaves of a table, or moves the pages of every tree that lie past the limit,
//! a bounded amount at a time; `Database::compact` commits the steps one after another.

use super::write::WriteTransaction;
use crate::btree;
use crate::error::Result;

impl WriteTransaction {
    /// Makes this transaction a compaction step: every page it writes takes the lowest free
    /// id. Returns the id below which the step packs the file; its commit also moves the
    /// catalog's and the freelist's pages from past it.
    pub(crate) fn start_compaction(&self) -> u64 {
        self.tables.borrow_mut().pager().start_compaction()
    }

    /// Whether a page written now by this compaction step lands below its limit.
    pub(crate) fn compaction_room(&self) -> bool {
        self.tables.borrow_mut().pager().compaction_room()
    }

    /// The high-water mark as this transaction leaves it so far.
    pub(crate) fn high_water(&self) -> u64 {
        self.tables.borrow_mut().pager().high_water()
    }

    /// Table `name`, if it still exists (another writer may have deleted it since the
    /// compaction listed the tables; opening it would create it again).
    fn existing_table(&self, name: &str) -> Result<Option<super::Table<'_>>> {
        match self.list_tables()?.iter().any(|t| t == name) {
            true => self.open_table(name).map(Some),
            false => Ok(None),
        }
    }

    /// Packs the underfull leaves of table `name` from the leaf holding `from` on, up to
    /// `max_leaves` leaves, each written back through a sorted merge, which repacks the leaves
    /// it reaches, as full as they go. Returns how many leaves were chosen and where the next step starts
    /// (`None`: the table's end).
    pub(crate) fn pack_leaves(
        &self,
        name: &str,
        from: Option<&[u8]>,
        max_leaves: usize,
    ) -> Result<(u64, Option<Vec<u8>>)> {
        let Some(mut table) = self.existing_table(name)? else {
            return Ok((0, None));
        };
        table.write(|store, state, _| {
            let (entries, next) = btree::leaves_to_pack(&*store, state.root, from, max_leaves)?;
            let writes: Vec<btree::Write> = entries
                .iter()
                .map(|(key, value)| btree::Write {
                    key,
                    value: Some(value),
                })
                .collect();
            let mut done = 0;
            while done < writes.len() {
                let merged = btree::merge_sorted_filling(
                    store,
                    state.root,
                    &writes[done..],
                    btree::Fill::Full,
                )?;
                debug_assert_eq!(merged.len_change, 0, "entries written back unchanged");
                state.merged(merged.root, merged.len_change);
                done += merged.consumed;
                store.end_operation()?;
            }
            Ok((entries.len() as u64, next))
        })
    }

    /// Moves up to `budget` pages of table `name` from past the compaction limit to free
    /// pages below it.
    pub(crate) fn relocate_table(&self, name: &str, budget: u64) -> Result<btree::Relocated> {
        let Some(mut table) = self.existing_table(name)? else {
            return Ok(btree::Relocated::default());
        };
        table.write(|store, state, _| {
            let relocated = btree::relocate_tree(store, state.root, budget)?;
            if relocated.root != state.root {
                state.merged(relocated.root, 0);
            } else if relocated.moved > 0 {
                state.changed = true;
            }
            store.end_operation()?;
            Ok(relocated)
        })
    }
}
