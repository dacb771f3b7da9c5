//! The window's web view on Linux (WebKitGTK): renderer settings where the
//! GPU path is missing, the script engine without its JIT, and a window
//! that never stays dead.
//!
//! **Renderer.** Without a usable GPU (no DRM render node, as under Xvfb, in
//! VMs, containers and remote sessions, or software GL forced), WebKitGTK
//! 2.4x/2.50 still composites through EGL on Mesa's software rasteriser
//! (llvmpipe, with its LLVM JIT) in both the web process and the UI
//! process; that path is where its web process dies under load on such
//! machines. There the app sets `WEBKIT_DISABLE_DMABUF_RENDERER=1` and
//! `WEBKIT_DISABLE_COMPOSITING_MODE=1` (WebKit then paints in software
//! without GL), each only when the user has not set it, and before GTK or
//! WebKit starts. With a GPU nothing is changed.
//!
//! **Reload.** Whatever ends the web content process (a crash, the memory
//! limit, a kill), the window would stay blank: WebKit does not restart it
//! by itself. The shell listens for `web-process-terminated` and reloads the
//! page, which starts a new web process; the inbox and every request live in
//! the approver core, and the reloaded page subscribes to events anew, so
//! nothing is lost. Crashes in a row are reloaded after a pause.

use std::time::{Duration, Instant};

/// WebKitGTK's switch for its DMA-BUF renderer.
pub const DISABLE_DMABUF_RENDERER: &str = "WEBKIT_DISABLE_DMABUF_RENDERER";
/// WebKitGTK's switch for accelerated compositing.
pub const DISABLE_COMPOSITING_MODE: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";

/// The renderer variables to set: none when the GPU path is available;
/// otherwise each of the two that `is_set` (the user's environment) does
/// not already have, whatever its value (an explicit `0` is the user's
/// choice).
pub fn renderer_settings(gpu_path: bool, is_set: impl Fn(&str) -> bool) -> Vec<(&'static str, &'static str)> {
    if gpu_path {
        return Vec::new();
    }
    [DISABLE_DMABUF_RENDERER, DISABLE_COMPOSITING_MODE]
        .into_iter()
        .filter(|name| !is_set(name))
        .map(|n| (n, "1"))
        .collect()
}

/// Whether software GL is forced (`LIBGL_ALWAYS_SOFTWARE`, or a Gallium
/// software driver in `GALLIUM_DRIVER`): the GPU path is then unavailable
/// even where a render node exists.
pub fn software_gl_forced(var: impl Fn(&str) -> Option<String>) -> bool {
    let forced = var("LIBGL_ALWAYS_SOFTWARE")
        .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"));
    let software = var("GALLIUM_DRIVER").is_some_and(|v| matches!(v.trim(), "llvmpipe" | "softpipe" | "swr"));
    forced || software
}

/// Whether this process can open a DRM render node (`/dev/dri/renderD*`) for
/// reading and writing: what WebKit's GPU path needs.
#[cfg(target_os = "linux")]
fn render_node_usable() -> bool {
    let Ok(entries) = std::fs::read_dir("/dev/dri") else { return false };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("renderD"))
        .any(|e| std::fs::OpenOptions::new().read(true).write(true).open(e.path()).is_ok())
}

/// The renderer variables this process would set (Linux only; elsewhere
/// none): what [`apply_renderer_settings`] applies, and what the desktop
/// benchmark gives the empty app so that both render the same way.
pub fn pending_renderer_settings() -> Vec<(&'static str, &'static str)> {
    #[cfg(target_os = "linux")]
    {
        let gpu_path = render_node_usable() && !software_gl_forced(|name| std::env::var(name).ok());
        renderer_settings(gpu_path, |name| std::env::var_os(name).is_some())
    }
    #[cfg(not(target_os = "linux"))]
    {
        Vec::new()
    }
}

/// Sets the renderer variables where the GPU path is unavailable (Linux
/// only). Call it first thing in `main`, before any thread starts and
/// before GTK or WebKit initialise: the web processes inherit the
/// environment.
pub fn apply_renderer_settings() {
    let settings = pending_renderer_settings();
    if settings.is_empty() {
        return;
    }
    let names: Vec<String> = settings.iter().map(|(n, v)| format!("{n}={v}")).collect();
    eprintln!("countersign: no usable GPU (DRM render node); WebKit renders in software: {}", names.join(" "));
    set_before_any_thread(&settings);
}

/// Sets environment variables; only sound before any other thread exists
/// (the callers' contract), which is why the web processes started later
/// inherit them.
fn set_before_any_thread(settings: &[(&str, &str)]) {
    for (name, value) in settings {
        std::env::set_var(name, value);
    }
}

/// JavaScriptCore's switch for its JIT compilers, read by the web process
/// when it starts.
pub const JSC_USE_JIT: &str = "JSC_useJIT";

/// The script engine's settings to set: JavaScriptCore without its JIT
/// compilers (interpreter only, as Safari's Lockdown Mode runs it), unless
/// the user's environment (`is_set`) already chose. The page runs only the
/// app's own script (the CSP allows no other), which is fast enough
/// interpreted; without the JIT tiers the web process holds about 7 MiB less
/// all day (their code pages and the executable memory they fill) and has no
/// memory that is both written and executed (docs/performance.md, "Desktop
/// app").
pub fn script_settings(is_set: impl Fn(&str) -> bool) -> Vec<(&'static str, &'static str)> {
    if is_set(JSC_USE_JIT) {
        return Vec::new();
    }
    vec![(JSC_USE_JIT, "0")]
}

