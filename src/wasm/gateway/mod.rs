//! JavaScript bindings of the gateway: `createGateway` (the Worker's fetch
//! handler) and `verifyIdentity` (for origins). This is the only gateway code
//! that does IO: fetches (JWKS, upstream), WebCrypto, KV, the clock, logging.
//! Every decision is made by the sans-IO core in `crate::gateway`.

mod handler;
mod identity;
mod js;
mod keys_api;
mod webcrypto;

use std::rc::Rc;

use js_sys::{Object, Promise};
use wasm_bindgen::prelude::*;

pub use identity::verify_identity;

#[wasm_bindgen(typescript_custom_section)]
const TS: &str = r#"
/** Options of `createGateway`: defaults for any MESH_* variable the Worker's env lacks. */
export interface GatewayOptions { [variable: string]: string | undefined }
/** A Workers module handler. */
export interface Gateway { fetch(request: Request, env: Record<string, unknown>, ctx?: unknown): Promise<Response> }
"#;

/// Creates the gateway: `export default createGateway()` in a Worker. The
/// configuration comes from the `env` of each request (parsed once per
/// isolate for each distinct env); `options` supplies defaults for variables
/// the env lacks. Nothing random or slow happens here (Workers allow neither
/// at module top level).
#[wasm_bindgen(js_name = createGateway, unchecked_return_type = "Gateway")]
pub fn create_gateway(#[wasm_bindgen(unchecked_param_type = "GatewayOptions")] options: Option<Object>) -> Object {
    let gateway = Rc::new(handler::Gateway::new(options));
    // `ctx` is not taken: nothing here outlives the response.
    let fetch = Closure::<dyn Fn(web_sys::Request, JsValue) -> Promise>::new(
        move |request: web_sys::Request, env: JsValue| {
            handler::respond(gateway.clone(), request, env, None)
        },
    );
    js::object(&[("fetch", fetch.into_js_value())])
}
