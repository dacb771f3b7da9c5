//! Re-enrollment and the history export, in the core (the desktop's
//! `enroll` and `export_history` commands delegate here), against the real
//! server on a real socket.

mod common;

use common::{Env, Trade};
use countersign_approver::{Error, KeptBecause};
use countersign_protocol::device::Decision;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_account_to_replace_is_refused_before_the_ticket_is_spent() {
    let env = Env::start().await;
    let (_device, approver) = env.user_and_approver("zoe").await;
    let link = env.invitation("zoe", 600).await;
    let error = approver.enroll_replacing(&link, Some("acct_unknown")).await.unwrap_err();
    assert!(matches!(&error, Error::UnknownAccount(id) if id == "acct_unknown"), "{error:?}");
    assert!(approver.accounts().await.unwrap().is_empty());
    // The ticket was not used: the same link still enrolls.
    let enrollment = approver.enroll_replacing(&link, None).await.unwrap();
    assert!(enrollment.replaced.is_none() && enrollment.kept_because.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_user_at_the_same_server_replaces_the_old_account() {
    let env = Env::start().await;
    let (_device, approver, old) = env.enrolled("zoe").await;
    // Whitespace around a pasted link is not part of it.
    let link = format!("  {}\n", env.invitation("zoe", 600).await);
    let enrollment = approver.enroll_replacing(&link, Some(&old.id)).await.unwrap();
    assert_eq!(enrollment.replaced.as_deref(), Some(old.id.as_str()));
    assert!(enrollment.kept_because.is_none());
    let accounts = approver.accounts().await.unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].id, enrollment.account.id);
    assert_ne!(accounts[0].id, old.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_user_keeps_both_accounts_and_says_who_is_who() {
    let env = Env::with_user("zoe").await;
    let (_device, approver) = env.user_and_approver("yann").await;
    let old = approver.enroll(&env.invitation("zoe", 600).await).await.unwrap();
    let enrollment = approver.enroll_replacing(&env.invitation("yann", 600).await, Some(&old.id)).await.unwrap();
    assert!(enrollment.replaced.is_none());
    let why = enrollment.kept_because.expect("kept");
    assert!(matches!(why, KeptBecause::OtherUser { .. }), "{why:?}");
    assert_eq!(
        why.to_string(),
        format!(
            "the new link is for yann name at {0}, not zoe name at {0}: both accounts are kept",
            env.issuer.as_str()
        )
    );
    assert_eq!(approver.accounts().await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_with_undelivered_decisions_is_kept() {
    let env = Env::start().await;
    let Trade { device: _device, approver, account: old, item, .. } = env.synced_trade("zoe", None).await;

    // The decision is signed while the server cannot be reached: queued.
    env.approve_offline(&approver, &old, &item).await;
    env.proxy.set_down(false);

    let enrollment = approver.enroll_replacing(&env.invitation("zoe", 600).await, Some(&old.id)).await.unwrap();
    assert!(enrollment.replaced.is_none());
    let why = enrollment.kept_because.expect("kept");
    assert!(matches!(why, KeptBecause::Undelivered(1)), "{why:?}");
    assert!(why.to_string().starts_with("1 decision(s) of the old account still wait to be delivered"), "{why}");
    assert_eq!(approver.accounts().await.unwrap().len(), 2);
    assert_eq!(approver.store().outbox().await.unwrap().len(), 1, "the signed decision is still there");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_holds_each_decision_with_its_request_and_never_overwrites() {
    let env = Env::start().await;
    let Trade { device: _device, approver, account, item, .. } = env.synced_trade("zoe", None).await;
    let request_id = item.request.id.as_str().to_owned();
    approver.decide(&account.id, &request_id, Decision::Approve, None, Some(common::CODE)).await.unwrap();

    let items = approver.history_items().await.unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].entry.request_id, request_id);
    assert_eq!(items[0].request.as_ref().map(|r| r.id.as_str()), Some(request_id.as_str()));

    let dir = tempfile::tempdir().unwrap();
    let exports = dir.path().join("exports");
    let report = approver.export_history(&exports, 1_767_225_600, "9.9.9").await.unwrap();
    assert_eq!(report.decisions, 1);
    let path = exports.join("countersign-history-1767225600.json");
    assert_eq!(report.path, path.display().to_string());
    let document: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(document["format"], "countersign-history-v1");
    assert_eq!(document["exported_at"], 1_767_225_600);
    assert_eq!(document["app_version"], "9.9.9");
    assert_eq!(document["decisions"][0]["request_id"], request_id.as_str());
    assert_eq!(document["decisions"][0]["request"]["id"], request_id.as_str());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }

    let before = std::fs::read(&path).unwrap();
    let error = approver.export_history(&exports, 1_767_225_600, "9.9.9").await.unwrap_err();
    assert!(matches!(error, Error::Export(_)), "{error:?}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "the first export is untouched");
}
