//! The settings page's glue: preferences (`settings`), the login item (the
//! autostart plugin), the notification pause (`notify`) and what follows a
//! change (the tray's pause label, the window's theme).

use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_autostart::{AutoLaunchManager, ManagerExt as _};

use crate::notify::Notifier;
use crate::settings::{self, LoginItem, Settings, SettingsPatch, SettingsView, Theme};
use crate::shell;
use crate::IpcError;

impl LoginItem for AutoLaunchManager {
    fn is_enabled(&self) -> Result<bool, String> {
        AutoLaunchManager::is_enabled(self).map_err(|e| e.to_string())
    }
    fn set_enabled(&self, enabled: bool) -> Result<(), String> {
        if enabled { self.enable() } else { self.disable() }.map_err(|e| e.to_string())
    }
}

pub fn view<R: Runtime>(app: &AppHandle<R>) -> SettingsView {
    let paused_until = app.state::<Notifier>().paused_until(shell::now());
    app.state::<Settings>().view(&*app.autolaunch(), paused_until)
}

/// Applies a change: the login item first (the one part that can fail for
/// reasons outside the app), then the preferences (saved), then the pause;
/// a failure stops before anything else is changed. The page then shows
/// what really is.
pub fn update<R: Runtime>(app: &AppHandle<R>, patch: &SettingsPatch) -> Result<SettingsView, IpcError> {
    settings::apply_login(&*app.autolaunch(), patch)?;
    let preferences = app.state::<Settings>().update(patch)?;
    if let Some(paused) = patch.notifications_paused {
        app.state::<Notifier>().set_paused(paused, shell::now());
        crate::tray::show_paused(app, paused);
    }
    if patch.theme.is_some() {
        // The title bar follows the page where the platform allows.
        if let Some(window) = app.get_webview_window("main") {
            let _ = window.set_theme(match preferences.theme {
                Theme::System => None,
                Theme::Light => Some(tauri::Theme::Light),
                Theme::Dark => Some(tauri::Theme::Dark),
            });
        }
    }
    Ok(view(app))
}
