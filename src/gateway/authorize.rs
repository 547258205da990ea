//! Route authorization: what an authenticated caller must also hold on a
//! route (`methods`, `scopes`, `claims`, `issuers` in `MESH_ROUTES`).
//!
//! Authentication says who the caller is; these rules say whether that
//! caller may use this route. They are checked after the credential is
//! verified (a method is checked before, since it needs no credential), and
//! a caller who fails them gets 403 `insufficient_scope` (RFC 6750 §3.1).
//!
//! What a caller holds is read once, when its credential is verified, into
//! [`Grants`]: its scopes and the string value of each claim some route
//! names. A cached token carries its grants, so a rule costs a few string
//! compares on the request path, never a JSON walk.

use serde_json::{Map, Value};

/// One `claims` entry of a route: the claim at a dotted path must equal one
/// of `allowed`. A claim of another type (number, list, object) never matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRule {
    /// As configured, e.g. `org.id`: each `.` steps into a nested object.
    pub path: String,
    pub allowed: Vec<String>,
}

/// A route's authorization rules. The default (all empty) allows any
/// method and any authenticated caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    /// `None`: every method. Otherwise exactly these (case-sensitive, as HTTP).
    pub methods: Option<Vec<String>>,
    /// Every one must be granted.
    pub scopes: Vec<String>,
    pub claims: Vec<ClaimRule>,
    /// `None`: every configured issuer. Otherwise a token's `iss` must be one of these.
    pub issuers: Option<Vec<String>>,
}

/// What a refused caller lacked: named in the 403 body and the log line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Missing {
    pub scopes: Vec<String>,
    /// The paths of the claim rules that did not match.
    pub claims: Vec<String>,
    /// The token's issuer is not one this route accepts.
    pub issuer: bool,
}

impl Missing {
    /// The rule that refused, for the log: `issuer`, `scope` or `claim`.
    pub fn rule(&self) -> &'static str {
        if self.issuer {
            "issuer"
        } else if !self.scopes.is_empty() {
            "scope"
        } else {
            "claim"
        }
    }
}

/// What a verified caller holds, as the rules read it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    pub issuer: Option<String>,
    pub scopes: Vec<String>,
    /// `(path, value)` for each claim path the configuration names (route
    /// rules, `MESH_FORWARD_CLAIMS`) whose value is a string, number or
    /// boolean; a path that is absent or of another type is left out.
    pub claims: Vec<(String, ClaimValue)>,
}

/// A scalar claim: its text (a number or boolean as JSON writes it), and
/// whether it was a string. Rules match strings only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimValue {
    pub text: String,
    pub is_string: bool,
}

impl Grants {
    /// Reads a verified JWT's claims: `iss`, the scopes of `scope` (a
    /// space-separated string) and `scp` (a list, or a string like `scope`),
    /// and the scalar value at each of `paths`.
    pub fn from_claims<'p>(claims: &Map<String, Value>, paths: impl IntoIterator<Item = &'p str>) -> Grants {
        let issuer = claims.get("iss").and_then(Value::as_str).map(str::to_string);
        Grants { issuer, scopes: scopes_of(claims.get("scope"), claims.get("scp")), claims: claims_at(claims, paths) }
    }

    /// An API key's grants: its scopes only (a key has no claims or issuer).
    pub fn from_scopes(scopes: &[String]) -> Grants {
        Grants { scopes: scopes.to_vec(), ..Grants::default() }
    }

    /// The value at `path`, if the caller has one.
    pub fn claim(&self, path: &str) -> Option<&ClaimValue> {
        self.claims.iter().find(|(p, _)| p == path).map(|(_, v)| v)
    }

    fn string_claim(&self, path: &str) -> Option<&str> {
        self.claim(path).filter(|v| v.is_string).map(|v| v.text.as_str())
    }
}

/// The scopes of a token's `scope` (a space-separated string) and `scp` (a
/// list, or a string like `scope`), each once; other forms hold none.
pub fn scopes_of(scope: Option<&Value>, scp: Option<&Value>) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    let mut add = |s: &str| {
        for word in s.split(' ').filter(|w| !w.is_empty()) {
            if !scopes.iter().any(|have| have == word) {
                scopes.push(word.to_string());
            }
        }
    };
    if let Some(Value::String(s)) = scope {
        add(s);
    }
    match scp {
        Some(Value::String(s)) => add(s),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).for_each(&mut add),
        _ => {}
    }
    scopes
}

