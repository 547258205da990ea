//! JavaScript bindings of the gateway: `createGateway` (the Worker's fetch
//! handler) and `verifyIdentity` (for origins). This is the only gateway code
//! that does IO: fetches (JWKS, upstream), WebCrypto, KV, the clock, logging.
//! Every decision is made by the sans-IO core in `crate::gateway`.

mod durable;
mod handler;
mod identity;
mod js;
mod jwks_fetch;
mod keys_api;
mod kv;
mod response;
mod webcrypto;

// The Durable Objects (feature `durable-objects`, module "gateway-durable"):
// the classes and the isolate's calls to them. Without them, `no_objects`
// stands in for the calls, which the core's `Stores::check_build` keeps
// from ever being reached.
#[cfg(feature = "durable-objects")]
mod keys_do;
#[cfg(feature = "durable-objects")]
mod objects;
#[cfg(feature = "durable-objects")]
mod service_token;
#[cfg(feature = "durable-objects")]
mod token_broker;
#[cfg(not(feature = "durable-objects"))]
mod no_objects;
#[cfg(not(feature = "durable-objects"))]
use no_objects as keys_do;
#[cfg(not(feature = "durable-objects"))]
use no_objects as objects;
#[cfg(not(feature = "durable-objects"))]
use no_objects as service_token;

use std::rc::Rc;

use js_sys::Object;
use wasm_bindgen::prelude::*;

pub use identity::verify_identity;
#[cfg(feature = "durable-objects")]
pub use objects::{KeyShard, RateLimitShard};
#[cfg(feature = "durable-objects")]
pub use token_broker::TokenBroker;

/// Creates the gateway: `export default createGateway()` in a Worker (its
/// TypeScript types are pkg-template/index.d.ts's). The
/// configuration comes from the `env` of each request (parsed once per
/// isolate for each distinct env); `options` supplies defaults for variables
/// the env lacks. Nothing random or slow happens here (Workers allow neither
/// at module top level).
#[wasm_bindgen(js_name = createGateway, unchecked_return_type = "Gateway")]
pub fn create_gateway(#[wasm_bindgen(unchecked_param_type = "GatewayOptions")] options: Option<Object>) -> Object {
    front_js(GatewayBinding(Rc::new(handler::Gateway::new(options))))
}

#[wasm_bindgen(module = "/src/wasm/gateway/plumbing.js")]
extern "C" {
    /// The Worker's module handler (`{ fetch }`) over one binding; see plumbing.js.
    #[wasm_bindgen(js_name = front)]
    fn front_js(binding: GatewayBinding) -> Object;
}

/// The gateway as its JavaScript front (plumbing.js) calls it: one call per
/// pass over a request. Internal: the package's entries do not export it.
#[wasm_bindgen]
pub struct GatewayBinding(Rc<handler::Gateway>);

#[wasm_bindgen]
impl GatewayBinding {
    /// A first pass over a request: a `Response`, or a promise of one.
    /// `line` is the request read by plumbing.js's `inbound`, UTF-8 encoded
    /// there (bytes, not a `String`: see `encode` in plumbing.js). Bytes
    /// that are not UTF-8 cannot come from `TextEncoder`; should they come,
    /// the request reads as unreadable (400), never as another request.
    /// `ctx` is the Worker's execution context (`waitUntil`), or `undefined`.
    pub fn handle(&self, front: JsValue, request: web_sys::Request, env: JsValue, ctx: JsValue, same_env: bool, line: Vec<u8>) -> JsValue {
        let line = String::from_utf8(line).unwrap_or_default();
        handler::respond(&self.0, handler::Call { front, request, env, ctx, same_env }, handler::PassKind::First(line))
    }

    /// A pass with a signature's verdict: `id` names what the suspended pass
    /// held (its line, the token's hash), `ok` is the verdict.
    pub fn resume(&self, front: JsValue, request: web_sys::Request, env: JsValue, ctx: JsValue, same_env: bool, id: u32, ok: bool) -> JsValue {
        handler::respond(&self.0, handler::Call { front, request, env, ctx, same_env }, handler::PassKind::Resumed(id, ok))
    }
}
