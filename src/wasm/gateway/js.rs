//! Raw bindings the gateway needs beyond web-sys: the KV namespace of the
//! Worker's env, `console.log`, `AbortSignal.timeout`, random bytes, and a
//! stream reader for capped body reads.

use js_sys::{Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, ReadableStream};

#[wasm_bindgen]
extern "C" {
    /// A Workers KV namespace binding (`env.MESH_API_KEYS`).
    #[derive(Clone)]
    pub type KvNamespace;
    /// `get(key)` -> `Promise<string | null>`.
    #[wasm_bindgen(method, catch)]
    pub fn get(this: &KvNamespace, key: &str) -> Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn put(this: &KvNamespace, key: &str, value: &str, options: &JsValue) -> Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn delete(this: &KvNamespace, key: &str) -> Result<Promise, JsValue>;
    /// `list({ prefix, cursor })` -> `Promise<{ keys: [{ name, metadata }], list_complete, cursor }>`.
    #[wasm_bindgen(method, catch)]
    pub fn list(this: &KvNamespace, options: &JsValue) -> Result<Promise, JsValue>;

    #[wasm_bindgen(js_namespace = console, js_name = log)]
    pub fn console_log(line: &str);

    #[wasm_bindgen(catch, js_namespace = AbortSignal, js_name = timeout)]
    pub fn abort_signal_timeout(ms: u32) -> Result<AbortSignal, JsValue>;

    type Reader;
    #[wasm_bindgen(method, js_name = read)]
    fn read(this: &Reader) -> Promise;
    #[wasm_bindgen(method, js_name = cancel)]
    fn cancel(this: &Reader) -> Promise;
    /// A `ReadableStream`, seen through `getReader`.
    type Stream;
    #[wasm_bindgen(method, js_name = getReader)]
    fn get_reader(this: &Stream) -> Reader;
}

pub fn get_prop(target: &JsValue, key: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

pub fn set_prop(target: &JsValue, key: &str, value: &JsValue) {
    let _ = Reflect::set(target, &JsValue::from_str(key), value);
}

pub fn object(pairs: &[(&str, JsValue)]) -> Object {
    let o = Object::new();
    for (k, v) in pairs {
        set_prop(&o, k, v);
    }
    o
}

/// Random bytes (getrandom; only ever called inside a request).
pub fn random<const N: usize>() -> Result<[u8; N], JsValue> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| JsValue::from_str(&format!("getrandom: {e}")))?;
    Ok(b)
}

/// Why a capped read stopped.
pub enum ReadError {
    TooLarge,
    Failed(JsValue),
}

/// Whether a body's `Content-Length` value says it is over `cap`.
pub fn declared_over(content_length: Option<String>, cap: usize) -> bool {
    content_length.and_then(|v| v.parse::<usize>().ok()).is_some_and(|n| n > cap)
}

/// What a capped read does with the rest of a body past the cap.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PastCap {
    /// Cancel the stream: a fetched response, so a huge body is not downloaded.
    Cancel,
    /// Read and discard up to [`DRAIN_BYTES`] in all, then cancel: an
    /// inbound request's body. workerd (under `wrangler dev` at least)
    /// fails the next request when a request body is cancelled, or its
    /// reader released, part way; read to its end, or never touched, it
    /// does not.
    Drain,
}

/// How much of an inbound body a capped read reads in all (kept or
/// discarded) before it cancels the rest.
pub const DRAIN_BYTES: usize = 1 << 20;

/// Reads a body stream to the end, but never keeps more than `cap` bytes;
/// past the cap, `past` says how it stops.
pub async fn read_capped(body: Option<ReadableStream>, cap: usize, past: PastCap) -> Result<Vec<u8>, ReadError> {
    let Some(stream) = body else { return Ok(Vec::new()) };
    let reader = stream.unchecked_ref::<Stream>().get_reader();
    let (mut out, mut seen) = (Vec::new(), 0usize);
    // Bounded: each turn reads a chunk of at least one byte, and past the
    // cap (Cancel) or DRAIN_BYTES (Drain) it returns.
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(ReadError::Failed)?;
        if get_prop(&chunk, "done").is_truthy() {
            return if seen > cap { Err(ReadError::TooLarge) } else { Ok(out) };
        }
        let value: Uint8Array = get_prop(&chunk, "value").unchecked_into();
        seen = seen.saturating_add(value.length() as usize);
        if seen > cap {
            if past == PastCap::Cancel || seen > DRAIN_BYTES {
                let _ = JsFuture::from(reader.cancel()).await;
                return Err(ReadError::TooLarge);
            }
            continue;
        }
        let start = out.len();
        out.resize(start + value.length() as usize, 0);
        value.copy_to(&mut out[start..]);
    }
}

/// Reads a request body up to `cap` bytes; `None` past the cap. A declared
/// length over the cap is refused without touching the body (workerd
/// discards it itself).
pub async fn read_body(request: &web_sys::Request, cap: usize) -> Result<Option<Vec<u8>>, JsValue> {
    if declared_over(request.headers().get("content-length").ok().flatten(), cap) {
        return Ok(None);
    }
    match read_capped(request.body(), cap, PastCap::Drain).await {
        Ok(b) => Ok(Some(b)),
        Err(ReadError::TooLarge) => Ok(None),
        Err(ReadError::Failed(e)) => Err(e),
    }
}
