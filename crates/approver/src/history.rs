//! The history as the user reviews it: each decision with the request it
//! was about (while still stored) and the flagged characters of that
//! request's own strings, and its export as a JSON file only the user can
//! read.

use crate::approver::Approver;
use crate::display::{request_text, TextFinding};
use crate::error::{Error, Result};
use crate::store::HistoryEntry;
use countersign_protocol::device::ApproverRequest;
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;

/// The `format` member of an exported history.
pub const EXPORT_FORMAT: &str = "countersign-history-v1";

/// A decision with the request it was about (when still stored).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(rename = "HistoryView"))]
#[derive(Debug, Clone, Serialize)]
pub struct HistoryItem {
    /// The decision.
    #[serde(flatten)]
    pub entry: HistoryEntry,
    /// The request, while the inbox still holds it.
    pub request: Option<ApproverRequest>,
    /// Findings in that request's own strings (client name, binding code…).
    pub request_text: Vec<TextFinding>,
}

/// Where an export went.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportReport {
    /// The file written.
    pub path: String,
    /// How many decisions it holds.
    pub decisions: usize,
}

impl Approver {
    /// Decisions, newest first, each with its request when still stored.
    ///
    /// # Errors
    /// The store failed.
    pub async fn history_items(&self) -> Result<Vec<HistoryItem>> {
        let entries = self.history().await?;
        let mut requests: HashMap<(String, String), ApproverRequest> = self
            .inbox()
            .await?
            .into_iter()
            .map(|item| ((item.account_id, item.request.id.as_str().to_owned()), item.request))
            .collect();
        Ok(entries
            .into_iter()
            .map(|entry| {
                let key = (entry.account_id.clone(), entry.request_id.clone());
                let request = requests.get(&key).cloned();
                if request.is_some() {
                    // Keep the map small when a request was decided more than once.
                    requests.remove(&key);
                }
                let request_text = request.as_ref().map(request_text).unwrap_or_default();
                HistoryItem { entry, request, request_text }
            })
            .collect())
    }

    /// Writes the history ([`Approver::history_items`]) as JSON to
    /// `dir/countersign-history-{now}.json`, readable by the user only,
    /// never replacing a file. `app_version` names the program that wrote it.
    ///
    /// # Errors
    /// The store failed, or [`Error::Export`]: the file exists or cannot be
    /// written.
    pub async fn export_history(&self, dir: &Path, now: u64, app_version: &str) -> Result<ExportReport> {
        let history = self.history_items().await?;
        let document = serde_json::json!({
            "format": EXPORT_FORMAT,
            "exported_at": now,
            "app_version": app_version,
            "decisions": history,
        });
        let text = serde_json::to_string_pretty(&document)
            .map_err(|e| Error::Export(format!("cannot serialize the history: {e}")))?;
        let path = dir.join(format!("countersign-history-{now}.json"));
        write_private(dir, &path, text.as_bytes())?;
        Ok(ExportReport { path: path.display().to_string(), decisions: history.len() })
    }
}

/// Creates `path` (never replacing a file) readable by the user only.
fn write_private(dir: &Path, path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let fail = |e: std::io::Error| Error::Export(format!("cannot write {}: {e}", path.display()));
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(fail)?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(fail)
}
