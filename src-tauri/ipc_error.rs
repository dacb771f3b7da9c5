//! The one error shape that crosses IPC: `{code, message}`. `code` is stable
//! and machine-readable; `message` is for people and never carries secrets.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct IpcError {
    pub code: &'static str,
    pub message: String,
}
