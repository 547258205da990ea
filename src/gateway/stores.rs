//! Where API keys and rate-limit counts live: per isolate and in Workers KV
//! (the default), or in Durable Objects (`MESH_KEYS_STORE=do`,
//! `MESH_RATE_LIMIT_STORE=do`), and what an isolate may cache or do when an
//! object cannot be reached. Parsed with the rest of the configuration; the
//! binding checks the Durable Object bindings with [`Stores::check_bindings`],
//! and that its module has the objects with [`Stores::check_build`].

use super::config::ConfigError;

/// The Durable Object binding of key shards (class `KeyShard`).
pub const KEYS_DO_BINDING: &str = "MESH_KEYS_DO";
/// The Durable Object binding of rate-limit shards (class `RateLimitShard`).
pub const RATE_LIMITS_BINDING: &str = "MESH_RATE_LIMITS";
/// The package entry whose gateway module has the Durable Objects (the
/// classes, and the isolate's calls to them).
pub const DURABLE_ENTRY: &str = "mesh-sdk/gateway/durable";
/// The longest record cache `MESH_KEYS_CACHE_SECONDS` allows: the revocation
/// bound it gives must stay a bound an operator would call short.
pub const MAX_CACHE_SECS: i64 = 300;

/// Where a key's record is the truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeysStore {
    /// Workers KV: reads may be stale for 60 s or more after a revoke.
    Kv,
    /// A `KeyShard` Durable Object chosen by the key's hash.
    Do,
}

/// Where a key's requests are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitStore {
    /// Per isolate: a key's limit holds per isolate.
    Isolate,
    /// A `RateLimitShard` Durable Object per key: the limit holds globally.
    Do,
}

/// What a key with a limit gets when its rate-limit object cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreachable {
    /// Refused with 503: no request goes uncounted (the default).
    Closed,
    /// Let through uncounted, with a `rate_limit_unreachable` warning logged.
    Open,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stores {
    pub keys: KeysStore,
    /// How long an isolate may reuse a key's record (and remember an
    /// unknown key), in seconds: the revocation bound with `do`.
    pub cache_secs: i64,
    pub rate_limits: RateLimitStore,
    pub unreachable: Unreachable,
}

fn err(variable: &'static str, problem: &str) -> ConfigError {
    ConfigError { variable, problem: problem.into() }
}

impl Stores {
    /// `get` returns a variable's trimmed value, `None` when unset or empty.
    pub fn from_env(get: &impl Fn(&str) -> Option<String>) -> Result<Stores, ConfigError> {
        let keys = match get("MESH_KEYS_STORE").as_deref() {
            None | Some("kv") => KeysStore::Kv,
            Some("do") => KeysStore::Do,
            Some(_) => return Err(err("MESH_KEYS_STORE", "must be `kv` or `do`")),
        };
        let cache_secs = match get("MESH_KEYS_CACHE_SECONDS") {
            // KV caches at its edge anyway; with `do` the default asks every time.
            None => 0,
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|s| (0..=MAX_CACHE_SECS).contains(s))
                .ok_or_else(|| err("MESH_KEYS_CACHE_SECONDS", "must be a whole number of seconds, 0-300"))?,
        };
        if cache_secs > 0 && keys == KeysStore::Kv {
            return Err(err("MESH_KEYS_CACHE_SECONDS", "applies to MESH_KEYS_STORE=do only (KV has its own cache)"));
        }
        let rate_limits = match get("MESH_RATE_LIMIT_STORE").as_deref() {
            None | Some("isolate") => RateLimitStore::Isolate,
            Some("do") => RateLimitStore::Do,
            Some(_) => return Err(err("MESH_RATE_LIMIT_STORE", "must be `isolate` or `do`")),
        };
        let unreachable = match get("MESH_RATE_LIMIT_UNREACHABLE").as_deref() {
            None | Some("closed") => Unreachable::Closed,
            Some("open") => Unreachable::Open,
            Some(_) => return Err(err("MESH_RATE_LIMIT_UNREACHABLE", "must be `closed` or `open`")),
        };
        Ok(Stores { keys, cache_secs, rate_limits, unreachable })
    }

    /// A store set to `do` needs its Durable Object binding: without it the
    /// gateway is misconfigured (500), never silently back on KV.
    pub fn check_bindings(&self, has_keys_do: bool, has_rate_limits: bool) -> Result<(), ConfigError> {
        if self.keys == KeysStore::Do && !has_keys_do {
            return Err(err(KEYS_DO_BINDING, "Durable Object binding is required with MESH_KEYS_STORE=do"));
        }
        if self.rate_limits == RateLimitStore::Do && !has_rate_limits {
            return Err(err(RATE_LIMITS_BINDING, "Durable Object binding is required with MESH_RATE_LIMIT_STORE=do"));
        }
        Ok(())
    }

    /// A configuration that needs Durable Objects, on a gateway module built
    /// without them (`mesh-sdk/gateway`; `built_with_objects` is false): a
    /// configuration error naming the variable and the entry that has them,
    /// so the gateway answers 500 `gateway_misconfigured` from the first
    /// request rather than quietly using another store.
    pub fn check_build(&self, has_service_token: bool, built_with_objects: bool) -> Result<(), ConfigError> {
        if built_with_objects {
            return Ok(());
        }
        let needs = |what: &str| format!("{what} needs the gateway's Durable Objects, which this module leaves out: import createGateway (and the classes) from '{DURABLE_ENTRY}'");
        if self.keys == KeysStore::Do {
            return Err(err("MESH_KEYS_STORE", &needs("`do`")));
        }
        if self.rate_limits == RateLimitStore::Do {
            return Err(err("MESH_RATE_LIMIT_STORE", &needs("`do`")));
        }
        if has_service_token {
            return Err(err(super::service_token::VARIABLE, &needs("the edge service token")));
        }
        Ok(())
    }

    /// How long an unknown key is remembered by an isolate: with `do`, never
    /// longer than a record may be cached, so a key created on another
    /// isolate is known there within the same bound.
    pub fn negative_ttl(&self, kv_ttl: i64) -> i64 {
        match self.keys {
            KeysStore::Kv => kv_ttl,
            KeysStore::Do => kv_ttl.min(self.cache_secs),
        }
    }
}

