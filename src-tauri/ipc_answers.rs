//! The commands' real answers, type-checked against the UI's wire types.
//!
//! `ui/src/lib/backend/types.ts` is written by hand; this keeps it true. A
//! test collects what the commands answered in a run against a real server
//! ([`IpcAnswers::add`], with the TypeScript type the UI declares for that
//! answer) and [`IpcAnswers::type_check`] writes them as typed object
//! literals and compiles them with the UI's TypeScript under the UI's strict
//! options: a member the Rust side sends and the type lacks (excess property
//! check), a member the type requires and the answer lacks, `null` where the
//! type says optional (`exactOptionalPropertyTypes`), or a value outside a
//! union of strings fails the test with the compiler's message.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

#[derive(Default)]
pub struct IpcAnswers {
    answers: Vec<(&'static str, Value)>,
}

impl IpcAnswers {
    /// An answer and the TypeScript type the UI gives it (`RequestView[]`).
    pub fn add(&mut self, ts_type: &'static str, answer: &Value) {
        self.answers.push((ts_type, answer.clone()));
    }

    /// Compiles the answers against `types.ts`; panics with tsc's errors.
    pub fn type_check(&self) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let ui = root.join("ui");
        let tsc = ui.join("node_modules/typescript/bin/tsc");
        assert!(tsc.exists(), "{} is missing: run `cargo xtask ui` (npm ci in ui/)", tsc.display());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("answers.ts");
        std::fs::write(&file, self.source(&ui.join("src/lib/backend/types.ts"))).unwrap();
        let output = Command::new("node")
            .arg(&tsc)
            .args(["--noEmit", "--strict", "--exactOptionalPropertyTypes", "--noUncheckedIndexedAccess"])
            .args(["--target", "ES2021", "--module", "ESNext", "--moduleResolution", "bundler"])
            .args(["--skipLibCheck", "--allowImportingTsExtensions"])
            .arg(&file)
            // No node_modules/@types above the temporary directory: only these two files.
            .current_dir(dir.path())
            .output()
            .expect("running node (the UI's TypeScript compiler)");
        let report = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "the commands' answers do not match ui/src/lib/backend/types.ts:\n{report}");
    }

    fn source(&self, types: &Path) -> String {
        let mut names: Vec<&str> = self.answers.iter().map(|(t, _)| t.trim_end_matches("[]")).collect();
        names.sort_unstable();
        names.dedup();
        // The specifier keeps its `.ts` (allowImportingTsExtensions).
        let specifier = serde_json::to_string(&types.display().to_string()).unwrap();
        let mut out = format!("import type {{ {} }} from {specifier};\n\n", names.join(", "));
        for (i, (ts_type, answer)) in self.answers.iter().enumerate() {
            out +=
                &format!("export const answer{i}: {ts_type} = {};\n\n", serde_json::to_string_pretty(answer).unwrap());
        }
        out
    }
}
