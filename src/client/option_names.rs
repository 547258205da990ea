//! The names the client's options objects may hold: `new MeshClient`'s (and
//! `createMeshAuth`'s), `setSession`'s fields, `keys.create`'s and
//! `keys.rotate`'s. A name outside them is a typo (`apikey`, `timeOutMs`,
//! `expires`): ignoring it would leave the client on a default the caller
//! meant to change, so it is refused, with the nearest known name where one
//! is close.

use crate::error::{Error, Result};
use crate::spelling::refuse_unknown;

/// Every option of the client (what [`super::RawOptions`] holds, `storage`
/// for [`super::storage::StorageChoice`], and `storageKey`), then mesh-sdk/next's
/// `createMeshAuth` options beyond them: the server build's core accepts
/// those in the options it reads, `ServerRules` reads them from the same
/// object (`src/wasm/client/server.rs`), and `clientSecret` (a confidential
/// client) is read by the server build only.
pub const OPTIONS: [&str; 21] = [
    "issuer",
    "clientId",
    "audience",
    "scope",
    "apiUrl",
    "apiKey",
    "refreshLeewaySeconds",
    "timeoutMs",
    "treat404AsUnauthorized",
    "maxRefreshRetries",
    "maxRequestRetries",
    "refreshCooldownMs",
    "keysPath",
    "storage",
    "storageKey",
    // createMeshAuth's
    "clientSecret",
    "baseUrl",
    "secret",
    "store",
    "protect",
    "prompt",
];

/// How many of [`OPTIONS`] are the client's own.
const CLIENT_OPTIONS: usize = 15;

/// The fields of `setSession`'s input (`SessionInput`).
pub const SESSION_FIELDS: [&str; 3] = ["accessToken", "refreshToken", "expiresAt"];

/// Refuses `name` unless it is an option of the client (or, with `server`,
/// of `createMeshAuth`), naming the closest known name where there is one
/// (another case, or at most two edits away).
pub fn check_option_name(name: &str, server: bool) -> Result<()> {
    let known = if server { &OPTIONS[..] } else { &OPTIONS[..CLIENT_OPTIONS] };
    if name == "clientSecret" && !server {
        return Err(Error::config(name, "is for server code (mesh-sdk/next): a MeshClient is a public client and keeps no secret"));
    }
    refuse_unknown(name, known, "is not an option of this client", false)
}

/// Refuses a field `setSession` does not read: a token response's own names
/// (`access_token`, `expires_in`) or a relative expiry would otherwise be
/// dropped, and the session run without the expiry the caller gave.
pub fn check_session_field(name: &str) -> Result<()> {
    if matches!(name, "expiresIn" | "expires_in") {
        return Err(Error::config(name, "is not read: give expiresAt, the expiry in Unix seconds (now + expires_in)"));
    }
    refuse_unknown(name, &SESSION_FIELDS, "is not a field of a session", true)
}

/// The options of `keys.create`, then of `keys.rotate`.
pub const KEY_OPTIONS: [&str; 3] = ["scopes", "expiresAt", "rateLimit"];
pub const ROTATE_OPTIONS: [&str; 1] = ["gracePeriodSeconds"];

