//! Enrollment failures leave nothing behind: no account row, no key.

mod common;

use common::{Device, Env};
use countersign_approver::keys::{KeyStore, KeyStoreError, KeyStoreKind};
use countersign_approver::{Approver, Error, KeyStoreChoice};
use countersign_protocol::device::{EnrollmentUri, EnrollmentUriError, Role};
use countersign_server::ops::NewUser;
use countersign_server::testing::new_user;
use std::sync::Arc;

async fn assert_nothing_stored(approver: &Approver, device: &Device) {
    assert!(approver.accounts().await.unwrap().is_empty(), "no account");
    assert!(device.keys.ids().is_empty(), "no key: {:?}", device.keys.ids());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_enrollment_uris_are_refused_with_their_reason() {
    let (device, approver) = Device::open_new().await;
    let ticket = "9e7dLqz2IarV9t3HFBQzBKmySsX_vnca7id-d0E3Swc";
    type Check = fn(&EnrollmentUriError) -> bool;
    let cases: Vec<(String, Check)> = vec![
        ("not a uri".into(), |e| matches!(e, EnrollmentUriError::Malformed(_))),
        (format!("ftp://enroll?issuer=https%3A%2F%2Fa.example&ticket={ticket}"), |e| {
            matches!(e, EnrollmentUriError::UnsupportedScheme(_))
        }),
        (format!("countersign://other?issuer=https%3A%2F%2Fa.example&ticket={ticket}"), |e| {
            matches!(e, EnrollmentUriError::WrongHost(_))
        }),
        ("countersign://enroll?issuer=https%3A%2F%2Fa.example".into(), |e| {
            matches!(e, EnrollmentUriError::MissingParam("ticket"))
        }),
        ("countersign://enroll?issuer=https%3A%2F%2Fa.example&ticket=short".into(), |e| {
            matches!(e, EnrollmentUriError::Ticket(_))
        }),
        (format!("countersign://enroll?issuer=http%3A%2F%2Fa.example&ticket={ticket}"), |e| {
            matches!(e, EnrollmentUriError::Issuer(_))
        }),
        (format!("countersign://enroll?issuer=https%3A%2F%2Fa.example&ticket={ticket}&x=1"), |e| {
            matches!(e, EnrollmentUriError::UnknownParam(_))
        }),
        (format!("countersign://enroll?issuer=https%3A%2F%2Fa.example&ticket={ticket}#f"), |e| {
            matches!(e, EnrollmentUriError::Fragment)
        }),
        (format!("https://a.example/wrong?ticket={ticket}"), |e| matches!(e, EnrollmentUriError::WrongPath(_))),
    ];
    for (uri, expected) in cases {
        match approver.enroll(&uri).await {
            Err(Error::EnrollmentUri(e)) => assert!(expected(&e), "{uri}: unexpected {e:?}"),
            other => panic!("{uri}: {other:?}"),
        }
    }
    assert_nothing_stored(&approver, &device).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_is_a_clear_error() {
    let (device, approver) = Device::open_new().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let uri = format!(
        "countersign://enroll?issuer=http%3A%2F%2F127.0.0.1%3A{port}&ticket=9e7dLqz2IarV9t3HFBQzBKmySsX_vnca7id-d0E3Swc"
    );
    let e = approver.enroll(&uri).await.unwrap_err();
    assert!(matches!(e, Error::Metadata(_)), "{e:?}");
    assert!(e.to_string().contains("/.well-known/openid-configuration"), "{e}");
    assert_nothing_stored(&approver, &device).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mismatched_issuer_metadata_is_refused_and_the_ticket_kept() {
    let env = Env::start().await;
    let (device, approver) = env.user_and_approver("zoe").await;
    let uri = env.invitation("zoe", 600).await;
    // The same server reached as "localhost": its metadata says 127.0.0.1.
    let port = env.proxy.addr.port();
    let wrong = uri.replace(&format!("127.0.0.1%3A{port}"), &format!("localhost%3A{port}"));
    assert_ne!(wrong, uri);
    let e = approver.enroll(&wrong).await.unwrap_err();
    match &e {
        Error::IssuerMismatch { expected, found } => {
            assert_eq!(expected, &format!("http://localhost:{port}"));
            assert_eq!(found, env.issuer.as_str());
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("refusing to enroll"));
    assert_nothing_stored(&approver, &device).await;
    // Nothing was sent: the ticket still works with the right issuer.
    approver.enroll(&uri).await.unwrap();
    assert_eq!(approver.accounts().await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_and_used_tickets_are_refused_leaving_nothing() {
    let env = Env::start().await;
    let (device, approver) = env.user_and_approver("zoe").await;

    let expired = env.invitation("zoe", 5).await;
    env.advance_server(10);
    let e = approver.enroll(&expired).await.unwrap_err();
    assert!(matches!(e, Error::InvalidTicket), "{e:?}");
    assert!(e.to_string().contains("ask for a new invitation"));
    assert_nothing_stored(&approver, &device).await;

    let once = env.invitation("zoe", 600).await;
    let account = approver.enroll(&once).await.unwrap();
    let e = approver.enroll(&once).await.unwrap_err();
    assert!(matches!(e, Error::InvalidTicket), "{e:?}");
    assert_eq!(approver.accounts().await.unwrap(), vec![account.clone()]);
    assert_eq!(device.keys.ids(), vec![account.id]);
}

/// A key store that refuses to store.
struct Broken;

impl KeyStore for Broken {
    fn kind(&self) -> KeyStoreKind {
        KeyStoreKind::Memory
    }
    fn put(&self, _: &str, _: &[u8]) -> Result<(), KeyStoreError> {
        Err(KeyStoreError::Unavailable("the keychain is locked".into()))
    }
    fn get(&self, id: &str) -> Result<zeroize::Zeroizing<Vec<u8>>, KeyStoreError> {
        Err(KeyStoreError::NotFound(id.into()))
    }
    fn delete(&self, _: &str) -> Result<(), KeyStoreError> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_store_failure_happens_before_the_ticket_is_spent() {
    let env = Env::with_user("zoe").await;
    let device = Device::new();
    let uri = env.invitation("zoe", 600).await;
    let broken = device.open_with(|c| c.key_store = KeyStoreChoice::Custom(Arc::new(Broken))).await;
    let e = broken.enroll(&uri).await.unwrap_err();
    assert!(matches!(e, Error::KeyStore(_)), "{e:?}");
    assert!(e.to_string().contains("locked"));
    assert!(broken.accounts().await.unwrap().is_empty());
    broken.close().await;
    let approver = device.open().await;
    approver.enroll(&uri).await.unwrap();
    assert_eq!(approver.accounts().await.unwrap().len(), 1);
}

// ---- Preview ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_shows_the_server_and_user_and_spends_nothing() {
    let env = Env::start().await;
    let sub = env.add_user("zoe").await;
    let (device, approver) = Device::open_new().await;
    let uri = env.invitation("zoe", 600).await;
    let now = env.server().state.now();

    let preview = approver.enroll_preview(&uri).await.unwrap();
    assert_eq!(preview.issuer, env.issuer.as_str());
    assert!(preview.plain_http, "the test server is a loopback http issuer");
    assert_eq!(preview.user.sub, sub);
    assert_eq!(preview.user.name, "zoe name");
    assert_eq!(preview.user.roles, vec![Role::User]);
    assert!((now + 600..=now + 601).contains(&preview.expires_at), "{} vs {now}", preview.expires_at);
    assert!(preview.user_findings.is_empty());
    let json = serde_json::to_value(&preview).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "issuer": env.issuer.as_str(),
            "plain_http": true,
            "user": { "sub": sub, "name": "zoe name", "roles": ["user"] },
            "expires_at": preview.expires_at,
            "user_findings": [],
        })
    );
    assert!(!format!("{preview:?}").contains(&uri[uri.find("ticket=").unwrap() + 7..]), "no ticket in Debug");
    // The https spelling previews the same, and nothing was stored or spent.
    let link = EnrollmentUri::parse(&uri).unwrap().to_https_link();
    let again = approver.enroll_preview(&link).await.unwrap();
    assert_eq!((again.user, again.expires_at), (preview.user.clone(), preview.expires_at));
    assert_nothing_stored(&approver, &device).await;
    let account = approver.enroll(&uri).await.unwrap();
    assert_eq!(account.user, preview.user, "the preview named the user the enrollment got");
    // Spent by the enrollment, not by the previews.
    assert!(matches!(approver.enroll_preview(&uri).await.unwrap_err(), Error::InvalidTicket));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_flags_hidden_characters_in_the_user() {
    let env = Env::start().await;
    env.server().create_user(&NewUser { admin: true, ..new_user("mallory", "Alice\u{202E}ecilA") }).await;
    let approver = Device::new().open().await;
    let preview = approver.enroll_preview(&env.invitation("mallory", 600).await).await.unwrap();
    assert_eq!(preview.user.name, "Alice\u{202E}ecilA", "shown as sent, with the finding beside it");
    assert_eq!(preview.user.roles, vec![Role::Admin, Role::User]);
    assert_eq!(preview.user_findings.len(), 1, "{:?}", preview.user_findings);
    assert_eq!(preview.user_findings[0].field, "/user/name");
    assert_eq!(preview.user_findings[0].warnings[0].characters[0].code_point, "U+202E");
    let json = serde_json::to_value(&preview).unwrap();
    assert_eq!(json["user_findings"][0]["field"], "/user/name");
    assert_eq!(json["user_findings"][0]["warnings"][0]["code"], "bidi_control");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_refuses_a_mismatched_issuer_and_the_ticket_stays_usable() {
    let env = Env::with_user("zoe").await;
    let approver = Device::new().open().await;
    let uri = env.invitation("zoe", 600).await;
    let port = env.proxy.addr.port();
    let wrong = uri.replace(&format!("127.0.0.1%3A{port}"), &format!("localhost%3A{port}"));
    assert_ne!(wrong, uri);
    match approver.enroll_preview(&wrong).await.unwrap_err() {
        Error::IssuerMismatch { expected, found } => {
            assert_eq!(expected, format!("http://localhost:{port}"));
            assert_eq!(found, env.issuer.as_str());
        }
        other => panic!("{other:?}"),
    }
    approver.enroll(&uri).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_of_unknown_expired_or_used_tickets_is_invalid_ticket() {
    let env = Env::start().await;
    let (_device, approver) = env.user_and_approver("zoe").await;

    let real = env.invitation("zoe", 600).await;
    let ticket = EnrollmentUri::parse(&real).unwrap().ticket().secret().to_owned();
    let unknown = real.replace(&ticket, &countersign_protocol::secret::generate_url_safe(32).unwrap());
    let e = approver.enroll_preview(&unknown).await.unwrap_err();
    assert!(matches!(e, Error::InvalidTicket), "{e:?}");
    assert!(e.to_string().contains("ask for a new invitation"), "{e}");

    let expired = env.invitation("zoe", 5).await;
    env.advance_server(10);
    assert!(matches!(approver.enroll_preview(&expired).await.unwrap_err(), Error::InvalidTicket));

    approver.enroll(&real).await.unwrap();
    let e = approver.enroll_preview(&real).await.unwrap_err();
    assert!(matches!(e, Error::InvalidTicket), "{e:?}");
    assert!(!e.to_string().contains(&ticket));
    // A malformed invitation never reaches the server.
    assert!(matches!(
        approver.enroll_preview("countersign://enroll?issuer=https%3A%2F%2Fa.example&ticket=short").await,
        Err(Error::EnrollmentUri(EnrollmentUriError::Ticket(_)))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_with_the_server_down_is_a_clear_error_and_stores_nothing() {
    let env = Env::start().await;
    let (device, approver) = env.user_and_approver("zoe").await;
    let uri = env.invitation("zoe", 600).await;
    env.proxy.set_down(true);
    let e = approver.enroll_preview(&uri).await.unwrap_err();
    assert!(matches!(e, Error::Metadata(_)), "{e:?}");
    assert!(e.to_string().contains("/.well-known/openid-configuration"), "{e}");
    assert!(e.to_string().contains("network"), "{e}");
    assert_nothing_stored(&approver, &device).await;
    // Back up: the ticket is intact.
    env.proxy.set_down(false);
    assert_eq!(approver.enroll_preview(&uri).await.unwrap().user.name, "zoe name");
}
