//! The user's block of unverified agents (`docs/protocol.md` §5.4): after
//! reporting requests of unverified agents as "not me" often enough, every
//! unverified agent is refused for the user until the block is lifted, by
//! an operator or by the user from here.

use crate::approver::Approver;
use crate::error::Result;
use crate::http::typed;
use countersign_protocol::device::{UnverifiedBlock, PATH_UNVERIFIED_BLOCK, PATH_UNVERIFIED_BLOCK_LIFT};

impl Approver {
    /// Whether unverified agents are blocked for the user of `account_id`.
    ///
    /// # Errors
    /// [`crate::Error::UnknownAccount`], the key store, the server.
    pub async fn unverified_block(&self, account_id: &str) -> Result<UnverifiedBlock> {
        let inner = &self.inner;
        let account = inner.store.account(account_id).await?;
        let key = inner.key_for(&account).await?;
        let url = format!("{}{PATH_UNVERIFIED_BLOCK}", account.device_endpoint);
        typed(inner.http.device_get(&url, &inner.auth(&account, &key)).await?, "unverified block")
    }

    /// Lifts the block: unverified agents may ask the user again. Returns
    /// the state after it.
    ///
    /// # Errors
    /// As [`Approver::unverified_block`].
    pub async fn lift_unverified_block(&self, account_id: &str) -> Result<UnverifiedBlock> {
        let inner = &self.inner;
        let account = inner.store.account(account_id).await?;
        let key = inner.key_for(&account).await?;
        let url = format!("{}{PATH_UNVERIFIED_BLOCK_LIFT}", account.device_endpoint);
        let (_, value) = inner.http.device_post(&url, &inner.auth(&account, &key), &serde_json::json!({})).await?;
        typed(value, "unverified block")
    }
}
