//! Countersign wire types. No I/O: everything here is data, parsing,
//! formatting, hashing and signing, so the server, the approvers and the tests
//! share one definition of every message.
//!
//! Layers, in the manner of webauthn-rs: wire types here; logic in
//! `countersign-server` and `countersign-approver`; the shells on top.

// Library code reports errors; only tests may unwrap.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod admin;
pub mod amr;
pub mod ciba;
pub mod device;
pub mod discovery;
pub mod error;
pub mod jcs;
pub mod jws;
pub mod rar;
pub mod registration;
pub mod secret;
#[cfg(feature = "ts")]
pub mod ts;
mod wire;
