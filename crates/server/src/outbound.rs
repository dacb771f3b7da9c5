//! Outbound requests to client-supplied URLs (`jwks_uri`, ping and push
//! notification endpoints) never reach the server's own network.
//!
//! Two checks, because a URL names its host either as an address or as a
//! name:
//! - an IP literal in a loopback, private, link-local, unique-local, CGNAT,
//!   multicast, unspecified, broadcast, documentation or other reserved range
//!   is refused by [`check_url`], at registration (`invalid_client_metadata`)
//!   and again before every request (a client registered under other
//!   settings is not trusted later);
//! - a host name is resolved by [`GuardedResolver`], the HTTP client's only
//!   resolver, which drops such addresses and fails when none is left. The
//!   connection goes to an address the resolver returned, so the checked
//!   address is the one connected to (no second lookup an attacker's DNS
//!   could answer differently).
//!
//! The `danger_allow_http_loopback_*` switches (development and tests) allow
//! loopback addresses, and plain `http` to them, for their own kind of URL;
//! every other range stays refused.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// Why an address is not a public one (`None`: public).
#[must_use]
pub fn non_public_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_range(v4),
        IpAddr::V6(v6) => v6_range(v6),
    }
}

fn v4_range(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_unspecified() || a == 0 => "unspecified (0.0.0.0/8)",
        _ if ip.is_loopback() => "loopback (127.0.0.0/8)",
        (10, _, _) => "private (10.0.0.0/8)",
        (172, 16..=31, _) => "private (172.16.0.0/12)",
        (192, 168, _) => "private (192.168.0.0/16)",
        (100, 64..=127, _) => "shared address space (100.64.0.0/10, CGNAT)",
        (169, 254, _) => "link-local (169.254.0.0/16)",
        (192, 0, 0) => "IETF protocol assignments (192.0.0.0/24)",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (198, 18..=19, _) => "benchmarking (198.18.0.0/15)",
        (224..=239, _, _) => "multicast (224.0.0.0/4)",
        (240..=255, _, _) => "reserved (240.0.0.0/4, broadcast)",
        _ => return None,
    })
}

fn v6_range(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_range(v4).map(|_| "IPv4-mapped address of a non-public range");
    }
    let s = ip.segments();
    Some(match s[0] {
        _ if ip.is_unspecified() => "unspecified (::)",
        _ if ip.is_loopback() => "loopback (::1)",
        0 if s[1..6] == [0; 5] => "IPv4-compatible (::/96)",
        0x0064 if s[1] == 0xff9b && s[2..6] == [0; 4] => {
            // NAT64 (64:ff9b::/96) reaches the embedded IPv4 address.
            let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
            return v4_range(v4).map(|_| "NAT64 address of a non-public range");
        }
        // Local-use NAT64 (RFC 8215): what it reaches depends on the network.
        0x0064 if s[1] == 0xff9b && s[2] == 1 => "local-use NAT64 (64:ff9b:1::/48)",
        // The rest of ::/8 (SIIT ::ffff:0:0:0/96 among them) is reserved.
        x if x & 0xff00 == 0 => "reserved (::/8)",
        0x0100 if s[1..4] == [0; 3] => "discard-only (100::/64)",
        0x2001 if s[1] == 0x0db8 => "documentation (2001:db8::/32)",
        0x2001 if s[1] < 0x0200 => "IETF protocol assignments (2001::/23)",
        0x2002 => "6to4 (2002::/16)",
        x if x & 0xfe00 == 0xfc00 => "unique local (fc00::/7)",
        x if x & 0xffc0 == 0xfe80 => "link-local (fe80::/10)",
        x if x & 0xffc0 == 0xfec0 => "site-local (fec0::/10)",
        x if x & 0xff00 == 0xff00 => "multicast (ff00::/8)",
        _ => return None,
    })
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    }
}

/// Whether a connection to `ip` may be made: a public address, or a
/// loopback one when `allow_loopback`.
#[must_use]
pub fn allowed(ip: IpAddr, allow_loopback: bool) -> bool {
    non_public_range(ip).is_none() || (allow_loopback && is_loopback(ip))
}

/// `localhost` and names under `.localhost` (RFC 6761 §6.3) always mean
/// loopback, whatever a resolver says.
fn is_localhost_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost")
}

