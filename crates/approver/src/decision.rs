//! Deciding and delivering (protocol §7, §8).
//!
//! [`Approver::record_decision`] builds the approval statement from the
//! request exactly as stored (the one shown), hashes and signs it, and in
//! one transaction moves the request to `sending`, writes the history row
//! and the outbox entry. Delivery ([`Approver::deliver`]) then posts the
//! submission until the server answers for good or the request expires.
//! The content of a queued decision never changes: when the JWS's 120 s
//! lifetime runs out it is re-signed with the same decision, deny reason and
//! statement hash, which the server treats as an identical resubmission.

use crate::approver::Approver;
use crate::display;
use crate::error::{Error, Result};
use crate::events::ApproverEvent;
use crate::http::typed;
use crate::store::history::{DeliveryEnd, NewDecision};
use crate::store::{Account, Delivery, HistoryEntry, LocalStatus, OutboxEntry};
use crate::webauthn::SharedAuthenticator;
use countersign_protocol::device::{
    decision_url, ApprovalStatement, Decision, DecisionClaims, DecisionResult, DecisionSubmission, DenyReason,
    DeviceErrorCode, Jti, RequestStatus, Requirement, StatementHash,
};
use countersign_protocol::jws::{self, DeviceKeyPair, JwtType};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// A queued JWS is re-signed when less than this many seconds remain.
pub const RESIGN_MARGIN_SECS: u64 = 20;

/// Why a request is pending again after a `display_schema_mismatch`.
pub const REVIEW: &str = "the server's display schemas changed: the request must be shown again before it is decided";

/// How one delivery attempt ended.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum DeliveryReport {
    /// Accepted by the server.
    Delivered {
        /// The server's answer.
        result: DecisionResult,
    },
    /// Not delivered yet; will be retried.
    Retrying {
        /// Why the attempt failed.
        error: String,
        /// Unix time of the next attempt.
        next_attempt_at: u64,
    },
    /// The request expired before the server got the decision.
    Expired,
    /// The server had recorded another decision.
    Conflict {
        /// The server's status of the request.
        status: Option<String>,
    },
    /// The request was cancelled.
    Withdrawn,
    /// The server's display schemas changed: the request is pending again
    /// and must be reviewed and decided anew.
    NeedsReview {
        /// Why.
        reason: String,
    },
    /// The server refused the decision for good.
    Rejected {
        /// The error.
        error: String,
    },
    /// Nothing queued for this request.
    NotQueued,
}

/// The result of [`Approver::decide`].
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionOutcome {
    /// The recorded decision (with the signed JWS).
    pub history: HistoryEntry,
    /// The first delivery attempt.
    pub delivery: DeliveryReport,
}

/// A random fraction in [0, 1) from the system RNG.
pub(crate) fn random_unit() -> f64 {
    use ring::rand::SecureRandom as _;
    let mut b = [0u8; 4];
    if ring::rand::SystemRandom::new().fill(&mut b).is_err() {
        return 0.5;
    }
    f64::from(u32::from_le_bytes(b)) / (f64::from(u32::MAX) + 1.0)
}

/// `base · 2^attempt`, capped, then scaled by a random factor in [0.5, 1).
pub(crate) fn backoff_delay(base: Duration, cap: Duration, attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.min(20));
    let d = base.saturating_mul(factor).min(cap);
    d.mul_f64(0.5 + random_unit() / 2.0)
}

impl Approver {
    /// Decides a request and tries to deliver the decision once.
    /// `typed_binding_message`: what the user typed to confirm an approval;
    /// the core checks it against the request ([`crate::confirm`]: needed
    /// for high and critical risk and for `requires: user_verification`).
    /// Denials ignore it. No security key is offered: a request that
    /// requires one cannot be approved this way ([`Approver::decide_with`]).
    ///
    /// # Errors
    /// As [`Approver::record_decision`]; delivery failures are in the
    /// report, not errors (the decision stays queued).
    pub async fn decide(
        &self,
        account_id: &str,
        request_id: &str,
        decision: Decision,
        deny_reason: Option<DenyReason>,
        typed_binding_message: Option<&str>,
    ) -> Result<DecisionOutcome> {
        self.decide_with(account_id, request_id, decision, deny_reason, typed_binding_message, None).await
    }

