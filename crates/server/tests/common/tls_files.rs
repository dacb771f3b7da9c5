//! The real `countersign-server serve` over HTTPS with certificate files
//! made for the test (rcgen): expired ones, ones for another name.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A `countersign-server serve` process, killed when dropped.
pub struct Served {
    pub child: Child,
    pub port: u16,
    pub stderr: PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts `serve` on `db` with `tls` flags for the issuer
/// `https://localhost:<port>`; does not wait.
pub fn serve(dir: &Path, tls: &[&str]) -> Served {
    let port = free_port();
    let stderr = dir.join(format!("stderr-{port}.txt"));
    let child = Command::new(env!("CARGO_BIN_EXE_countersign-server"))
        .arg("--db")
        .arg(dir.join("tls.db"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--issuer", &format!("https://localhost:{port}")])
        .args(tls)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    Served { child, port, stderr }
}

/// A CA, and a certificate for `names` it issued valid from `not_before`
/// to `not_after` (unix seconds), written to `dir`: (CA, certificate, key).
pub fn issue(dir: &Path, tag: &str, names: &[&str], not_before: i64, not_after: i64) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::default();
    ca.distinguished_name.push(DnType::CommonName, format!("test CA {tag}"));
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>()).unwrap();
    leaf.not_before = time::OffsetDateTime::from_unix_timestamp(not_before).unwrap();
    leaf.not_after = time::OffsetDateTime::from_unix_timestamp(not_after).unwrap();
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    let paths =
        (dir.join(format!("{tag}-ca.pem")), dir.join(format!("{tag}-cert.pem")), dir.join(format!("{tag}-key.pem")));
    std::fs::write(&paths.0, ca_cert.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    (paths.0, paths.1, paths.2)
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()).unwrap()
}
