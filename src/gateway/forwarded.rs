//! The proxy headers the origin receives: set by the gateway from what it
//! knows, never passed through as the client sent them.
//!
//! A client can write any `X-Forwarded-For`; an origin that logs or limits
//! by client address would believe it. So every route drops the client's
//! [`CLIENT_SENT`] (see [`super::headers::stripped_names`]) and sends its own,
//! as Envoy does: the connecting address from `CF-Connecting-IP` (which
//! Cloudflare's edge sets and overwrites), and the host and scheme of the
//! request URL. They are not part of the identity signature: a proxy between
//! the gateway and the origin may append to them.

/// Dropped from every inbound request (lower case, as `Headers` lists them).
pub const CLIENT_SENT: [&str; 5] = ["x-forwarded-for", "x-real-ip", "forwarded", "x-forwarded-host", "x-forwarded-proto"];

/// The connecting address, if `value` is one: IPv4 or IPv6 text only, so a
/// forged value with other characters never reaches a header.
fn address(value: &str) -> Option<&str> {
    let ok = !value.is_empty()
        && value.len() <= 45
        && value.bytes().all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b':')
        && (value.contains('.') || value.contains(':'));
    ok.then_some(value)
}

/// `scheme` and `host[:port]` of an absolute request URL.
pub(crate) fn scheme_and_host(url: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = &rest[..end];
    let fine = |s: &str, extra: &[u8]| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || extra.contains(&b));
    (fine(scheme, b"+-.") && fine(host, b"-.:[]_")).then_some((scheme, host))
}

/// The headers to set, as `(name, value)`: `x-forwarded-for` and
/// `x-real-ip` (when the connecting address is known),
/// `x-forwarded-host`, `x-forwarded-proto`, and their RFC 7239 `forwarded`.
pub fn headers(url: &str, client_ip: Option<&str>) -> Vec<(&'static str, String)> {
    let ip = client_ip.and_then(address);
    let mut out = Vec::with_capacity(5);
    let mut forwarded = Vec::with_capacity(3);
    if let Some(ip) = ip {
        out.push(("x-forwarded-for", ip.to_string()));
        out.push(("x-real-ip", ip.to_string()));
        // RFC 7239 §6: an IPv6 node is a quoted "[...]".
        forwarded.push(if ip.contains(':') { format!("for=\"[{ip}]\"") } else { format!("for={ip}") });
    }
    if let Some((scheme, host)) = scheme_and_host(url) {
        out.push(("x-forwarded-host", host.to_string()));
        out.push(("x-forwarded-proto", scheme.to_string()));
        // A `:` (port, IPv6) is not a token character: quote it.
        forwarded.push(if host.contains(':') { format!("host=\"{host}\"") } else { format!("host={host}") });
        forwarded.push(format!("proto={scheme}"));
    }
    if !forwarded.is_empty() {
        out.push(("forwarded", forwarded.join(";")));
    }
    out
}

/// [`headers`] appended to a `name\nvalue\n...` string (the binding's form).
pub fn push_lines(out: &mut String, url: &str, client_ip: Option<&str>) {
    for (name, value) in headers(url, client_ip) {
        super::headers::push_line(out, name, &value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(h: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
        h.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn the_origin_learns_address_host_and_scheme_from_the_gateway() {
        let h = headers("https://api.example.com/v1/x?q=1", Some("203.0.113.7"));
        assert_eq!(get(&h, "x-forwarded-for"), Some("203.0.113.7"));
        assert_eq!(get(&h, "x-real-ip"), Some("203.0.113.7"));
        assert_eq!(get(&h, "x-forwarded-host"), Some("api.example.com"));
        assert_eq!(get(&h, "x-forwarded-proto"), Some("https"));
        assert_eq!(get(&h, "forwarded"), Some("for=203.0.113.7;host=api.example.com;proto=https"));
        let h = headers("http://127.0.0.1:8787/", Some("2001:db8::1"));
        assert_eq!(get(&h, "forwarded"), Some("for=\"[2001:db8::1]\";host=\"127.0.0.1:8787\";proto=http"));
    }

    #[test]
    fn a_forged_or_missing_address_sends_no_address() {
        for bad in [None, Some(""), Some("1.2.3.4, 6.6.6.6"), Some("evil\r\nx-user-id: a"), Some("localhost"), Some("1.2.3.4;by=x")] {
            let h = headers("https://h/", bad);
            assert_eq!((get(&h, "x-forwarded-for"), get(&h, "x-real-ip")), (None, None), "{bad:?}");
            assert_eq!(get(&h, "forwarded"), Some("host=h;proto=https"));
        }
        assert!(headers("/relative", None).is_empty());
    }

    #[test]
    fn every_client_sent_proxy_header_is_dropped() {
        for name in CLIENT_SENT {
            assert!(super::super::headers::stripped_names(false).contains(&name), "{name}");
        }
    }
}
