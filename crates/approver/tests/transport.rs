//! Transport behaviour the real server cannot be made to show: a stream that
//! goes silent (heartbeat timeout, reconnect with `Last-Event-ID`) and a
//! server without an event stream (fall back to polling). A small raw-HTTP
//! fake on a real socket plays the server.

mod common;

use common::{wait_event, wait_for, Device};
use countersign_approver::store::Account;
use countersign_approver::{Approver, ApproverEvent, ConnectionState};
use countersign_protocol::device::{verify_device_auth, DeviceId, EnrolledUser, HttpMethod, Issuer, Role};
use countersign_protocol::jws::DeviceKeyPair;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Clone, Copy)]
enum Events {
    /// One event, then silence (no heartbeat).
    Silent,
    /// No event stream.
    NotFound,
}

#[derive(Debug, Clone)]
struct Seen {
    path: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// `GET /me` as the fake answers it by default: this account's device and user.
const ME: &str = "{\"device_id\":\"dev_fake\",\"user\":{\"sub\":\"u1\",\"name\":\"U\",\"roles\":[\"user\"]}}";

async fn fake_server(mode: Events) -> (String, Arc<Mutex<Vec<Seen>>>) {
    fake_server_with_me(mode, ME).await
}

async fn fake_server_with_me(mode: Events, me: &'static str) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { continue };
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).to_string();
                let mut lines = head.split("\r\n");
                let path = lines.next().unwrap_or("").split(' ').nth(1).unwrap_or("").to_owned();
                let headers = lines
                    .filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())))
                    .collect();
                log.lock().unwrap().push(Seen { path: path.clone(), headers });
                if path.starts_with("/device/v1/events") {
                    match mode {
                        Events::NotFound => {
                            let _ = sock.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n").await;
                        }
                        Events::Silent => {
                            let body = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n\
                                        id: 5\nevent: withdrawn\ndata: {\"id\":\"req_x\",\"reason\":\"cancelled\"}\n\n";
                            let _ = sock.write_all(body.as_bytes()).await;
                            tokio::time::sleep(Duration::from_secs(60)).await;
                        }
                    }
                } else {
                    let body = if path.starts_with("/device/v1/me") { me } else { "{\"requests\":[]}" };
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                }
            });
        }
    });
    (base, seen)
}

