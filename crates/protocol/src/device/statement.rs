//! The approval statement, its hash, and the signed decision.

use super::claims::{check_audience, check_signer, check_times, device_jwt_error};
use super::ids::{DeviceId, Jti, Nonce, RequestId, SchemaHash, StatementHash};
use super::issuer::Issuer;
use super::registered::registered_enum;
use super::request::{ApproverRequest, RequestStatus, Requirement, Risk};
use crate::amr::Amr;
use crate::ciba::Audience;
use crate::jcs::{self, JcsError};
use crate::jws::{self, DeviceKeyPair, JwsError, JwtType, PublicJwk, SignHeader};
use crate::rar::AuthorizationDetails;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

/// The statement format version (`v`). Version 2 added the agent as shown
/// (`client_name`, `client_verified`) and the `risk` and `requires` shown;
/// version 3 the scope descriptions shown (`scope_descriptions`) and the
/// API the token is for (`audience`), and `authorization_details: []` for a
/// scope-only request.
pub const STATEMENT_VERSION: u64 = 3;
/// Longest accepted `exp − iat` of a decision JWS, seconds.
pub const MAX_DECISION_LIFETIME_SECS: u64 = 120;

registered_enum! {
    /// The user's decision. A closed set: an unknown value is refused, never
    /// carried as an extension.
    pub enum Decision {
        /// Approve.
        Approve => "approve",
        /// Deny.
        Deny => "deny",
    }
}

registered_enum! {
    /// Why the user denied (`deny_reason`).
    pub enum DenyReason {
        /// "I did not start this": feeds the server's fatigue control.
        NotMe => "not_me",
        /// The request is mine but the details are wrong.
        WrongDetails => "wrong_details",
        /// Anything else.
        Other => "other",
    } extension
}

/// `v: 3`. Serializes as [`STATEMENT_VERSION`]; any other value is refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatementVersion;

impl Serialize for StatementVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(STATEMENT_VERSION)
    }
}

impl<'de> Deserialize<'de> for StatementVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = u64::deserialize(d)?;
        if v == STATEMENT_VERSION {
            Ok(Self)
        } else {
            Err(serde::de::Error::custom(format_args!(
                "unsupported statement version {v} (expected {STATEMENT_VERSION})"
            )))
        }
    }
}

/// Why a statement could not be built or hashed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    /// A type in `authorization_details` has no entry in `display_schemas`.
    #[error("no display schema hash for type \"{0}\"")]
    MissingDisplaySchema(String),
    /// `display_schemas` names a type absent from `authorization_details`.
    #[error("display schema hash for type \"{0}\", which the request does not contain")]
    UnusedDisplaySchema(String),
    /// The statement breaks the strict JSON rules (e.g. a number beyond 2^53−1).
    #[error("statement cannot be canonicalized: {0}")]
    Jcs(#[from] JcsError),
}

/// What the user approves or denies, exactly: signed through its hash.
///
/// Built by the approver from what it displayed and by the server from what
/// it stored (plus its current display schemas); the two must give the same
/// [`ApprovalStatement::statement_hash`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalStatement {
    /// Always [`STATEMENT_VERSION`].
    pub v: StatementVersion,
    /// The request id.
    pub request_id: RequestId,
    /// The request nonce.
    pub nonce: Nonce,
    /// The issuer.
    pub issuer: Issuer,
    /// The agent's `client_id`.
    pub client_id: String,
    /// The agent's name as shown (`client.client_name`).
    pub client_name: String,
    /// Whether the agent was shown as verified by the server's operator
    /// (`client.verified`).
    pub client_verified: bool,
    /// The user's `sub`.
    pub sub: String,
    /// Requested scopes, in request order.
    pub scope: Vec<String>,
    /// The description shown for each requested scope the server knows
    /// (`scope_descriptions` of the request); a scope without one was shown
    /// as unknown.
    pub scope_descriptions: BTreeMap<String, String>,
    /// The API the access token is for, as shown (`null`: the issuer).
    pub audience: Option<Audience>,
    /// The binding message.
    pub binding_message: String,
    /// The authorization details, as received (`[]` for a scope-only
    /// request).
    pub authorization_details: AuthorizationDetails,
    /// For each type in `authorization_details`, the hash of the display
    /// schema used to render it ([`SchemaHash::of_schema`];
    /// [`SchemaHash::of_no_schema`] for a type rendered without one).
    pub display_schemas: BTreeMap<String, SchemaHash>,
    /// The risk the server gave the request, as sent (an approver shows an
    /// unknown level as critical).
    pub risk: Risk,
    /// The step-ups the decision needed, as sent.
    pub requires: Vec<Requirement>,
    /// The decision.
    pub decision: Decision,
    /// The request's `expires_at`.
    pub expires_at: u64,
}

