//! The desktop app's own preferences (theme, notifications) in a small JSON
//! file beside the approver's data, plus "start at login", which lives where
//! the OS keeps it (an XDG autostart entry, a LaunchAgent, a Run key) and is
//! read from there rather than remembered, so it cannot drift.
//!
//! Nothing here knows Tauri: the login item is a trait the shell implements
//! with the autostart plugin, and tests implement with a fake.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::IpcError;

/// The file name under the data directory.
pub const FILE_NAME: &str = "desktop-settings.json";

/// Light, dark, or whatever the system says.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

/// What is stored. Unknown fields are ignored (a newer version may add some)
/// and missing ones take their defaults.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Preferences {
    pub theme: Theme,
    /// Show a notification for new requests.
    pub notifications: bool,
    /// Offer Approve and Deny inside the notification of a low-risk request
    /// without warnings (everything else only offers Open).
    pub quick_actions: bool,
}

impl Default for Preferences {
    fn default() -> Self {
        Preferences { theme: Theme::System, notifications: true, quick_actions: true }
    }
}

/// A change from the UI: absent fields stay as they are.
#[cfg_attr(test, derive(ts_rs::TS))]
// Absent members stay as they are.
#[cfg_attr(test, ts(optional_fields))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    pub theme: Option<Theme>,
    pub notifications: Option<bool>,
    pub quick_actions: Option<bool>,
    pub start_at_login: Option<bool>,
    /// `true`: pause notifications for an hour; `false`: resume.
    pub notifications_paused: Option<bool>,
}

/// Everything the settings page shows.
#[cfg_attr(test, derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettingsView {
    #[serde(flatten)]
    pub preferences: Preferences,
    /// Read from the OS; `null` when it cannot be read (see `problems`).
    pub start_at_login: Option<bool>,
    /// Unix seconds until which notifications are paused; `null`: not paused.
    pub notifications_paused_until: Option<u64>,
    /// What went wrong reading the settings (shown, never hidden).
    pub problems: Vec<String>,
}

/// Where "start at login" is kept.
pub trait LoginItem {
    fn is_enabled(&self) -> Result<bool, String>;
    fn set_enabled(&self, enabled: bool) -> Result<(), String>;
}

/// The preferences in memory and on disk.
pub struct Settings {
    path: PathBuf,
    current: Mutex<Preferences>,
    /// Why the file could not be read at startup (defaults are in use),
    /// until a change replaces it.
    load_problem: Mutex<Option<String>>,
}

impl Settings {
    /// Reads `path`; a missing file means defaults, an unreadable one means
    /// defaults and a problem the settings page shows (the file is left as
    /// it is until the user changes something).
    pub fn load(path: PathBuf) -> Settings {
        let (preferences, load_problem) = match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<Preferences>(&bytes) {
                Ok(preferences) => (preferences, None),
                Err(e) => {
                    (Preferences::default(), Some(format!("{} is not valid ({e}): defaults are used", path.display())))
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Preferences::default(), None),
            Err(e) => {
                (Preferences::default(), Some(format!("cannot read {} ({e}): defaults are used", path.display())))
            }
        };
        Settings { path, current: Mutex::new(preferences), load_problem: Mutex::new(load_problem) }
    }

    /// The preferences in the data directory (or defaults, unsaved, when the
    /// approver has no data directory).
    pub fn in_dir(dir: Option<&Path>) -> Settings {
        match dir {
            Some(dir) => Settings::load(dir.join(FILE_NAME)),
            None => Settings {
                path: PathBuf::new(),
                current: Mutex::new(Preferences::default()),
                load_problem: Mutex::new(Some("no data directory: settings are not saved".to_owned())),
            },
        }
    }