    /// [`Approver::decide`], with `security_key` for an approval of a
    /// request that `requires` `webauthn` ([`Approver::record_decision_with`]).
    ///
    /// # Errors
    /// As [`Approver::record_decision_with`]; delivery failures are in the
    /// report, not errors (the decision stays queued).
    pub async fn decide_with(
        &self,
        account_id: &str,
        request_id: &str,
        decision: Decision,
        deny_reason: Option<DenyReason>,
        typed_binding_message: Option<&str>,
        security_key: Option<&SharedAuthenticator>,
    ) -> Result<DecisionOutcome> {
        let history = self
            .record_decision_with(account_id, request_id, decision, deny_reason, typed_binding_message, security_key)
            .await?;
        let delivery = self.deliver(account_id, request_id).await?;
        let history = self.inner.store.history_entry(history.id).await?;
        Ok(DecisionOutcome { history, delivery })
    }

    /// Signs a decision over the stored request and queues it (one
    /// transaction); does not send it. The request is rendered with the
    /// cached schemas of its server, and the statement's `display_schemas`
    /// are those of that rendering. An approval needs an approvable
    /// rendering, if the request was shown ([`Approver::view`]) a rendering
    /// with the same schemas as the one shown, and, where the confirmation
    /// rule asks for it ([`crate::confirm`]), `typed_binding_message` equal
    /// to the binding message. No security key is offered
    /// ([`Approver::record_decision_with`]).
    ///
    /// # Errors
    /// [`Error::UnknownRequest`], [`Error::NotPending`], [`Error::Expired`],
    /// [`Error::UnsupportedRequirement`], [`Error::NotApprovable`],
    /// [`Error::ReviewRequired`], [`Error::UserVerificationRequired`],
    /// [`Error::RiskConfirmationRequired`], [`Error::BindingMessageMismatch`],
    /// [`Error::Signing`], the key store, the store.
    pub async fn record_decision(
        &self,
        account_id: &str,
        request_id: &str,
        decision: Decision,
        deny_reason: Option<DenyReason>,
        typed_binding_message: Option<&str>,
    ) -> Result<HistoryEntry> {
        self.record_decision_with(account_id, request_id, decision, deny_reason, typed_binding_message, None).await
    }