impl Default for Stores {
    fn default() -> Self {
        Stores { keys: KeysStore::Kv, cache_secs: 0, rate_limits: RateLimitStore::Isolate, unreachable: Unreachable::Closed }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<Stores, ConfigError> {
        Stores::from_env(&|name: &str| {
            assert!(crate::gateway::config::VARIABLES.contains(&name), "{name}");
            pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn the_defaults_are_kv_per_isolate_and_closed() {
        assert_eq!(parse(&[]), Ok(Stores::default()));
        let s = parse(&[("MESH_KEYS_STORE", "do")]).unwrap();
        assert_eq!((s.keys, s.cache_secs, s.negative_ttl(30)), (KeysStore::Do, 0, 0), "do asks every time");
        assert_eq!(parse(&[]).unwrap().negative_ttl(30), 30);
    }

    #[test]
    fn every_value_is_checked_and_named() {
        let s = parse(&[
            ("MESH_KEYS_STORE", "do"),
            ("MESH_KEYS_CACHE_SECONDS", "5"),
            ("MESH_RATE_LIMIT_STORE", "do"),
            ("MESH_RATE_LIMIT_UNREACHABLE", "open"),
        ])
        .unwrap();
        assert_eq!(s, Stores { keys: KeysStore::Do, cache_secs: 5, rate_limits: RateLimitStore::Do, unreachable: Unreachable::Open });
        assert_eq!(s.negative_ttl(30), 5);
        let bad: &[(&str, &str)] = &[
            ("MESH_KEYS_STORE", "redis"),
            ("MESH_RATE_LIMIT_STORE", "kv"),
            ("MESH_RATE_LIMIT_UNREACHABLE", "maybe"),
        ];
        for (k, v) in bad {
            assert_eq!(parse(&[(k, v)]).unwrap_err().variable, *k);
        }
        for v in ["-1", "301", "1.5", "x"] {
            let e = parse(&[("MESH_KEYS_STORE", "do"), ("MESH_KEYS_CACHE_SECONDS", v)]).unwrap_err();
            assert_eq!(e.variable, "MESH_KEYS_CACHE_SECONDS", "{v}");
        }
        assert!(parse(&[("MESH_KEYS_CACHE_SECONDS", "5")]).is_err(), "a cache with kv is a mistake");
        assert!(parse(&[("MESH_KEYS_STORE", "do"), ("MESH_KEYS_CACHE_SECONDS", "300")]).is_ok());
    }

    #[test]
    fn a_do_store_without_its_binding_is_misconfigured() {
        let s = parse(&[("MESH_KEYS_STORE", "do"), ("MESH_RATE_LIMIT_STORE", "do")]).unwrap();
        assert_eq!(s.check_bindings(false, true).unwrap_err().variable, KEYS_DO_BINDING);
        assert_eq!(s.check_bindings(true, false).unwrap_err().variable, RATE_LIMITS_BINDING);
        assert!(s.check_bindings(true, true).is_ok());
        assert!(Stores::default().check_bindings(false, false).is_ok());
    }

    #[test]
    fn a_module_without_objects_refuses_what_needs_them() {
        let named = |pairs: &[(&str, &str)], service: bool| parse(pairs).unwrap().check_build(service, false).map_err(|e| (e.variable, e.problem.contains(DURABLE_ENTRY)));
        assert_eq!(named(&[("MESH_KEYS_STORE", "do")], false), Err(("MESH_KEYS_STORE", true)));
        assert_eq!(named(&[("MESH_RATE_LIMIT_STORE", "do")], false), Err(("MESH_RATE_LIMIT_STORE", true)));
        assert_eq!(named(&[], true), Err(("MESH_SERVICE_TOKEN", true)));
        assert_eq!(named(&[("MESH_KEYS_STORE", "kv"), ("MESH_RATE_LIMIT_STORE", "isolate")], false), Ok(()));
        let all = parse(&[("MESH_KEYS_STORE", "do"), ("MESH_RATE_LIMIT_STORE", "do")]).unwrap();
        assert!(all.check_build(true, true).is_ok(), "the module with objects takes every store");
    }
}
