//! The development certificate of `--tls-self-signed`: a local CA made once
//! and kept in the data directory (`tls/dev-ca.pem`, its key
//! `tls/dev-ca-key.pem`, owner only), and a server certificate for
//! `localhost`, `127.0.0.1` and `::1` issued by it at every start
//! (`tls/dev-cert.pem`, `tls/dev-key.pem`). Clients trust the CA file once;
//! the server certificate can then change freely. The CA is name-constrained
//! to those loopback names (RFC 5280 §4.2.1.10), so its key cannot vouch
//! for any other site to clients that trust it. Never for production.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose, NameConstraints, SanType,
};

use super::{TlsError, TlsFiles};

/// The CA's name (its certificate is rebuilt from it and its key).
const CA_NAME: &str = "Countersign development CA";
/// The CA's lifetime.
const CA_DAYS: i64 = 3650;
/// A server certificate's lifetime (a new one is issued at every start).
const SERVER_DAYS: i64 = 30;

/// The files of the development certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevCertificate {
    /// What the server serves.
    pub files: TlsFiles,
    /// The CA certificate clients trust.
    pub ca: PathBuf,
    /// The CA was made now (clients must be told to trust it).
    pub new_ca: bool,
}

fn err(path: &Path, e: impl std::fmt::Display) -> TlsError {
    TlsError::File { path: path.to_owned(), message: e.to_string() }
}

fn write_private(path: &Path, contents: &str) -> Result<(), TlsError> {
    // Made beside and renamed: never a half-written key, and created with
    // the owner's permissions only.
    let partial = path.with_extension("partial");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&partial).map_err(|e| err(&partial, e))?;
    std::io::Write::write_all(&mut file, contents.as_bytes()).map_err(|e| err(&partial, e))?;
    file.sync_all().map_err(|e| err(&partial, e))?;
    std::fs::rename(&partial, path).map_err(|e| err(path, e))
}

fn ca_params(now: time::OffsetDateTime) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, CA_NAME);
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    // Clients that trust it (NODE_EXTRA_CA_CERTS, SSL_CERT_FILE) accept
    // from it only the loopback names, whoever reads its key.
    params.name_constraints = Some(NameConstraints {
        permitted_subtrees: vec![
            GeneralSubtree::DnsName("localhost".to_owned()),
            GeneralSubtree::IpAddress(CidrSubnet::V4([127, 0, 0, 1], [255; 4])),
            GeneralSubtree::IpAddress(CidrSubnet::V6(std::net::Ipv6Addr::LOCALHOST.octets(), [255; 16])),
        ],
        excluded_subtrees: Vec::new(),
    });
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(CA_DAYS);
    params
}

fn rcgen_error(what: &str, e: rcgen::Error) -> TlsError {
    TlsError::Invalid(format!("{what}: {e}"))
}

/// Makes (or reuses) the CA in `dir` and issues a server certificate for
/// the loopback names valid from `now` (unix seconds).
///
/// # Errors
/// The directory or files cannot be written or read, or the CA key file is
/// not a key.
pub fn ensure(dir: &Path, now: u64) -> Result<DevCertificate, TlsError> {
    let now = time::OffsetDateTime::from_unix_timestamp(i64::try_from(now).unwrap_or(i64::MAX))
        .map_err(|e| TlsError::Invalid(format!("time: {e}")))?;
    std::fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| err(dir, e))?;
    }
    let (ca, ca_key) = (dir.join("dev-ca.pem"), dir.join("dev-ca-key.pem"));
    let (key, new_ca) = if ca.is_file() && ca_key.is_file() {
        let pem = std::fs::read_to_string(&ca_key).map_err(|e| err(&ca_key, e))?;
        (KeyPair::from_pem(&pem).map_err(|e| err(&ca_key, format!("not a private key: {e}")))?, false)
    } else {
        let key = KeyPair::generate().map_err(|e| rcgen_error("CA key", e))?;
        let cert = ca_params(now).self_signed(&key).map_err(|e| rcgen_error("CA certificate", e))?;
        write_private(&ca_key, &key.serialize_pem())?;
        std::fs::write(&ca, cert.pem()).map_err(|e| err(&ca, e))?;
        (key, true)
    };
    // Signing needs only the CA's name and key: its certificate as stored
    // is what clients trust.
    let issuer = Issuer::new(ca_params(now), key);
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).map_err(|e| rcgen_error("names", e))?;
    params.subject_alt_names.push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
    params.subject_alt_names.push(SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()));
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "localhost");
    params.distinguished_name = name;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(SERVER_DAYS);
    let server_key = KeyPair::generate().map_err(|e| rcgen_error("server key", e))?;
    let server = params.signed_by(&server_key, &issuer).map_err(|e| rcgen_error("server certificate", e))?;
    let files = TlsFiles { cert: dir.join("dev-cert.pem"), key: dir.join("dev-key.pem") };
    write_private(&files.key, &server_key.serialize_pem())?;
    std::fs::write(&files.cert, server.pem()).map_err(|e| err(&files.cert, e))?;
    Ok(DevCertificate { files, ca, new_ca })
}

/// How to make clients trust the CA, for the start-up message.
#[must_use]
pub fn trust_instructions(ca: &Path) -> String {
    let ca = ca.display();
    format!(
        "development certificate: trust its CA {ca} in the clients, e.g.\n  \
         NODE_EXTRA_CA_CERTS={ca}   (Node: @auth0/ai, openid-client)\n  \
         SSL_CERT_FILE={ca}         (OpenSSL-based clients; replaces the system roots)\n  \
         REQUESTS_CA_BUNDLE={ca}    (Python requests)\n\
         Never use it in production."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // The CA is made once and kept; the server certificate is issued anew
    // by the same CA; the keys are owner-only; rustls loads the pair.
    #[test]
    fn the_ca_is_kept_and_the_server_certificate_loads() {
        let dir = tempfile::tempdir().unwrap();
        let tls = dir.path().join("tls");
        let first = ensure(&tls, 1_767_225_600).unwrap();
        assert!(first.new_ca);
        let ca_pem = std::fs::read_to_string(&first.ca).unwrap();
        let cert_pem = std::fs::read_to_string(&first.files.cert).unwrap();
        let second = ensure(&tls, 1_767_225_700).unwrap();
        assert!(!second.new_ca);
        assert_eq!(std::fs::read_to_string(&second.ca).unwrap(), ca_pem, "the CA stays");
        assert_ne!(std::fs::read_to_string(&second.files.cert).unwrap(), cert_pem, "a new server certificate");
        super::super::load(&second.files).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            for key in [tls.join("dev-ca-key.pem"), second.files.key.clone()] {
                assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600, "{key:?}");
            }
            assert_eq!(std::fs::metadata(&tls).unwrap().permissions().mode() & 0o777, 0o700);
        }
        // A CA key file that is not a key: a clear error naming the file.
        std::fs::write(tls.join("dev-ca-key.pem"), "garbage").unwrap();
        let e = ensure(&tls, 1_767_225_800).unwrap_err().to_string();
        assert!(e.contains("dev-ca-key.pem") && e.contains("not a private key"), "{e}");
    }
}
