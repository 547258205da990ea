//! The origin of an http(s) URL: the one reading of `scheme://authority`
//! that every check shares. The client's `issuer` and `apiUrl`, the
//! credential-origin check of API calls, mesh-sdk/next's `baseUrl` and its
//! CSRF check, and the gateway's `MESH_CORS_ORIGINS` each compare or store
//! origins; read apart, one dropped the default port and another did not,
//! so `https://api.example.com:443/x` was "another origin" than
//! `https://api.example.com`.

/// A URL split at its authority, each part as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts<'a> {
    pub scheme: &'a str,
    /// Whether the authority holds `user[:password]@`.
    pub userinfo: bool,
    /// The host, an IPv6 address with its brackets.
    pub host: &'a str,
    /// The port's digits, `""` when none is written.
    pub port: &'a str,
    /// The path, query and fragment: from the first `/`, `?` or `#` on.
    pub rest: &'a str,
}

/// Splits `url` at `://` and its authority; `None` without a `://`. Byte
/// scans: the parts end at ASCII, and the browser build pays for each
/// generic pattern search.
pub fn split(url: &str) -> Option<Parts<'_>> {
    // A scheme holds no `:`, so the first one is where `://` must be.
    let at = url.bytes().position(|b| b == b':').filter(|&i| url[i..].starts_with("://"))?;
    let (scheme, after) = (&url[..at], &url[at + 3..]);
    let end = after.bytes().position(|b| matches!(b, b'/' | b'?' | b'#')).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    let user_end = authority.bytes().rposition(|b| b == b'@');
    let host_port = user_end.map_or(authority, |i| &authority[i + 1..]);
    // A `:` after the last `]` (or in a name without brackets) starts the port.
    let (host, port) = match host_port.bytes().rposition(|b| b == b':' || b == b']') {
        Some(i) if host_port.as_bytes()[i] == b':' => (&host_port[..i], &host_port[i + 1..]),
        _ => (host_port, ""),
    };
    Some(Parts { scheme, userinfo: user_end.is_some(), host, port, rest })
}

impl Parts<'_> {
    /// The origin as browsers serialise it (`Origin`, `URL.origin`): scheme
    /// and host in lower case, the port without leading zeros and only when
    /// it is not the scheme's default. `None` for a scheme other than
    /// http(s), a host that is empty or not a name or an IPv6 address, or a
    /// port that is not 1-65535 in digits.
    pub fn origin(&self) -> Option<String> {
        let scheme = self.scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "https" => "443",
            "http" => "80",
            _ => return None,
        };
        let host_ok = match self.host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            // Its characters only: `fetch` parses the address itself, and
            // core::net's parser would add a kilobyte to every build.
            Some(v6) => v6.contains(':') && v6.bytes().all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.')),
            None => !self.host.is_empty() && self.host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_')),
        };
        let port_ok = self.port.bytes().all(|b| b.is_ascii_digit()) && (self.port.is_empty() || self.port.parse::<u16>().is_ok_and(|p| p > 0));
        if !host_ok || !port_ok {
            return None;
        }
        let port = self.port.trim_start_matches('0');
        let mut origin = [&scheme, "://", &self.host.to_ascii_lowercase()].concat();
        if !port.is_empty() && port != default_port {
            origin.push(':');
            origin.push_str(port);
        }
        Some(origin)
    }
}

/// The origin of an http(s) `url` (see [`Parts::origin`]).
pub fn of(url: &str) -> Option<String> {
    split(url)?.origin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_origin_is_serialised_as_browsers_do() {
        for (url, origin) in [
            ("https://App.Example.com", "https://app.example.com"),
            ("HTTPS://app.example.com:443/x?y#z", "https://app.example.com"),
            ("http://app.example.com:80", "http://app.example.com"),
            ("http://app.example.com:443", "http://app.example.com:443"),
            ("https://app.example.com:0443", "https://app.example.com"),
            ("http://127.0.0.1:3000/", "http://127.0.0.1:3000"),
            ("http://[::1]:8080", "http://[::1]:8080"),
            // The last group of an IPv6 address is no port.
            ("http://[::80]", "http://[::80]"),
            ("https://app.example.com?q", "https://app.example.com"),
        ] {
            assert_eq!(of(url).as_deref(), Some(origin), "{url}");
        }
    }

    #[test]
    fn what_is_no_http_origin_has_none() {
        for url in ["app.example.com", "ftp://x", "https://", "https://:443", "https://a:0", "https://a:65536", "https://a:+1", "https://a b", "https://[::g]"] {
            assert_eq!(of(url), None, "{url}");
        }
    }

    #[test]
    fn userinfo_is_found_in_the_authority_only() {
        let p = split("https://user:pw@api.example.com:8443/p@th").unwrap();
        assert_eq!((p.userinfo, p.host, p.port, p.rest), (true, "api.example.com", "8443", "/p@th"));
        assert!(!split("https://id.example.com/realms/a@b").unwrap().userinfo);
        assert!(!split("https://id.example.com?next=a@b").unwrap().userinfo);
        // The origin drops userinfo; checks that must refuse it read `userinfo`.
        assert_eq!(split("https://u@h").unwrap().origin().as_deref(), Some("https://h"));
    }
}