/// Checks an outbound URL: absolute, no user information or fragment,
/// `https` (or `http` to a loopback host when `allow_loopback`), and no IP
/// literal outside the public ranges (loopback allowed with
/// `allow_loopback`). Host names are checked when they are resolved
/// ([`GuardedResolver`]).
///
/// # Errors
/// A reason for the client (`invalid_client_metadata`).
pub fn check_url(text: &str, allow_loopback: bool) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|e| format!("not an absolute URL: {e}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("URL must not contain user information".into());
    }
    if url.fragment().is_some() {
        return Err("URL must not have a fragment".into());
    }
    let loopback = match url.host() {
        None => return Err("URL has no host".into()),
        Some(url::Host::Domain(d)) if is_localhost_name(d) => {
            if !allow_loopback {
                return Err("URL must not name a loopback host".into());
            }
            true
        }
        Some(url::Host::Domain(_)) => false,
        Some(url::Host::Ipv4(ip)) => check_literal(IpAddr::V4(ip), allow_loopback)?,
        Some(url::Host::Ipv6(ip)) => check_literal(IpAddr::V6(ip), allow_loopback)?,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if allow_loopback && loopback => Ok(url),
        "http" => Err("URL must use https".into()),
        other => Err(format!("unsupported scheme {other}")),
    }
}

/// `Ok(is loopback)` for an allowed literal.
fn check_literal(ip: IpAddr, allow_loopback: bool) -> Result<bool, String> {
    if allowed(ip, allow_loopback) {
        return Ok(is_loopback(ip));
    }
    let range = non_public_range(ip).unwrap_or("non-public");
    Err(format!("URL must not point to a {range} address"))
}

/// The resolver of the outbound HTTP clients: the static hosts, else the
/// system's lookup, minus every address [`allowed`] refuses. A name with no
/// address left fails to resolve, so no connection is attempted.
#[derive(Debug, Clone, Default)]
pub struct GuardedResolver {
    /// Loopback addresses are allowed (a `danger-*` switch).
    pub allow_loopback: bool,
    /// Addresses of names, used instead of the system's lookup
    /// ([`crate::config::Config::static_hosts`]).
    pub static_hosts: Arc<HashMap<String, Vec<IpAddr>>>,
}

