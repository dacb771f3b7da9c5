//! The tray icon: the approver lives in the tray so that requests reach the
//! user while the window is closed (the menu grows with the desktop issue).

use tauri::image::Image;
use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};

const TRAY_ICON: &[u8] = include_bytes!("../icons/tray.png");
const MENU_OPEN: &str = "open";
const MENU_QUIT: &str = "quit";

pub fn install(app: &AppHandle) -> tauri::Result<()> {
    let open = MenuItem::with_id(app, MENU_OPEN, "Open Countersign", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, MENU_QUIT, "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&open, &quit])?;
    TrayIconBuilder::with_id("countersign")
        .icon(Image::from_bytes(TRAY_ICON)?)
        .tooltip("Countersign")
        .menu(&menu)
        .on_menu_event(|app, event| match event.id().as_ref() {
            MENU_OPEN => show_main_window(app),
            MENU_QUIT => app.exit(0),
            _ => {}
        })
        .build(app)?;
    Ok(())
}

fn show_main_window(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        // Failing to raise a window is not worth a crash; the tray stays.
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}
