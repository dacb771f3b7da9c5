//! `countersign-cli`: the headless approver on `countersign-approver`, plus a
//! demo CIBA agent (`agent register|request|poll`) that uses only the public
//! HTTP API. Human-readable output by default, `--json` everywhere; all
//! untrusted text is made safe for the terminal ([`safe`]).

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub use countersign_agent as agent;
mod commands;
pub mod render;
pub mod safe;

/// DANGER, tests only: see the `danger-soft-authenticator` feature.
#[cfg(feature = "danger-soft-authenticator")]
pub use commands::ENV_DANGER_SOFT_AUTHENTICATOR;
pub use commands::{run, Cli};
