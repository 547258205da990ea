//! Timers that cancel on drop, a cancellable sleep, and the abort signals a
//! piece of work obeys (the client's lifetime and the caller's).
//!
//! Nothing here is needed for correctness of token expiry: callers compare
//! against `Date.now()` on every call, because timers fire late or never
//! after a laptop sleeps or a tab is backgrounded.

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::AbortSignal;

use crate::error::{Error, ErrorKind};
use crate::wasm::global::{clear_timeout, set_timeout};

/// `setTimeout` cleared on drop: no timer outlives its owner.
#[must_use = "the timer is cleared when dropped"]
pub struct Timeout {
    handle: JsValue,
    _callback: Closure<dyn FnMut()>,
}

impl Timeout {
    /// Runs `f` once after `ms` milliseconds (clamped to what `setTimeout`
    /// accepts), unless dropped first.
    pub fn new(ms: u32, f: impl FnOnce() + 'static) -> Timeout {
        let callback = Closure::once(f);
        let handle = set_timeout(callback.as_ref().unchecked_ref(), ms.min(i32::MAX as u32) as i32);
        Timeout { handle, _callback: callback }
    }
}

impl Drop for Timeout {
    fn drop(&mut self) {
        clear_timeout(&self.handle);
    }
}

/// An `abort` listener on a signal, removed on drop.
#[must_use = "the listener is removed when dropped"]
pub struct AbortListener {
    signal: AbortSignal,
    callback: Closure<dyn FnMut()>,
}

impl AbortListener {
    pub fn new(signal: &AbortSignal, f: impl FnMut() + 'static) -> AbortListener {
        let callback = Closure::<dyn FnMut()>::new(f);
        let _ = signal.add_event_listener_with_callback("abort", callback.as_ref().unchecked_ref());
        AbortListener { signal: signal.clone(), callback }
    }
}

impl Drop for AbortListener {
    fn drop(&mut self) {
        let _ = self
            .signal
            .remove_event_listener_with_callback("abort", self.callback.as_ref().unchecked_ref());
    }
}

/// The signals a piece of work obeys. `lifetime` is the client's own signal,
/// aborted by `dispose()`; `caller` is the `signal` the caller passed.
#[derive(Clone, Default)]
pub struct Cancel {
    pub lifetime: Option<AbortSignal>,
    pub caller: Option<AbortSignal>,
}

impl Cancel {
    pub fn new(lifetime: Option<AbortSignal>, caller: Option<AbortSignal>) -> Cancel {
        Cancel { lifetime, caller }
    }

    /// The same lifetime with another caller signal.
    pub fn with_caller(&self, caller: Option<AbortSignal>) -> Cancel {
        Cancel { lifetime: self.lifetime.clone(), caller }
    }

    /// The signals that are set, lifetime first.
    pub fn signals(&self) -> impl Iterator<Item = &AbortSignal> {
        self.lifetime.iter().chain(self.caller.iter())
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

/// A promise and the function that resolves it.
pub(crate) fn deferred() -> (Promise, js_sys::Function) {
    let mut resolve = None;
    let promise = Promise::new(&mut |res, _rej| resolve = Some(res));
    // The executor runs synchronously, so `resolve` is set.
    (promise, resolve.unwrap_throw())
}

/// Sleeps `ms` milliseconds; ends early with `aborted`/`disposed` when a
/// signal fires. Dropping the future clears the timer and the listeners.
pub async fn sleep(ms: u32, cancel: &Cancel) -> Result<(), Error> {
    cancel.check()?;
    let (promise, resolve) = deferred();
    let wake = resolve.clone();
    let _timer = Timeout::new(ms, move || {
        let _ = wake.call0(&JsValue::UNDEFINED);
    });
    let _listeners: Vec<AbortListener> = cancel
        .signals()
        .map(|s| {
            let wake = resolve.clone();
            AbortListener::new(s, move || {
                let _ = wake.call0(&JsValue::UNDEFINED);
            })
        })
        .collect();
    let _ = JsFuture::from(promise).await;
    cancel.check()
}
