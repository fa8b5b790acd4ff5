//! Where deliveries may go. A receiver is somebody else's server: a URI
//! naming (or resolving to) loopback, private, link-local, carrier-grade NAT,
//! multicast or unspecified addresses is refused unless the operator allows
//! private targets (`--webhooks-allow-private`). The check runs on every
//! address the name resolves to, in the HTTP client's own resolver, so a name
//! that changes its answer after the subscription was made gains nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Whether `ip` is an address of the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => public_v4(v4),
            None => public_v6(v6),
        },
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64.0.0/10
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0.0/24
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18.0.0/15
        || o[0] >= 240)
}

fn public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x64 && s[1] == 0xff9b)) // NAT64 (maps to anything)
}

/// The address policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub allow_private: bool,
}

impl Policy {
    pub fn allows(self, ip: IpAddr) -> bool {
        self.allow_private || is_public(ip)
    }

    /// Checks a URI's host when it is an address; names are checked when resolved.
    pub fn check_uri(self, uri: &url::Url) -> Result<(), String> {
        let ip = match uri.host() {
            Some(url::Host::Ipv4(a)) => IpAddr::V4(a),
            Some(url::Host::Ipv6(a)) => IpAddr::V6(a),
            Some(url::Host::Domain(d))
                if d.eq_ignore_ascii_case("localhost") || d.ends_with(".localhost") =>
            {
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            }
            _ => return Ok(()),
        };
        if self.allows(ip) {
            Ok(())
        } else {
            Err(format!("{ip} is not a public address (loopback, private and link-local receivers need --webhooks-allow-private)"))
        }
    }
}

/// The HTTP client's resolver: the system's answer, less refused addresses.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver(pub Policy);

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| policy.allows(a.ip()))
                .collect();
            if addrs.is_empty() {
                let e: Box<dyn std::error::Error + Send + Sync> =
                    format!("{host} resolves to no address a webhook may be sent to").into();
                return Err(e);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::",
        ] {
            let ip: IpAddr = ip.parse().expect("ip");
            assert!(!is_public(ip), "{ip} refused");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            let ip: IpAddr = ip.parse().expect("ip");
            assert!(is_public(ip), "{ip} allowed");
        }
        let strict = Policy {
            allow_private: false,
        };
        let open = Policy {
            allow_private: true,
        };
        let u = |s: &str| url::Url::parse(s).expect("url");
        assert!(strict.check_uri(&u("http://127.0.0.1:9/x")).is_err());
        assert!(strict.check_uri(&u("http://[::1]/x")).is_err());
        assert!(strict.check_uri(&u("http://localhost/x")).is_err());
        assert!(
            strict.check_uri(&u("https://example.com/x")).is_ok(),
            "names wait for resolution"
        );
        assert!(open.check_uri(&u("http://127.0.0.1:9/x")).is_ok());
    }

    #[tokio::test]
    async fn the_resolver_drops_refused_answers() {
        let strict = GuardedResolver(Policy {
            allow_private: false,
        });
        let name: Name = "localhost".parse().expect("name");
        assert!(strict.resolve(name).await.is_err(), "localhost is loopback");
        let open = GuardedResolver(Policy {
            allow_private: true,
        });
        let name: Name = "localhost".parse().expect("name");
        let got: Vec<SocketAddr> = open.resolve(name).await.expect("resolves").collect();
        assert!(got.iter().all(|a| a.ip().is_loopback()) && !got.is_empty());
    }
}
