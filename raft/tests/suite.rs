//! openraft's own storage conformance suite, against the Bough stores and the in-memory ones.

use bough_raft::log_store::BoughLogStore;
use bough_raft::memory::{MemLogStore, MemStateMachine};
use bough_raft::state_machine::BoughStateMachine;
use bough_raft::{NodeId, TypeConfig};
use openraft::testing::{StoreBuilder, Suite};
use openraft::{StorageError, StorageIOError};
use tempfile::TempDir;

/// Each build gets a directory of its own, removed when the guard drops.
struct BoughStores;

impl StoreBuilder<TypeConfig, BoughLogStore, BoughStateMachine, TempDir> for BoughStores {
    async fn build(
        &self,
    ) -> Result<(TempDir, BoughLogStore, BoughStateMachine), StorageError<NodeId>> {
        let io = |e: &dyn std::error::Error| -> StorageError<NodeId> {
            StorageIOError::write(openraft::AnyError::error(e.to_string())).into()
        };
        let dir = tempfile::tempdir().map_err(|e| io(&e))?;
        let log = BoughLogStore::open(dir.path().join("log.bough")).map_err(|e| io(&e))?;
        let sm = BoughStateMachine::open(dir.path()).map_err(|e| io(&e))?;
        Ok((dir, log, sm))
    }
}

struct MemStores;

impl StoreBuilder<TypeConfig, MemLogStore, MemStateMachine> for MemStores {
    async fn build(&self) -> Result<((), MemLogStore, MemStateMachine), StorageError<NodeId>> {
        Ok(((), MemLogStore::default(), MemStateMachine::default()))
    }
}

#[test]
fn openraft_suite_passes_on_bough() {
    Suite::test_all(BoughStores).expect("openraft's storage suite on Bough");
}

#[test]
fn openraft_suite_passes_in_memory() {
    Suite::test_all(MemStores).expect("openraft's storage suite in memory");
}
