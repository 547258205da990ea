//! One pass's API-key step (a child of the handler, so it sees the pass's
//! private types): the negative cache, the record (cached with `do`, else
//! asked of its store), the global rate limit with `MESH_RATE_LIMIT_STORE=do`,
//! then expiry, the isolate's count and the last-use write-back.

use std::rc::Rc;

use serde_json::json;

use crate::gateway::api_keys;
use crate::gateway::authorize::Grants;
use crate::gateway::headers::Identity;
use crate::gateway::jwt::Reason;
use crate::gateway::key_use::Admission;
use crate::gateway::rate_limit::{admits_unreachable, Subject, TakeAnswer};
use crate::gateway::reject::event_log;
use crate::wasm::error::describe_js;
use crate::wasm::global::now_secs;

use super::super::js::console_log;
use super::super::keys_api;
use super::super::response::Rid;
use super::{Call, Configured, Failure, Fed, Need};

impl Configured {
    /// An API key by its hash: the negative cache, else its record (cached
    /// with `do`, else from its store); then its expiry and rate limit. What
    /// it grants is its scopes.
    pub(super) fn verify_api_key<'l>(&self, key: &str, call: &Call, rid: &Rid<'_>, fed: &mut Fed) -> Result<(Identity, Rc<Grants>), Failure<'l>> {
        let unknown = || Failure::Reject(Reason::UnknownApiKey.into());
        let Some(store) = &self.keys else { return Err(Failure::Unavailable) };
        if !api_keys::well_formed(key, &self.cfg.api_key_prefix) {
            return Err(unknown());
        }
        let hash = api_keys::sha256_hex(key);
        let now = now_secs();
        if store.negative.borrow().contains(&hash, now) {
            return Err(unknown());
        }
        let cached = store.shards.as_ref().and_then(|s| s.cached(&hash, now));
        let text = match cached.map(|t| Ok(Some(t))).or_else(|| fed.record.take()) {
            None => return Err(Failure::Need(Need::KeyRecord(hash))),
            Some(Ok(Some(text))) => text,
            Some(Ok(None)) => {
                store.negative.borrow_mut().insert(hash, now);
                return Err(unknown());
            }
            Some(Err(e)) => {
                console_log(&event_log("error", "kv_failed", rid.get(), json!({ "detail": describe_js(&e) })));
                return Err(Failure::Unavailable);
            }
        };
        let Some((record, identity)) = api_keys::record_identity(&text) else {
            console_log(&event_log("error", "key_record_corrupt", rid.get(), json!({})));
            return Err(unknown());
        };
        if let (Some(_), Some(limit), false) = (&self.limits, record.rate_limit, api_keys::expired(&record, now)) {
            match fed.rate.take() {
                None => {
                    // The next pass finds the record where this one did.
                    fed.record = Some(Ok(Some(text)));
                    return Err(Failure::Need(Need::RateLimit { object: Subject::Key(&record.id).object_name(), limit }));
                }
                Some(Ok(TakeAnswer::Limited { retry_after })) => return Err(Failure::Limited(retry_after)),
                Some(Ok(TakeAnswer::Allowed)) => {}
                Some(Err(e)) => {
                    let open = admits_unreachable(self.cfg.stores.unreachable);
                    let detail = json!({ "detail": describe_js(&e), "admitted": open });
                    console_log(&event_log("warn", "rate_limit_unreachable", rid.get(), detail));
                    if !open {
                        return Err(Failure::Unavailable);
                    }
                }
            }
        }
        let admission = store.used.borrow_mut().admit_counted(&record, now, self.limits.is_none());
        match admission {
            Admission::Expired => Err(Failure::Reject(Reason::Expired.into())),
            Admission::Limited { retry_after } => Err(Failure::Limited(retry_after)),
            Admission::Allowed { touch } => {
                if touch {
                    keys_api::touch_later(store, hash, now, &call.ctx, rid);
                }
                Ok((identity, Rc::new(Grants::from_scopes(&record.scopes))))
            }
        }
    }
}
