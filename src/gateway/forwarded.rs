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

use super::headers::push_line;

/// Dropped from every inbound request (lower case, as `Headers` lists them).
pub const CLIENT_SENT: [&str; 5] = ["x-forwarded-for", "x-real-ip", "forwarded", "x-forwarded-host", "x-forwarded-proto"];

/// Proxy headers the gateway does not set, dropped from every inbound
/// request too: frameworks behind a proxy believe them (a client address, a
/// port or a path prefix for URLs they build).
pub const NOT_SET: [&str; 6] =
    ["x-forwarded-port", "x-forwarded-prefix", "x-forwarded-server", "true-client-ip", "x-client-ip", "x-cluster-client-ip"];

/// The connecting address, if `value` is one: IPv4 or IPv6 text only, so a
/// forged value with other characters never reaches a header.
fn address(value: &str) -> Option<&str> {
    let ok = !value.is_empty()
        && value.len() <= 45
        && value.bytes().all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b':')
        && (value.contains('.') || value.contains(':'));
    ok.then_some(value)
}

/// `scheme` and `host[:port]` of an absolute request URL: `scheme://host`,
/// the host running to the first `/`, `?` or `#`. Read byte by byte (every
/// delimiter is ASCII): each request's proxy headers read it.
pub(crate) fn scheme_and_host(url: &str) -> Option<(&str, &str)> {
    let fine = |s: &str, extra: &[u8]| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || extra.contains(&b));
    // A scheme holds no `:`, so its end is the first one.
    let colon = url.bytes().position(|b| b == b':')?;
    let (scheme, rest) = (&url[..colon], url[colon..].strip_prefix("://")?);
    let end = rest.bytes().position(|b| matches!(b, b'/' | b'?' | b'#')).unwrap_or(rest.len());
    let host = &rest[..end];
    (fine(scheme, b"+-.") && fine(host, b"-.:[]_")).then_some((scheme, host))
}

/// The proxy headers, appended to a `name\nvalue\n...` string (the
/// binding's form): `x-forwarded-for` and `x-real-ip` (when the connecting
/// address is known), `x-forwarded-host`, `x-forwarded-proto`, and their
/// RFC 7239 `forwarded`. Each value is written in place, no string made per
/// value: this runs on every forwarded request.
pub fn push_lines(out: &mut String, url: &str, client_ip: Option<&str>) {
    let ip = client_ip.and_then(address);
    let at = scheme_and_host(url);
    if let Some(ip) = ip {
        push_line(out, "x-forwarded-for", ip);
        push_line(out, "x-real-ip", ip);
    }
    if let Some((scheme, host)) = at {
        push_line(out, "x-forwarded-host", host);
        push_line(out, "x-forwarded-proto", scheme);
    }
    if ip.is_none() && at.is_none() {
        return;
    }
    out.push_str("forwarded\n");
    if let Some(ip) = ip {
        // RFC 7239 §6: an IPv6 node is a quoted "[...]".
        let (open, close) = if ip.as_bytes().contains(&b':') { ("\"[", "]\"") } else { ("", "") };
        ["for=", open, ip, close].iter().for_each(|p| out.push_str(p));
    }
    if let Some((scheme, host)) = at {
        // A `:` (port, IPv6) is not a token character: quote it.
        let quote = if host.as_bytes().contains(&b':') { "\"" } else { "" };
        let sep = if ip.is_some() { ";" } else { "" };
        [sep, "host=", quote, host, quote, ";proto=", scheme].iter().for_each(|p| out.push_str(p));
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`push_lines`] read back as `(name, value)` pairs.
    fn headers(url: &str, client_ip: Option<&str>) -> Vec<(String, String)> {
        let mut out = String::new();
        push_lines(&mut out, url, client_ip);
        let parts: Vec<&str> = out.split('\n').collect();
        assert_eq!(parts.last(), Some(&""), "every line ends in a newline");
        parts[..parts.len() - 1].chunks(2).map(|p| (p[0].to_string(), p[1].to_string())).collect()
    }

    fn get<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
        h.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn the_lines_in_order_appended_to_what_is_there() {
        let mut out = String::from("x-user-id\nu\n");
        push_lines(&mut out, "http://gateway.test/api?x=1", Some("10.0.0.1"));
        assert_eq!(
            out,
            "x-user-id\nu\nx-forwarded-for\n10.0.0.1\nx-real-ip\n10.0.0.1\nx-forwarded-host\ngateway.test\n\
             x-forwarded-proto\nhttp\nforwarded\nfor=10.0.0.1;host=gateway.test;proto=http\n"
        );
        let mut out = String::new();
        push_lines(&mut out, "/relative", Some("2001:db8::1"));
        assert_eq!(out, "x-forwarded-for\n2001:db8::1\nx-real-ip\n2001:db8::1\nforwarded\nfor=\"[2001:db8::1]\"\n");
    }

    #[test]
    fn scheme_and_host_of_absolute_urls_only() {
        let cases = [
            ("https://api.example.com/v1/x?q=1", Some(("https", "api.example.com"))),
            ("http://127.0.0.1:8787", Some(("http", "127.0.0.1:8787"))),
            ("http://h?x=a://b", Some(("http", "h"))),
            ("http://h#frag", Some(("http", "h"))),
            ("http://[::1]:80/", Some(("http", "[::1]:80"))),
            ("coap+tcp://h_1/", Some(("coap+tcp", "h_1"))),
            // The first `:` ends the scheme: a later `://` does not make one.
            ("a:b://c/", None),
            ("http:/h/", None),
            ("://h/", None),
            ("http:///x", None),
            ("http://", None),
            ("ht tp://h/", None),
            ("http://h\u{e9}/", None),
            ("http://us er@h/", None),
            ("/relative", None),
            ("", None),
        ];
        for (url, want) in cases {
            assert_eq!(scheme_and_host(url), want, "{url:?}");
        }
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
        for name in CLIENT_SENT.into_iter().chain(NOT_SET) {
            assert!(super::super::headers::stripped_names(false).contains(&name), "{name}");
        }
    }
}