/// An approver with one account at `base` (inserted directly: the fake has
/// no enrollment).
async fn approver_at(
    device: &Device,
    base: &str,
    f: impl FnOnce(&mut countersign_approver::ApproverConfig),
) -> (Approver, Account, DeviceKeyPair) {
    let approver = device.open_with(f).await;
    let key = DeviceKeyPair::generate().unwrap();
    let account = Account {
        id: "acct_fake".into(),
        issuer: Issuer::new(base).unwrap(),
        device_endpoint: format!("{base}/device/v1"),
        device_id: DeviceId::new("dev_fake").unwrap(),
        user: EnrolledUser { sub: "u1".into(), name: "U".into(), roles: vec![Role::User] },
        poll_interval: 30,
        key_store: countersign_approver::keys::KeyStoreKind::Memory,
        public_jwk: key.public_jwk().clone(),
        last_event_id: None,
        created_at: 0,
    };
    use countersign_approver::keys::KeyStore as _;
    device.keys.put(&account.id, key.pkcs8().secret_bytes()).unwrap();
    approver.store().insert_account(&account).await.unwrap();
    (approver, account, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_stream_times_out_and_resumes_with_last_event_id() {
    let (base, seen) = fake_server(Events::Silent).await;
    let device = Device::new();
    let (approver, account, key) =
        approver_at(&device, &base, |c| c.transport.heartbeat_timeout = Duration::from_millis(600)).await;
    let mut events = approver.subscribe();
    let run = approver.start().await.unwrap();
    let e = wait_event(&mut events, "heartbeat timeout", |e| {
        matches!(e, ApproverEvent::Connection { state: ConnectionState::Disconnected { .. }, .. })
    })
    .await;
    let ApproverEvent::Connection { state: ConnectionState::Disconnected { error, retry_in_ms }, .. } = e else {
        unreachable!()
    };
    assert!(error.contains("no heartbeat"), "{error}");
    assert!(retry_in_ms <= 800, "backoff capped by the configuration: {retry_in_ms}");

    let streams = wait_for("a second stream", || async {
        let s: Vec<Seen> = seen.lock().unwrap().iter().filter(|s| s.path.ends_with("/events")).cloned().collect();
        (s.len() >= 2).then_some(s)
    })
    .await;
    assert_eq!(streams[0].header("last-event-id"), None);
    assert_eq!(streams[1].header("last-event-id"), Some("5"));
    assert_eq!(streams[1].header("accept"), Some("text/event-stream"));
    // Each (re)connect is followed by a reconciling poll.
    let polls = seen.lock().unwrap().iter().filter(|s| s.path.contains("/requests?status=pending")).count();
    assert!(polls >= 1, "no reconciling poll");
    // The device proof is valid for the events URL.
    let auth = streams[1].header("authorization").unwrap();
    let proof = auth.strip_prefix("Device ").unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    verify_device_auth(
        proof,
        key.public_jwk(),
        &account.device_id,
        now,
        &account.issuer,
        &HttpMethod::Get,
        &format!("{base}/device/v1/events"),
    )
    .unwrap();
    assert_eq!(approver.store().account(&account.id).await.unwrap().last_event_id.unwrap().as_str(), "5");
    run.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_event_stream_falls_back_to_polling() {
    let (base, seen) = fake_server(Events::NotFound).await;
    let device = Device::new();
    let (approver, _, _) =
        approver_at(&device, &base, |c| c.transport.poll_interval = Some(Duration::from_millis(150))).await;
    let mut events = approver.subscribe();
    let run = approver.start().await.unwrap();
    wait_event(&mut events, "polling", |e| {
        matches!(e, ApproverEvent::Connection { state: ConnectionState::Polling, .. })
    })
    .await;
    wait_for("several polls", || async {
        let n = seen.lock().unwrap().iter().filter(|s| s.path.contains("/requests?status=pending")).count();
        (n >= 4).then_some(())
    })
    .await;
    let streams = seen.lock().unwrap().iter().filter(|s| s.path.ends_with("/events")).count();
    assert_eq!(streams, 1, "push is not retried before push_retry_after");
    run.shutdown().await;
}

// `GET /me` naming another user or device fails the sync and changes
// nothing stored; one naming this account's user with new roles and name
// updates them (a role given on the server shows at the next sync).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn me_naming_another_user_fails_the_sync_and_new_roles_are_kept() {
    for other in [
        "{\"device_id\":\"dev_fake\",\"user\":{\"sub\":\"u2\",\"name\":\"Eve\",\"roles\":[\"admin\"]}}",
        "{\"device_id\":\"dev_other\",\"user\":{\"sub\":\"u1\",\"name\":\"U\",\"roles\":[\"admin\"]}}",
    ] {
        let (base, _) = fake_server_with_me(Events::NotFound, other).await;
        let device = Device::new();
        let (approver, account, _) = approver_at(&device, &base, |_| {}).await;
        let e = approver.sync(&account.id).await.unwrap_err();
        assert!(e.to_string().contains("another device or user"), "{e}");
        let stored = approver.store().account(&account.id).await.unwrap();
        assert_eq!((stored.user.sub.as_str(), stored.user.roles.as_slice()), ("u1", &[Role::User][..]));
    }
    let promoted =
        "{\"device_id\":\"dev_fake\",\"user\":{\"sub\":\"u1\",\"name\":\"Ula\",\"roles\":[\"admin\",\"user\"]}}";
    let (base, _) = fake_server_with_me(Events::NotFound, promoted).await;
    let device = Device::new();
    let (approver, account, _) = approver_at(&device, &base, |_| {}).await;
    approver.sync(&account.id).await.unwrap();
    let stored = approver.store().account(&account.id).await.unwrap();
    assert_eq!(stored.user.name, "Ula");
    assert_eq!(stored.user.roles, [Role::Admin, Role::User]);
}
