//! Identifiers: small copyable newtypes over `u32`.

use serde::{Deserialize, Serialize};

/// A request: its row in the trace (and in the per-request records).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestId(pub u32);

impl RequestId {
    /// The index into per-request columns.
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// A replica of the serving pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReplicaId(pub u32);

impl ReplicaId {
    /// The index into per-replica arrays.
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}
