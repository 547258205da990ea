//! `createMeshAuth`'s own options, read: `baseUrl` (the app's origin, and
//! whether cookies get `Secure`), `secret`, `protect` and where `store`
//! keeps the session. The binding reads them by name from the whole options
//! object, as the client's core reads its own (`client::option_names` lists
//! both), and hands the layer what it executes with.

use crate::client::config::OptionValue;
use crate::error::{Error, Result};

/// The shortest `secret` accepted.
pub const MIN_SECRET_CHARS: usize = 32;

/// Whether cookies get `Secure`, and with it the `__Host-` name
/// ([`super::cookie_name`]): always, except over plain HTTP on a loopback
/// host (development on `localhost`).
pub fn secure_cookies(base_url: &str) -> bool {
    let Some(parts) = crate::origin::split(base_url).filter(|p| p.scheme.eq_ignore_ascii_case("http")) else { return true };
    let host = parts.host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    let loopback_ip = host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    !(host == "localhost" || host.ends_with(".localhost") || loopback_ip)
}

/// `baseUrl` as the app's origin, `scheme://host[:port]`: in lower case and
/// without the scheme's default port, as browsers send `Origin`, which a
/// POST must equal. The routes and `protect` match paths from `/`, so a
/// path (an app under a `basePath`), a query, a fragment or userinfo is
/// refused, never quoted: userinfo may hold a password.
pub fn base_url(base_url: &str) -> Result<String> {
    let refused = |problem: &str| Err(Error::config("baseUrl", problem));
    let absolute = "must be the app's absolute http(s) URL, such as https://app.example.com";
    if base_url.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\') {
        return refused(absolute);
    }
    let Some(parts) = crate::origin::split(base_url) else { return refused(absolute) };
    let Some(origin) = parts.origin() else { return refused(absolute) };
    if parts.userinfo {
        return refused("must not hold a user name or password");
    }
    if !matches!(parts.rest, "" | "/") {
        return refused("must be the app's origin only, such as https://app.example.com: mesh-sdk/next serves its routes and protects paths from / (no path, query or fragment)");
    }
    Ok(origin)
}

/// Checks `secret` (the cookie key's input): long enough, and not a
/// placeholder such as 32 spaces or `aaaa...`, which pass a length check
/// and seal every cookie with a key anyone can guess. Random text of 32
/// characters, hex included, holds far more than [`MIN_SECRET_DISTINCT`]
/// distinct ones.
pub fn check_secret(secret: Option<&str>) -> Result<()> {
    let distinct = |s: &str| {
        let mut seen = [false; 256];
        s.bytes().filter(|&b| !std::mem::replace(&mut seen[b as usize], true)).count()
    };
    match secret {
        Some(s) if s.chars().count() >= MIN_SECRET_CHARS && distinct(s) >= MIN_SECRET_DISTINCT => Ok(()),
        _ => Err(Error::config("secret", "must be a random string of at least 32 characters (openssl rand -base64 32)")),
    }
}

/// The fewest distinct characters a `secret` may hold (see [`check_secret`]).
const MIN_SECRET_DISTINCT: usize = 8;

/// The middleware's `protect` option: a list of the app's paths (each
/// from `/`, without query or fragment); absent or `null` protects none.
pub fn protect_paths(option: &Option<OptionValue>) -> Result<Vec<String>> {
    let refused = || Error::config("protect", "must be a list of paths such as ['/settings', '/api/keys']");
    let entries = match option {
        None | Some(OptionValue::Null) => return Ok(Vec::new()),
        Some(OptionValue::List(entries)) => entries,
        Some(_) => return Err(refused()),
    };
    let path = |entry: &OptionValue| match entry {
        OptionValue::Str(p) if p.starts_with('/') && !p.contains(['?', '#']) => Some(p.clone()),
        _ => None,
    };
    entries.iter().map(path).collect::<Option<Vec<String>>>().ok_or_else(refused)
}

/// The `store` option as the binding reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreShape {
    Absent,
    Text(String),
    /// An object whose `redis` is a string (the URL).
    Redis(String),
    /// An object with a `get` method: the app's own store.
    Methods,
    /// Anything else.
    Other,
}

/// Where the session's record lives: in the cookie, or in a server store
/// (the cookie then holds only its id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Store {
    Cookie,
    Memory,
    Redis(String),
    Custom,
}

impl Store {
    /// The store `store` names; another value is refused (`store_option`).
    pub fn of(shape: StoreShape) -> Result<Store> {
        match shape {
            StoreShape::Absent => Ok(Store::Cookie),
            StoreShape::Text(t) if t == "cookie" => Ok(Store::Cookie),
            StoreShape::Text(t) if t == "memory" => Ok(Store::Memory),
            StoreShape::Redis(url) => Ok(Store::Redis(url)),
            StoreShape::Methods => Ok(Store::Custom),
            _ => Err(crate::client::failure::failure("store_option", "", "")),
        }
    }

    /// Whether the record lives off the cookie.
    pub fn is_server(&self) -> bool {
        *self != Store::Cookie
    }

    /// Its name for the layer, which makes the store of that name.
    pub fn kind(&self) -> &'static str {
        match self {
            Store::Cookie => "cookie",
            Store::Memory => "memory",
            Store::Redis(_) => "redis",
            Store::Custom => "custom",
        }
    }
}
