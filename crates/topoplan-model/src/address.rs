//! Host addresses: the one value of a topology that is written verbatim into product files
//! (URLs, `ThriftServerHost`, `HostName`), so it is checked here, once, against the forms a URL
//! authority allows: an RFC 1123 host name, an IPv4 literal or an IPv6 literal.
//!
//! An address is kept bare (`fd00::10`); [`url_host`] brackets IPv6 for URLs (RFC 3986 §3.2.2),
//! and the bare form goes where the product expects a host alone.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Why an address was refused, phrased for the label under the caret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressError {
    /// Nothing is written.
    Empty,
    /// `10.0.0.1:8080`, `[::1]:8443`, `host:80`: the port belongs to the plan, not the address.
    HasPort(String),
    /// Looks like dotted digits but is not an IPv4 address (`10.0.0.256`).
    BadIpv4,
    /// Has `:` but is not an IPv6 address.
    BadIpv6,
    /// Not a host name: the offending character or label rule.
    BadHostName(String),
}

impl std::fmt::Display for AddressError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AddressError::Empty => write!(f, "the address is empty"),
            AddressError::HasPort(p) => write!(
                f,
                "includes port {p}; give the address alone, topoplan adds every port"
            ),
            AddressError::BadIpv4 => write!(f, "not a valid IPv4 address"),
            AddressError::BadIpv6 => write!(f, "not a valid IPv6 address"),
            AddressError::BadHostName(why) => write!(f, "not a valid host name: {why}"),
        }
    }
}

/// Parses an address as written in a topology and returns its bare form: host names and IPv4
/// as given (host names lower-cased are *not* forced: DNS is case-insensitive and the
/// operator's spelling is kept), IPv6 without brackets.
pub fn parse_address(s: &str) -> Result<String, AddressError> {
    if s.is_empty() {
        return Err(AddressError::Empty);
    }
    if let Some(inner) = s.strip_prefix('[') {
        return match inner.split_once(']') {
            Some((ip, "")) => ip
                .parse::<Ipv6Addr>()
                .map(|_| ip.to_string())
                .map_err(|_| AddressError::BadIpv6),
            Some((ip, rest)) => match rest.strip_prefix(':') {
                Some(port) if is_port(port) && ip.parse::<Ipv6Addr>().is_ok() => {
                    Err(AddressError::HasPort(port.to_string()))
                }
                _ => Err(AddressError::BadIpv6),
            },
            None => Err(AddressError::BadIpv6),
        };
    }
    if s.contains(':') {
        if s.parse::<Ipv6Addr>().is_ok() {
            return Ok(s.to_string());
        }
        if let Some((host, port)) = s.rsplit_once(':') {
            if is_port(port) && parse_address(host).is_ok() && !host.contains(':') {
                return Err(AddressError::HasPort(port.to_string()));
            }
        }
        return Err(AddressError::BadIpv6);
    }
    if s.split('.')
        .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
    {
        return s
            .parse::<Ipv4Addr>()
            .map(|_| s.to_string())
            .map_err(|_| AddressError::BadIpv4);
    }
    check_host_name(s).map(|()| s.to_string())
}

fn is_port(s: &str) -> bool {
    !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit())
}

/// RFC 1123 §2.1 (RFC 952 as relaxed): dot-separated labels of letters, digits and inner
/// hyphens, each 1..=63 characters, 253 in all.
fn check_host_name(s: &str) -> Result<(), AddressError> {
    if s.len() > 253 {
        return Err(AddressError::BadHostName(
            "longer than 253 characters".into(),
        ));
    }
    for label in s.split('.') {
        if label.is_empty() {
            return Err(AddressError::BadHostName(
                "an empty label (`..` or a leading or trailing dot)".into(),
            ));
        }
        if label.len() > 63 {
            return Err(AddressError::BadHostName(format!(
                "label `{label}` is longer than 63 characters"
            )));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(AddressError::BadHostName(format!(
                "character {c:?} is not allowed (letters, digits, `-` and `.` only)"
            )));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(AddressError::BadHostName(format!(
                "label `{label}` starts or ends with `-`"
            )));
        }
    }
    Ok(())
}

/// The address as the host part of a URL: IPv6 in brackets, anything else as is.
pub fn url_host(address: &str) -> String {
    if address.contains(':') {
        format!("[{address}]")
    } else {
        address.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_three_forms_and_unbrackets_ipv6() {
        assert_eq!(parse_address("10.0.0.1").unwrap(), "10.0.0.1");
        assert_eq!(
            parse_address("appm-1.example.com").unwrap(),
            "appm-1.example.com"
        );
        assert_eq!(parse_address("fd00::10").unwrap(), "fd00::10");
        assert_eq!(parse_address("[fd00::10]").unwrap(), "fd00::10");
        assert_eq!(url_host("fd00::10"), "[fd00::10]");
        assert_eq!(url_host("10.0.0.1"), "10.0.0.1");
    }

    #[test]
    fn refuses_ports_markup_and_malformed_literals() {
        assert_eq!(
            parse_address("10.0.0.1:8080"),
            Err(AddressError::HasPort("8080".into()))
        );
        assert_eq!(
            parse_address("[::1]:8443"),
            Err(AddressError::HasPort("8443".into()))
        );
        assert_eq!(
            parse_address("km.local:9443"),
            Err(AddressError::HasPort("9443".into()))
        );
        assert_eq!(parse_address("10.0.0.256"), Err(AddressError::BadIpv4));
        assert_eq!(parse_address("fd00::zz"), Err(AddressError::BadIpv6));
        assert_eq!(parse_address("fe80::1%eth0"), Err(AddressError::BadIpv6));
        for bad in [
            "a<b>",
            "x\"y",
            "app_1",
            "-a",
            "a..b",
            "a.",
            "",
            "a b",
            "h\u{1b}[31m",
        ] {
            assert!(parse_address(bad).is_err(), "{bad:?} must be refused");
        }
    }
}
