//! The gateway's sharded Durable Objects, both sides. `KeyShard` and
//! `RateLimitShard` are JavaScript classes (`new KeyShard(ctx, env)`,
//! `fetch(request)`) that workerd instantiates: each reads the one stored
//! value the request names, lets the core decide ([`crate::gateway::shard::ShardOp::apply`]),
//! writes what it says and answers its JSON. The isolate side is [`call`]:
//! a POST to the stub of the object by name.
//!
//! Storage is the object's SQLite-backed key-value API; a `put` is awaited
//! before the answer, so an answer is never ahead of what is stored.

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::{Request, Response, ResponseInit};

use crate::gateway::key_shard::KeyOp;
use crate::gateway::rate_limit::{self, Take, TakeAnswer};
use crate::gateway::shard::{prepare, request_body, Prepared, Write, OBJECT_TIMEOUT_MS, OBJECT_URL};
use crate::wasm::global::now_ms;

use super::durable::{self, DurableObjectNamespace, DurableObjectState};
use super::js::{abort_signal_timeout, object};

/// A shard of API-key records and owners' lists (`MESH_KEYS_DO`).
#[wasm_bindgen]
pub struct KeyShard(DurableObjectState);

#[wasm_bindgen]
impl KeyShard {
    #[wasm_bindgen(constructor)]
    pub fn new(ctx: DurableObjectState, _env: JsValue) -> KeyShard {
        KeyShard(ctx)
    }

    pub fn fetch(&self, request: Request) -> Promise {
        serve(self.0.clone(), request, prepare::<KeyOp>)
    }
}

/// A rate-limit bucket's object (`MESH_RATE_LIMITS`).
#[wasm_bindgen]
pub struct RateLimitShard(DurableObjectState);

#[wasm_bindgen]
impl RateLimitShard {
    #[wasm_bindgen(constructor)]
    pub fn new(ctx: DurableObjectState, _env: JsValue) -> RateLimitShard {
        RateLimitShard(ctx)
    }

    pub fn fetch(&self, request: Request) -> Promise {
        serve(self.0.clone(), request, prepare::<Take>)
    }
}

/// One request to an object: read, decide, write, answer. Not generic: the
/// future stays small, and each object's serde code is compiled once, in
/// [`prepare`].
fn serve(state: DurableObjectState, request: Request, prepare: fn(&str) -> Option<Prepared>) -> Promise {
    future_to_promise(async move {
        let body = JsFuture::from(request.text()?).await?.as_string().unwrap_or_default();
        let Some((key, decide)) = prepare(&body) else { return reply(400, "") };
        let storage = state.storage();
        let stored = durable::get_text(&storage, &key).await?;
        let outcome = decide(stored.as_deref(), now_ms() as i64);
        if let Write::Put(value) = &outcome.write {
            durable::put_text(&storage, &key, value).await?;
        }
        reply(200, &outcome.answer)
    })
}

fn reply(status: u16, body: &str) -> Result<JsValue, JsValue> {
    let init = ResponseInit::new();
    init.set_status(status);
    Ok(Response::new_with_opt_str_and_init(Some(body), &init)?.into())
}

/// POSTs `body` to the object `name` of `namespace`: its answer's text, or
/// the error (unreachable, timed out, or not a 200).
pub(super) async fn call(namespace: &DurableObjectNamespace, name: &str, body: String) -> Result<String, JsValue> {
    let stub = durable::stub(namespace, name)?;
    let init = object(&[
        ("method", JsValue::from_str("POST")),
        ("body", JsValue::from_str(&body)),
        ("signal", abort_signal_timeout(OBJECT_TIMEOUT_MS)?.into()),
    ]);
    let response: Response = JsFuture::from(stub.fetch(OBJECT_URL, &init)?).await?.dyn_into()?;
    if !response.ok() {
        return Err(JsValue::from_str(&format!("the object answered {}", response.status())));
    }
    Ok(JsFuture::from(response.text()?).await?.as_string().unwrap_or_default())
}

/// One request of `subject` (an object name) against its limit: the
/// object's answer, or the error that kept it from answering.
pub(super) async fn take(namespace: &DurableObjectNamespace, subject: String, limit: u32) -> Result<TakeAnswer, JsValue> {
    let op = Take { subject, limit };
    let text = call(namespace, &op.subject, request_body(&op)).await?;
    rate_limit::parse_answer(&text).ok_or_else(|| JsValue::from_str("not a rate-limit answer"))
}
