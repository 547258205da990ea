//! How `mesh-auth` signs in from a terminal (issue #16, item 5), as the
//! Mesh SDK does: with the browser (authorization code + PKCE, loopback
//! redirect, RFC 8252 §7.3) where one can be opened, with the device code
//! (RFC 8628) where none can. The CLI passes the facts of its environment
//! ([`TerminalFacts`]); the rule is here, once.
//!
//! Headless means: `MESH_HEADLESS` true; or, unless `MESH_HEADLESS` is
//! false, `CI` set, an SSH session (`SSH_CONNECTION`/`SSH_TTY`), a
//! container, or a Unix other than macOS with neither `DISPLAY` nor
//! `WAYLAND_DISPLAY`. `--device` and `--browser` override the verdict.
//!
//! `MESH_EXTENDED_TOKEN_LIFETIME` (default: true when headless) asks for a
//! long-lived session: `offline_access`, the scopes of
//! `MESH_EXTENDED_TOKEN_SCOPE` and the request parameters of
//! `MESH_EXTENDED_TOKEN_PARAM` (`name=value`, several joined by `&`; on the
//! authorization request, or the device authorization request), and,
//! in the browser, `prompt=consent` (OIDC Core §11: a provider grants
//! `offline_access` to the code flow only after asking the user).

use crate::error::{Error, Result};

use super::redirect::{is_param_name, PENDING_REDIRECT_TTL_MS, RESERVED_AUTHORIZE_PARAMS};

/// The environment as the CLI saw it: variables as strings (`None`: unset).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TerminalFacts {
    /// Node's `process.platform`: `linux`, `darwin`, `win32`, …
    pub platform: String,
    /// `/.dockerenv` or `/run/.containerenv` exists, or `container` is set.
    pub container: bool,
    /// `--browser` / `--device`.
    pub force_browser: bool,
    pub force_device: bool,
    pub display: Option<String>,
    pub wayland_display: Option<String>,
    pub ssh_connection: Option<String>,
    pub ssh_tty: Option<String>,
    pub ci: Option<String>,
    pub mesh_headless: Option<String>,
    pub extended_lifetime: Option<String>,
    pub extended_scope: Option<String>,
    pub extended_param: Option<String>,
    /// The scope the client is configured with.
    pub scope: Option<String>,
}

/// Which login the terminal runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFlow {
    Browser,
    Device,
}

impl LoginFlow {
    pub fn name(self) -> &'static str {
        match self {
            LoginFlow::Browser => "browser",
            LoginFlow::Device => "device",
        }
    }
}

/// The verdict: the flow, why (for the CLI to print), the scope to ask for
/// and the extra authorization request parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginPlan {
    pub flow: LoginFlow,
    pub reason: &'static str,
    pub headless: bool,
    pub extended: bool,
    pub scope: String,
    /// `consent` for a long-lived browser login: OIDC Core §11 grants
    /// `offline_access` to the code flow only when the user was asked.
    pub prompt: Option<&'static str>,
    pub params: Vec<(String, String)>,
    /// How long the browser login waits for its callback by default: as
    /// long as its pending login lives.
    pub wait_ms: i64,
}

/// The default scope of a terminal login.
pub const TERMINAL_DEFAULT_SCOPE: &str = "openid offline_access";

/// A boolean variable: `true`/`1`/`yes`/`on` or `false`/`0`/`no`/`off`
/// (any case); empty is unset; anything else is an error naming it.
fn flag(name: &str, value: &Option<String>) -> Result<Option<bool>> {
    let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) else { return Ok(None) };
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(Some(true)),
        "false" | "0" | "no" | "off" => Ok(Some(false)),
        _ => Err(Error::config(name, "must be true or false")),
    }
}

fn set(value: &Option<String>) -> bool {
    value.as_deref().is_some_and(|v| !v.trim().is_empty())
}

/// Whether the environment can show a browser, and why not.
fn headless_reason(f: &TerminalFacts) -> Result<Option<&'static str>> {
    match flag("MESH_HEADLESS", &f.mesh_headless)? {
        Some(true) => return Ok(Some("MESH_HEADLESS is true")),
        Some(false) => return Ok(None),
        None => {}
    }
    // CI=false is how some runners say "not CI".
    if set(&f.ci) && flag("CI", &f.ci).ok().flatten() != Some(false) {
        return Ok(Some("CI is set"));
    }
    if set(&f.ssh_connection) || set(&f.ssh_tty) {
        return Ok(Some("this is an SSH session"));
    }
    if f.container {
        return Ok(Some("this is a container"));
    }
    let desktop_without_display = !matches!(f.platform.as_str(), "darwin" | "win32");
    if desktop_without_display && !set(&f.display) && !set(&f.wayland_display) {
        return Ok(Some("there is no display (DISPLAY and WAYLAND_DISPLAY are unset)"));
    }
    Ok(None)
}

/// The scope words of `extra` added to `scope`, each once.
fn add_scopes(scope: &mut String, extra: &str) {
    for word in extra.split(' ').filter(|w| !w.is_empty()) {
        if !scope.split(' ').any(|s| s == word) {
            if !scope.is_empty() {
                scope.push(' ');
            }
            scope.push_str(word);
        }
    }
}

/// `MESH_EXTENDED_TOKEN_PARAM`: `name=value` pairs joined by `&`; a name the
/// login sets itself is refused.
fn extra_params(raw: &str) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').ok_or_else(|| Error::config("MESH_EXTENDED_TOKEN_PARAM", "must be name=value (several joined by &)"))?;
        let name = name.trim();
        if !is_param_name(name) || value.is_empty() {
            return Err(Error::config("MESH_EXTENDED_TOKEN_PARAM", "must be name=value (several joined by &)"));
        }
        if RESERVED_AUTHORIZE_PARAMS.contains(&name) || out.iter().any(|(n, _)| n == name) {
            return Err(Error::config("MESH_EXTENDED_TOKEN_PARAM", format_args!("may not set {name}")));
        }
        out.push((name.to_owned(), value.to_owned()));
    }
    Ok(out)
}

/// The terminal's login plan for `facts`; errors name the flag or variable.
pub fn plan_login(facts: &TerminalFacts) -> Result<LoginPlan> {
    if facts.force_browser && facts.force_device {
        return Err(Error::config("--browser", "and --device exclude each other"));
    }
    let headless = headless_reason(facts)?;
    let (flow, reason) = if facts.force_browser {
        (LoginFlow::Browser, "--browser was given")
    } else if facts.force_device {
        (LoginFlow::Device, "--device was given")
    } else if let Some(why) = headless {
        (LoginFlow::Device, why)
    } else {
        (LoginFlow::Browser, "a browser can be opened")
    };
    let extended = flag("MESH_EXTENDED_TOKEN_LIFETIME", &facts.extended_lifetime)?.unwrap_or(headless.is_some());
    let mut scope = facts.scope.clone().filter(|s| !s.trim().is_empty()).unwrap_or_else(|| TERMINAL_DEFAULT_SCOPE.to_owned());
    let mut params = Vec::new();
    if extended {
        add_scopes(&mut scope, "offline_access");
        add_scopes(&mut scope, facts.extended_scope.as_deref().unwrap_or(""));
        params = extra_params(facts.extended_param.as_deref().unwrap_or(""))?;
    }
    let prompt = (extended && flow == LoginFlow::Browser).then_some("consent");
    Ok(LoginPlan { flow, reason, headless: headless.is_some(), extended, scope, prompt, params, wait_ms: PENDING_REDIRECT_TTL_MS })
}

#[cfg(test)]
#[path = "terminal_tests.rs"]
mod tests;