    pub fn preferences(&self) -> Preferences {
        self.current.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// The settings page's view.
    pub fn view(&self, login: &dyn LoginItem, paused_until: Option<u64>) -> SettingsView {
        let mut problems: Vec<String> = self.load_problem.lock().ok().and_then(|p| p.clone()).into_iter().collect();
        let start_at_login = match login.is_enabled() {
            Ok(on) => Some(on),
            Err(e) => {
                problems.push(format!("cannot read whether Countersign starts at login: {e}"));
                None
            }
        };
        SettingsView {
            preferences: self.preferences(),
            start_at_login,
            notifications_paused_until: paused_until,
            problems,
        }
    }

    /// Applies the preference fields of `patch` and saves them (nothing
    /// changes in memory if the file cannot be written). The login item and
    /// the pause are applied by the caller.
    pub fn update(&self, patch: &SettingsPatch) -> Result<Preferences, IpcError> {
        let mut current =
            self.current.lock().map_err(|_| IpcError::new("internal", "the settings lock was poisoned"))?;
        let mut next = current.clone();
        if let Some(theme) = patch.theme {
            next.theme = theme;
        }
        if let Some(on) = patch.notifications {
            next.notifications = on;
        }
        if let Some(on) = patch.quick_actions {
            next.quick_actions = on;
        }
        if next != *current {
            self.save(&next)?;
            *current = next.clone();
            if let Ok(mut problem) = self.load_problem.lock() {
                *problem = None;
            }
        }
        Ok(next)
    }

    fn save(&self, preferences: &Preferences) -> Result<(), IpcError> {
        if self.path.as_os_str().is_empty() {
            return Err(IpcError::new("settings", "no data directory: settings cannot be saved"));
        }
        let text = serde_json::to_vec_pretty(preferences)
            .map_err(|e| IpcError::new("internal", format!("cannot serialize the settings: {e}")))?;
        write_atomically(&self.path, &text)
            .map_err(|e| IpcError::new("settings", format!("cannot save {}: {e}", self.path.display())))
    }
}

/// Writes beside `path` then renames over it: a crash leaves the old file or
/// the new one, never half of one.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("json.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let result = options.open(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    match result.and_then(|()| std::fs::rename(&tmp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Applies `patch.start_at_login`, if any.
pub fn apply_login(login: &dyn LoginItem, patch: &SettingsPatch) -> Result<(), IpcError> {
    match patch.start_at_login {
        Some(on) => login.set_enabled(on).map_err(|e| {
            let what = if on { "turn on" } else { "turn off" };
            IpcError::new("start_at_login", format!("cannot {what} starting at login: {e}"))
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    struct FakeLogin(RefCell<Result<bool, String>>);

    impl LoginItem for FakeLogin {
        fn is_enabled(&self) -> Result<bool, String> {
            self.0.borrow().clone()
        }
        fn set_enabled(&self, enabled: bool) -> Result<(), String> {
            let mut state = self.0.borrow_mut();
            match &*state {
                Err(e) => Err(e.clone()),
                Ok(_) => {
                    *state = Ok(enabled);
                    Ok(())
                }
            }
        }
    }

    #[test]
    fn defaults_when_no_file_and_changes_survive_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::in_dir(Some(dir.path()));
        assert_eq!(settings.preferences(), Preferences::default());
        let login = FakeLogin(RefCell::new(Ok(false)));
        let view = settings.view(&login, None);
        assert_eq!(view.start_at_login, Some(false));
        assert!(view.problems.is_empty());

        let patch = SettingsPatch { theme: Some(Theme::Dark), quick_actions: Some(false), ..Default::default() };
        let saved = settings.update(&patch).unwrap();
        assert_eq!(saved.theme, Theme::Dark);
        assert!(saved.notifications, "untouched fields keep their value");
        let again = Settings::in_dir(Some(dir.path()));
        assert_eq!(again.preferences(), saved);
        let text = std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap()["theme"], "dark");
        assert!(!dir.path().join("desktop-settings.json.tmp").exists(), "no temporary file left");
    }

    #[test]
    fn the_wire_shape_is_snake_case_with_the_login_state_and_pause() {
        let settings = Settings::load(PathBuf::from("/nonexistent/x.json"));
        let view = settings.view(&FakeLogin(RefCell::new(Ok(true))), Some(1_700_000_000));
        assert_eq!(
            serde_json::to_value(&view).unwrap(),
            serde_json::json!({
                "theme": "system", "notifications": true, "quick_actions": true,
                "start_at_login": true, "notifications_paused_until": 1_700_000_000u64, "problems": []
            })
        );
        let patch: SettingsPatch = serde_json::from_str(r#"{"theme":"light","start_at_login":false}"#).unwrap();
        assert_eq!(patch.theme, Some(Theme::Light));
        assert!(serde_json::from_str::<SettingsPatch>(r#"{"theme":"blue"}"#).is_err());
        assert!(serde_json::from_str::<SettingsPatch>(r#"{"colour":"dark"}"#).is_err(), "unknown fields refused");
    }

    #[test]
    fn a_corrupt_file_gives_defaults_and_a_visible_problem() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), b"{not json").unwrap();
        let settings = Settings::in_dir(Some(dir.path()));
        assert_eq!(settings.preferences(), Preferences::default());
        let view = settings.view(&FakeLogin(RefCell::new(Err("no autostart directory".into()))), None);
        assert_eq!(view.start_at_login, None);
        assert_eq!(view.problems.len(), 2, "{:?}", view.problems);
        assert!(view.problems[0].contains("not valid"));
        assert!(view.problems[1].contains("no autostart directory"));
        // The next change replaces the bad file, and the problem is gone.
        settings.update(&SettingsPatch { notifications: Some(false), ..Default::default() }).unwrap();
        assert!(!Settings::in_dir(Some(dir.path())).preferences().notifications);
        let view = settings.view(&FakeLogin(RefCell::new(Ok(false))), None);
        assert!(view.problems.is_empty(), "{:?}", view.problems);
    }

    #[test]
    fn a_failed_save_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        // The settings path is a directory: it cannot be replaced by a file.
        std::fs::create_dir(dir.path().join(FILE_NAME)).unwrap();
        let settings = Settings::in_dir(Some(dir.path()));
        let error = settings.update(&SettingsPatch { theme: Some(Theme::Dark), ..Default::default() }).unwrap_err();
        assert_eq!(error.code, "settings");
        assert_eq!(settings.preferences().theme, Theme::System, "memory unchanged");
        let unsaved = Settings::in_dir(None);
        assert_eq!(
            unsaved.update(&SettingsPatch { theme: Some(Theme::Dark), ..Default::default() }).unwrap_err().code,
            "settings"
        );
    }

    #[test]
    fn login_item_changes_and_failures() {
        let login = FakeLogin(RefCell::new(Ok(false)));
        apply_login(&login, &SettingsPatch { start_at_login: Some(true), ..Default::default() }).unwrap();
        assert_eq!(login.is_enabled(), Ok(true));
        apply_login(&login, &SettingsPatch::default()).unwrap();
        assert_eq!(login.is_enabled(), Ok(true), "absent: unchanged");
        let broken = FakeLogin(RefCell::new(Err("read-only home".into())));
        let error =
            apply_login(&broken, &SettingsPatch { start_at_login: Some(true), ..Default::default() }).unwrap_err();
        assert_eq!(error.code, "start_at_login");
        assert_eq!(error.message, "cannot turn on starting at login: read-only home");
    }
}
