//! The audit log: what it records, that `audit verify` names the first entry
//! someone edited, deleted, swapped or inserted in the SQLite file, and that
//! an export verifies offline with the published keys alone.

mod common;

use common::*;
use countersign_protocol::admin::{AuditAction, AuditEntry};
use countersign_protocol::device::{Decision, HttpMethod};
use countersign_server::audit;
use countersign_server::ops::{self, Actor};
use countersign_server::testing::TestServer;
use serde_json::{json, Value};
use std::process::Command;

/// A server where a request was made, approved, redeemed and revoked, and
/// an administrator verified the client: at least eight entries.
async fn with_history() -> (TestServer, TestDevice, Agent) {
    let server = server_with(|c| c.limits.user_per_minute = 0).await;
    let dev = TestDevice::of_new_user(&server, "ann").await;
    let agent = Agent::register(&server, json!({})).await;
    let tok = approved_tokens(&server, &dev, &agent, "ann").await;
    let access = tok["access_token"].as_str().unwrap().to_owned();
    let resp = agent.post("/revoke", &[("token", access)], server.state.now()).await;
    assert_eq!(resp.status(), 200);
    let ack = agent.start(&server, "ann").await;
    assert!(ack["auth_req_id"].is_string());
    let req = dev.pending(&server).await.remove(0);
    assert_eq!(dev.decide(&server, &req, Decision::Deny, None).await.status(), 200);
    ops::set_client_verified(
        &server.state.db,
        &agent.client_id,
        true,
        &Actor::Labelled("operator:kim"),
        server.state.now(),
    )
    .await
    .unwrap();
    (server, dev, agent)
}

async fn entries(server: &TestServer) -> Vec<AuditEntry> {
    let mut conn = server.state.db.acquire().await.unwrap();
    let mut page = audit::page(&mut conn, &audit::Filter::default(), 500, audit::WALK).await.unwrap().items;
    page.reverse();
    page
}

#[tokio::test]
async fn every_step_is_recorded_in_order_and_chains() {
    let (server, dev, agent) = with_history().await;
    let log = entries(&server).await;
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "user.added",
            "device.enrolled",
            "request.created",
            "request.decided",
            "token.issued",
            "token.revoked",
            "request.created",
            "request.decided",
            "client.verification",
        ]
    );
    let client = format!("client:{}", agent.client_id);
    let device = format!("device:{}", dev.id);
    let actors: Vec<&str> = log.iter().map(|e| e.actor.as_str()).collect();
    assert_eq!(actors[2..], [client.as_str(), &device, &client, &client, &client, &device, "operator:kim"]);
    // The decision entry carries the JWS the device signed.
    let decided = &log[3];
    let jws = decided.data["decision_jws"].as_str().unwrap();
    let (_, claims) = countersign_protocol::jws::verify(jws, dev.key.public_jwk(), Some("decision+jwt")).unwrap();
    assert_eq!(claims["request_id"], decided.target.clone().unwrap());
    assert_eq!(log[7].data["decision"], "deny");
    assert!(log.iter().all(|e| e.sub.is_none() || e.sub.as_deref() == Some(dev.sub.as_str())));
    // The chain: seq from 1, each hash over the entry and the one before.
    let mut prev = String::new();
    for (i, e) in log.iter().enumerate() {
        assert_eq!(e.seq, i as u64 + 1);
        assert_eq!(e.hash, e.chain_hash(&prev).unwrap());
        prev = e.hash.clone();
    }
    let verified = audit::verify(&server.state.db).await.unwrap().expect("the log verifies");
    assert_eq!((verified.count, verified.head), (9, (9, prev)));
    server.stop().await;
}

/// Runs `sql` on the server's database through a connection of its own, as
/// someone with access to the database would.
async fn tamper(server: &TestServer, sql: &str) {
    let mut conn = server.state.db.acquire().await.unwrap();
    sqlx::raw_sql(sql).execute(&mut *conn).await.unwrap();
}

fn verify_cli(server: &TestServer) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_countersign-server"))
        .args(server.cli_args())
        .args(["audit", "verify"])
        .output()
        .unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

async fn broken_at(server: &TestServer) -> audit::Broken {
    audit::verify(&server.state.db).await.unwrap().expect_err("the log must not verify")
}

