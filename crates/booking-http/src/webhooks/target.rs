//! Where a webhook may be delivered: an `http` or `https` URL whose host is a public address.
//! Loopback, private, link-local (cloud metadata services live there) and other special
//! addresses are refused unless `BOOKING_WEBHOOK_ALLOW_PRIVATE=true`, so that whoever holds the
//! admin token cannot make the server call services inside its own network. A name is checked
//! where it is resolved, on every delivery ([`PublicOnly`]), so a name that points somewhere
//! else later is caught too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use booking_core::webhook::MAX_URL_CHARS;
use reqwest::{
    Url,
    dns::{Addrs, Name, Resolve, Resolving},
};
use thiserror::Error;

/// Why a URL cannot be an endpoint's.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TargetError {
    /// Not a URL.
    #[error("url is not an absolute URL ({0}); write it as https://host/path")]
    Invalid(String),
    /// Longer than [`MAX_URL_CHARS`].
    #[error("url is {0} characters long; at most {MAX_URL_CHARS} are allowed")]
    TooLong(usize),
    /// Neither `http` nor `https`.
    #[error("url has the scheme {0:?}; use https (or http)")]
    Scheme(String),
    /// A loopback, private or otherwise special address.
    #[error(
        "url points to {0}, a loopback, private or reserved address; webhooks go to public \
         addresses only (set BOOKING_WEBHOOK_ALLOW_PRIVATE=true to allow them)"
    )]
    Private(String),
}

/// Checks a URL given for an endpoint, and answers it as it will be stored.
pub fn check(text: &str, allow_private: bool) -> Result<Url, TargetError> {
    let length = text.chars().count();
    if length > MAX_URL_CHARS {
        return Err(TargetError::TooLong(length));
    }
    let url = Url::parse(text).map_err(|e| TargetError::Invalid(e.to_string()))?;
    // As stored: percent-encoding and punycode may lengthen it.
    let stored = url.as_str().chars().count();
    if stored > MAX_URL_CHARS {
        return Err(TargetError::TooLong(stored));
    }
    if !matches!(url.scheme(), "http" | "https") {
        return Err(TargetError::Scheme(url.scheme().to_owned()));
    }
    let refused = |host: &str| Err(TargetError::Private(host.to_owned()));
    match url.host() {
        None => return Err(TargetError::Invalid("it names no host".to_owned())),
        Some(_) if allow_private => {}
        Some(url::Host::Ipv4(ip)) if !is_public(IpAddr::V4(ip)) => return refused(&ip.to_string()),
        Some(url::Host::Ipv6(ip)) if !is_public(IpAddr::V6(ip)) => return refused(&ip.to_string()),
        Some(url::Host::Domain(name)) if is_local_name(name) => return refused(name),
        Some(_) => {}
    }
    Ok(url)
}

/// Names that always mean this machine or its network.
fn is_local_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost") || name.ends_with(".local")
}

/// Whether `ip` is an address on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(mapped) => is_public_v4(mapped),
            None => is_public_v6(ip) && embedded_v4(ip).is_none_or(is_public_v4),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // Shared address space (carrier-grade NAT), 100.64.0.0/10.
        || (a == 100 && (64..128).contains(&b))
        // IETF protocol assignments, 192.0.0.0/24; benchmarking, 198.18.0.0/15.
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || (a == 198 && (18..20).contains(&b))
        // Reserved, 240.0.0.0/4.
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // Unique local, fc00::/7; link-local, fe80::/10; documentation, 2001:db8::/32.
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)
        // Local-use NAT64, 64:ff9b:1::/48, translates to private networks.
        || (first == 0x0064 && ip.segments()[1] == 0xff9b && ip.segments()[2] == 0x0001))
}

/// The IPv4 address some IPv6 forms carry, which is where they lead: IPv4-compatible
/// (`::a.b.c.d`), NAT64 (`64:ff9b::/96`) and 6to4 (`2002::/16`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let v4 = |high: u16, low: u16| Ipv4Addr::from((u32::from(high) << 16) | u32::from(low));
    match s {
        [0, 0, 0, 0, 0, 0, high, low] if (high, low) != (0, 0) && (high, low) != (0, 1) => {
            Some(v4(high, low))
        }
        [0x0064, 0xff9b, 0, 0, 0, 0, high, low] => Some(v4(high, low)),
        [0x2002, high, low, ..] => Some(v4(high, low)),
        _ => None,
    }
}

/// A resolver that answers only a name's public addresses, and fails for a name that has none:
/// installed in the delivery client unless private addresses are allowed.
#[derive(Debug, Clone, Copy, Default)]
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> =
                found.iter().copied().filter(|address| is_public(address.ip())).collect();
            if public.is_empty() {
                return Err(Box::new(TargetError::Private(format!(
                    "{host} (which resolves to no public address)"
                ))) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_http_and_https_urls_pass() {
        for url in
            ["https://crm.example.com/hooks", "http://203.0.113.9.nip.io/x", "https://8.8.8.8/"]
        {
            assert!(check(url, false).is_ok(), "{url}");
        }
    }

    #[test]
    fn private_and_special_addresses_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:8080/",
            "http://localhost/",
            "http://api.localhost/",
            "http://printer.local/",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[64:ff9b::a00:1]/",
            "http://[64:ff9b:1::808:808]/",
            "http://[::7f00:1]/",
            "http://[2002:c0a8:101::1]/",
            "http://2130706433/",
        ] {
            assert!(matches!(check(url, false), Err(TargetError::Private(_))), "{url}");
            assert!(check(url, true).is_ok(), "{url} allowed");
        }
    }

    #[test]
    fn other_schemes_and_non_urls_are_refused() {
        assert_eq!(check("ftp://example.com/", false), Err(TargetError::Scheme("ftp".into())));
        assert!(matches!(check("file:///etc/passwd", true), Err(TargetError::Scheme(_))));
        assert!(matches!(check("example.com/hooks", false), Err(TargetError::Invalid(_))));
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_CHARS));
        assert!(matches!(check(&long, false), Err(TargetError::TooLong(_))));
    }

    #[test]
    fn public_addresses_are_told_from_the_rest() {
        let public = ["8.8.8.8", "2a00:1450:4001::1", "64:ff9b::808:808", "2002:808:808::1"];
        for ip in public {
            assert!(is_public(ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))), "{ip}");
        }
        for ip in ["198.18.0.1", "192.0.0.8", "240.0.0.1", "255.255.255.255", "2001:db8::1"] {
            assert!(!is_public(ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))), "{ip}");
        }
    }
}
