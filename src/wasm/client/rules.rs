//! `ClientCore`'s answers to the JavaScript layer's questions that are not
//! protocol steps: the error for a failure it saw, whether a network error
//! was sent, the discovery document's endpoints, the cross-tab lease, the
//! event names and `validate()`'s verdicts. Each is a rule of the core.

use js_sys::Object;
use wasm_bindgen::prelude::*;

use super::convert::{get, set, string_prop};
use crate::wasm::global::check_names;
use super::core::{session_info, ClientCore};
use crate::client::discovery::{endpoints, DiscoveryDocument};
use crate::client::failure::{check_listener, failure, network_failure};
use crate::client::option_names::check_key_option;
use crate::client::request::key_item_path;
use crate::client::storage::{StorageChoice, StorageOption};
use crate::client::lease::{lease_owner, lease_record, lease_wait_ms};
use crate::client::validation::{on_validate_failure, server_verdict, ValidateFailure};
use crate::client::AuthMode;
use crate::key_name::{check_key_name, KeyNameProblem, MAX_KEY_NAME_CHARS};

#[wasm_bindgen]
impl ClientCore {
    /// The `MeshError` for a failure the layer saw (`FailureName` in
    /// `steps.d.ts`); `subject` and `detail` fill in its message.
    pub fn failure(&self, name: &str, subject: Option<String>, detail: Option<String>) -> JsValue {
        failure(name, subject.as_deref().unwrap_or(""), detail.as_deref().unwrap_or("")).into()
    }

    /// A request that got no response: `{ error, unsent }`, `unsent` when
    /// it certainly never reached the server (by Node's `cause.code`).
    #[wasm_bindgen(js_name = networkFailure)]
    pub fn network_failure(&self, what: &str, detail: &str, cause: Option<String>, cause_code: Option<String>) -> JsValue {
        let (error, unsent) = network_failure(what, detail, cause.as_deref(), cause_code.as_deref());
        let o = Object::new();
        set(&o, "error", &error.into());
        set(&o, "unsent", &JsValue::from_bool(unsent));
        o.into()
    }

    /// What is wrong with an API key's name by the gateway's own rule
    /// (`KeyNameCheck` in steps.d.ts), or `undefined` when it would be
    /// accepted. Not a string is `empty`.
    #[wasm_bindgen(js_name = checkKeyName)]
    pub fn check_key_name(&self, name: JsValue) -> JsValue {
        let name = name.as_string().unwrap_or_default();
        let Err(problem) = check_key_name(&name) else { return JsValue::UNDEFINED };
        let length = match problem {
            KeyNameProblem::TooLong { length } => length,
            _ => name.trim().chars().count(),
        };
        let o = Object::new();
        set(&o, "problem", &JsValue::from_str(problem.code()));
        set(&o, "length", &JsValue::from(length as u32));
        set(&o, "max", &JsValue::from(MAX_KEY_NAME_CHARS as u32));
        set(&o, "message", &JsValue::from_str(problem.message()));
        o.into()
    }

    /// Throws unless `name` is an event and the handler a function.
    #[wasm_bindgen(js_name = checkListener)]
    pub fn check_listener(&self, name: &JsValue, handler_is_function: bool) -> Result<(), JsValue> {
        Ok(check_listener(name.as_string().as_deref().unwrap_or(""), handler_is_function)?)
    }

    /// The discovery answer (`body`: parsed JSON, `undefined` when it was
    /// not JSON) as `{ token, device?, revocation? }`; throws why not.
    pub fn discovered(&self, status: u16, body: JsValue) -> Result<JsValue, JsValue> {
        let document = (!body.is_undefined()).then(|| DiscoveryDocument {
            issuer: string_prop(&body, "issuer"),
            token_endpoint: string_prop(&body, "token_endpoint"),
            device_authorization_endpoint: string_prop(&body, "device_authorization_endpoint"),
            revocation_endpoint: string_prop(&body, "revocation_endpoint"),
            authorization_endpoint: string_prop(&body, "authorization_endpoint"),
            end_session_endpoint: string_prop(&body, "end_session_endpoint"),
            jwks_uri: string_prop(&body, "jwks_uri"),
            authorization_response_iss_parameter_supported: get(&body, "authorization_response_iss_parameter_supported").as_bool() == Some(true),
        });
        let found = endpoints(self.config.issuer_normalized(), status, document)?;
        let o = Object::new();
        set(&o, "token", &JsValue::from_str(&found.token));
        set(&o, "issRequired", &JsValue::from_bool(found.iss_required));
        let urls = [("device", found.device), ("revocation", found.revocation), ("authorization", found.authorization), ("endSession", found.end_session), ("jwks", found.jwks)];
        for (key, value) in urls {
            if let Some(url) = value {
                set(&o, key, &JsValue::from_str(&url));
            }
        }
        Ok(o.into())
    }