    /// [`Approver::record_decision`], with `security_key`: an approval of a
    /// request that `requires` `webauthn` is made only with one. After every
    /// other check passed, the server's list of the user's keys is fetched
    /// and `security_key` asked for an assertion whose challenge is the
    /// statement hash (the user touches the key, enters its PIN), which the
    /// submission carries (`docs/protocol.md` §5.5, §8.2). Denials, and
    /// requests that do not require it, never use the key.
    ///
    /// # Errors
    /// As [`Approver::record_decision`]; [`Error::UnsupportedRequirement`]
    /// for `webauthn` without `security_key`; [`Error::Invalid`] when the
    /// account has no usable key; [`Error::SecurityKey`] when the
    /// authenticator failed (its message says why: cancelled, timed out,
    /// wrong PIN…); the server's errors
    /// while listing the keys; [`Error::Expired`] when the request expired
    /// while the key was used.
    pub async fn record_decision_with(
        &self,
        account_id: &str,
        request_id: &str,
        decision: Decision,
        deny_reason: Option<DenyReason>,
        typed_binding_message: Option<&str>,
        security_key: Option<&SharedAuthenticator>,
    ) -> Result<HistoryEntry> {
        let inner = &self.inner;
        let item = inner
            .store
            .inbox_item(account_id, request_id)
            .await?
            .ok_or_else(|| Error::UnknownRequest(request_id.to_owned()))?;
        let now = inner.now();
        self.check_decidable(&item, now).await?;
        if decision == Decision::Approve {
            if deny_reason.is_some() {
                return Err(Error::Invalid("a deny reason goes only with a denial".into()));
            }
            let verifier = inner.verifier_status().await;
            crate::gate::requirements_met_with(&item.request, security_key.is_some(), &verifier)?;
        }
        let account = inner.store.account(account_id).await?;
        let registry = inner.registry(account.issuer.as_str()).await?;
        let rendering = display::render(&item.request, &registry, &inner.config.render);
        if decision == Decision::Approve {
            crate::gate::rendering_allows(&item.request, &rendering)?;
            let shown = inner.store.shown_schemas(account_id, request_id).await?;
            let current = display::shown_json(&rendering.display_schemas)?;
            let schemas_changed = shown.is_some_and(|s| s != current);
            crate::gate::shown_and_confirmed(&item.request, &rendering, schemas_changed, typed_binding_message)?;
        }
        let schemas = rendering.display_schemas;
        let key = inner.key_for(&account).await?;
        let statement = ApprovalStatement::build(&item.request, decision, schemas.clone())
            .map_err(|e| Error::Signing(e.to_string()))?;
        let jcs = statement.canonical_bytes().map_err(|e| Error::Signing(e.to_string()))?;
        let statement_hash = StatementHash::digest(&jcs);
        let jcs = String::from_utf8(jcs).map_err(|e| Error::Signing(e.to_string()))?;
        let mut webauthn = None;
        let mut now = now;
        if decision == Decision::Approve && crate::gate::needs_security_key(&item.request) {
            let security_key =
                security_key.ok_or_else(|| Error::UnsupportedRequirement(Requirement::Webauthn.as_str().to_owned()))?;
            // The server refuses, and flags as possibly cloned, a key whose
            // signature counter does not go up: every earlier assertion of
            // this account still queued must reach it before a new one is
            // made.
            if let Some(waiting) = self.deliver_earlier(&AssertionsOf::Account(account_id), None).await? {
                return Err(waiting.refusal());
            }
            let binding_message = &item.request.binding_message;
            webauthn = Some(inner.assertion(&account, &key, &statement_hash, binding_message, security_key).await?);
            // The user may have taken most of a minute.
            now = inner.now();
            self.check_decidable(&item, now).await?;
        }
        let mut amr = Vec::new();
        if decision == Decision::Approve && crate::gate::needs_os_verification(&item.request) {
            // After every other check, so that the person is asked only for
            // an approval that can then be signed; nothing is signed
            // without it.
            let first = rendering.details.first();
            let what =
                first.and_then(|d| d.summary.as_ref().map(|s| s.text.as_str())).or(first.map(|d| d.title.as_str()));
            let reason = crate::verify::prompt_reason(
                what.unwrap_or("a request"),
                rendering.details.len().saturating_sub(1),
                &item.request.client.client_name,
                &item.request.binding_message,
            );
            amr = inner.verify_user(reason).await?;
            now = inner.now();
            self.check_decidable(&item, now).await?;
        }
        let claims = DecisionClaims::new(account.device_id.clone(), &statement, deny_reason.clone(), now)
            .map_err(|e| Error::Signing(e.to_string()))?
            .with_amr(amr);
        let jws = claims.sign(&key).map_err(|e| Error::Signing(e.to_string()))?;
        let submission = DecisionSubmission { decision_jws: jws.clone(), display_schemas: schemas, webauthn };
        let submission_json = serde_json::to_string(&submission).map_err(|e| Error::Signing(e.to_string()))?;
        let entry = inner
            .store
            .record_decision(&NewDecision {
                account_id,
                request_id,
                decision,
                deny_reason: deny_reason.as_ref(),
                statement_jcs: &jcs,
                statement_hash: &statement_hash,
                decision_jws: &jws,
                submission_json: &submission_json,
                expires_at: item.request.expires_at,
                now,
            })
            .await?;
        inner.emit(ApproverEvent::Decided {
            account_id: account_id.to_owned(),
            request_id: request_id.to_owned(),
            decision,
            delivery: Delivery::Queued,
            detail: None,
        });
        inner.delivery_wake.notify_one();
        Ok(entry)
    }

    /// [`crate::gate::decidable`] at `now`; an expired request is marked
    /// so in the store (and subscribers told).
    async fn check_decidable(&self, item: &crate::store::InboxItem, now: u64) -> Result<()> {
        if let Err(error) = crate::gate::decidable(item, now) {
            if matches!(error, Error::Expired(_)) {
                self.inner.expire_due(now).await?;
            }
            return Err(error);
        }
        Ok(())
    }

    /// One delivery attempt for the queued decision of a request. A
    /// decision carrying a security key's assertion is sent only after every
    /// earlier queued assertion of the same credential: those are attempted
    /// first, oldest first, and while one of them stays queued this one is
    /// not sent (reported as [`DeliveryReport::Retrying`]).
    ///
    /// # Errors
    /// The store or the key store; server and network failures are reports.
    pub async fn deliver(&self, account_id: &str, request_id: &str) -> Result<DeliveryReport> {
        let Some(entry) = self.inner.store.outbox_entry(account_id, request_id).await? else {
            return Ok(DeliveryReport::NotQueued);
        };
        if let Some(credential) = assertion_credential(&entry) {
            let earlier = AssertionsOf::Credential(&credential);
            if let Some(waiting) = self.deliver_earlier(&earlier, Some(entry.history_id)).await? {
                return Ok(DeliveryReport::Retrying {
                    error: waiting.to_string(),
                    next_attempt_at: waiting.next_attempt_at.max(entry.next_attempt_at),
                });
            }
        }
        self.attempt(&entry).await
    }

