//! The gateway isolate's side of the edge service token: asking the
//! `TokenBroker` Durable Object for it when the isolate's own copy is due
//! ([`crate::gateway::token_broker::IsolateToken`]). A steady-state request
//! never comes here: its token is in the isolate.

use serde_json::json;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::Response;

use crate::gateway::reject::event_log;
use crate::gateway::token_broker::{read_reply, Answer};
use crate::wasm::error::describe_js;

use super::durable::{stub, DurableObjectNamespace};
use super::js::console_log;
use super::response::Rid;

/// One call to the broker named `name`; any failure reads as "unavailable".
pub(super) async fn ask(namespace: &DurableObjectNamespace, name: &str, rid: &Rid<'_>) -> Answer {
    let answer = match call(namespace, name).await {
        Ok((status, body)) => read_reply(status, &body),
        Err(e) => {
            console_log(&event_log("error", "service_token_broker_failed", rid.get(), json!({ "detail": describe_js(&e) })));
            Answer::Unavailable { retry_after_secs: 1 }
        }
    };
    match &answer {
        // A request that waited for a token request: the cold start, or the
        // broker had no valid token. Never the steady state.
        Answer::Token { waited: true, .. } => console_log(&event_log("info", "service_token_waited", rid.get(), json!({}))),
        Answer::Token { .. } => {}
        Answer::Refused => console_log(&event_log("error", "service_token_refused", rid.get(), json!({}))),
        Answer::Unavailable { retry_after_secs } => {
            console_log(&event_log("warn", "service_token_unavailable", rid.get(), json!({ "retry_after": retry_after_secs })));
        }
    }
    answer
}

async fn call(namespace: &DurableObjectNamespace, name: &str) -> Result<(u16, String), JsValue> {
    let response: Response = JsFuture::from(stub(namespace, name)?.fetch(&format!("https://token-broker/{name}"), &JsValue::UNDEFINED)?).await?.unchecked_into();
    let body = JsFuture::from(response.text()?).await?.as_string().unwrap_or_default();
    Ok((response.status(), body))
}
