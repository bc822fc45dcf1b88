//! Where a callback may go with `--callback-targets public`: only to addresses on the public
//! internet. A literal address in the URL is checked before connecting, and a host name's
//! addresses after DNS resolution ([`PublicOnlyResolver`]), so a public name that points at an
//! internal address is refused too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Addresses a production callback may go to. Refused: loopback, private, link-local, shared
/// (CGNAT), "this network", multicast, unspecified, broadcast and reserved (240/4), IETF
/// protocol assignments (192.0.0/24), benchmarking (198.18/15) and documentation ranges; in
/// IPv6 also unique-local, site-local, the NAT64 prefixes (which reach IPv4 hosts), 6to4
/// (2002::/16, which embeds any IPv4 address) and IPv4-compatible addresses. IPv4-mapped IPv6
/// addresses (`::ffff:a.b.c.d`) are judged as the IPv4 address they carry.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        // 0.0.0.0/8: "this network".
        || o[0] == 0
        // 100.64.0.0/10: shared address space (carrier-grade NAT).
        || (o[0] == 100 && (64..128).contains(&o[1]))
        // 192.0.0.0/24: IETF protocol assignments.
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
        // 198.18.0.0/15: benchmarking, often used for internal test networks.
        || (o[0] == 198 && (o[1] & 0xfe) == 18)
        // 240.0.0.0/4: reserved (with the broadcast address at its end).
        || o[0] >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // ::/96: IPv4-compatible addresses (deprecated), which some stacks still route to IPv4.
        || s[..6] == [0; 6]
        // fc00::/7 unique local, fe80::/10 link-local, fec0::/10 site-local (deprecated).
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] & 0xffc0) == 0xfec0
        // 64:ff9b::/96 and 64:ff9b:1::/48: NAT64, a way to any IPv4 address, internal ones too.
        || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
        || s[..3] == [0x64, 0xff9b, 1]
        // 2002::/16: 6to4, which embeds an IPv4 address.
        || s[0] == 0x2002
        // 2001:db8::/32: documentation.
        || s[..2] == [0x2001, 0x0db8])
}

/// Resolves host names and keeps only public addresses, so a name pointing at an internal
/// host is refused as well as a literal internal address.
pub struct PublicOnlyResolver;

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = addrs.into_iter().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn refused(list: &[&str]) {
        for a in list {
            assert!(!is_public(ip(a)), "{a} must be refused");
        }
    }

    fn allowed(list: &[&str]) {
        for a in list {
            assert!(is_public(ip(a)), "{a} must be allowed");
        }
    }

    #[test]
    fn long_standing_internal_ranges_are_refused() {
        refused(&[
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "192.0.2.1",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
        ]);
        allowed(&["8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8"]);
    }

    #[test]
    fn benchmarking_198_18_0_0_15_is_refused() {
        refused(&[
            "198.18.0.0",
            "198.18.10.1",
            "198.19.255.255",
            "::ffff:198.18.0.1",
            "::ffff:198.19.255.255",
        ]);
        allowed(&["198.17.255.255", "198.20.0.0", "::ffff:198.20.0.1"]);
    }

    #[test]
    fn reserved_240_0_0_0_4_is_refused() {
        refused(&[
            "240.0.0.0",
            "247.1.2.3",
            "255.255.255.254",
            "255.255.255.255",
            "::ffff:240.0.0.1",
            "::ffff:255.255.255.255",
        ]);
        allowed(&["223.255.255.254", "::ffff:223.1.2.3"]);
    }

    #[test]
    fn ietf_protocol_assignments_192_0_0_0_24_is_refused() {
        refused(&[
            "192.0.0.0",
            "192.0.0.8",
            "192.0.0.170",
            "192.0.0.255",
            "::ffff:192.0.0.1",
        ]);
        allowed(&["192.0.1.1", "191.255.255.255", "::ffff:192.0.1.1"]);
    }

    #[test]
    fn nat64_64_ff9b_96_is_refused() {
        refused(&[
            "64:ff9b::",
            "64:ff9b::7f00:1",
            "64:ff9b::a00:1",
            "64:ff9b::8.8.8.8",
            "64:ff9b::ffff:ffff",
            "64:ff9b:1::a00:1",
        ]);
        allowed(&["64:ff9b:0:0:0:1::", "64:ff9a::1"]);
    }

    #[test]
    fn six_to_four_2002_16_is_refused() {
        refused(&[
            "2002::",
            "2002:c0a8:101::1",
            "2002:7f00:1::1",
            "2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ]);
        allowed(&["2003::1", "2001:4860:4860::8888"]);
    }

    #[test]
    fn documentation_2001_db8_32_is_refused() {
        refused(&[
            "2001:db8::",
            "2001:db8::1",
            "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
        ]);
        allowed(&["2001:db9::1", "2001:db7:ffff::1"]);
    }

    #[test]
    fn ipv4_compatible_and_site_local_ipv6_are_refused() {
        refused(&["::127.0.0.1", "::10.0.0.1", "::8.8.8.8", "fec0::1"]);
    }
}
