//! The tray icon: the approver lives in the tray so that requests reach the
//! user while the window is closed. Its menu says how many requests wait,
//! opens the window, pauses notifications for an hour, quits.

use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Runtime};

use crate::notify::Notifier;
use crate::shell::{self, Shell};

const TRAY_ID: &str = "countersign";
const TRAY_ICON: &[u8] = include_bytes!("../icons/tray.png");
const MENU_OPEN: &str = "open";
const MENU_PAUSE: &str = "pause";
const MENU_QUIT: &str = "quit";
const PAUSE_LABEL: &str = "Pause notifications for 1 hour";
const RESUME_LABEL: &str = "Resume notifications";

/// The menu items whose text changes.
struct TrayItems<R: Runtime> {
    count: MenuItem<R>,
    pause: MenuItem<R>,
}

/// "3 requests waiting" (the tray's tooltip and first menu line).
pub fn count_label(pending: u64) -> String {
    match pending {
        0 => "No requests waiting".to_owned(),
        1 => "1 request waiting".to_owned(),
        n => format!("{n} requests waiting"),
    }
}

pub fn install<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let count = MenuItem::with_id(app, "count", count_label(0), false, None::<&str>)?;
    let open = MenuItem::with_id(app, MENU_OPEN, "Open Countersign", true, None::<&str>)?;
    let pause = MenuItem::with_id(app, MENU_PAUSE, PAUSE_LABEL, true, None::<&str>)?;
    let quit = MenuItem::with_id(app, MENU_QUIT, "Quit", true, None::<&str>)?;
    let separator = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(app, &[&count, &separator, &open, &pause, &quit])?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(Image::from_bytes(TRAY_ICON)?)
        .tooltip(format!("Countersign: {}", count_label(0)))
        .menu(&menu)
        .on_menu_event(|app, event| match event.id().as_ref() {
            MENU_OPEN => show_main_window(app),
            MENU_PAUSE => toggle_pause(app),
            MENU_QUIT => app.exit(0),
            _ => {}
        })
        .build(app)?;
    app.manage(TrayItems { count, pause });
    Ok(())
}

fn toggle_pause<R: Runtime>(app: &AppHandle<R>) {
    let paused = app.state::<Notifier>().toggle_pause(shell::now());
    show_paused(app, paused);
}

/// The pause item says what choosing it would do, and says it again when
/// the pause runs out.
pub fn show_paused<R: Runtime>(app: &AppHandle<R>, paused: bool) {
    set_pause_label(app, paused);
    if paused {
        let app = app.clone();
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_secs(crate::notify::PAUSE_SECS + 1)).await;
            let still = app.state::<Notifier>().paused(shell::now());
            set_pause_label(&app, still);
        });
    }
}

fn set_pause_label<R: Runtime>(app: &AppHandle<R>, paused: bool) {
    if let Some(items) = app.try_state::<TrayItems<R>>() {
        let _ = items.pause.set_text(if paused { RESUME_LABEL } else { PAUSE_LABEL });
    }
}

/// Recounts the pending requests and shows the count in the tray.
pub async fn refresh_count<R: Runtime>(app: &AppHandle<R>) {
    let pending = match app.state::<Shell>().approver() {
        Ok(approver) => approver.pending_count().await.unwrap_or(0),
        Err(_) => 0,
    };
    let label = count_label(pending);
    if let Some(items) = app.try_state::<TrayItems<R>>() {
        let _ = items.count.set_text(&label);
    }
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        let _ = tray.set_tooltip(Some(format!("Countersign: {label}")));
        // Shown beside the icon where the tray supports it (Linux appindicator).
        let _ = tray.set_title(if pending > 0 { Some(pending.to_string()) } else { None });
    }
}

pub fn show_main_window<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window("main") {
        // Failing to raise a window is not worth a crash; the tray stays.
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_count_is_said_in_words() {
        assert_eq!(super::count_label(0), "No requests waiting");
        assert_eq!(super::count_label(1), "1 request waiting");
        assert_eq!(super::count_label(12), "12 requests waiting");
    }
}