    /// One attempt for every queued decision that is due, oldest first. A
    /// decision carrying a security key's assertion waits (whatever its own
    /// next attempt) while an earlier one of the same credential is queued:
    /// the server must never get a later assertion of a key before an
    /// earlier one ([`Approver::deliver`]).
    ///
    /// # Errors
    /// The store.
    pub async fn deliver_due(&self) -> Result<Vec<(OutboxEntry, DeliveryReport)>> {
        let now = self.inner.now();
        let mut out = Vec::new();
        // Credentials with an earlier assertion still queued.
        let mut held = std::collections::HashSet::new();
        for entry in self.inner.store.outbox().await? {
            let credential = assertion_credential(&entry);
            let waits = credential.as_ref().is_some_and(|c| held.contains(c));
            // An expired decision is ended here without being sent.
            let expired = entry.expires_at <= now;
            if expired || (entry.next_attempt_at <= now && !waits) {
                let report = self.attempt_or_retry(&entry).await?;
                if matches!(report, DeliveryReport::Retrying { .. }) {
                    held.extend(credential);
                }
                out.push((entry, report));
            } else {
                held.extend(credential);
            }
        }
        Ok(out)
    }

    /// Delivers the queued decisions carrying an assertion of `which`,
    /// oldest first (made before the history row `before`, if given), each
    /// once, stopping at the first that stays queued, which is returned.
    async fn deliver_earlier(&self, which: &AssertionsOf<'_>, before: Option<i64>) -> Result<Option<Waiting>> {
        for entry in self.inner.store.outbox().await? {
            if before.is_some_and(|b| entry.history_id >= b) {
                break;
            }
            let Some(credential) = assertion_credential(&entry) else { continue };
            let concerned = match which {
                AssertionsOf::Account(a) => entry.account_id == *a,
                AssertionsOf::Credential(c) => credential == *c,
            };
            if !concerned {
                continue;
            }
            if let DeliveryReport::Retrying { error, next_attempt_at } = self.attempt_or_retry(&entry).await? {
                return Ok(Some(Waiting { request_id: entry.request_id, error, next_attempt_at }));
            }
        }
        Ok(None)
    }

    /// One attempt for `entry`; a failure of it (the network, the server)
    /// is scheduled for a retry.
    async fn attempt_or_retry(&self, entry: &OutboxEntry) -> Result<DeliveryReport> {
        match self.attempt(entry).await {
            Ok(report) => Ok(report),
            Err(e) => self.retry(entry, &e).await,
        }
    }

    /// One attempt for `entry`. One carrying an assertion is attempted under
    /// its credential's lock (one at a time per key in this process), and
    /// only if still queued: the same assertion posted twice at once could
    /// reach the server's counter check after its own first copy was
    /// recorded. If another task ended it meanwhile, its recorded outcome is
    /// the report. Other keys' and accounts' deliveries do not wait.
    async fn attempt(&self, entry: &OutboxEntry) -> Result<DeliveryReport> {
        let Some(credential) = assertion_credential(entry) else {
            return self.deliver_entry(entry.clone(), None).await;
        };
        // The account and its device key are read before waiting for the
        // lock (the key store may wait for the OS keychain or a passphrase);
        // an expired entry, ended without being sent, needs neither. A
        // failure is reported only if the entry is still queued once the
        // lock is held.
        let key = if entry.expires_at > self.inner.now() {
            let read = async {
                let account = self.inner.store.account(&entry.account_id).await?;
                let key = self.inner.key_for(&account).await?;
                Ok::<_, Error>((account, key))
            };
            Some(read.await)
        } else {
            None
        };
        let _one = self.inner.assertion_delivery.lock(&credential).await;
        match self.inner.store.outbox_entry(&entry.account_id, &entry.request_id).await? {
            Some(current) if current.history_id == entry.history_id => {
                self.deliver_entry(current, key.transpose()?).await
            }
            _ => Ok(ended_report(&self.inner.store.history_entry(entry.history_id).await?)),
        }
    }

    /// Delivers queued decisions until none is left (delivered, refused or
    /// expired) or `timeout` passes.
    ///
    /// # Errors
    /// The store.
    pub async fn flush_outbox(&self, timeout: Duration) -> Result<Vec<OutboxEntry>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            self.deliver_due().await?;
            let left = self.inner.store.outbox().await?;
            if left.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(left);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Ends a delivery and tells subscribers; `false` if another process
    /// ended it first.
    async fn finish(&self, entry: &OutboxEntry, decision: Decision, end: DeliveryEnd<'_>) -> Result<bool> {
        let ended = self.inner.store.finish_delivery(entry, &end).await?;
        if ended {
            self.inner.emit(ApproverEvent::Decided {
                account_id: entry.account_id.clone(),
                request_id: entry.request_id.clone(),
                decision,
                delivery: end.delivery,
                detail: end.reason.map(str::to_owned),
            });
        }
        Ok(ended)
    }