    /// Refuses an option of `keys.create` (`keys.rotate` with `rotate`) it
    /// does not read, before any request.
    #[wasm_bindgen(js_name = checkKeyOptions)]
    pub fn check_key_options(&self, options: JsValue, rotate: bool) -> Result<(), JsValue> {
        if options.is_object() {
            check_names(&options, |name| check_key_option(name, rotate))?;
        }
        Ok(())
    }

    /// The keys API path of key `id` (its rotation's with `rotate`); throws
    /// `invalid_config` unless `id` is a non-empty string.
    #[wasm_bindgen(js_name = keyPath)]
    pub fn key_path(&self, id: JsValue, rotate: bool) -> Result<String, JsValue> {
        let id = id.as_string().unwrap_or_default();
        key_item_path(&self.config.keys_path, &id, rotate).ok_or_else(|| failure("key_id", "", "").into())
    }

    /// The `storage` option read (`StorageChoice` in steps.d.ts):
    /// `undefined` for memory, else `{ global, shared, methods, deadlineMs }`; throws
    /// `invalid_config` for a bad one.
    #[wasm_bindgen(js_name = storageChoice)]
    pub fn storage_choice(&self, option: JsValue) -> Result<JsValue, JsValue> {
        let text = option.as_string();
        let seen = match &text {
            Some(t) => StorageOption::Text(t),
            None if option.is_undefined() || option.is_null() => StorageOption::Absent,
            None if option.is_object() => StorageOption::Object,
            None => StorageOption::Other,
        };
        let choice = StorageChoice::from_option(seen).map_err(|name| self.failure(name, None, None))?;
        if choice == StorageChoice::Memory {
            return Ok(JsValue::UNDEFINED);
        }
        let o = Object::new();
        if let StorageChoice::Web(name) = choice {
            set(&o, "global", &JsValue::from_str(name));
        }
        set(&o, "shared", &JsValue::from_bool(choice.shared()));
        if let Some(ms) = choice.call_deadline_ms(self.config.timeout_ms) {
            set(&o, "deadlineMs", &JsValue::from_f64(ms as f64));
        }
        let [read, write, remove] = choice.methods().map(JsValue::from_str);
        set(&o, "methods", &js_sys::Array::of3(&read, &write, &remove));
        Ok(o.into())
    }

    /// The lease value `owner` writes now.
    #[wasm_bindgen(js_name = leaseRecord)]
    pub fn lease_record(&self, owner: &str, now: f64) -> String {
        lease_record(owner, now as i64, self.config.timeout_ms)
    }

    #[wasm_bindgen(js_name = leaseOwner)]
    pub fn lease_owner(&self, value: &str) -> String {
        lease_owner(value).to_string()
    }

    /// How long to wait before trying the lease again (0: it is free);
    /// `random` in [0, 1) is the poll's jitter.
    #[wasm_bindgen(js_name = leaseWaitMs)]
    pub fn lease_wait_ms(&self, value: Option<String>, me: &str, now: f64, random: f64) -> f64 {
        lease_wait_ms(value.as_deref(), me, now as i64, random) as f64
    }

    /// After `GET /auth/validate` failed: `invalid`, `local` or `rethrow`.
    #[wasm_bindgen(js_name = validateFailure)]
    pub fn validate_failure(&self, code: &str, status: Option<u16>) -> String {
        let verdict = on_validate_failure(code, status, self.config.mode() == AuthMode::ApiKey);
        match verdict {
            ValidateFailure::Invalid => "invalid",
            ValidateFailure::Local => "local",
            ValidateFailure::Rethrow => "rethrow",
        }
        .to_string()
    }

    /// A 2xx answer of `GET /auth/validate` as `validate()` resolves it.
    #[wasm_bindgen(js_name = serverValidation)]
    pub fn server_validation(&self, body: JsValue) -> JsValue {
        let result: Object = if body.is_object() { body.unchecked_into() } else { Object::new() };
        let valid = get(&result, "valid");
        if valid.is_undefined() {
            set(&result, "valid", &JsValue::from_bool(server_verdict(None)));
        }
        set(&result, "source", &JsValue::from_str("server"));
        result.into()
    }

    /// `validate()` from the token's own expiry: the session info with
    /// `valid` and `source: 'local'`.
    #[wasm_bindgen(js_name = localValidation)]
    pub fn local_validation(&self, now: f64) -> JsValue {
        let tokens = self.session.tokens();
        let info = session_info(tokens);
        let result: Object = if info.is_object() { info.unchecked_into() } else { Object::new() };
        let valid = tokens.is_some_and(|t| !t.is_expired(now as i64));
        set(&result, "valid", &JsValue::from_bool(valid));
        set(&result, "source", &JsValue::from_str("local"));
        result.into()
    }
}