#[tokio::test]
async fn a_modified_entry_is_named() {
    let (server, ..) = with_history().await;
    let (ok, out) = verify_cli(&server);
    assert!(ok && out.contains("audit log verified: 9 entries"), "{out}");
    tamper(&server, "UPDATE audit_log SET data = '{\"decision\":\"approve\"}' WHERE seq = 8").await;
    let broken = broken_at(&server).await;
    assert_eq!(broken.seq, 8, "{broken}");
    assert!(broken.what.contains("does not match"), "{broken}");
    let (ok, out) = verify_cli(&server);
    assert!(!ok && out.contains("audit entry 8:"), "{out}");
    server.stop().await;
}

#[tokio::test]
async fn a_deleted_entry_is_named() {
    let (server, ..) = with_history().await;
    tamper(&server, "DELETE FROM audit_log WHERE seq = 4").await;
    let broken = broken_at(&server).await;
    assert_eq!(broken.seq, 4, "{broken}");
    assert!(broken.what.contains("missing"), "{broken}");
    // The first entry deleted: the log must start at 1.
    tamper(&server, "DELETE FROM audit_log WHERE seq < 4").await;
    assert_eq!(broken_at(&server).await.seq, 1);
    server.stop().await;
}

#[tokio::test]
async fn a_swapped_pair_is_named() {
    let (server, ..) = with_history().await;
    tamper(&server, "UPDATE audit_log SET seq = -5 WHERE seq = 5; UPDATE audit_log SET seq = 5 WHERE seq = 6; UPDATE audit_log SET seq = 6 WHERE seq = -5;").await;
    let broken = broken_at(&server).await;
    assert_eq!(broken.seq, 5, "{broken}");
    server.stop().await;
}

// A forger who hashes the inserted entry correctly after its predecessor
// is still caught: the entry after it chained to another hash.
#[tokio::test]
async fn an_inserted_entry_is_caught() {
    let (server, ..) = with_history().await;
    let log = entries(&server).await;
    let mut forged = AuditEntry {
        seq: 6,
        at: log[4].at,
        actor: "operator:mallory".into(),
        action: AuditAction::ClientVerification,
        target: None,
        sub: None,
        data: json!({"verified": true}),
        hash: String::new(),
    };
    forged.hash = forged.chain_hash(&log[4].hash).unwrap();
    tamper(
        &server,
        &format!(
            "UPDATE audit_log SET seq = -seq WHERE seq >= 6; UPDATE audit_log SET seq = 1 - seq WHERE seq < 0; \
             INSERT INTO audit_log (seq, at, actor, action, data, hash) VALUES (6, {}, 'operator:mallory', \
             'client.verification', '{{\"verified\":true}}', '{}');",
            forged.at, forged.hash
        ),
    )
    .await;
    let broken = broken_at(&server).await;
    assert_eq!(broken.seq, 7, "the entry after the inserted one: {broken}");
    server.stop().await;
}

#[tokio::test]
async fn an_export_verifies_offline_and_catches_changes() {
    let (server, ..) = with_history().await;
    let mut out = Vec::new();
    let verified =
        audit::export(&server.state.db, server.base_url.as_str(), server.state.now(), &mut out).await.unwrap();
    assert_eq!(verified.count, 9);
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), 10);
    let jwks: Value = http().get(server.url("/jwks")).send().await.unwrap().json().await.unwrap();
    let keys: Vec<countersign_protocol::jws::PublicJwk> = serde_json::from_value(jwks["keys"].clone()).unwrap();
    let (ok, head) = audit::verify_export(&text, &keys).unwrap();
    assert_eq!((ok.count, head.seq, head.iss.as_str()), (9, 9, server.base_url.as_str()));

    // Through the binary, from files, with no database.
    let dir = tempfile::tempdir().unwrap();
    let (file, jwks_file) = (dir.path().join("audit.jsonl"), dir.path().join("jwks.json"));
    std::fs::write(&file, &text).unwrap();
    std::fs::write(&jwks_file, jwks.to_string()).unwrap();
    let run = |f: &std::path::Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_countersign-server"))
            .args(["audit", "verify-export"])
            .arg(f)
            .arg("--jwks")
            .arg(&jwks_file)
            .output()
            .unwrap();
        (
            out.status.success(),
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        )
    };
    let (ok, out) = run(&file);
    assert!(ok && out.contains("export verified: 9 entries"), "{out}");

    let lines: Vec<&str> = text.lines().collect();
    // An entry changed.
    let edited = text.replacen("\"deny\"", "\"approve\"", 1);
    assert_ne!(edited, text);
    let e = audit::verify_export(&edited, &keys).unwrap_err().to_string();
    assert!(e.contains("audit entry 8"), "{e}");
    // A member the chain does not cover, added to an entry: refused, though
    // the admin API's readers ignore a later server's members.
    let added = text.replacen("{\"seq\":3,", "{\"seq\":3,\"note\":\"added\",", 1);
    assert_ne!(added, text, "entry 3 starts with its seq");
    let e = audit::verify_export(&added, &keys).unwrap_err().to_string();
    assert!(e.contains("line 3") && e.contains("unknown member \"note\""), "{e}");
    // The last entry dropped: the head names an entry the file lacks.
    let dropped = [&lines[..8], &lines[9..]].concat().join("\n");
    let e = audit::verify_export(&dropped, &keys).unwrap_err().to_string();
    assert!(e.contains("names entry 9 but the file ends at entry 8"), "{e}");
    std::fs::write(&file, &dropped).unwrap();
    let (ok, out) = run(&file);
    assert!(!ok && out.contains("names entry 9"), "{out}");
    // Another key, or none.
    let other = countersign_protocol::jws::DeviceKeyPair::generate().unwrap();
    let stranger = vec![other.public_jwk().clone().with_kid(keys[0].kid().unwrap())];
    let e = audit::verify_export(&text, &stranger).unwrap_err().to_string();
    assert!(e.contains("signed head"), "{e}");
    let e = audit::verify_export(&text, &[]).unwrap_err().to_string();
    assert!(e.contains("does not hold"), "{e}");
    let e = audit::verify_export("", &keys).unwrap_err().to_string();
    assert!(e.contains("no signed head"), "{e}");
    server.stop().await;
}