    /// One delivery attempt; `read`: the account and its device key if
    /// already read.
    async fn deliver_entry(
        &self,
        entry: OutboxEntry,
        read: Option<(Account, Arc<DeviceKeyPair>)>,
    ) -> Result<DeliveryReport> {
        let inner = &self.inner;
        let now = inner.now();
        let history = inner.store.history_entry(entry.history_id).await?;
        let decision = history.decision;
        let end = |delivery, status, reason, server_status, server_answer| DeliveryEnd {
            delivery,
            status,
            reason,
            server_status,
            server_answer,
            shown_schemas: None,
            now,
        };
        if now >= entry.expires_at {
            let reason = "the request expired before the decision reached the server";
            self.finish(&entry, decision, end(Delivery::Expired, LocalStatus::Expired, Some(reason), None, None))
                .await?;
            return Ok(DeliveryReport::Expired);
        }
        let (account, key) = match read {
            Some(read) => read,
            None => {
                let account = inner.store.account(&entry.account_id).await?;
                let key = inner.key_for(&account).await?;
                (account, key)
            }
        };
        // A stored entry that cannot be read can never be sent: retrying
        // would only keep it queued (and, carrying an assertion, block the
        // key's next approvals) until the request expires. It is ended.
        let (mut submission, claims, request_id) = match decode_entry(&entry, &account.public_jwk) {
            Ok(decoded) => decoded,
            Err(why) => {
                let reason = format!("{UNSENDABLE}: {why}");
                self.finish(
                    &entry,
                    decision,
                    end(Delivery::Rejected, LocalStatus::Rejected, Some(reason.as_str()), None, None),
                )
                .await?;
                return Ok(DeliveryReport::Rejected { error: reason });
            }
        };
        if claims.exp <= now.saturating_add(RESIGN_MARGIN_SECS) {
            let fresh = DecisionClaims {
                iat: now,
                exp: now.saturating_add(countersign_protocol::device::statement::MAX_DECISION_LIFETIME_SECS),
                jti: Jti::generate().map_err(|_| Error::Signing("random generator failed".into()))?,
                ..claims
            };
            let jws = fresh.sign(&key).map_err(|e| Error::Signing(e.to_string()))?;
            submission.decision_jws = jws.clone();
            let json = serde_json::to_string(&submission).map_err(|e| Error::Signing(e.to_string()))?;
            inner.store.replace_signature(&entry, &json, &jws).await?;
        }

        let url = decision_url(&account.device_endpoint, &request_id);
        match inner.http.device_post(&url, &inner.auth(&account, &key), &submission).await {
            Ok((status, value)) => {
                let answer = value.to_string();
                let result: DecisionResult = match typed(value, "decision result") {
                    Ok(r) => r,
                    Err(e) => return self.retry(&entry, &e).await,
                };
                let local = match (&result.status, decision) {
                    (RequestStatus::Denied, _) | (_, Decision::Deny) => LocalStatus::Denied,
                    _ => LocalStatus::Approved,
                };
                self.finish(&entry, decision, end(Delivery::Delivered, local, None, Some(status), Some(&answer)))
                    .await?;
                Ok(DeliveryReport::Delivered { result })
            }
            Err(Error::Server { status, error }) if !crate::error::transient_status(status) => {
                let answer = serde_json::to_string(&error).unwrap_or_default();
                let text = match &error.error_description {
                    Some(d) => format!("{}: {d}", error.error),
                    None => error.error.to_string(),
                };
                let mut shown = None;
                let (delivery, local, report) = match &error.error {
                    DeviceErrorCode::DecisionConflict => (
                        Delivery::Conflict,
                        LocalStatus::Conflict,
                        DeliveryReport::Conflict { status: error.status.as_ref().map(|s| s.as_str().to_owned()) },
                    ),
                    DeviceErrorCode::RequestExpired => {
                        (Delivery::Expired, LocalStatus::Expired, DeliveryReport::Expired)
                    }
                    DeviceErrorCode::RequestWithdrawn => {
                        (Delivery::Withdrawn, LocalStatus::Cancelled, DeliveryReport::Withdrawn)
                    }
                    DeviceErrorCode::DisplaySchemaMismatch => {
                        // Never re-signed here: the schemas are fetched again,
                        // and the request goes back to pending, recorded as
                        // shown with the schemas signed, so that approving it
                        // needs it shown again with the new ones.
                        if let Err(e) = inner.refresh_schemas(&account).await {
                            tracing::warn!("fetching the display schemas of {}: {e}", account.issuer);
                        }
                        shown = Some(display::shown_json(&submission.display_schemas)?);
                        (
                            Delivery::Rejected,
                            LocalStatus::Pending,
                            DeliveryReport::NeedsReview { reason: REVIEW.into() },
                        )
                    }
                    _ => (Delivery::Rejected, LocalStatus::Rejected, DeliveryReport::Rejected { error: text.clone() }),
                };
                let reason = if shown.is_some() { REVIEW } else { text.as_str() };
                let mut ended = end(delivery, local, Some(reason), Some(status), Some(&answer));
                ended.shown_schemas = shown.as_deref();
                if self.finish(&entry, decision, ended).await? && shown.is_some() {
                    inner.emit(ApproverEvent::ReviewRequired {
                        account_id: entry.account_id.clone(),
                        request_id: entry.request_id.clone(),
                        reason: REVIEW.to_owned(),
                    });
                }
                Ok(report)
            }
            Err(e) => self.retry(&entry, &e).await,
        }
    }

