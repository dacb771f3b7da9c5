//! Build script of the desktop shell: generates the Tauri context and the
//! permissions of the app's own commands.

include!("command_list.rs");

/// The names of the listed commands.
macro_rules! command_names {
    ($($command:ident,)*) => {
        &[$(stringify!($command)),*]
    };
}

/// Every command of `src-tauri/commands.rs` (`command_list.rs`).
const COMMANDS: &[&str] = with_command_list!(command_names);

fn main() {
    if packed_relocations_supported() {
        // Relative relocations packed (DT_RELR): the table the loader reads
        // at start shrinks from over a megabyte to a few kilobytes, and stays
        // that much smaller in the tray app's memory. Every target of this
        // package gets it, the benchmark's empty app too.
        println!("cargo:rustc-link-arg=-Wl,-z,pack-relative-relocs");
    }
    // A custom capabilities path needs its own rerun trigger (tauri-build docs).
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    let attributes = tauri_build::Attributes::new()
        .capabilities_path_pattern("src-tauri/capabilities/**/*")
        // Declaring the commands makes each one a permission
        // (`allow-<command>`) that a capability must grant explicitly.
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(error) = tauri_build::try_build(attributes) {
        eprintln!("tauri-build failed: {error:#}");
        std::process::exit(1);
    }
}

/// Set (to anything) for a release build that must run on a glibc older
/// than the build machine's 2.36 or later: no packed relocations then.
const PORTABLE_GLIBC: &str = "COUNTERSIGN_PORTABLE_GLIBC";

/// Whether a release build links with packed relative relocations: a
/// native build for glibc 2.36 or later (whose loader reads them; the
/// linker then marks the binary so that an older glibc refuses to start it
/// rather than misloading it), read from the build machine's `features.h`,
/// unless [`PORTABLE_GLIBC`] is set. A linker without the option (GNU ld
/// before 2.38) ignores it with a warning.
fn packed_relocations_supported() -> bool {
    println!("cargo:rerun-if-env-changed={PORTABLE_GLIBC}");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    if !var("TARGET").ends_with("-linux-gnu")
        || var("TARGET") != var("HOST")
        || var("PROFILE") != "release"
        || std::env::var_os(PORTABLE_GLIBC).is_some()
    {
        return false;
    }
    // Not watched when missing: cargo would take a missing file as changed
    // and rerun this script (and relink the app) on every build.
    let Ok(features) = std::fs::read_to_string("/usr/include/features.h") else { return false };
    println!("cargo:rerun-if-changed=/usr/include/features.h");
    let define = |name: &str| {
        features.lines().find_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("#define") && words.next() == Some(name))
                .then(|| words.next().and_then(|v| v.parse::<u32>().ok()))
                .flatten()
        })
    };
    matches!((define("__GLIBC__"), define("__GLIBC_MINOR__")), (Some(major), Some(minor)) if (major, minor) >= (2, 36))
}
