//! A sleep whose timer and abort listeners are removed when it ends or is
//! dropped, and the abort signals a piece of work obeys.

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::AbortSignal;

use crate::error::{Error, ErrorKind};
use crate::wasm::global::{clear_timeout, set_timeout};

/// The signals a piece of work obeys. `lifetime` is the owner's, `caller`
/// the `signal` the caller passed.
#[derive(Clone, Default)]
pub struct Cancel {
    pub lifetime: Option<AbortSignal>,
    pub caller: Option<AbortSignal>,
}

impl Cancel {
    pub fn new(lifetime: Option<AbortSignal>, caller: Option<AbortSignal>) -> Cancel {
        Cancel { lifetime, caller }
    }

    /// `Err` once any signal has fired: `disposed` for the lifetime,
    /// `aborted` for the caller's.
    pub fn check(&self) -> Result<(), Error> {
        if self.lifetime.as_ref().is_some_and(AbortSignal::aborted) {
            return Err(Error::new(ErrorKind::Disposed, "the client was disposed"));
        }
        if self.caller.as_ref().is_some_and(AbortSignal::aborted) {
            return Err(Error::new(ErrorKind::Aborted, "the operation was aborted by its signal"));
        }
        Ok(())
    }
}

/// Clears the timer and removes the listeners when dropped.
struct Wakers<'a> {
    timer: JsValue,
    wake: Function,
    signals: Vec<&'a AbortSignal>,
}

impl Drop for Wakers<'_> {
    fn drop(&mut self) {
        clear_timeout(&self.timer);
        for s in &self.signals {
            let _ = s.remove_event_listener_with_callback("abort", &self.wake);
        }
    }
}

/// Sleeps `ms` milliseconds; ends early with `aborted`/`disposed` when a
/// signal fires.
pub async fn sleep(ms: u32, cancel: &Cancel) -> Result<(), Error> {
    cancel.check()?;
    let mut wake = None;
    let promise = Promise::new(&mut |resolve, _reject| wake = Some(resolve));
    // The executor runs synchronously, so `wake` is set.
    let wake = wake.unwrap_throw();
    let signals: Vec<&AbortSignal> = cancel.lifetime.iter().chain(cancel.caller.iter()).collect();
    for s in &signals {
        let _ = s.add_event_listener_with_callback("abort", &wake);
    }
    let timer = set_timeout(&wake, ms.min(i32::MAX as u32) as i32);
    let _wakers = Wakers { timer, wake, signals };
    let _ = JsFuture::from(promise).await;
    cancel.check()
}