    async fn retry(&self, entry: &OutboxEntry, e: &Error) -> Result<DeliveryReport> {
        let t = &self.inner.config.transport;
        let delay = backoff_delay(t.delivery_retry_base, t.delivery_retry_cap, entry.attempts);
        let next = self.inner.now().saturating_add(delay.as_secs().max(1));
        self.inner.store.outbox_retry(entry, next, &e.to_string()).await?;
        Ok(DeliveryReport::Retrying { error: e.to_string(), next_attempt_at: next })
    }
}

/// Which queued assertions [`Approver::deliver_earlier`] delivers.
enum AssertionsOf<'a> {
    /// Those of an account (before it makes a new one).
    Account(&'a str),
    /// Those of a credential (before a later one of it is sent).
    Credential(&'a str),
}

/// An earlier decision carrying an assertion that is still queued.
#[derive(Debug)]
struct Waiting {
    request_id: String,
    error: String,
    next_attempt_at: u64,
}

impl std::fmt::Display for Waiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "an earlier approval made with a security key (request \"{}\") is waiting to be sent ({}); the server \
             must get it before a later one of the same key, or it would see the key's signature counter go \
             backwards and flag the key as possibly cloned",
            self.request_id, self.error
        )
    }
}

impl Waiting {
    /// The refusal of a new approval with the key.
    fn refusal(&self) -> Error {
        Error::Network(format!("{self}: nothing was signed; approve this request again once the server can be reached"))
    }
}

/// The credential id of the security key assertion a queued decision
/// carries, if any.
pub(crate) fn assertion_credential(entry: &OutboxEntry) -> Option<String> {
    let submission: serde_json::Value = serde_json::from_str(&entry.submission_json).ok()?;
    let assertion = submission.get("webauthn").filter(|w| !w.is_null())?;
    // A malformed one still counts as an assertion (of no known credential).
    Some(assertion.get("id").and_then(serde_json::Value::as_str).unwrap_or_default().to_owned())
}

/// When each queued decision may next be attempted: its own next attempt,
/// but for one carrying an assertion not before the earlier ones of the same
/// credential (it waits for them); an expiry is due when it comes (it is
/// ended without sending). `outbox` oldest first, as [`Store::outbox`]
/// gives it.
///
/// [`Store::outbox`]: crate::store::Store::outbox
pub(crate) fn due_times(outbox: &[OutboxEntry]) -> Vec<u64> {
    let mut latest: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    outbox
        .iter()
        .map(|entry| {
            let mut due = entry.next_attempt_at;
            if let Some(credential) = assertion_credential(entry) {
                let earlier = latest.entry(credential).or_insert(0);
                due = due.max(*earlier);
                *earlier = due;
            }
            due.min(entry.expires_at)
        })
        .collect()
}

