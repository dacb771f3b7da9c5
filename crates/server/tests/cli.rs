//! The operator CLI on the real binary: administration commands against a
//! database file, then `serve` answering on its socket.

use countersign_server::testing::wait_for_every;
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The server binary on the database file `db`.
fn on_db(db: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_countersign-server"));
    command.arg("--db").arg(db);
    command
}

fn run(db: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = on_db(db).args(args).output().expect("runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Waits until `call` gets an answer from the server just started (asking
/// every 50 ms, for 20 s at most).
async fn when_up<T, F: std::future::Future<Output = Option<T>>>(call: impl FnMut() -> F) -> T {
    wait_for_every(Duration::from_secs(20), Duration::from_millis(50), "the server to come up", call).await
}

/// `serve` with `args` on the database file `db`, with no initial access
/// token in the environment, which must fail to start: its standard error.
fn serve_refused_without_token(db: &std::path::Path, args: &[&str]) -> String {
    let out = on_db(db)
        .arg("serve")
        .args(args)
        .env_remove(countersign_server::config::INITIAL_ACCESS_TOKEN_ENV)
        .output()
        .unwrap();
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn admin_commands() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    let (ok, out, err) = run(&db, &["user", "add", "zoe", "--name", "Zoë Martin", "--email", "Zoe@Example.com"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("added user zoe (sub u_"), "{out}");
    let (ok, _, err) = run(&db, &["user", "add", "zoe", "--name", "Again"]);
    assert!(!ok && err.contains("already in use"), "{err}");
    let (ok, out, _) = run(&db, &["user", "list"]);
    assert!(ok && out.contains("zoe\tzoe@example.com\tZoë Martin\tuser\tactive"), "{out}");

    let (ok, out, err) = run(&db, &["enroll-link", "zoe", "--issuer", "https://auth.example.com"]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[1].starts_with("countersign://enroll?issuer=https%3A%2F%2Fauth.example.com&ticket="), "{out}");
    assert!(lines[3].starts_with("https://auth.example.com/device/v1/enroll-link?ticket="), "{out}");
    let uri = countersign_protocol::device::EnrollmentUri::parse(lines[1]).expect("the printed URI parses");
    let link = countersign_protocol::device::EnrollmentUri::parse(lines[3]).expect("the printed link parses");
    assert_eq!(uri, link);
    assert!(out.contains('█') || out.contains('▀') || out.contains('▄'), "a QR code is printed");
    let (ok, _, err) = run(&db, &["enroll-link", "zoe", "--issuer", "http://auth.example.com"]);
    assert!(!ok && err.contains("--issuer"), "{err}");

    let (ok, out, _) = run(&db, &["client", "list"]);
    assert!(ok && out.lines().count() == 1, "{out}");
    let (ok, _, err) = run(&db, &["client", "disable", "cli_nope"]);
    assert!(!ok && err.contains("not found"), "{err}");
    let (ok, out, _) = run(&db, &["device", "list", "zoe"]);
    assert!(ok && out.lines().count() == 1, "{out}");
    let (ok, out, _) = run(&db, &["key", "rotate"]);
    assert!(ok && out.starts_with("new signing key "), "{out}");
    let (ok, out, _) = run(&db, &["user", "disable", "zoe"]);
    assert!(ok && out.contains("disabled user zoe"), "{out}");
    let (ok, _, err) = run(&db, &["enroll-link", "zoe", "--issuer", "https://auth.example.com"]);
    assert!(!ok && err.contains("disabled"), "{err}");
}

#[test]
fn serve_answers_and_checks_its_options() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    // Token registration without a token is refused at start.
    let err = serve_refused_without_token(&db, &["--issuer", "http://127.0.0.1:1", "--registration", "token"]);
    assert!(err.contains("initial access token"));

    // Custom display schemas: one per file in the directory.
    let schemas = dir.path().join("schemas");
    std::fs::create_dir(&schemas).unwrap();
    std::fs::write(schemas.join("door.json"), door_schema("label").to_string()).unwrap();
    std::fs::write(schemas.join("notes.txt"), "not a schema, ignored").unwrap();

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let issuer = format!("http://127.0.0.1:{port}");
    let mut child = on_db(&db)
        // An IP issuer has no WebAuthn: the policy off, or serve refuses.
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--issuer", &issuer, "--webauthn-at", "never"])
        .arg("--schemas-dir")
        .arg(&schemas)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (meta, document) = rt.block_on(async {
        let issuer = &issuer;
        let meta = when_up(|| async move {
            let r = reqwest::get(format!("{issuer}/.well-known/openid-configuration")).await.ok()?;
            Some(r.json::<serde_json::Value>().await.unwrap())
        })
        .await;
        let url = meta["authorization_details_schemas_endpoint"].as_str().unwrap().to_owned();
        (meta, reqwest::get(url).await.unwrap().json::<serde_json::Value>().await.unwrap())
    });
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(meta["issuer"], issuer);
    let types = meta["authorization_details_types_supported"].as_array().unwrap();
    assert!(types.contains(&json!("urn:acme:door")) && types.contains(&json!("payment_initiation")), "{types:?}");
    let registry = countersign_details::Registry::from_schemas_document(&document).expect("published hashes verify");
    assert_eq!(
        registry.schema_hash("urn:acme:door"),
        countersign_protocol::device::SchemaHash::of_schema(&door_schema("label")).unwrap()
    );
}

/// The test door schema, risk medium, its member's hint written
/// `label_member` (a typo makes the schema invalid).
fn door_schema(label_member: &str) -> serde_json::Value {
    let mut schema = countersign_server::testing::door_schema();
    schema["x-countersign"]["risk"] = json!("medium");
    schema["properties"]["door"]["x-countersign"] = json!({ label_member: "Door" });
    schema
}

#[test]
fn serve_refuses_to_start_with_a_bad_schema() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    let serve = |schemas: &std::path::Path| {
        on_db(&db)
            .args(["serve", "--listen", "127.0.0.1:0", "--issuer", "http://127.0.0.1:1", "--webauthn-at", "never"])
            .arg("--schemas-dir")
            .arg(schemas)
            .output()
            .unwrap()
    };
    // A typo in a hint (`lable`): the error names the file and the member.
    let typo = dir.path().join("typo");
    std::fs::create_dir(&typo).unwrap();
    std::fs::write(typo.join("door.json"), door_schema("lable").to_string()).unwrap();
    let out = serve(&typo);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("display schemas") && err.contains("door.json") && err.contains("lable"), "{err}");

    // Not JSON at all.
    let broken = dir.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    std::fs::write(broken.join("a.json"), "{\"$id\": ").unwrap();
    let out = serve(&broken);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("a.json"), "{err}");

    // Redefining a built-in type names both files.
    let dup = dir.path().join("dup");
    std::fs::create_dir(&dup).unwrap();
    let mut pay = door_schema("label");
    pay["$id"] = json!("payment_initiation");
    pay["properties"]["type"]["const"] = json!("payment_initiation");
    std::fs::write(dup.join("pay.json"), pay.to_string()).unwrap();
    let out = serve(&dup);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("pay.json") && err.contains("payment_initiation.schema.json"),
        "{err}"
    );

    // A missing directory.
    let out = serve(&dir.path().join("nope"));
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("nope"));
    assert!(!db.exists(), "nothing was opened before the schemas were checked");
}

