//! Offline verification of stored decisions (receipts): the JWS against the
//! device's enrolled public key, and the statement hash recomputed both from
//! the stored statement text and from the stored request.

use crate::approver::Approver;
use crate::error::{Error, Result};
use crate::store::{Account, HistoryEntry};
use countersign_protocol::device::{ApprovalStatement, ApproverRequest, DecisionClaims, StatementHash};
use countersign_protocol::jws::{self, JwtType};
use serde::Serialize;

/// The result of a receipt check.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceiptCheck {
    /// The account.
    pub account_id: String,
    /// The request.
    pub request_id: String,
    /// The JWS verifies with the enrolled key, with the right `typ`, `kid`,
    /// `iss`, `aud`, `request_id` and lifetime.
    pub signature_valid: bool,
    /// SHA-256 of the stored statement text equals the signed
    /// `statement_hash`.
    pub statement_hash_valid: bool,
    /// The statement rebuilt from the stored request hashes to the same
    /// value (the decision covers exactly that request).
    pub request_matches: bool,
    /// Decision and deny reason of the JWS equal the recorded ones.
    pub decision_matches: bool,
    /// The claims of the JWS (when it verified).
    pub claims: Option<DecisionClaims>,
    /// What failed, in words.
    pub problems: Vec<String>,
}

impl ReceiptCheck {
    /// Whether every check passed.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        self.signature_valid && self.statement_hash_valid && self.request_matches && self.decision_matches
    }
}

/// Checks `entry` (a decision of `account`) against the stored `request`.
/// Pure: no clock (the JWS's own `iat` is the reference time), no network.
#[must_use]
pub fn check_receipt(account: &Account, request: Option<&ApproverRequest>, entry: &HistoryEntry) -> ReceiptCheck {
    let mut problems = Vec::new();
    let mut claims = None;
    let mut signature_valid = false;
    match jws::verify_claims::<DecisionClaims>(
        &entry.decision_jws,
        &account.public_jwk,
        Some(JwtType::Decision.as_str()),
    ) {
        Ok((header, c)) => {
            let request_id = countersign_protocol::device::RequestId::new(entry.request_id.clone());
            if header.kid.as_deref() != Some(account.device_id.as_str()) {
                problems.push("kid is not this device".to_owned());
            } else if c.iss != account.device_id {
                problems.push("iss is not this device".to_owned());
            } else if let Err(e) = request_id
                .map_err(|e| e.to_string())
                .and_then(|id| c.validate(c.iat, &account.issuer, &id).map_err(|e| e.to_string()))
            {
                problems.push(format!("claims: {e}"));
            } else {
                signature_valid = true;
            }
            claims = Some(c);
        }
        Err(e) => problems.push(format!("signature: {e}")),
    }

    let recomputed = StatementHash::digest(entry.statement_jcs.as_bytes());
    let signed_hash = claims.as_ref().map(|c| &c.statement_hash);
    let statement_hash_valid = recomputed == entry.statement_hash && signed_hash == Some(&recomputed);
    if !statement_hash_valid {
        problems.push("the stored statement does not hash to the signed statement_hash".to_owned());
    }

    let decision_matches =
        claims.as_ref().is_some_and(|c| c.decision == entry.decision && c.deny_reason == entry.deny_reason);
    if !decision_matches {
        problems.push("the signed decision differs from the recorded one".to_owned());
    }

    let request_matches = match (request, serde_json::from_str::<ApprovalStatement>(&entry.statement_jcs)) {
        (Some(request), Ok(statement)) => {
            match ApprovalStatement::build(request, statement.decision, statement.display_schemas.clone())
                .and_then(|s| s.statement_hash())
            {
                Ok(h) if signed_hash == Some(&h) => true,
                Ok(_) => {
                    problems.push("the stored request does not produce the signed statement".to_owned());
                    false
                }
                Err(e) => {
                    problems.push(format!("statement: {e}"));
                    false
                }
            }
        }
        (None, _) => {
            problems.push("the request is no longer stored".to_owned());
            false
        }
        (_, Err(e)) => {
            problems.push(format!("stored statement unreadable: {e}"));
            false
        }
    };
    ReceiptCheck {
        account_id: account.id.clone(),
        request_id: entry.request_id.clone(),
        signature_valid,
        statement_hash_valid,
        request_matches,
        decision_matches,
        claims,
        problems,
    }
}

impl Approver {
    /// Verifies the latest stored decision on a request, offline.
    ///
    /// # Errors
    /// [`Error::NoReceipt`], [`Error::UnknownAccount`], the store.
    pub async fn verify_receipt(&self, account_id: &str, request_id: &str) -> Result<ReceiptCheck> {
        let store = &self.inner.store;
        let entry = store
            .latest_decision(account_id, request_id)
            .await?
            .ok_or_else(|| Error::NoReceipt(request_id.to_owned()))?;
        let account = store.account(account_id).await?;
        let item = store.inbox_item(account_id, request_id).await?;
        Ok(check_receipt(&account, item.as_ref().map(|i| &i.request), &entry))
    }
}
