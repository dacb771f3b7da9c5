//! Countersign approver core: everything an approver does except showing
//! things, shared by the headless CLI and the desktop app (no Tauri here).
//!
//! - [`Approver`]: open, [`Approver::enroll_preview`] (who an invitation
//!   is for, without spending it), [`Approver::enroll`] and
//!   [`Approver::enroll_replacing`] (re-enrollment), [`Approver::sync`],
//!   [`Approver::view`] and [`Approver::inbox_views`] (what shells show),
//!   [`Approver::decide`] ([`Approver::decide_with`] with a security key),
//!   [`Approver::security_keys`], [`Approver::add_security_key`] and
//!   [`Approver::remove_security_key`] (the user's WebAuthn credentials),
//!   [`Approver::start`] (push/poll transport and
//!   outbox delivery in the background), [`Approver::subscribe`] (events for
//!   shells), [`Approver::verify_receipt`], [`Approver::unverified_block`]
//!   and [`Approver::lift_unverified_block`] (the user's block of unverified
//!   agents).
//! - [`history`]: decisions with their requests, and their export.
//! - [`store`]: the SQLite store (accounts, inbox, history, outbox, schema
//!   cache), one transaction per state change.
//! - [`keys`]: device keys in the OS keychain, or in a passphrase-encrypted
//!   file where no keychain is reachable.
//! - [`schemas`]: each server's display schemas, fetched and cached pinned
//!   by hash.
//! - [`display`]: the rendering shown to the user (`countersign-details`)
//!   and the display schema hashes signed with it.
//! - [`qr_image`]: the enrollment link in a picture of its QR code.
//! - [`gate`]: whether a stored request may be decided and approved now,
//!   the checks [`Approver::decide`] makes, as pure functions.
//! - [`confirm`]: the rule that gates an approval (typing the binding
//!   message for high and critical risk and for `user_verification`), which
//!   [`Approver::decide`] enforces for every approver.
//! - [`webauthn`]: the WebAuthn client, the [`webauthn::Authenticator`]
//!   trait the shells' security keys implement, their prompts, and the
//!   assertion options of a decision (challenge = the statement hash).
//! - [`quick`]: whether a request may be decided from a notification, and
//!   exactly what that notification shows.
//!
//! The architecture is described in `docs/approver.md`.

// Library code reports errors; only tests may unwrap.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod admin;
mod approver;
mod blocks;
pub mod clock;
pub mod config;
pub mod confirm;
pub mod decision;
pub mod display;
mod enroll;
pub mod error;
pub mod events;
pub mod gate;
pub mod history;
mod http;
pub mod keys;
/// What the approver's HTTP client trusts, for other clients of the same servers.
pub use http::trust_ca_files;
pub mod qr_image;
pub mod quick;
pub mod receipt;
mod reenroll;
pub mod schemas;
mod security_keys;
pub mod sse;
pub mod store;
mod sync;
mod transport;
pub mod verify;
pub mod webauthn;

pub use approver::{Approver, EVENT_CAPACITY};
pub use config::{default_data_dir, ApproverConfig, KeyStoreChoice, TransportConfig};
pub use decision::{DecisionOutcome, DeliveryReport};
pub use display::RequestView;
pub use enroll::{platform, EnrollPreview, OPENID_CONFIGURATION};
pub use error::{Error, Result};
pub use events::{ApproverEvent, ConnectionState};
pub use history::{ExportReport, HistoryItem};
pub use keys::passphrase::{PassphrasePrompt, PassphrasePurpose};
pub use quick::{quick_decision, NotQuick, QuickPolicy, QuickText};
pub use receipt::{check_receipt, ReceiptCheck};
pub use reenroll::{Enrollment, KeptBecause};
pub use sync::SyncReport;
pub use transport::RunHandle;
pub use webauthn::{Authenticator, AuthenticatorError, SharedAuthenticator};
