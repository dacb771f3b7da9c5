//! HTTPS in `countersign-server serve`, the real binary on a real socket:
//! the development certificate (`--tls-self-signed`) trusted through its CA
//! file, refused without it and under another name; a certificate from
//! files (`--tls-cert`, `--tls-key`) replaced on SIGHUP; an expired one
//! refused by clients; unusable files refused at start with a clear error.

mod common;

use common::tls_files::{issue, now, serve};
use std::path::Path;
use std::time::Duration;

use rcgen::{CertificateParams, DnType, Issuer, KeyPair};

fn client(ca: Option<&Path>, resolve: Option<(&str, u16)>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder().tls_info(true).timeout(Duration::from_secs(5));
    if let Some(ca) = ca {
        let pem = std::fs::read(ca).unwrap();
        builder = builder.add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
    }
    if let Some((name, port)) = resolve {
        builder = builder.resolve(name, std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    }
    builder.build().unwrap()
}

/// Waits until the server answers over TLS as `client` trusts it; the
/// server's certificate (DER).
async fn answered(client: &reqwest::Client, url: &str) -> Vec<u8> {
    for _ in 0..300 {
        if let Ok(resp) = client.get(url).send().await {
            assert_eq!(resp.status(), 200);
            let info = resp.extensions().get::<reqwest::tls::TlsInfo>().cloned().unwrap();
            let body: serde_json::Value = resp.json().await.unwrap();
            assert!(body.is_object());
            return info.peer_certificate().unwrap().to_vec();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no answer at {url}");
}

/// The error a client gets from `url`, as text with its causes.
async fn refused(client: &reqwest::Client, url: &str) -> String {
    let e = client.get(url).send().await.expect_err("the client must refuse the certificate");
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

#[tokio::test]
async fn the_development_certificate_is_trusted_through_its_ca_only_for_loopback_names() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &["--tls-self-signed"]);
    let ca = dir.path().join("tls/dev-ca.pem");
    let url = format!("https://localhost:{}/.well-known/openid-configuration", server.port);
    for _ in 0..300 {
        if ca.is_file() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let trusted = client(Some(&ca), None);
    answered(&trusted, &url).await;
    let meta: serde_json::Value = trusted.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(meta["issuer"], format!("https://localhost:{}", server.port));
    assert_eq!(meta["token_endpoint"], format!("https://localhost:{}/token", server.port));
    // The IP names too.
    answered(&trusted, &format!("https://127.0.0.1:{}/jwks", server.port)).await;
    // Without the CA: an unknown issuer.
    let e = refused(&client(None, None), &url).await;
    assert!(e.contains("UnknownIssuer") || e.contains("unknown issuer"), "{e}");
    // Under another name: not the certificate's.
    let other = client(Some(&ca), Some(("auth.example.test", server.port)));
    let e = refused(&other, &format!("https://auth.example.test:{}/jwks", server.port)).await;
    assert!(e.contains("NotValidForName") || e.contains("not valid for name"), "{e}");
    // Plain HTTP on the TLS port gets no answer of the server's.
    let plain = reqwest::Client::new().get(format!("http://127.0.0.1:{}/jwks", server.port)).send().await;
    assert!(plain.map(|r| r.status() != 200).unwrap_or(true));
    let said = std::fs::read_to_string(&server.stderr).unwrap();
    assert!(said.contains("NODE_EXTRA_CA_CERTS=") && said.contains("dev-ca.pem"), "{said}");
    assert!(!said.contains("PRIVATE KEY"), "no key in the output");
}

#[cfg(unix)]
#[tokio::test]
async fn a_certificate_from_files_is_replaced_on_sighup_and_an_expired_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (ca_a, cert, key) = issue(dir.path(), "a", &["localhost"], now() - 3600, now() + 86_400);
    let (served_cert, served_key) = (dir.path().join("served-cert.pem"), dir.path().join("served-key.pem"));
    std::fs::copy(&cert, &served_cert).unwrap();
    std::fs::copy(&key, &served_key).unwrap();
    let server =
        serve(dir.path(), &["--tls-cert", served_cert.to_str().unwrap(), "--tls-key", served_key.to_str().unwrap()]);
    let url = format!("https://localhost:{}/jwks", server.port);
    let first = answered(&client(Some(&ca_a), None), &url).await;

    // Renewed by another CA (so the old trust no longer fits), then SIGHUP.
    let (ca_b, cert_b, key_b) = issue(dir.path(), "b", &["localhost"], now() - 3600, now() + 86_400);
    std::fs::copy(&cert_b, &served_cert).unwrap();
    std::fs::copy(&key_b, &served_key).unwrap();
    assert_eq!(unsafe_kill(server.child.id(), 1), 0, "SIGHUP");
    let trusting_b = client(Some(&ca_b), None);
    let second = answered(&trusting_b, &url).await;
    assert_ne!(first, second, "the renewed certificate is served");
    refused(&client(Some(&ca_a), None), &url).await;

    // A broken file on the next SIGHUP: the certificate served stays.
    std::fs::write(&served_key, "not a key").unwrap();
    assert_eq!(unsafe_kill(server.child.id(), 1), 0, "SIGHUP");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(answered(&trusting_b, &url).await, second);
    let said = std::fs::read_to_string(&server.stderr).unwrap();
    assert!(said.contains("TLS certificate not reloaded"), "{said}");
    drop(server);

    // Expired yesterday: a client that trusts its CA still refuses it.
    let (ca_c, cert_c, key_c) = issue(dir.path(), "c", &["localhost"], now() - 10 * 86_400, now() - 86_400);
    let expired = serve(dir.path(), &["--tls-cert", cert_c.to_str().unwrap(), "--tls-key", key_c.to_str().unwrap()]);
    let url = format!("https://localhost:{}/jwks", expired.port);
    let trusting_c = client(Some(&ca_c), None);
    let mut said = String::new();
    for _ in 0..300 {
        said = refused(&trusting_c, &url).await;
        if !said.contains("onnect") || said.contains("xpired") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(said.contains("Expired") || said.contains("expired"), "{said}");
}

#[cfg(unix)]
fn unsafe_kill(pid: u32, signal: i32) -> i32 {
    extern "C" {
        fn kill(pid: i32, signal: i32) -> i32;
    }
    // SAFETY: kill(2) with a child's pid and a signal number.
    unsafe { kill(i32::try_from(pid).unwrap(), signal) }
}

// Files that cannot serve: the server does not start, and says which file
// and why, never what the key file holds.
#[tokio::test]
async fn unusable_certificate_files_stop_the_start_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (_, cert, key) = issue(dir.path(), "d", &["localhost"], now() - 3600, now() + 86_400);
    let secretish = dir.path().join("garbage-key.pem");
    std::fs::write(&secretish, "s3cr3t-not-a-key").unwrap();
    let (_, other_cert, _) = issue(dir.path(), "e", &["localhost"], now() - 3600, now() + 86_400);
    let cases: [(&[&str], &str); 4] = [
        (&["--tls-cert", "/nonexistent/cert.pem", "--tls-key", key.to_str().unwrap()], "/nonexistent/cert.pem"),
        (&["--tls-cert", cert.to_str().unwrap(), "--tls-key", secretish.to_str().unwrap()], "no usable private key"),
        (&["--tls-cert", other_cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()], "TLS:"),
        (&["--tls-cert", cert.to_str().unwrap()], "--tls-key"),
    ];
    for (flags, expected) in cases {
        let mut server = serve(dir.path(), flags);
        let status = tokio::task::spawn_blocking(move || {
            let status = server.child.wait().unwrap();
            (status, server)
        })
        .await
        .unwrap();
        let (status, server) = status;
        assert!(!status.success(), "{flags:?} must not start");
        let said = std::fs::read_to_string(&server.stderr).unwrap();
        assert!(said.contains(expected), "{flags:?}: {said}");
        assert!(!said.contains("s3cr3t"), "the key file's contents are never said: {said}");
    }
}

// The development CA vouches for the loopback names only: a certificate
// for another name signed with its key (as someone who read the key file
// could) is refused by a client that trusts the CA.
#[tokio::test]
async fn the_development_ca_cannot_vouch_for_another_name() {
    let dir = tempfile::tempdir().unwrap();
    let tls = dir.path().join("tls");
    let dev = countersign_server::tls::self_signed::ensure(&tls, u64::try_from(now()).unwrap()).unwrap();
    let ca_key = KeyPair::from_pem(&std::fs::read_to_string(tls.join("dev-ca-key.pem")).unwrap()).unwrap();
    let mut ca = CertificateParams::default();
    ca.distinguished_name.push(DnType::CommonName, "Countersign development CA");
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["bank.example.test".to_owned()]).unwrap();
    leaf.not_before = time::OffsetDateTime::from_unix_timestamp(now() - 3600).unwrap();
    leaf.not_after = time::OffsetDateTime::from_unix_timestamp(now() + 86_400).unwrap();
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    let (cert_file, key_file) = (dir.path().join("evil-cert.pem"), dir.path().join("evil-key.pem"));
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    let server =
        serve(dir.path(), &["--tls-cert", cert_file.to_str().unwrap(), "--tls-key", key_file.to_str().unwrap()]);
    let trusting = client(Some(&dev.ca), Some(("bank.example.test", server.port)));
    let url = format!("https://bank.example.test:{}/jwks", server.port);
    let mut said = String::new();
    for _ in 0..300 {
        said = refused(&trusting, &url).await;
        if !said.contains("onnect") || said.contains("ame") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(said.contains("NameConstraint") || said.contains("name constraint"), "{said}");
}

// A test server over TLS stops and starts again on the same address: the
// accepting task lets the port go when the server shuts down.
#[tokio::test]
async fn a_tls_test_server_restarts_on_its_address() {
    use countersign_server::testing::{spawn_test_server, TestOptions};
    let server = spawn_test_server(TestOptions { tls: true, ..TestOptions::default() }).await.unwrap();
    let ca = server.ca.clone().unwrap();
    let url = server.url("/jwks");
    answered(&client(Some(&ca), None), &url).await;
    let server =
        tokio::time::timeout(Duration::from_secs(20), server.restart()).await.expect("rebound in time").unwrap();
    answered(&client(Some(&ca), None), &server.url("/jwks")).await;
    server.stop().await;
}