/// What became of a decision another task delivered, as a report.
fn ended_report(history: &HistoryEntry) -> DeliveryReport {
    let answer: Option<serde_json::Value> = history.server_answer.as_deref().and_then(|a| serde_json::from_str(a).ok());
    let field = |name: &str| answer.as_ref().and_then(|a| a.get(name)).and_then(serde_json::Value::as_str);
    match history.delivery {
        Delivery::Queued => DeliveryReport::NotQueued,
        Delivery::Delivered => match answer.clone().map(serde_json::from_value::<DecisionResult>) {
            Some(Ok(result)) => DeliveryReport::Delivered { result },
            _ => DeliveryReport::NotQueued,
        },
        Delivery::Expired => DeliveryReport::Expired,
        Delivery::Conflict => DeliveryReport::Conflict { status: field("status").map(str::to_owned) },
        Delivery::Withdrawn => DeliveryReport::Withdrawn,
        Delivery::Rejected => match (field("error"), field("error_description")) {
            (Some(code), _) if code == DeviceErrorCode::DisplaySchemaMismatch.as_str() => {
                DeliveryReport::NeedsReview { reason: REVIEW.into() }
            }
            (Some(code), Some(d)) => DeliveryReport::Rejected { error: format!("{code}: {d}") },
            (Some(code), None) => DeliveryReport::Rejected { error: code.to_owned() },
            (None, _) if history.server_status.is_none() => DeliveryReport::Rejected { error: UNSENDABLE.into() },
            (None, _) => DeliveryReport::Rejected { error: "refused by the server".into() },
        },
    }
}

/// Why a queued decision ended without reaching the server (followed by
/// what was wrong with it).
pub const UNSENDABLE: &str =
    "the queued decision is damaged and can never be sent; it was ended without reaching the server";

/// A queued decision's submission, the claims of its (verified) JWS and its
/// request id; `Err` says why the stored entry cannot be used. Depends only
/// on the stored entry and the account's public key: a failure is
/// permanent.
fn decode_entry(
    entry: &OutboxEntry,
    public_jwk: &countersign_protocol::jws::PublicJwk,
) -> std::result::Result<(DecisionSubmission, DecisionClaims, countersign_protocol::device::RequestId), String> {
    let submission: DecisionSubmission =
        serde_json::from_str(&entry.submission_json).map_err(|e| format!("outbox submission: {e}"))?;
    let (_, claims) =
        jws::verify_claims::<DecisionClaims>(&submission.decision_jws, public_jwk, Some(JwtType::Decision.as_str()))
            .map_err(|e| format!("outbox JWS: {e}"))?;
    let request_id = countersign_protocol::device::RequestId::new(entry.request_id.clone())
        .map_err(|e| format!("request id: {e}"))?;
    Ok((submission, claims, request_id))
}

/// One async lock per credential id ([`Approver::deliver`]); an entry stays
/// in the map only while a task holds or waits for its lock.
#[derive(Debug, Default)]
pub(crate) struct CredentialLocks(std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl CredentialLocks {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<tokio::sync::Mutex<()>>>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits for, then holds, the lock of `credential` until the guard is
    /// dropped.
    pub(crate) async fn lock(&self, credential: &str) -> CredentialGuard<'_> {
        let lock = Arc::clone(self.map().entry(credential.to_owned()).or_default());
        // Made before waiting, so that a cancelled wait also cleans up.
        let mut guard = CredentialGuard { locks: self, credential: credential.to_owned(), lock, held: None };
        guard.held = Some(Arc::clone(&guard.lock).lock_owned().await);
        guard
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map().len()
    }
}