// The admin API's log: filtered and paged.
#[tokio::test]
async fn the_log_is_paged_and_filtered_for_administrators() {
    let (server, dev, _) = with_history().await;
    let admin = TestDevice::of_new_user(&server, "ada").await;
    ops::set_admin(&server.state.db, "ada", true, &Actor::Operator, server.state.now()).await.unwrap();
    let page = admin.admin_get(&server, "/audit?limit=4").await;
    let seqs: Vec<u64> = page["items"].as_array().unwrap().iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [12, 11, 10, 9], "newest first: ada added, enrolled, made admin");
    let next = page["next_cursor"].as_str().unwrap();
    let page = admin.admin_get(&server, &format!("/audit?limit=4&cursor={next}")).await;
    assert_eq!(page["items"][0]["seq"], 8);
    let decided = admin.admin_get(&server, "/audit?action=request.decided").await;
    assert_eq!(decided["items"].as_array().unwrap().len(), 2);
    assert!(decided.get("next_cursor").is_none());
    let by_device = admin.admin_get(&server, &format!("/audit?actor=device:{}", dev.id)).await;
    assert_eq!(by_device["items"].as_array().unwrap().len(), 3, "enrolled and two decisions");
    expect_err(admin.admin(&server, HttpMethod::Get, "/audit?seq=1").await, 400, "invalid_request").await;
    server.stop().await;
}

// A filtered page looks at a bounded number of entries: it may come back
// short, or empty, with a cursor; following the cursors finds every match
// once, and the last page has none.
#[tokio::test]
async fn a_filtered_page_walks_a_bounded_stretch_and_goes_on_by_its_cursor() {
    let (server, dev, _) = with_history().await;
    let mut conn = server.state.db.acquire().await.unwrap();
    let filter = audit::Filter { actor: Some(format!("device:{}", dev.id)), ..audit::Filter::default() };
    let whole = audit::page(&mut conn, &filter, 50, audit::WALK).await.unwrap();
    let expected: Vec<u64> = whole.items.iter().map(|e| e.seq).collect();
    assert_eq!(expected, [8, 4, 2], "enrolled and two decisions: {expected:?}");
    assert!(whole.next_cursor.is_none());
    let (mut found, mut pages, mut before) = (Vec::new(), 0, None);
    loop {
        let page = audit::page(&mut conn, &audit::Filter { before, ..filter.clone() }, 50, 3).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 3);
        found.extend(page.items.iter().map(|e| e.seq));
        match page.next_cursor {
            Some(c) => before = Some(c.parse().unwrap()),
            None => break,
        }
    }
    assert_eq!(found, expected);
    assert_eq!(pages, 3, "9 entries, 3 at a time");
    server.stop().await;
}