impl ApprovalStatement {
    /// The statement for `request`, `decision` and the display schemas used.
    ///
    /// # Errors
    /// `display_schemas` must have exactly one entry per type present.
    pub fn build(
        request: &ApproverRequest,
        decision: Decision,
        display_schemas: BTreeMap<String, SchemaHash>,
    ) -> Result<Self, StatementError> {
        check_display_schemas(&request.authorization_details, &display_schemas)?;
        Ok(Self {
            v: StatementVersion,
            request_id: request.id.clone(),
            nonce: request.nonce.clone(),
            issuer: request.issuer.clone(),
            client_id: request.client.client_id.clone(),
            client_name: request.client.client_name.clone(),
            client_verified: request.client.verified,
            sub: request.user.sub.clone(),
            scope: request.scope.clone(),
            scope_descriptions: request.scope_descriptions.clone(),
            audience: request.audience.clone(),
            binding_message: request.binding_message.clone(),
            authorization_details: request.authorization_details.clone(),
            display_schemas,
            risk: request.risk.clone(),
            requires: request.requires.clone(),
            decision,
            expires_at: request.expires_at,
        })
    }

    /// `JCS(statement)`, with the strict number and depth rules.
    ///
    /// # Errors
    /// [`StatementError::Jcs`].
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, StatementError> {
        Ok(jcs::canonicalize_serialize(self)?)
    }

    /// `base64url(SHA-256(JCS(statement)))`.
    ///
    /// # Errors
    /// [`StatementError::Jcs`] (a number beyond 2^53−1 is an error, never rounded).
    pub fn statement_hash(&self) -> Result<StatementHash, StatementError> {
        Ok(StatementHash::digest(&self.canonical_bytes()?))
    }
}

fn check_display_schemas(
    details: &AuthorizationDetails,
    display_schemas: &BTreeMap<String, SchemaHash>,
) -> Result<(), StatementError> {
    for t in details.types() {
        if !display_schemas.contains_key(t) {
            return Err(StatementError::MissingDisplaySchema(t.to_owned()));
        }
    }
    for t in display_schemas.keys() {
        if !details.types().any(|d| d == t) {
            return Err(StatementError::UnusedDisplaySchema(t.clone()));
        }
    }
    Ok(())
}

/// How a claimed statement hash compares with the server's statement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementCheckError {
    /// The approver signed the same content but rendered it with other
    /// display schemas: it must refresh its schemas and show the request
    /// again (`display_schema_mismatch`).
    #[error("display schemas differ from the server's current ones")]
    DisplaySchemaMismatch {
        /// The server's current hashes, to tell the approver.
        current: BTreeMap<String, SchemaHash>,
    },
    /// The approver signed something else (`statement_mismatch`).
    #[error("statement hash does not match the request")]
    StatementMismatch,
    /// The server's own statement cannot be built (a server-side bug or a
    /// stored request breaking the strict rules).
    #[error("server statement: {0}")]
    Statement(#[from] StatementError),
}

