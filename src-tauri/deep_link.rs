//! `countersign://enroll?...` links. They arrive as the only argument of a
//! launch on Linux and Windows (a second launch hands its arguments to the
//! running app: single-instance plugin) and as Apple events on macOS; the
//! deep-link plugin turns both into one callback. A link only ever opens the
//! enrollment preview: the user sees the server and the user and confirms.

use std::ffi::OsStr;

use countersign_protocol::device::EnrollmentUri;
use serde::Serialize;
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_deep_link::DeepLinkExt as _;

use crate::events::{ShellEvent, UiEvent};
use crate::shell::Shell;

/// An enrollment link handed to the UI. It holds a one-time ticket, so its
/// `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct EnrollLink(String);

impl std::fmt::Debug for EnrollLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnrollLink(<redacted>)")
    }
}

/// The link, if `text` is an enrollment link (app URI or https link).
pub fn enrollment_link(text: &str) -> Option<EnrollLink> {
    EnrollmentUri::parse(text.trim()).ok().map(|_| EnrollLink(text.trim().to_owned()))
}

/// The single-instance lock's name: the app's identifier, plus a digest of
/// the data directory when one is set explicitly, so that two profiles are
/// two instances. FNV-1a: stable across builds (unlike `DefaultHasher`),
/// and a collision only merges two test profiles.
pub fn instance_id(identifier: &str, data_dir: Option<&OsStr>) -> String {
    match data_dir.filter(|d| !d.is_empty()) {
        None => identifier.to_owned(),
        Some(dir) => {
            let hash = dir
                .as_encoded_bytes()
                .iter()
                .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3));
            format!("{identifier}.p{hash:016x}")
        }
    }
}

/// Listens for links and handles the one the app was started with.
pub fn install<R: Runtime>(app: &AppHandle<R>) {
    let handle = app.clone();
    app.deep_link().on_open_url(move |event| open_links(&handle, event.urls().iter().map(url::Url::as_str)));
    if let Ok(Some(urls)) = app.deep_link().get_current() {
        open_links(app, urls.iter().map(url::Url::as_str));
    }
}

fn open_links<'a, R: Runtime>(app: &AppHandle<R>, links: impl Iterator<Item = &'a str>) {
    for text in links {
        match enrollment_link(text) {
            Some(link) => {
                crate::tray::show_main_window(app);
                app.state::<Shell>().publish(UiEvent::Shell(ShellEvent::OpenEnroll { link }));
            }
            // Never echoed: it may carry a ticket for another app.
            None => eprintln!("countersign: ignored a link that is not a Countersign enrollment link"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP_URI: &str =
        "countersign://enroll?issuer=https%3A%2F%2Fauth.example.com&ticket=9e7dLqz2IarV9t3HFBQzBKmySsX_vnca7id-d0E3Swc";

    #[test]
    fn only_enrollment_links_are_taken_and_the_ticket_never_shows_in_debug() {
        let link = enrollment_link(APP_URI).unwrap();
        assert_eq!(serde_json::to_value(&link).unwrap(), APP_URI);
        assert_eq!(format!("{link:?}"), "EnrollLink(<redacted>)");
        let event = ShellEvent::OpenEnroll { link };
        assert!(!format!("{event:?}").contains("9e7dLqz2"));
        assert_eq!(serde_json::to_value(&event).unwrap(), serde_json::json!({"event": "open_enroll", "link": APP_URI}));
        for other in [
            "countersign://approve?request=1",
            "countersign://enroll?issuer=https%3A%2F%2Fauth.example.com",
            "https://example.com/",
            "",
        ] {
            assert_eq!(enrollment_link(other), None, "{other}");
        }
        let https = "https://auth.example.com/device/v1/enroll-link?ticket=9e7dLqz2IarV9t3HFBQzBKmySsX_vnca7id-d0E3Swc";
        assert!(enrollment_link(https).is_some());
    }

    #[test]
    fn the_url_crate_keeps_an_app_uri_intact() {
        // The plugin hands links over as `url::Url`: its serialization must
        // still be the same enrollment link.
        let url: url::Url = APP_URI.parse().unwrap();
        assert_eq!(url.as_str(), APP_URI);
    }

    #[test]
    fn one_instance_per_data_directory() {
        let id = "app.countersign.desktop";
        assert_eq!(instance_id(id, None), id);
        assert_eq!(instance_id(id, Some(OsStr::new(""))), id);
        let a = instance_id(id, Some(OsStr::new("/tmp/a")));
        let b = instance_id(id, Some(OsStr::new("/tmp/b")));
        assert_ne!(a, b);
        assert_eq!(a, instance_id(id, Some(OsStr::new("/tmp/a"))), "stable");
        // A valid D-Bus name: elements never start with a digit.
        assert!(a.starts_with("app.countersign.desktop.p") && a.len() == id.len() + 18, "{a}");
    }
}