// A client over a fatigue limit writes one `fatigue.refused` entry a
// minute for that user and limit, the refusals in between counted in the
// next one; a key rotation, a policy change, a user code and a security
// key's removal are recorded with who did them (the code never is).
#[tokio::test]
async fn limit_refusals_once_a_minute_and_operator_changes_are_recorded() {
    let server = server_with(|c| {
        c.limits.user_per_minute = 0;
        c.limits.client_per_minute = 0;
        c.limits.max_pending_per_user = 1;
    })
    .await;
    TestDevice::of_new_user(&server, "ann").await;
    let agent = Agent::register(&server, json!({})).await;
    agent.start(&server, "ann").await;
    for _ in 0..3 {
        let resp = agent.bc_authorize(&server, &agent.request_params("ann")).await;
        assert_eq!(resp.status(), 429);
    }
    let refused = |log: &[AuditEntry]| -> Vec<AuditEntry> {
        log.iter().filter(|e| e.action == AuditAction::FatigueRefused).cloned().collect()
    };
    let log = refused(&entries(&server).await);
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!((log[0].actor.as_str(), log[0].target.as_deref()), ("server", Some(agent.client_id.as_str())));
    assert_eq!(log[0].data["limit"], "max_pending_per_user");
    assert_eq!((log[0].data["value"].clone(), log[0].data["refused_before"].clone()), (json!(1), json!(0)));
    server.clock.advance(61);
    let resp = agent.bc_authorize(&server, &agent.request_params("ann")).await;
    assert_eq!(resp.status(), 429);
    let log = refused(&entries(&server).await);
    assert_eq!(log.len(), 2);
    assert_eq!(log[1].data["refused_before"], 2, "the two refusals not recorded one by one");

    let by = Actor::Labelled("operator:kim");
    let now = server.state.now();
    let kid = ops::rotate_signing_key(&server.state.db, &by, now).await.unwrap();
    ops::set_client_step_up(&server.state.db, &agent.client_id, "high", &by, now).await.unwrap();
    ops::set_client_user_verification(&server.state.db, &agent.client_id, "critical", Some("hwk"), &by, now)
        .await
        .unwrap();
    let secret = "4711-secret";
    let code = countersign_protocol::secret::UserCode::new(secret.into());
    ops::set_user_code(&server.state.db, &server.state.user_code_key, "ann", &code, &by, now).await.unwrap();
    let err = ops::remove_security_key(&server.state.db, "ann", "cred_nope", &by, now).await.unwrap_err();
    assert!(err.to_string().contains("not found"), "{err}");
    let log = entries(&server).await;
    let tail: Vec<(&str, &str, Option<&str>)> =
        log.iter().rev().take(4).rev().map(|e| (e.action.as_str(), e.actor.as_str(), e.target.as_deref())).collect();
    assert_eq!(
        tail,
        [
            ("signing_key.rotated", "operator:kim", Some(kid.as_str())),
            ("client.policy", "operator:kim", Some(agent.client_id.as_str())),
            ("client.policy", "operator:kim", Some(agent.client_id.as_str())),
            ("user.code_set", "operator:kim", None),
        ]
    );
    let policy = &log[log.len() - 2].data;
    assert_eq!(
        (policy["user_verification_at"].as_str(), policy["user_verification_class"].as_str()),
        (Some("critical"), Some("hwk"))
    );
    assert!(log.iter().all(|e| !e.data.to_string().contains(secret)), "the code is never logged");
    // Nothing recorded for a removal that found nothing.
    assert!(log.iter().all(|e| e.action != AuditAction::SecurityKeyRemoved));
    assert!(audit::verify(&server.state.db).await.unwrap().is_ok());
    server.stop().await;
}

// An export of a broken log fails, names the bad entry and leaves no file
// (neither the export nor its partial copy); an existing export of the
// same name is left as it was.
#[tokio::test]
async fn an_export_of_a_broken_log_fails_and_writes_nothing() {
    let (server, ..) = with_history().await;
    tamper(&server, "DELETE FROM audit_log WHERE seq = 4").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.jsonl");
    let export = || {
        Command::new(env!("CARGO_BIN_EXE_countersign-server"))
            .args(server.cli_args())
            .args(["audit", "export"])
            .arg(&file)
            .args(["--issuer", server.base_url.as_str()])
            .output()
            .unwrap()
    };
    let out = export();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("audit entry 4") && said.contains("missing"), "{said}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "{left:?}");
    std::fs::write(&file, "an earlier export\n").unwrap();
    assert!(!export().status.success());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "an earlier export\n");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    server.stop().await;
}