/// `(path, value)` for each of `paths` that holds a scalar in `claims`.
pub fn claims_at<'p>(claims: &Map<String, Value>, paths: impl IntoIterator<Item = &'p str>) -> Vec<(String, ClaimValue)> {
    paths.into_iter().filter_map(|p| claim_at(claims, p).map(|v| (p.to_string(), v))).collect()
}

/// The scalar at a dotted path into nested objects; `None` when a step is
/// missing or not an object, or the value is a list, an object or null.
fn claim_at(claims: &Map<String, Value>, path: &str) -> Option<ClaimValue> {
    let mut steps = path.split('.');
    let mut here = claims.get(steps.next()?)?;
    for step in steps {
        here = here.as_object()?.get(step)?;
    }
    match here {
        Value::String(s) => Some(ClaimValue { text: s.clone(), is_string: true }),
        Value::Number(_) | Value::Bool(_) => Some(ClaimValue { text: here.to_string(), is_string: false }),
        _ => None,
    }
}

impl Rules {
    pub fn allows_method(&self, method: &str) -> bool {
        self.methods.as_ref().is_none_or(|m| m.iter().any(|x| x == method))
    }

    /// The `Allow` header of a 405.
    pub fn allow_header(&self) -> String {
        self.methods.as_deref().unwrap_or_default().join(", ")
    }

    /// Whether the route checks anything beyond authentication.
    pub fn authorizes(&self) -> bool {
        !self.scopes.is_empty() || !self.claims.is_empty() || self.issuers.is_some()
    }

    /// Checks a verified caller's grants against the rules.
    pub fn check(&self, grants: &Grants) -> Result<(), Missing> {
        let mut missing = Missing::default();
        if let Some(issuers) = &self.issuers {
            missing.issuer = !grants.issuer.as_ref().is_some_and(|iss| issuers.contains(iss));
        }
        missing.scopes = self.scopes.iter().filter(|s| !grants.scopes.contains(s)).cloned().collect();
        missing.claims = (self.claims.iter())
            .filter(|rule| !grants.string_claim(&rule.path).is_some_and(|v| rule.allowed.iter().any(|a| a == v)))
            .map(|rule| rule.path.clone())
            .collect();
        if missing.issuer || !missing.scopes.is_empty() || !missing.claims.is_empty() {
            Err(missing)
        } else {
            Ok(())
        }
    }
}

/// An RFC 6749 §3.3 scope-token: printable ASCII but space, `"` and `\`,
/// so a scope goes into `WWW-Authenticate: ... scope="..."` unescaped. The
/// scopes of routes and of API keys are both checked with it.
pub fn is_scope_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b == 0x21 || (0x23..=0x7e).contains(&b) && b != b'\\')
}