/// Refuses an option `keys.create` (or, with `rotate`, `keys.rotate`) does
/// not read: a misspelt `expiresAt` would otherwise make a key that never
/// expires.
pub fn check_key_option(name: &str, rotate: bool) -> Result<()> {
    if rotate {
        refuse_unknown(name, &ROTATE_OPTIONS, "is not an option of keys.rotate", true)
    } else {
        refuse_unknown(name, &KEY_OPTIONS, "is not an option of keys.create", true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn check(names: &[&str], server: bool) -> Result<()> {
        names.iter().try_for_each(|n| check_option_name(n, server))
    }

    fn refused(names: &[&str], server: bool) -> String {
        let e = check(names, server).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidConfig);
        e.message().to_string()
    }

    #[test]
    fn every_known_name_passes() {
        assert!(check(&OPTIONS[..CLIENT_OPTIONS], false).is_ok());
        assert!(check(&OPTIONS, true).is_ok());
        assert!(check(&[], false).is_ok());
    }

    #[test]
    fn a_typo_is_refused_with_the_name_meant() {
        assert_eq!(refused(&["issuer", "apikey"], false), "option `apikey`: is not read; did you mean `apiKey`?");
        assert_eq!(refused(&["timeOutMS"], false), "option `timeOutMS`: is not read; did you mean `timeoutMs`?");
        assert_eq!(refused(&["clientID"], false), "option `clientID`: is not read; did you mean `clientId`?");
        assert_eq!(refused(&["maxRetries"], false), "option `maxRetries`: is not an option of this client");
        assert_eq!(refused(&["storag"], false), "option `storag`: is not read; did you mean `storage`?");
        // Short names are too near everything to guess.
        assert_eq!(refused(&["id"], false), "option `id`: is not an option of this client");
    }

    #[test]
    fn a_client_secret_is_refused_where_only_server_code_may_hold_one() {
        assert!(refused(&["clientSecret"], false).contains("mesh-sdk/next"));
        assert!(check(&["clientSecret", "baseUrl"], true).is_ok());
        assert!(refused(&["baseUrl"], false).ends_with("is not an option of this client"), "a server option is no client option");
        assert_eq!(refused(&["baseURL"], true), "option `baseURL`: is not read; did you mean `baseUrl`?");
    }

    #[test]
    fn a_session_field_it_does_not_read_is_refused() {
        let msg = |name| check_session_field(name).unwrap_err().message().to_string();
        assert!(SESSION_FIELDS.iter().all(|f| check_session_field(f).is_ok()));
        assert_eq!(msg("access_token"), "option `access_token`: is not read; did you mean `accessToken`?");
        assert_eq!(msg("refreshtoken"), "option `refreshtoken`: is not read; did you mean `refreshToken`?");
        assert!(msg("expiresIn").contains("give expiresAt"));
        assert!(msg("expires_in").contains("give expiresAt"));
        assert!(msg("idToken").ends_with("is not a field of a session: accessToken, refreshToken, expiresAt"));
    }

    #[test]
    fn a_key_option_it_does_not_read_is_refused() {
        assert!(KEY_OPTIONS.iter().all(|o| check_key_option(o, false).is_ok()));
        assert!(check_key_option("gracePeriodSeconds", true).is_ok());
        assert!(check_key_option("gracePeriodSeconds", false).is_err(), "a rotate option is no create option");
        let msg = |name, rotate| check_key_option(name, rotate).unwrap_err().message().to_string();
        assert_eq!(msg("expiresat", false), "option `expiresat`: is not read; did you mean `expiresAt`?");
        assert_eq!(msg("scope", false), "option `scope`: is not read; did you mean `scopes`?");
        assert_eq!(msg("expires", false), "option `expires`: is not read; did you mean `expiresAt`?");
        assert!(msg("ttl", false).ends_with("scopes, expiresAt, rateLimit"));
        assert!(msg("grace", true).ends_with("gracePeriodSeconds"));
    }

    #[test]
    fn the_names_are_the_ones_the_options_are_read_by() {
        // Every client option but `storage`/`storageKey` (the binding's), and
        // `clientSecret`, is a field of RawOptions: a field added there and
        // not here would be refused as unknown. The destructuring below
        // stops compiling when RawOptions gains a field.
        let read = OPTIONS[..CLIENT_OPTIONS].iter().filter(|n| !["storage", "storageKey"].contains(n)).chain(&["clientSecret"]);
        let object: serde_json::Map<String, serde_json::Value> = read.map(|n| (n.to_string(), "x".into())).collect();
        let raw: super::super::RawOptions = serde_json::from_value(object.into()).unwrap();
        let super::super::RawOptions {
            issuer,
            client_id,
            audience,
            scope,
            api_url,
            api_key,
            client_secret,
            refresh_leeway_seconds,
            timeout_ms,
            treat_404_as_unauthorized,
            max_refresh_retries,
            max_request_retries,
            refresh_cooldown_ms,
            keys_path,
        } = raw;
        let fields = [
            issuer, client_id, audience, scope, api_url, api_key, client_secret, refresh_leeway_seconds, timeout_ms,
            treat_404_as_unauthorized, max_refresh_retries, max_request_retries, refresh_cooldown_ms, keys_path,
        ];
        assert!(fields.iter().all(Option::is_some), "an option name that no RawOptions field reads");
    }
}