/// An issuer others can reach registers clients with an initial access token
/// unless the operator opens registration, which is logged as a warning.
#[test]
fn a_public_issuer_registers_with_a_token_unless_opened_on_purpose() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    let err = serve_refused_without_token(&db, &["--listen", "127.0.0.1:0", "--issuer", "https://auth.example.com"]);
    assert!(err.contains("initial access token") && err.contains("--registration open"), "{err}");

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = on_db(&db)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--issuer", "https://auth.example.com"])
        .args(["--registration", "open"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let status = rt.block_on(when_up(|| async move {
        let body = json!({"backchannel_token_delivery_mode": "poll"});
        let r =
            reqwest::Client::new().post(format!("http://127.0.0.1:{port}/register")).json(&body).send().await.ok()?;
        Some(r.status().as_u16())
    }));
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert_eq!(status, 201, "registration is open as asked");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("open registration on an issuer others can reach"), "{log}");
}

#[test]
fn security_key_and_step_up_commands() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    let (ok, _, err) = run(&db, &["user", "add", "zoe", "--name", "Zoë Martin"]);
    assert!(ok, "{err}");
    let (ok, out, _) = run(&db, &["security-key", "list", "zoe"]);
    assert!(ok && out.trim() == "CREDENTIAL_ID\tNAME\tCREATED\tLAST_USED\tSTATUS", "{out}");
    // A credential as an approver's registration stores it; its name holds a
    // bidi override, which the listing escapes.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let pool = countersign_server::ops::open_database(&db).await.unwrap();
        let user = countersign_server::ops::find_user(&pool, "zoe").await.unwrap();
        sqlx::query(
            "INSERT INTO webauthn_credentials (credential_id, sub, name, passkey, created_at, flagged_at) \
             VALUES ('cred1', $1, 'Key\u{202e}yeK', '{}', 100, 200)",
        )
        .bind(&user.sub)
        .execute(&pool)
        .await
        .unwrap();
    });
    let (ok, out, _) = run(&db, &["security-key", "list", "zoe"]);
    assert!(ok && out.contains("cred1\tKey\\u{202E}yeK\t100\tnever\tflagged at 200"), "{out}");
    assert!(!out.contains('\u{202e}'), "no raw bidi control in the listing");
    let (ok, _, err) = run(&db, &["security-key", "remove", "nobody", "cred1"]);
    assert!(!ok && err.contains("not found"), "{err}");
    let (ok, out, err) = run(&db, &["security-key", "remove", "zoe", "cred1"]);
    assert!(ok && out.contains("removed security key cred1"), "{err}");
    let (ok, _, err) = run(&db, &["security-key", "remove", "zoe", "cred1"]);
    assert!(!ok && err.contains("not found"), "{err}");

    let (ok, _, err) = run(&db, &["client", "step-up", "cli_nope", "never"]);
    assert!(!ok && err.contains("not found"), "{err}");
    let (ok, _, err) = run(&db, &["client", "step-up", "cli_nope", "sometimes"]);
    assert!(!ok && err.contains("never, low, medium, high, critical"), "{err}");
    let (ok, _, err) = run(&db, &["client", "user-verification", "cli_nope", "high"]);
    assert!(!ok && err.contains("not found"), "{err}");
    let (ok, _, err) = run(&db, &["client", "user-verification", "cli_nope", "high", "--class", "pwd"]);
    assert!(!ok && err.contains("user, hwk"), "{err}");
    for (flag, value, said) in [
        ("--user-verification-at", "sometimes", "--user-verification-at"),
        ("--user-verification-class", "pwd", "--user-verification-class"),
        // A security key's class on an issuer WebAuthn cannot use.
        ("--user-verification-class", "hwk", "--user-verification-class hwk: WebAuthn"),
    ] {
        let out = on_db(&db)
            .args(["serve", "--issuer", "http://127.0.0.1:1", "--webauthn-at", "never", flag, value])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(said), "{err}");
    }
    let out =
        on_db(&db).args(["serve", "--issuer", "http://127.0.0.1:1", "--webauthn-at", "sometimes"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--webauthn-at"), "{}", String::from_utf8_lossy(&out.stderr));
    // The default policy on an IP issuer: critical requests could never be
    // approved, so serve refuses to start and says what to do.
    let out = on_db(&db).args(["serve", "--listen", "127.0.0.1:0", "--issuer", "http://127.0.0.1:1"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("domain name") && err.contains("--webauthn-at never"), "{err}");
}

#[test]
fn client_lifetimes_command() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    let (ok, _, err) = run(&db, &["user", "list"]);
    assert!(ok, "{err}");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let pool = rt.block_on(countersign_server::ops::open_database(&db)).unwrap();
    rt.block_on(
        sqlx::query(
            "INSERT INTO clients (client_id, auth_method, delivery_mode, client_name, details_types, metadata, \
             created_at) VALUES ('cli_a', 'client_secret_basic', 'poll', 'A', '[]', '{}', 1)",
        )
        .execute(&pool),
    )
    .unwrap();
    let columns = || -> (i64, Option<i64>, Option<i64>, Option<i64>) {
        rt.block_on(
            sqlx::query_as(
                "SELECT refresh_tokens, access_token_lifetime, refresh_token_lifetime, refresh_token_idle_lifetime \
                 FROM clients WHERE client_id = 'cli_a'",
            )
            .fetch_one(&pool),
        )
        .unwrap()
    };
    assert_eq!(columns(), (0, None, None, None));
    let (ok, out, err) = run(
        &db,
        &[
            "client",
            "lifetimes",
            "cli_a",
            "--access-token",
            "300",
            "--refresh-idle",
            "3600",
            "--refresh-tokens",
            "allow",
        ],
    );
    assert!(ok && out.contains("token policy changed"), "{err}");
    assert_eq!(columns(), (1, Some(300), None, Some(3600)));
    let (ok, _, err) = run(&db, &["client", "lifetimes", "cli_a", "--access-token", "default"]);
    assert!(ok, "{err}");
    assert_eq!(columns(), (1, None, None, Some(3600)));
    for (args, said) in [
        (vec!["client", "lifetimes", "cli_a"], "give --access-token"),
        (vec!["client", "lifetimes", "cli_a", "--refresh", "0"], "at least 1"),
        (vec!["client", "lifetimes", "cli_a", "--refresh", "soon"], "--refresh"),
        (vec!["client", "lifetimes", "cli_a", "--refresh-tokens", "yes"], "allow or deny"),
        (vec!["client", "lifetimes", "cli_nope", "--refresh", "60"], "not found"),
    ] {
        let (ok, _, err) = run(&db, &args);
        assert!(!ok && err.contains(said), "{args:?}: {err}");
    }
    let entries: Vec<(String,)> = rt
        .block_on(sqlx::query_as("SELECT data FROM audit_log WHERE action = 'client.policy'").fetch_all(&pool))
        .unwrap();
    assert_eq!(entries.len(), 2);
    assert!(entries[0].0.contains("\"refresh_tokens\":true"), "{}", entries[0].0);
}

#[test]
fn serve_checks_its_scopes_file_and_apis_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cs.db");
    let serve = |extra: &[&str]| {
        on_db(&db)
            .args(["serve", "--listen", "127.0.0.1:0", "--issuer", "http://127.0.0.1:1", "--webauthn-at", "never"])
            .args(extra)
            .output()
            .unwrap()
    };
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let cases = [
        (file("dup.json", r#"{"a": "x", "a": "y"}"#), "not valid JSON"),
        (file("array.json", "[]"), "must be a JSON object"),
        (file("name.json", r#"{"two words": "x"}"#), "scope token"),
        (file("bidi.json", "{\"mail.read\": \"Read \\u202Eyour mail\"}"), "U+202E"),
        (file("risk.json", r#"{"mail.read": {"description": "Read your mail", "risk": "huge"}}"#), "huge"),
        (dir.path().join("missing.json").to_str().unwrap().to_owned(), "missing.json"),
    ];
    for (path, needle) in &cases {
        let out = serve(&["--scopes", path]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{path}");
        assert!(err.contains("--scopes") && err.contains(needle), "{path}: {err}");
    }
    let out = serve(&["--api", "https://api.example.com/\u{202E}x"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("--api") && err.contains("U+202E"), "{err}");
    assert!(!db.exists(), "nothing was opened before the options were checked");

    // A good file: its scopes are published.
    let good = file("good.json", r#"{"mail.read": {"description": "Read your mail", "risk": "low"}}"#);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let issuer = format!("http://127.0.0.1:{port}");
    let mut child = on_db(&db)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--issuer", &issuer, "--webauthn-at", "never"])
        .args(["--scopes", &good, "--api", "https://api.example.com/mail"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let meta = rt.block_on(when_up(|| async {
        let r = reqwest::get(format!("{issuer}/.well-known/openid-configuration")).await.ok()?;
        Some(r.json::<serde_json::Value>().await.unwrap())
    }));
    let _ = child.kill();
    let _ = child.wait();
    let scopes = meta["scopes_supported"].as_array().unwrap();
    assert!(scopes.contains(&json!("mail.read")) && scopes.contains(&json!("openid")), "{scopes:?}");
}
