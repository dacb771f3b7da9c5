//! Walking the chain: `countersign-server audit verify`.

use countersign_protocol::admin::AuditEntry;
use futures_util::TryStreamExt as _;

use crate::error::Internal;
use crate::store::Db;

/// A log whose every entry chains to the one before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Entries.
    pub count: u64,
    /// The last entry's `seq` and hash (`0`, `""` for an empty log).
    pub head: (u64, String),
}

/// The first entry that does not chain, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit entry {seq}: {what}")]
pub struct Broken {
    /// Its `seq` (the position where an entry is missing, for a gap).
    pub seq: u64,
    /// What is wrong.
    pub what: String,
}

/// Checks entries in order: each `seq` one more than the last (from 1),
/// each hash the chain hash of its content after the previous hash.
#[derive(Debug, Default)]
pub(crate) struct Walk {
    count: u64,
    last_seq: u64,
    last_hash: String,
}

impl Walk {
    pub(crate) fn next(&mut self, entry: &AuditEntry) -> Result<(), Broken> {
        let expected = self.last_seq.saturating_add(1);
        if entry.seq != expected {
            let what = if entry.seq > expected {
                format!("follows entry {}: entries {expected}..{} are missing (deleted)", self.last_seq, entry.seq - 1)
            } else {
                format!("follows entry {}: out of order (reordered or inserted)", self.last_seq)
            };
            return Err(Broken { seq: if entry.seq > expected { expected } else { entry.seq }, what });
        }
        let hash = entry
            .chain_hash(&self.last_hash)
            .map_err(|e| Broken { seq: entry.seq, what: format!("its data cannot be hashed: {e}") })?;
        if hash != entry.hash {
            // Its own content, hashed with the hash it would have had after
            // any predecessor, tells nothing more: name the entry.
            return Err(Broken {
                seq: entry.seq,
                what: "its hash does not match its content and the entry before it (edited, inserted or \
                       reordered)"
                    .into(),
            });
        }
        self.count += 1;
        self.last_seq = entry.seq;
        self.last_hash = hash;
        Ok(())
    }

    pub(crate) fn done(self) -> Verified {
        Verified { count: self.count, head: (self.last_seq, self.last_hash) }
    }
}

/// Walks the whole log in `seq` order.
///
/// # Errors
/// `Ok(Err(broken))` names the first entry that does not chain; `Err` is a
/// database failure (or a row that cannot be read: reported as broken).
pub async fn verify(db: &Db) -> Result<Result<Verified, Broken>, Internal> {
    let mut walk = Walk::default();
    let mut rows =
        sqlx::query("SELECT seq, at, actor, action, target, sub, data, hash FROM audit_log ORDER BY seq").fetch(db);
    while let Some(row) = rows.try_next().await? {
        let entry = match super::from_row(&row) {
            Ok(e) => e,
            Err(e) => {
                let seq = sqlx::Row::try_get::<i64, _>(&row, "seq").map(crate::store::from_ts).unwrap_or_default();
                return Ok(Err(Broken { seq, what: format!("cannot be read: {e}") }));
            }
        };
        if let Err(broken) = walk.next(&entry) {
            return Ok(Err(broken));
        }
    }
    Ok(Ok(walk.done()))
}
