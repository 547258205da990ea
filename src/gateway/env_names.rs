//! Misspelt names in the gateway's environment. The gateway reads its
//! variables and bindings by name, so `MESH_ROUTS` reads as unset and leaves
//! the default routes in force: requests then fail (404, 401) for a reason
//! nothing names. A name within two edits of one the gateway reads (case
//! ignored) is logged as a warning naming both, once per configuration. It
//! is not refused: the env is also the Worker's own, and a name of its own
//! that happens to be near one of ours (the client's `MESH_API_KEY`) must not
//! take the gateway down.

use super::config::{KEY_STORE_BINDING, VARIABLES};
use super::service_token::{BROKER_BINDING, DEFAULT_SECRET_VAR};
use super::stores::{KEYS_DO_BINDING, RATE_LIMITS_BINDING};
use crate::spelling::nearest;

/// The names the gateway looks up in its env beside [`VARIABLES`]: the
/// secret the service token reads by default, and the bindings.
const OTHER_NAMES: [&str; 5] = [DEFAULT_SECRET_VAR, KEY_STORE_BINDING, KEYS_DO_BINDING, RATE_LIMITS_BINDING, BROKER_BINDING];

/// The names among `names` (the env's keys) that are near misses of a name
/// the gateway reads, each with the name it likely meant. `secret_var` is the
/// service token's secret by the name its configuration gives, read as it is.
pub fn misspelt<'a>(names: impl IntoIterator<Item = &'a str>, secret_var: Option<&str>) -> Vec<(&'a str, &'static str)> {
    let mut out = Vec::new();
    for name in names {
        if VARIABLES.contains(&name) || OTHER_NAMES.contains(&name) || secret_var == Some(name) {
            continue;
        }
        let near = match (nearest(name, VARIABLES), nearest(name, &OTHER_NAMES)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some((_, meant)) = near {
            out.push((name, meant));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_near_miss_is_named_with_the_name_meant() {
        assert_eq!(misspelt(["MESH_UPSTREAM_URL", "MESH_ROUTS"], None), [("MESH_ROUTS", "MESH_ROUTES")]);
        assert_eq!(misspelt(["mesh_jwt_issuer"], None), [("mesh_jwt_issuer", "MESH_JWT_ISSUER")], "case is no difference");
        assert_eq!(misspelt(["MESH_API_KEY", "MESH_JWT_AUDIENCES"], None), [("MESH_API_KEY", "MESH_API_KEYS"), ("MESH_JWT_AUDIENCES", "MESH_JWT_AUDIENCE")]);
    }

    #[test]
    fn the_gateways_own_names_and_the_workers_others_pass() {
        assert!(misspelt(VARIABLES.iter().chain(&OTHER_NAMES).copied(), None).is_empty());
        assert!(misspelt(["APP_ENV", "DATABASE_URL", "MESH_FEATURE_FLAGS", "ASSETS"], None).is_empty());
        // The service token's secret by another name, one edit from the default.
        assert!(misspelt(["MESH_SERVICE_CLIENT_SECRET2"], Some("MESH_SERVICE_CLIENT_SECRET2")).is_empty());
        assert_eq!(misspelt(["MESH_SERVICE_CLIENT_SECRET2"], None).len(), 1);
    }
}