/// The server's statement check, pure. Rebuilds the statement from the
/// stored `request`, the decision in the JWS and the server's `current`
/// display schemas; if its hash is `claimed`, the statement matches. If not,
/// and the statement rebuilt with the approver's `submitted` display schemas
/// hashes to `claimed`, only the display schemas differ.
///
/// # Errors
/// [`StatementCheckError`].
pub fn check_statement(
    request: &ApproverRequest,
    decision: Decision,
    current: &BTreeMap<String, SchemaHash>,
    submitted: &BTreeMap<String, SchemaHash>,
    claimed: &StatementHash,
) -> Result<(), StatementCheckError> {
    let ours = ApprovalStatement::build(request, decision, current.clone())?.statement_hash()?;
    if &ours == claimed {
        return Ok(());
    }
    if submitted != current {
        if let Ok(theirs) = ApprovalStatement::build(request, decision, submitted.clone()) {
            if theirs.statement_hash().as_ref() == Ok(claimed) {
                return Err(StatementCheckError::DisplaySchemaMismatch { current: current.clone() });
            }
        }
    }
    Err(StatementCheckError::StatementMismatch)
}

device_jwt_error! {
    /// Why a decision JWS was refused (beyond the statement comparison).
    pub enum DecisionError("decision JWS", "decision JWS", max lifetime MAX_DECISION_LIFETIME_SECS) {
        /// `request_id` is not the request of the URL.
        #[error("request_id {found:?} is not {expected:?}")]
        RequestId {
            /// Request of the URL.
            expected: String,
            /// `request_id` found.
            found: String,
        },
        /// `deny_reason` with `decision: approve`.
        #[error("deny_reason is only allowed with decision \"deny\"")]
        DenyReasonWithApprove,
    }
}

/// Claims of a decision JWS (`typ: decision+jwt`, `kid` = device id).
/// Unknown claims are refused.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionClaims {
    /// The device id.
    pub iss: DeviceId,
    /// The issuer.
    pub aud: Issuer,
    /// Issued at, unix seconds.
    pub iat: u64,
    /// Expiry, unix seconds (at most 120 s after `iat`).
    pub exp: u64,
    /// Unique id.
    pub jti: Jti,
    /// The request decided.
    pub request_id: RequestId,
    /// The decision (also inside the statement).
    pub decision: Decision,
    /// Why, for a denial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny_reason: Option<DenyReason>,
    /// Hash of the approval statement.
    pub statement_hash: StatementHash,
    /// How the approver verified the person before signing (RFC 8176
    /// values, sorted, no repeats): `user` after an OS prompt; absent when
    /// it did not verify them (`docs/protocol.md` §8.1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<Amr>,
}

impl DecisionClaims {
    /// Claims for `statement`, signed by `device_id` at `now`, valid
    /// [`MAX_DECISION_LIFETIME_SECS`], with a random `jti`.
    ///
    /// # Errors
    /// [`DecisionError::DenyReasonWithApprove`], a statement that cannot be
    /// hashed, or an RNG failure.
    pub fn new(
        device_id: DeviceId,
        statement: &ApprovalStatement,
        deny_reason: Option<DenyReason>,
        now: u64,
    ) -> Result<Self, DecisionClaimsBuildError> {
        if statement.decision == Decision::Approve && deny_reason.is_some() {
            return Err(DecisionError::DenyReasonWithApprove.into());
        }
        let statement_hash = statement.statement_hash()?;
        let jti = Jti::generate().map_err(|_| DecisionError::Jws(JwsError::Signing))?;
        Ok(Self {
            iss: device_id,
            aud: statement.issuer.clone(),
            iat: now,
            exp: now.saturating_add(MAX_DECISION_LIFETIME_SECS),
            jti,
            request_id: statement.request_id.clone(),
            decision: statement.decision,
            deny_reason,
            statement_hash,
            amr: Vec::new(),
        })
    }

    /// The same claims stating that the approver verified the person by
    /// `amr` (normalized: sorted, no repeats).
    #[must_use]
    pub fn with_amr(mut self, amr: impl IntoIterator<Item = Amr>) -> Self {
        self.amr = crate::amr::normalized(amr);
        self
    }