/// [`CredentialLocks::lock`].
pub(crate) struct CredentialGuard<'a> {
    locks: &'a CredentialLocks,
    credential: String,
    lock: Arc<tokio::sync::Mutex<()>>,
    held: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for CredentialGuard<'_> {
    fn drop(&mut self) {
        let mut map = self.locks.map();
        self.held = None;
        // Only the map and this guard refer to the lock: no one holds or
        // waits for it (takers clone it under the map's lock).
        if Arc::strong_count(&self.lock) <= 2 && map.get(&self.credential).is_some_and(|l| Arc::ptr_eq(l, &self.lock)) {
            map.remove(&self.credential);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt as _;

    #[test]
    fn backoff_doubles_is_capped_and_jittered() {
        let base = Duration::from_secs(1);
        let cap = Duration::from_secs(60);
        for attempt in 0..30 {
            let d = backoff_delay(base, cap, attempt);
            let full = base.saturating_mul(2u32.saturating_pow(attempt.min(20))).min(cap);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?} vs {full:?}");
        }
        let samples: Vec<Duration> = (0..16).map(|_| backoff_delay(base, cap, 10)).collect();
        assert!(samples.windows(2).any(|w| w[0] != w[1]), "no jitter");
    }

    fn queued(history_id: i64, webauthn: Option<&str>, next_attempt_at: u64, expires_at: u64) -> OutboxEntry {
        let assertion =
            webauthn.map_or(serde_json::Value::Null, |id| serde_json::json!({ "id": id, "type": "public-key" }));
        OutboxEntry {
            account_id: "acc".into(),
            request_id: format!("req{history_id}"),
            history_id,
            submission_json: serde_json::json!({ "decision_jws": "x", "display_schemas": {}, "webauthn": assertion })
                .to_string(),
            expires_at,
            attempts: 0,
            next_attempt_at,
            last_error: None,
        }
    }

    #[test]
    fn a_later_assertion_of_a_key_is_due_no_earlier_than_the_earlier_one() {
        let outbox = [
            queued(1, Some("k1"), 50, 1000),
            queued(2, None, 10, 1000),
            queued(3, Some("k1"), 20, 1000),
            queued(4, Some("k2"), 30, 1000),
            queued(5, Some("k1"), 80, 1000),
            queued(6, Some("k1"), 60, 70),
        ];
        assert_eq!(assertion_credential(&outbox[0]).as_deref(), Some("k1"));
        assert_eq!(assertion_credential(&outbox[1]), None);
        // 3 waits for 1; 5 has its own, later time; 6 waits for 5 but
        // expires (ended without sending) before.
        assert_eq!(due_times(&outbox), [50, 10, 50, 30, 80, 70]);
    }

    #[tokio::test]
    async fn one_lock_per_credential_removed_once_no_one_holds_it() {
        let locks = CredentialLocks::default();
        let k1 = locks.lock("k1").await;
        // Another key is not held up by k1.
        let k2 = locks.lock("k2").now_or_never().expect("k2 waited for k1");
        assert_eq!(locks.len(), 2);
        // The same key waits.
        assert!(locks.lock("k1").now_or_never().is_none());
        // The cancelled wait left k1's entry to its holder.
        assert_eq!(locks.len(), 2);
        drop(k2);
        assert_eq!(locks.len(), 1);
        let waiter = {
            let locks = &locks;
            async move {
                let _again = locks.lock("k1").await;
                // Held by this waiter: the entry is still there.
                locks.len()
            }
        };
        let (len, ()) = tokio::join!(waiter, async { drop(k1) });
        assert_eq!(len, 1);
        assert_eq!(locks.len(), 0, "no entry left once no one holds or waits");
        // A wait cancelled after its holder left cleans up too.
        let k1 = locks.lock("k1").await;
        let mut pending = Box::pin(locks.lock("k1"));
        assert!(pending.as_mut().now_or_never().is_none());
        drop(k1);
        drop(pending);
        assert_eq!(locks.len(), 0);
    }

    #[test]
    fn the_outcome_another_task_recorded_is_reported() {
        let mut h = HistoryEntry {
            id: 1,
            account_id: "acc".into(),
            request_id: "req".into(),
            decision: Decision::Approve,
            deny_reason: None,
            statement_jcs: "{}".into(),
            statement_hash: StatementHash::digest(b"{}"),
            decision_jws: "x".into(),
            decided_at: 1,
            delivery: Delivery::Delivered,
            server_status: Some(200),
            server_answer: Some(r#"{"request_id":"req_1","status":"approved","decided_at":5}"#.into()),
            delivered_at: Some(5),
        };
        let DeliveryReport::Delivered { result } = ended_report(&h) else { panic!("{:?}", ended_report(&h)) };
        assert_eq!((result.status.as_str(), result.decided_at), ("approved", 5));
        h.delivery = Delivery::Rejected;
        h.server_answer = Some(r#"{"error":"step_up_failed","error_description":"no"}"#.into());
        assert_eq!(ended_report(&h), DeliveryReport::Rejected { error: "step_up_failed: no".into() });
        h.server_answer = Some(r#"{"error":"display_schema_mismatch"}"#.into());
        assert_eq!(ended_report(&h), DeliveryReport::NeedsReview { reason: REVIEW.into() });
        h.delivery = Delivery::Conflict;
        h.server_answer = Some(r#"{"error":"decision_conflict","status":"denied"}"#.into());
        assert_eq!(ended_report(&h), DeliveryReport::Conflict { status: Some("denied".into()) });
        h.delivery = Delivery::Expired;
        assert_eq!(ended_report(&h), DeliveryReport::Expired);
        // Ended here, never sent.
        (h.delivery, h.server_status, h.server_answer) = (Delivery::Rejected, None, None);
        assert_eq!(ended_report(&h), DeliveryReport::Rejected { error: UNSENDABLE.into() });
    }
}
