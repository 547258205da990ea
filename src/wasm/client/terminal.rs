//! `terminalLoginPlan(facts)` for `mesh-auth` (`client::terminal`): the CLI
//! passes what it saw of its environment, the core decides. Only in the
//! Node-only `server` build: neither the browser's nor the gateway's wasm
//! carries it.

use js_sys::Object;
use wasm_bindgen::prelude::*;

use super::convert::{get, opt_string, set};
use crate::client::terminal::{plan_login, TerminalFacts};
use crate::error::Error;

/// `facts`: `{ platform, container, browser, device, scope?, env }` where
/// `env` holds the variables as `process.env` does. Answers `{ flow,
/// reason, headless, extended, scope, prompt?, params, waitMs }` (`params`: an object of the
/// extra authorization request parameters); throws `invalid_config`.
#[wasm_bindgen(js_name = terminalLoginPlan)]
pub fn terminal_login_plan(facts: JsValue) -> Result<JsValue, JsValue> {
    let env = get(&facts, "env");
    let var = |name: &str| -> Result<Option<String>, Error> { opt_string(&env, name) };
    let facts = TerminalFacts {
        platform: opt_string(&facts, "platform")?.unwrap_or_default(),
        container: get(&facts, "container").as_bool() == Some(true),
        force_browser: get(&facts, "browser").as_bool() == Some(true),
        force_device: get(&facts, "device").as_bool() == Some(true),
        scope: opt_string(&facts, "scope")?,
        display: var("DISPLAY")?,
        wayland_display: var("WAYLAND_DISPLAY")?,
        ssh_connection: var("SSH_CONNECTION")?,
        ssh_tty: var("SSH_TTY")?,
        ci: var("CI")?,
        mesh_headless: var("MESH_HEADLESS")?,
        extended_lifetime: var("MESH_EXTENDED_TOKEN_LIFETIME")?,
        extended_scope: var("MESH_EXTENDED_TOKEN_SCOPE")?,
        extended_param: var("MESH_EXTENDED_TOKEN_PARAM")?,
    };
    let plan = plan_login(&facts)?;
    let o = Object::new();
    set(&o, "flow", &JsValue::from_str(plan.flow.name()));
    set(&o, "reason", &JsValue::from_str(plan.reason));
    set(&o, "headless", &JsValue::from_bool(plan.headless));
    set(&o, "extended", &JsValue::from_bool(plan.extended));
    set(&o, "scope", &JsValue::from_str(&plan.scope));
    if let Some(prompt) = plan.prompt {
        set(&o, "prompt", &JsValue::from_str(prompt));
    }
    set(&o, "waitMs", &JsValue::from_f64(plan.wait_ms as f64));
    let params = Object::new();
    for (name, value) in &plan.params {
        set(&params, name, &JsValue::from_str(value));
    }
    set(&o, "params", &params);
    Ok(o.into())
}

/// `nearestOption(flag, known)`: the command-line flag of `known` that
/// `flag` most likely misspells (`spelling::nearest_flag`), for the CLIs'
/// "did you mean"; `undefined` when none is near.
#[wasm_bindgen(js_name = nearestOption)]
pub fn nearest_option(flag: &str, known: Vec<String>) -> Option<String> {
    let known: Vec<&str> = known.iter().map(String::as_str).collect();
    crate::spelling::nearest_flag(flag, &known).map(str::to_string)
}