    /// Checks audience, request, times and the deny reason (pure; the
    /// signature, `kid` and `iss` are checked by [`verify_decision`], the
    /// statement by [`check_statement`]).
    ///
    /// # Errors
    /// One [`DecisionError`] per rule.
    pub fn validate(
        &self,
        now: u64,
        expected_aud: &Issuer,
        expected_request_id: &RequestId,
    ) -> Result<(), DecisionError> {
        check_audience(&self.aud, expected_aud)?;
        if &self.request_id != expected_request_id {
            return Err(DecisionError::RequestId {
                expected: expected_request_id.as_str().to_owned(),
                found: self.request_id.as_str().to_owned(),
            });
        }
        check_times(self.iat, self.exp, now, MAX_DECISION_LIFETIME_SECS)?;
        if self.decision == Decision::Approve && self.deny_reason.is_some() {
            return Err(DecisionError::DenyReasonWithApprove);
        }
        Ok(())
    }

    /// Whether `other` is the same decision (an identical resubmission):
    /// same device, request, decision, deny reason, statement hash and `amr`.
    /// `iat`, `exp` and `jti` may differ (the approver may have re-signed).
    #[must_use]
    pub fn same_decision(&self, other: &Self) -> bool {
        self.iss == other.iss
            && self.request_id == other.request_id
            && self.decision == other.decision
            && self.deny_reason == other.deny_reason
            && self.statement_hash == other.statement_hash
            && crate::amr::normalized(self.amr.iter().cloned()) == crate::amr::normalized(other.amr.iter().cloned())
    }

    /// Signs the decision: header `{"alg":"ES256","typ":"decision+jwt","kid":<iss>}`.
    ///
    /// # Errors
    /// [`JwsError`].
    pub fn sign(&self, key: &DeviceKeyPair) -> Result<String, JwsError> {
        key.sign(&SignHeader { typ: Some(JwtType::Decision), kid: Some(self.iss.as_str().to_owned()) }, self)
    }
}

/// Why [`DecisionClaims::new`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionClaimsBuildError {
    /// A rule of the claims.
    #[error(transparent)]
    Decision(#[from] DecisionError),
    /// The statement cannot be hashed.
    #[error(transparent)]
    Statement(#[from] StatementError),
}

/// Verifies a decision JWS with the stored key of `device_id`: signature,
/// `typ`, `kid` = `iss` = `device_id`, then [`DecisionClaims::validate`].
///
/// # Errors
/// [`DecisionError`].
pub fn verify_decision(
    jws: &str,
    key: &PublicJwk,
    device_id: &DeviceId,
    now: u64,
    expected_aud: &Issuer,
    expected_request_id: &RequestId,
) -> Result<DecisionClaims, DecisionError> {
    let (header, claims): (_, DecisionClaims) = jws::verify_claims(jws, key, Some(JwtType::Decision.as_str()))?;
    check_signer(header.kid.as_deref(), &claims.iss, device_id)?;
    claims.validate(now, expected_aud, expected_request_id)?;
    Ok(claims)
}

/// `POST {device}/requests/{id}/decision` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionSubmission {
    /// The decision JWS.
    pub decision_jws: String,
    /// The display schema hashes the approver used (the same map as in the
    /// statement), so the server can tell a schema-only mismatch apart.
    pub display_schemas: BTreeMap<String, SchemaHash>,
    /// For `requires: ["webauthn"]`: the WebAuthn assertion
    /// (`PublicKeyCredential` JSON) whose challenge is the statement hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webauthn: Option<serde_json::Value>,
}

/// `POST {device}/requests/{id}/decision` success body (HTTP 200), also
/// returned unchanged for an identical resubmission.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionResult {
    /// The request.
    pub request_id: RequestId,
    /// `approved` or `denied`.
    pub status: RequestStatus,
    /// When the decision was recorded, unix seconds.
    pub decided_at: u64,
}