/// Sets [`script_settings`] in this process's environment, which the web
/// processes inherit (Linux only: elsewhere the web view is not
/// JavaScriptCore in a child process of this one, or takes no such switch).
/// Call it as [`apply_renderer_settings`]: before any thread starts.
pub fn apply_script_settings() {
    #[cfg(target_os = "linux")]
    set_before_any_thread(&script_settings(|name| std::env::var_os(name).is_some()));
}

/// How soon to reload after a web process ended: at once, unless it ended
/// [`Reloads::QUICK`] times within [`Reloads::WINDOW`] (a page that
/// crashes as it loads would otherwise spin): then after
/// [`Reloads::PAUSE`].
#[derive(Debug, Default)]
pub struct Reloads {
    recent: Vec<Instant>,
}

impl Reloads {
    /// Reloads at once this many times within [`Reloads::WINDOW`].
    pub const QUICK: usize = 3;
    /// The window of quick reloads.
    pub const WINDOW: Duration = Duration::from_secs(60);
    /// The pause before any further reload within the window.
    pub const PAUSE: Duration = Duration::from_secs(5);

    /// The delay before the reload of a web process that ended `now`.
    pub fn next(&mut self, now: Instant) -> Duration {
        self.recent.retain(|t| now.duration_since(*t) < Self::WINDOW);
        self.recent.push(now);
        if self.recent.len() > Self::QUICK {
            Self::PAUSE
        } else {
            Duration::ZERO
        }
    }
}

/// Reloads `window`'s page whenever its web content process ends, except
/// when the app itself ended it.
pub fn reload_when_the_web_process_ends(window: &tauri::WebviewWindow<tauri::Wry>) {
    #[cfg(target_os = "linux")]
    let installed = window.with_webview(|platform| {
        use std::cell::RefCell;
        use webkit2gtk::{glib, WebProcessTerminationReason, WebViewExt as _};
        let reloads = RefCell::new(Reloads::default());
        platform.inner().connect_web_process_terminated(move |view, reason| {
            if reason == WebProcessTerminationReason::TerminatedByApi {
                return;
            }
            let delay = reloads.borrow_mut().next(Instant::now());
            eprintln!("countersign: the window's web process ended ({reason:?}); reloading the window in {delay:?}");
            if delay.is_zero() {
                view.reload();
            } else {
                let view = view.clone();
                glib::timeout_add_local_once(delay, move || view.reload());
            }
        });
    });
    #[cfg(target_os = "linux")]
    if let Err(error) = installed {
        eprintln!("countersign: cannot watch the window's web process: {error}");
    }
    #[cfg(not(target_os = "linux"))]
    let _ = window;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_gpu_path_both_switches_are_set_unless_the_user_chose() {
        assert_eq!(renderer_settings(true, |_| false), []);
        assert_eq!(
            renderer_settings(false, |_| false),
            [(DISABLE_DMABUF_RENDERER, "1"), (DISABLE_COMPOSITING_MODE, "1")]
        );
        // An explicit setting (even "0") is the user's: never overridden.
        assert_eq!(renderer_settings(false, |n| n == DISABLE_DMABUF_RENDERER), [(DISABLE_COMPOSITING_MODE, "1")]);
        assert_eq!(renderer_settings(false, |_| true), []);
    }

    #[test]
    fn the_script_engine_runs_without_its_jit_unless_the_user_chose() {
        assert_eq!(script_settings(|_| false), [(JSC_USE_JIT, "0")]);
        // `JSC_useJIT=1` (or any value) set by the user stays.
        assert_eq!(script_settings(|n| n == JSC_USE_JIT), []);
        assert_eq!(script_settings(|n| n == DISABLE_DMABUF_RENDERER), [(JSC_USE_JIT, "0")]);
    }

    #[test]
    fn forced_software_gl_means_no_gpu_path() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned())
        };
        assert!(!software_gl_forced(env(&[])));
        assert!(software_gl_forced(env(&[("LIBGL_ALWAYS_SOFTWARE", "1")])));
        assert!(software_gl_forced(env(&[("LIBGL_ALWAYS_SOFTWARE", "true")])));
        assert!(!software_gl_forced(env(&[("LIBGL_ALWAYS_SOFTWARE", "0")])));
        assert!(software_gl_forced(env(&[("GALLIUM_DRIVER", "llvmpipe")])));
        assert!(!software_gl_forced(env(&[("GALLIUM_DRIVER", "radeonsi")])));
    }

    #[test]
    fn reloads_are_immediate_unless_the_page_keeps_dying() {
        let mut reloads = Reloads::default();
        let start = Instant::now();
        for k in 0..Reloads::QUICK {
            assert_eq!(reloads.next(start + Duration::from_secs(k as u64)), Duration::ZERO);
        }
        assert_eq!(reloads.next(start + Duration::from_secs(10)), Reloads::PAUSE, "a fourth crash within a minute");
        assert_eq!(reloads.next(start + Duration::from_secs(200)), Duration::ZERO, "quiet for a while: at once again");
    }
}
