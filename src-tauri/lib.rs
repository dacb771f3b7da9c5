//! The Countersign desktop shell. It wires Tauri to the core crates and holds
//! no business logic: commands are one-line delegations (see `commands`).

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

// `with_command_list!`: the commands, written once (also read by build.rs).
include!("command_list.rs");

/// The names of the listed commands (`commands::NAMES`).
macro_rules! command_names {
    ($($command:ident,)*) => {
        &[$(stringify!($command)),*]
    };
}

/// `generate_handler!` over the listed commands.
macro_rules! handler_of {
    ($($command:ident,)*) => {
        tauri::generate_handler![$(crate::commands::$command),*]
    };
}

mod app_settings;
mod commands;
mod config;
mod deep_link;
mod events;
mod ipc_error;
mod memory;
mod notify;
mod qr_image;
mod security_key;
mod settings;
mod shell;
mod tray;
mod webview;

#[cfg(test)]
mod admin_agreement;
#[cfg(test)]
mod fake_agreement;
#[cfg(test)]
mod ipc_answers;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod text_agreement;
#[cfg(test)]
mod ts_types;

use std::path::PathBuf;

use tauri::{AppHandle, Manager, Runtime};

pub use ipc_error::IpcError;
pub use memory::RELEASE_AFTER as PROGRAM_PAGES_RELEASED_AFTER;
use shell::Shell;
pub use webview::pending_renderer_settings;

/// The invoke handler with every listed command.
macro_rules! invoke_handler {
    () => {
        with_command_list!(handler_of)
    };
}
#[cfg(test)]
pub(crate) use invoke_handler;

/// The argument the login item starts the app with: straight to the tray.
pub const ARG_HIDDEN: &str = "--hidden";

/// Builds and runs the desktop app until the user quits. Call it from
/// `main`, before any other thread starts (it sets the web view's renderer
/// and script engine environment first).
pub fn run() -> Result<(), tauri::Error> {
    webview::apply_renderer_settings();
    webview::apply_script_settings();
    let single_instance = tauri_plugin_single_instance::Builder::new().callback(|app, _argv, _cwd| {
        // A second launch: show this one. Its deep link, if any, arrives
        // through the deep-link plugin (the `deep-link` feature forwards it).
        tray::show_main_window(app);
    });
    // One instance per data directory, so that separate profiles (and
    // tests) can run side by side. Only Linux names its lock.
    #[cfg(target_os = "linux")]
    let single_instance = single_instance
        .dbus_id(deep_link::instance_id("app.countersign.desktop", std::env::var_os(config::ENV_DATA_DIR).as_deref()));
    let app = tauri::Builder::default()
        // First, so that a second instance exits before doing anything else.
        .plugin(single_instance.build())
        // Right after it: only the one instance opens the store.
        .plugin(open_in_background())
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_autostart::Builder::new().args([ARG_HIDDEN]).app_name("Countersign").build())
        .invoke_handler(invoke_handler!())
        .setup(|app| {
            let shell = opened(app.handle());
            setup(app.handle(), shell)?;
            if let Some(window) = app.get_webview_window("main") {
                webview::reload_when_the_web_process_ends(&window);
            }
            Ok(())
        })
        // Closing the window keeps the approver running in the tray (quit
        // from the tray menu), so requests still reach the user.
        .on_window_event(|window, event| {
            if let tauri::WindowEvent::CloseRequested { api, .. } = event {
                api.prevent_close();
                let _ = window.hide();
            }
        })
        .build(tauri::generate_context!())?;
    app.run(|handle, event| {
        if let tauri::RunEvent::Exit = event {
            if let Some(shell) = handle.try_state::<Shell>() {
                tauri::async_runtime::block_on(shell.stop());
            }
        }
    });
    Ok(())
}

/// The thread opening the approver ([`open_in_background`]).
struct Opening(std::sync::Mutex<Option<std::thread::JoinHandle<Shell>>>);

