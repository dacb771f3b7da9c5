//! Approver events, forwarded to the UI through a `tauri::ipc::Channel` that
//! the UI hands over with the `subscribe_events` command. A channel needs no
//! permission beyond that command, whereas Tauri's global events would need
//! `core:event:*` granted to the window.

use countersign_approver::ApproverEvent;
use serde::Serialize;
use tauri::{AppHandle, Manager, Runtime};
use tokio::sync::broadcast::{self, error::RecvError};

use crate::shell::Shell;

/// What the UI receives: the approver's events as they are
/// (`{"event": "new_request", ...}`), plus the shell's own.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum UiEvent {
    Approver(ApproverEvent),
    Shell(ShellEvent),
}

#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ShellEvent {
    /// Events were lost (the UI was too slow): reload everything.
    Resync,
    /// Show this request (a notification was clicked).
    OpenRequest { account_id: String, request_id: String },
    /// Show the inbox (a notification of several requests was clicked).
    OpenInbox,
    /// Show the admin view (an administrator's notice was clicked).
    OpenAdmin,
    /// Show the enrollment preview of this link (a `countersign://` link).
    OpenEnroll {
        #[cfg_attr(test, ts(type = "string"))]
        link: crate::deep_link::EnrollLink,
    },
    /// The encrypted key file waits for its passphrase: ask for a new one
    /// (`create`) or for the one that opens it (`open`).
    PassphraseNeeded { purpose: countersign_approver::PassphrasePurpose },
    /// A security key the user is using asks for something (plug in,
    /// touch, PIN): shown until the command that started it returns.
    SecurityKey { prompt: crate::security_key::SecurityKeyPrompt },
}

impl ShellEvent {
    /// Asks the UI to show something: kept until the UI is listening (a
    /// link that started the app arrives before the page subscribes).
    pub fn is_navigation(&self) -> bool {
        matches!(
            self,
            ShellEvent::OpenRequest { .. }
                | ShellEvent::OpenInbox
                | ShellEvent::OpenAdmin
                | ShellEvent::OpenEnroll { .. }
                | ShellEvent::PassphraseNeeded { .. }
        )
    }
}

/// When a key-store call starts waiting for the key file's passphrase, the
/// window is shown and asked for it (the passphrase itself only ever goes
/// the other way, through the `submit_key_passphrase` command).
pub fn ask_passphrase_in_the_window<R: Runtime>(app: &AppHandle<R>) {
    let handle = app.clone();
    app.state::<Shell>().passphrase_prompt().on_request(move |purpose| {
        crate::tray::show_main_window(&handle);
        handle.state::<Shell>().publish(UiEvent::Shell(ShellEvent::PassphraseNeeded { purpose }));
    });
}

/// The security key's prompts go to the window (the PIN itself only ever
/// goes the other way, through the `submit_security_key_pin` command).
pub fn show_security_key_prompts_in_the_window<R: Runtime>(app: &AppHandle<R>) {
    let handle = app.clone();
    app.state::<Shell>().security_prompt().on_event(move |event| {
        let prompt = crate::security_key::SecurityKeyPrompt::of(&event);
        handle.state::<Shell>().publish(UiEvent::Shell(ShellEvent::SecurityKey { prompt }));
    });
}

/// Forwards every approver event to the UI until the approver goes away;
/// new requests are notified, and the tray's count follows the inbox.
pub async fn forward<R: Runtime>(app: AppHandle<R>, mut events: broadcast::Receiver<ApproverEvent>) {
    loop {
        let event = match events.recv().await {
            Ok(event) => UiEvent::Approver(event),
            Err(RecvError::Lagged(_)) => UiEvent::Shell(ShellEvent::Resync),
            Err(RecvError::Closed) => break,
        };
        match &event {
            UiEvent::Approver(ApproverEvent::NewRequest { item }) => crate::notify::on_new_request(&app, item),
            UiEvent::Approver(ApproverEvent::AdminNotice { notice, .. }) => {
                crate::notify::on_admin_notice(&app, notice);
            }
            _ => {}
        }
        let recount = matches!(
            &event,
            UiEvent::Approver(
                ApproverEvent::NewRequest { .. } | ApproverEvent::Withdrawn { .. } | ApproverEvent::Decided { .. }
            ) | UiEvent::Shell(ShellEvent::Resync)
        );
        app.state::<Shell>().publish(event);
        if recount {
            crate::tray::refresh_count(&app).await;
        }
    }
}