/// A host name resolved only to refused addresses.
#[derive(Debug, thiserror::Error)]
#[error("the host resolves to no public address")]
pub struct RefusedHost;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_loopback = self.allow_loopback;
        let host = name.as_str().to_ascii_lowercase();
        let fixed = self.static_hosts.get(&host).cloned();
        Box::pin(async move {
            if is_localhost_name(&host) && !allow_loopback {
                return Err(Box::new(RefusedHost) as Box<dyn std::error::Error + Send + Sync>);
            }
            let found: Vec<SocketAddr> = match fixed {
                Some(ips) => ips.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect(),
                None => tokio::net::lookup_host((host.as_str(), 0)).await?.collect(),
            };
            let kept: Vec<SocketAddr> = found.into_iter().filter(|a| allowed(a.ip(), allow_loopback)).collect();
            if kept.is_empty() {
                return Err(Box::new(RefusedHost) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

/// An HTTP client for client-supplied URLs: `resolver`, no proxy, no
/// redirects (a redirect could lead anywhere), the given timeout.
///
/// # Errors
/// The client cannot be built.
pub fn client(resolver: GuardedResolver, timeout: std::time::Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        // Never through a proxy from the environment (`HTTPS_PROXY`…): the
        // proxy would resolve and connect where the resolver cannot check.
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(resolver))
        .timeout(timeout)
        .connect_timeout(std::time::Duration::from_secs(5))
        .user_agent(concat!("countersign-server/", env!("CARGO_PKG_VERSION")))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each URL is refused, the error naming why.
    fn assert_refused(cases: &[(&str, &str)]) {
        for (url, why) in cases {
            let e = check_url(url, false).expect_err(url);
            assert!(e.contains(why), "{url}: {e}");
        }
    }

    #[test]
    fn non_public_literals_are_refused_with_their_range() {
        assert_refused(&[
            ("https://127.0.0.1/cb", "loopback"),
            ("https://127.9.9.9/cb", "loopback"),
            ("https://10.1.2.3/cb", "private (10."),
            ("https://172.16.0.1/cb", "private (172.16"),
            ("https://172.31.255.255/cb", "private (172.16"),
            ("https://192.168.1.1/cb", "private (192.168"),
            ("https://169.254.169.254/latest/meta-data", "link-local"),
            ("https://100.64.0.1/cb", "CGNAT"),
            ("https://100.127.255.255/cb", "CGNAT"),
            ("https://0.0.0.0/cb", "unspecified"),
            ("https://224.0.0.1/cb", "multicast"),
            ("https://255.255.255.255/cb", "reserved"),
            ("https://198.18.0.1/cb", "benchmarking"),
            ("https://[::1]/cb", "loopback"),
            ("https://[::]/cb", "unspecified"),
            ("https://[fd00::1]/cb", "unique local"),
            ("https://[fc12::1]/cb", "unique local"),
            ("https://[fe80::1]/cb", "link-local"),
            ("https://[ff02::1]/cb", "multicast"),
            ("https://[::ffff:10.0.0.1]/cb", "IPv4-mapped"),
            ("https://[::ffff:127.0.0.1]/cb", "IPv4-mapped"),
            ("https://[64:ff9b::a9fe:a9fe]/cb", "NAT64"),
            ("https://[2001:db8::1]/cb", "documentation"),
            ("https://[::ffff:0:a00:1]/cb", "reserved (::/8)"),
            ("https://[64:ff9b:1::a00:1]/cb", "local-use NAT64"),
        ]);
    }

    #[test]
    fn public_addresses_and_names_pass() {
        for url in [
            "https://93.184.215.14/cb",
            "https://100.63.255.255/cb",
            "https://100.128.0.1/cb",
            "https://172.15.0.1/cb",
            "https://172.32.0.1/cb",
            "https://[2606:4700::1111]/cb",
            "https://[64:ff9b::808:808]/cb",
            "https://agent.example.com/cb",
        ] {
            assert!(check_url(url, false).is_ok(), "{url}");
        }
    }

    #[test]
    fn the_loopback_switch_allows_loopback_only() {
        assert!(check_url("http://127.0.0.1:9/cb", true).is_ok());
        assert!(check_url("https://[::1]:9/cb", true).is_ok());
        assert!(check_url("http://localhost:9/cb", true).is_ok());
        assert!(check_url("http://localhost:9/cb", false).is_err());
        assert!(check_url("https://localhost/cb", false).is_err());
        assert!(check_url("https://x.localhost/cb", false).is_err());
        assert!(check_url("http://10.0.0.1/cb", true).is_err(), "private stays refused");
        assert!(check_url("http://example.com/cb", true).is_err(), "http only to loopback");
        assert!(check_url("https://169.254.169.254/", true).is_err());
    }

    #[test]
    fn shape_rules() {
        assert_refused(&[
            ("not a url", "absolute"),
            ("https://u:p@example.com/cb", "user information"),
            ("https://example.com/cb#x", "fragment"),
            ("ftp://example.com/cb", "scheme"),
            ("http://example.com/cb", "https"),
        ]);
    }

    #[tokio::test]
    async fn the_resolver_drops_non_public_addresses() {
        let strict = GuardedResolver::default();
        let name: Name = "localhost".parse().unwrap();
        assert!(strict.resolve(name).await.is_err(), "localhost resolves to loopback only");
        let lenient = GuardedResolver { allow_loopback: true, ..GuardedResolver::default() };
        let addrs: Vec<SocketAddr> = lenient.resolve("localhost".parse().unwrap()).await.unwrap().collect();
        assert!(!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");

        let hosts: HashMap<String, Vec<IpAddr>> = HashMap::from([
            ("inside.test".to_owned(), vec!["10.0.0.7".parse().unwrap(), "127.0.0.1".parse().unwrap()]),
            ("mixed.test".to_owned(), vec!["10.0.0.7".parse().unwrap(), "93.184.215.14".parse().unwrap()]),
        ]);
        let pinned = GuardedResolver { allow_loopback: false, static_hosts: Arc::new(hosts) };
        assert!(pinned.resolve("inside.test".parse().unwrap()).await.is_err(), "only refused addresses");
        let kept: Vec<SocketAddr> = pinned.resolve("Mixed.Test".parse().unwrap()).await.unwrap().collect();
        assert_eq!(kept, vec!["93.184.215.14:0".parse::<SocketAddr>().unwrap()], "the refused one is dropped");
    }
}