/// A plugin whose setup starts opening the approver's store on a thread of
/// its own. Plugins are set up when the app is built, after GTK has started
/// and before the window and its web view are made: the store opens while
/// they are made and the page loads, instead of before that on the main thread,
/// where it held up the window (docs/performance.md, "Desktop app"). It
/// comes after the single-instance plugin, so a second instance exits
/// before touching the store. The configuration is read here, on the main
/// thread. The export directory needs the app's paths: `setup` sets it.
fn open_in_background<R: Runtime>() -> tauri::plugin::TauriPlugin<R> {
    tauri::plugin::Builder::new("countersign-open")
        .setup(|app, _api| {
            let config = config::from_env();
            let thread = std::thread::Builder::new()
                .name("countersign-open".into())
                .spawn(move || tauri::async_runtime::block_on(Shell::open(config, PathBuf::new())));
            app.manage(Opening(std::sync::Mutex::new(thread.ok())));
            Ok(())
        })
        .build()
}

/// The approver opened by [`open_in_background`]'s thread; opened here if
/// that thread could not start or panicked.
fn opened<R: Runtime>(app: &AppHandle<R>) -> Shell {
    let thread = app.try_state::<Opening>().and_then(|o| o.0.lock().ok().and_then(|mut t| t.take()));
    match thread.map(std::thread::JoinHandle::join) {
        Some(Ok(shell)) => shell,
        _ => tauri::async_runtime::block_on(Shell::open(config::from_env(), PathBuf::new())),
    }
}

/// Takes the opened approver, forwards its events to the UI, shows the
/// window, installs the tray, starts the transport once the window has its
/// first screen.
fn setup<R: Runtime>(app: &AppHandle<R>, mut shell: Shell) -> tauri::Result<()> {
    shell.set_export_dir(
        config::export_dir_from_env()
            .or_else(|| app.path().download_dir().ok())
            .or_else(countersign_approver::default_data_dir)
            .unwrap_or_else(|| PathBuf::from(".")),
    );
    if let Some(error) = shell.status().startup_error {
        eprintln!("countersign: the approver could not be opened: {}", error.message);
    }
    let events = shell.approver().ok().map(countersign_approver::Approver::subscribe);
    if let Ok(approver) = shell.approver() {
        // What the first listing needs (schemas compiled, the verifier's
        // status) is readied while the page loads, not when it asks.
        let approver = approver.clone();
        tauri::async_runtime::spawn(async move {
            if let Err(error) = approver.warm_view_caches().await {
                eprintln!("countersign: readying the inbox: {error}");
            }
        });
    }
    app.manage(settings::Settings::in_dir(shell.data_dir()));
    app.manage(shell);
    events::ask_passphrase_in_the_window(app);
    events::show_security_key_prompts_in_the_window(app);
    app.manage(notify::Notifier::default());
    // The window first: the tray (about 10 ms of D-Bus) can follow it.
    let window_shown = !std::env::args().any(|arg| arg == ARG_HIDDEN);
    if window_shown {
        tray::show_main_window(app);
    }
    tray::install(app)?;
    deep_link::install(app);
    if let Some(events) = events {
        tauri::async_runtime::spawn(events::forward(app.clone(), events));
        let app = app.clone();
        tauri::async_runtime::spawn(async move {
            // A count, not a read of the requests: cheap beside the page.
            tray::refresh_count(&app).await;
            let wait = Shell::first_screen_wait(window_shown);
            if let Err(error) = app.state::<Shell>().start_after_first_screen(wait).await {
                eprintln!("countersign: the transport could not start: {}", error.message);
            }
            tray::refresh_count(&app).await;
            // Started: the code that only starting ran leaves memory (off
            // the async workers: the kernel unmaps as it is asked).
            tokio::time::sleep(memory::RELEASE_AFTER).await;
            if let Ok(Err(error)) = tauri::async_runtime::spawn_blocking(memory::release_program_pages).await {
                eprintln!("countersign: releasing the program's pages: {error}");
            }
        });
    }
    Ok(())
}