/// Checks one route's rules as configured: every problem is a message for
/// the configuration error, never a rule that silently allows.
pub fn validate(rules: &Rules, auth: super::route::AuthMode) -> Result<(), String> {
    use super::route::AuthMode;
    if let Some(methods) = &rules.methods {
        if methods.is_empty() {
            return Err("methods must list at least one method (leave it out to allow every method)".into());
        }
        if let Some(m) = methods.iter().find(|m| m.is_empty() || m.len() > 20 || !m.bytes().all(|b| b.is_ascii_uppercase())) {
            return Err(format!("method `{m}` must be an upper-case HTTP method such as GET"));
        }
    }
    if let Some(s) = rules.scopes.iter().find(|s| !is_scope_token(s)) {
        return Err(format!("scope `{s}` must be a non-empty scope token (no spaces, quotes or backslashes)"));
    }
    for rule in &rules.claims {
        if rule.path.is_empty() || rule.path.split('.').any(str::is_empty) {
            return Err(format!("claim `{}` must be a dotted path such as org.id", rule.path));
        }
        if rule.allowed.is_empty() {
            return Err(format!("claim `{}` must allow at least one value", rule.path));
        }
    }
    if rules.issuers.as_ref().is_some_and(|i| i.is_empty() || i.iter().any(String::is_empty)) {
        return Err("issuers must list at least one issuer (leave it out to accept every issuer)".into());
    }
    match auth {
        AuthMode::Public if rules.authorizes() => {
            Err("a public route has no caller to authorize: scopes, claims and issuers need auth jwt or api_key".into())
        }
        AuthMode::ApiKey if !rules.claims.is_empty() || rules.issuers.is_some() => {
            Err("an api_key route can require scopes, but API keys carry no claims or issuer".into())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::route::AuthMode;
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn rules() -> Rules {
        Rules {
            methods: Some(vec!["GET".into(), "POST".into()]),
            scopes: vec!["memories:write".into(), "memories:read".into()],
            claims: vec![
                ClaimRule { path: "org.id".into(), allowed: vec!["acme".into()] },
                ClaimRule { path: "role".into(), allowed: vec!["admin".into(), "owner".into()] },
            ],
            issuers: None,
        }
    }

    fn grants(v: Value) -> Grants {
        Grants::from_claims(&claims(v), ["org.id", "role"])
    }

    #[test]
    fn a_caller_with_every_scope_and_claim_passes() {
        let g = grants(json!({"scope": "memories:read memories:write other", "org": {"id": "acme"}, "role": "owner"}));
        assert_eq!(rules().check(&g), Ok(()));
        // `scp` as a list, or as a string, counts the same as `scope`.
        let g = grants(json!({"scp": ["memories:read", "memories:write"], "org": {"id": "acme"}, "role": "admin"}));
        assert_eq!(rules().check(&g), Ok(()));
        let g = grants(json!({"scp": "memories:write memories:read", "org": {"id": "acme"}, "role": "admin"}));
        assert_eq!(rules().check(&g), Ok(()));
    }

    #[test]
    fn a_missing_scope_is_named() {
        let g = grants(json!({"scope": "memories:read", "org": {"id": "acme"}, "role": "owner"}));
        let m = rules().check(&g).unwrap_err();
        assert_eq!((m.rule(), m.scopes, m.claims.len()), ("scope", vec!["memories:write".to_string()], 0));
        // A scope is a whole word: a prefix or a superstring is not the scope.
        let g = grants(json!({"scope": "memories:writer memories:rea", "org": {"id": "acme"}, "role": "owner"}));
        assert_eq!(rules().check(&g).unwrap_err().scopes.len(), 2);
    }

    #[test]
    fn scopes_in_the_wrong_form_are_not_scopes() {
        // `scope` must be a string; a list there is not read. Nor is a
        // number in `scp`, nor a scope under another claim name.
        for c in [
            json!({"scope": ["memories:read", "memories:write"]}),
            json!({"scp": [1, 2], "scopes": "memories:read memories:write"}),
            json!({"scope": "memories:read,memories:write"}),
        ] {
            let mut c = c;
            c["org"] = json!({"id": "acme"});
            c["role"] = json!("owner");
            assert_eq!(rules().check(&grants(c)).unwrap_err().rule(), "scope");
        }
    }

    #[test]
    fn a_claim_of_another_type_or_value_does_not_match() {
        let all = "memories:read memories:write";
        for (c, failed) in [
            (json!({"scope": all, "org": {"id": "evil"}, "role": "owner"}), "org.id"),
            (json!({"scope": all, "org": {"id": ["acme"]}, "role": "owner"}), "org.id"),
            (json!({"scope": all, "org": "acme", "role": "owner"}), "org.id"),
            (json!({"scope": all, "org.id": "acme", "role": "owner"}), "org.id"),
            (json!({"scope": all, "org": {"id": "acme"}, "role": ["admin"]}), "role"),
            (json!({"scope": all, "org": {"id": "acme"}, "role": true}), "role"),
            (json!({"scope": all, "org": {"id": "acme"}}), "role"),
            (json!({"scope": all, "org": {"id": "acme"}, "role": "Admin"}), "role"),
        ] {
            let m = rules().check(&grants(c.clone())).unwrap_err();
            assert_eq!((m.rule(), m.claims), ("claim", vec![failed.to_string()]), "{c}");
        }
    }

    #[test]
    fn scalar_claims_are_kept_as_text_and_only_strings_match_rules() {
        let g = Grants::from_claims(&claims(json!({"n": 42, "b": true, "s": "x", "l": ["x"], "o": {"k": null}})), ["n", "b", "s", "l", "o.k", "none"]);
        let text = |p: &str| g.claim(p).map(|v| (v.text.as_str(), v.is_string));
        assert_eq!((text("n"), text("b"), text("s")), (Some(("42", false)), Some(("true", false)), Some(("x", true))));
        assert_eq!((text("l"), text("o.k"), text("none")), (None, None, None));
        let r = Rules { claims: vec![ClaimRule { path: "n".into(), allowed: vec!["42".into()] }], ..Rules::default() };
        assert_eq!(r.check(&g).unwrap_err().claims, ["n"]);
    }

    #[test]
    fn issuers_limit_which_tokens_a_route_takes() {
        let r = Rules { issuers: Some(vec!["https://a.example".into()]), ..Rules::default() };
        assert_eq!(r.check(&grants(json!({"iss": "https://a.example"}))), Ok(()));
        for c in [json!({"iss": "https://b.example"}), json!({}), json!({"iss": ["https://a.example"]})] {
            assert_eq!(r.check(&grants(c)).unwrap_err().rule(), "issuer");
        }
    }

    #[test]
    fn methods_are_exact_and_the_allow_header_lists_them() {
        let r = rules();
        assert!(r.allows_method("GET") && r.allows_method("POST"));
        assert!(!r.allows_method("DELETE") && !r.allows_method("get") && !r.allows_method("HEAD"));
        assert_eq!(r.allow_header(), "GET, POST");
        assert!(Rules::default().allows_method("PATCH"));
    }

    #[test]
    fn api_key_grants_are_its_scopes() {
        let r = Rules { scopes: vec!["a".into()], ..Rules::default() };
        assert_eq!(r.check(&Grants::from_scopes(&["a".into(), "b".into()])), Ok(()));
        assert!(r.check(&Grants::from_scopes(&[])).is_err());
    }

    #[test]
    fn bad_rules_are_configuration_errors() {
        let with = |f: fn(&mut Rules)| {
            let mut r = Rules::default();
            f(&mut r);
            r
        };
        let bad = [
            (with(|r| r.methods = Some(vec![])), AuthMode::Jwt),
            (with(|r| r.methods = Some(vec!["get".into()])), AuthMode::Jwt),
            (with(|r| r.methods = Some(vec!["G T".into()])), AuthMode::Jwt),
            (with(|r| r.scopes = vec!["two words".into()]), AuthMode::Jwt),
            (with(|r| r.scopes = vec!["q\"uote".into()]), AuthMode::Jwt),
            (with(|r| r.scopes = vec![String::new()]), AuthMode::Jwt),
            (with(|r| r.claims = vec![ClaimRule { path: "org..id".into(), allowed: vec!["a".into()] }]), AuthMode::Jwt),
            (with(|r| r.claims = vec![ClaimRule { path: "role".into(), allowed: vec![] }]), AuthMode::Jwt),
            (with(|r| r.issuers = Some(vec![])), AuthMode::Jwt),
            (with(|r| r.scopes = vec!["a".into()]), AuthMode::Public),
            (with(|r| r.issuers = Some(vec!["https://a".into()])), AuthMode::ApiKey),
            (with(|r| r.claims = vec![ClaimRule { path: "role".into(), allowed: vec!["a".into()] }]), AuthMode::ApiKey),
        ];
        for (r, auth) in bad {
            assert!(validate(&r, auth).is_err(), "{r:?} on {auth:?}");
        }
        assert_eq!(validate(&rules(), AuthMode::Jwt), Ok(()));
        assert_eq!(validate(&Rules { scopes: vec!["a".into()], ..Rules::default() }, AuthMode::ApiKey), Ok(()));
        assert_eq!(validate(&Rules { methods: Some(vec!["GET".into()]), ..Rules::default() }, AuthMode::Public), Ok(()));
    }
}
