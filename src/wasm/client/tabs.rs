//! Cross-tab coordination in browsers, for sessions kept in `localStorage`
//! (the only storage the tabs of an origin share).
//!
//! - **One refresh for all tabs.** The refresh runs under the Web Lock
//!   `<storage key>` (`navigator.locks.request`). The browser releases a lock
//!   whose tab closed mid-refresh, so no lock is orphaned. Under the lock the
//!   holder re-reads storage first and adopts tokens another tab stored, so
//!   a refresh token is never spent twice.
//! - **Without Web Locks**, a lease in `localStorage` (`<key>:lock` =
//!   `owner|until`) written, left to settle, and read back serves as the
//!   lock; it is given back on `pagehide`, and a crashed holder's lease
//!   lapses `timeoutMs + 5 s` after it was taken.
//! - **News travels over BroadcastChannel** (`<key>`): `tokens` (re-read
//!   storage and adopt; tokens never go over the channel) and `ended`
//!   (logout or a dead grant ends the session in every tab). `storage`
//!   events on the session key say the same where BroadcastChannel is
//!   missing (Safari before 15.4 lacks it and Web Locks alike).
//! - Residual risks: a lease is not atomic (two tabs whose writes cross
//!   within the settle delay could both hold it; the re-read under the lock
//!   narrows that), and a localStorage write reaches other tabs after some
//!   delay that no API bounds (see [`STORAGE_SETTLE_MS`]).
//! - Browsers run timers late in sleeping tabs, so the session is re-read on
//!   `visibilitychange`, `pageshow` and `online`.
//! - Waiting for the lock is bounded (`3 * timeoutMs`): past that the tab
//!   goes on without it (re-reading storage first) rather than hang.

use std::future::Future;
use std::rc::{Rc, Weak};

use js_sys::{Object, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{AbortController, EventTarget};

use super::convert::{get, set};
use super::events::Event;
use super::session::{emit_ended, now, read_stored, session_info};
use super::Inner;
use crate::client::oauth::itoa;
use crate::error::{Error, ErrorKind};
use crate::wasm::timer::{sleep, Timeout};

#[wasm_bindgen]
extern "C" {
    type LockManager;
    #[wasm_bindgen(method, catch)]
    fn request(this: &LockManager, name: &str, options: &JsValue, callback: &JsValue) -> Result<Promise, JsValue>;

    type BroadcastChannel;
    #[wasm_bindgen(constructor, catch)]
    fn new(name: &str) -> Result<BroadcastChannel, JsValue>;
    #[wasm_bindgen(method, js_name = postMessage, catch)]
    fn post_message(this: &BroadcastChannel, message: &JsValue) -> Result<(), JsValue>;
    #[wasm_bindgen(method)]
    fn close(this: &BroadcastChannel);
}

/// A listener on a global event target, removed on drop.
struct Listener {
    target: EventTarget,
    event: &'static str,
    callback: Closure<dyn FnMut(JsValue)>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.target.remove_event_listener_with_callback(self.event, self.callback.as_ref().unchecked_ref());
    }
}

/// What a client holds for cross-tab work; dropped by `dispose()`.
pub struct Tabs {
    channel: Option<BroadcastChannel>,
    _listeners: Vec<Listener>,
    /// The localStorage lease this tab holds (key, value): given back on
    /// `pagehide`, so a tab closed mid-refresh blocks no other tab.
    lease: std::cell::RefCell<Option<(String, String)>>,
    /// Set when this tab stored new tokens (see [`settle_after_write`]).
    wrote: std::cell::Cell<bool>,
}

impl Drop for Tabs {
    fn drop(&mut self) {
        if let Some(c) = &self.channel {
            c.close();
        }
    }
}

/// Sets up the channel and wake-up listeners when the storage is shared.
pub fn attach(inner: &Rc<Inner>) {
    if !inner.storage.is_shared() {
        return;
    }
    let channel = BroadcastChannel::new(&inner.storage_key).ok();
    let mut listeners = Vec::new();
    if let Some(c) = &channel {
        let target: &EventTarget = c.unchecked_ref();
        listeners.push(listen(target, "message", inner, |inner, event| {
            let data = get(&event, "data");
            match get(&data, "type").as_string().as_deref() {
                Some("tokens") => spawn_local(recheck(inner)),
                Some("ended") => ended_elsewhere(&inner, &get(&data, "reason").as_string().unwrap_or_default()),
                _ => {}
            }
        }));
    }
    let global: EventTarget = js_sys::global().unchecked_into();
    if get(&global, "addEventListener").is_function() {
        for event in ["pageshow", "online"] {
            listeners.push(listen(&global, event, inner, |inner, _| spawn_local(recheck(inner))));
        }
        // Browsers without BroadcastChannel still see the session key change.
        listeners.push(listen(&global, "storage", inner, |inner, event| {
            if get(&event, "key").as_string().as_deref() == Some(inner.storage_key.as_str()) {
                match get(&event, "newValue").is_null() {
                    true => ended_elsewhere(&inner, ""),
                    false => spawn_local(recheck(inner)),
                }
            }
        }));
        listeners.push(listen(&global, "pagehide", inner, |inner, _| release_lease(&inner)));
    }
    // `visibilitychange` fires on document, not on the global.
    let document = get(&js_sys::global(), "document");
    if document.is_object() {
        let target: EventTarget = document.unchecked_into();
        listeners.push(listen(&target, "visibilitychange", inner, |inner, _| spawn_local(recheck(inner))));
    }
    *inner.tabs.borrow_mut() = Some(Tabs { channel, _listeners: listeners, lease: Default::default(), wrote: Default::default() });
}

fn listen(target: &EventTarget, event: &'static str, inner: &Rc<Inner>, f: fn(Rc<Inner>, JsValue)) -> Listener {
    let weak: Weak<Inner> = Rc::downgrade(inner);
    let callback = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
        if let Some(inner) = weak.upgrade() {
            if inner.alive().is_ok() {
                f(inner, e);
            }
        }
    });
    let _ = target.add_event_listener_with_callback(event, callback.as_ref().unchecked_ref());
    Listener { target: target.clone(), event, callback }
}

pub fn detach(inner: &Inner) {
    inner.tabs.borrow_mut().take();
}

/// Adopts newer tokens another tab stored. While this tab refreshes, the
/// refresh itself re-reads storage under the lock, so nothing is done here:
/// adopting mid-refresh could send a refresh token another tab already spent.
async fn recheck(inner: Rc<Inner>) {
    if inner.inflight.borrow().is_some() {
        return;
    }
    if let Ok(Some(stored)) = read_stored(&inner).await {
        if inner.inflight.borrow().is_none() && inner.session.borrow_mut().adopt(stored, now()) {
            inner.events.emit(Event::Refreshed, &session_info(inner.session.borrow().tokens()));
        }
    }
}

/// Another tab logged out or saw the grant die.
fn ended_elsewhere(inner: &Inner, reason: &str) {
    if inner.session.borrow().tokens().is_none() {
        return;
    }
    let error = Error::new(ErrorKind::SessionEnded, "the session ended in another tab");
    let _ = inner.session.borrow_mut().end(error.clone());
    let reason = if reason.is_empty() { "ended_elsewhere" } else { reason };
    emit_ended(inner, reason, Some(&error));
}

fn post(inner: &Inner, kind: &str, reason: Option<&str>) {
    let tabs = inner.tabs.borrow();
    let Some(channel) = tabs.as_ref().and_then(|t| t.channel.as_ref()) else { return };
    let message = Object::new();
    set(&message, "type", &JsValue::from_str(kind));
    if let Some(r) = reason {
        set(&message, "reason", &JsValue::from_str(r));
    }
    let _ = channel.post_message(&message);
}

/// Tells the other tabs that new tokens are in storage.
pub fn announce_tokens(inner: &Inner) {
    if let Some(t) = inner.tabs.borrow().as_ref() {
        t.wrote.set(true);
    }
    post(inner, "tokens", None);
}

/// Chromium hands a localStorage write to the other tabs' processes
/// asynchronously, apart from the Web Lock: in a probe (two tabs, the lock
/// released right after `setItem`) the next holder read the old value in
/// 58 of 100 handoffs, in 1 with a 1 ms pause, in none with 20 ms. The old
/// value holds the spent refresh token, so a holder that stored new tokens
/// keeps the lock a little longer.
const STORAGE_SETTLE_MS: u32 = 50;

async fn settle_after_write(inner: &Inner) {
    let wrote = inner.tabs.borrow().as_ref().is_some_and(|t| t.wrote.replace(false));
    if wrote {
        let _ = sleep(STORAGE_SETTLE_MS, &inner.cancel(None)).await;
    }
}

/// Tells the other tabs that the session ended.
pub fn announce_end(inner: &Inner, reason: &str) {
    post(inner, "ended", Some(reason));
}

/// The lock's name, when refreshes must be coordinated across tabs.
pub fn lock_name(inner: &Inner) -> Option<String> {
    inner.storage.is_shared().then(|| inner.storage_key.clone())
}

/// Runs `f` holding the cross-tab lock `name`.
pub async fn with_lock<F>(inner: &Rc<Inner>, name: &str, f: F) -> Result<(), JsValue>
where
    F: Future<Output = Result<(), JsValue>> + 'static,
{
    let wait_ms = inner.timeout_ms().saturating_mul(3);
    let locks = get(&get(&js_sys::global(), "navigator"), "locks");
    if !locks.is_object() {
        return with_lease(inner, name, wait_ms, f).await;
    }
    let locks: LockManager = locks.unchecked_into();
    // Bounded wait: past it, go on without the lock (the refresh re-reads
    // storage first) instead of surfacing a lock error.
    let give_up = AbortController::new()?;
    let stop = give_up.clone();
    let _timer = Timeout::new(wait_ms, move || stop.abort());
    let options = Object::new();
    set(&options, "signal", &give_up.signal());
    let task = Rc::new(std::cell::RefCell::new(Some(f)));
    let in_lock = task.clone();
    let holder = inner.clone();
    let callback = Closure::once_into_js(move |_lock: JsValue| -> Promise {
        let f = in_lock.borrow_mut().take();
        if let Some(t) = holder.tabs.borrow().as_ref() {
            t.wrote.set(false);
        }
        super::promise(async move {
            let Some(f) = f else { return Ok(JsValue::UNDEFINED) };
            let result = f.await;
            settle_after_write(&holder).await;
            result.map(|_| JsValue::UNDEFINED)
        })
    });
    match locks.request(name, &options, &callback) {
        Ok(p) => match JsFuture::from(p).await {
            Ok(_) => Ok(()),
            // The lock was never granted (wait bounded, or no lock support in
            // this context): run unlocked.
            Err(e) if task.borrow().is_some() && is_abort(&e) => run_unlocked(task).await,
            Err(e) => Err(e),
        },
        Err(_) => run_unlocked(task).await,
    }
}

async fn run_unlocked<F>(task: Rc<std::cell::RefCell<Option<F>>>) -> Result<(), JsValue>
where
    F: Future<Output = Result<(), JsValue>>,
{
    let f = task.borrow_mut().take();
    match f {
        Some(f) => f.await,
        None => Ok(()),
    }
}

fn is_abort(e: &JsValue) -> bool {
    get(e, "name").as_string().as_deref() == Some("AbortError")
}

/// The fallback lock: a lease in `localStorage`.
async fn with_lease<F>(inner: &Rc<Inner>, name: &str, wait_ms: u32, f: F) -> Result<(), JsValue>
where
    F: Future<Output = Result<(), JsValue>>,
{
    let key = String::from(name) + ":lock";
    let me = itoa((js_sys::Math::random() * 9.0e15) as i64);
    let cancel = inner.cancel(None);
    let give_up_at = now() + wait_ms as i64;
    let mut held = false;
    // Bounded by `give_up_at`; every round sleeps at least 50 ms.
    while now() < give_up_at {
        let (owner, until) = read_lease(inner, &key).await;
        if owner.as_deref().is_some_and(|o| o != me) && until > now() {
            sleep(50 + (js_sys::Math::random() * 100.0) as u32, &cancel).await?;
            continue;
        }
        // The holder's refresh ends within `timeoutMs` (its attempts share
        // that budget); the margin covers storing the result.
        let lease = me.clone() + "|" + &itoa(now() + inner.timeout_ms() as i64 + 5_000);
        let _ = inner.storage.write(&key, &lease).await;
        // Let racing tabs' writes land, then see who won.
        sleep(100, &cancel).await?;
        if read_lease(inner, &key).await.0.as_deref() == Some(me.as_str()) {
            held = true;
            break;
        }
    }
    if held {
        if let Some(t) = inner.tabs.borrow().as_ref() {
            t.lease.replace(Some((key.clone(), me.clone())));
        }
    }
    let result = f.await;
    if held {
        release_lease(inner);
    }
    result
}

/// Removes this tab's lease if it is still ours. Synchronous (localStorage),
/// so it also works in `pagehide`, as the tab goes away.
fn release_lease(inner: &Inner) {
    let held = inner.tabs.borrow().as_ref().and_then(|t| t.lease.take());
    let Some((key, me)) = held else { return };
    let storage = get(&js_sys::global(), "localStorage");
    let Ok(get_item) = get(&storage, "getItem").dyn_into::<js_sys::Function>() else { return };
    let current = get_item.call1(&storage, &JsValue::from_str(&key)).ok().and_then(|v| v.as_string());
    if current.is_some_and(|v| v.split('|').next() == Some(me.as_str())) {
        let _ = inner.storage.remove(&key); // removeItem runs before this returns
    }
}

async fn read_lease(inner: &Inner, key: &str) -> (Option<String>, i64) {
    let Ok(Some(value)) = inner.storage.read(key).await else { return (None, 0) };
    let mut parts = value.splitn(2, '|');
    let owner = parts.next().map(str::to_owned);
    let until = parts.next().and_then(|u| u.parse::<i64>().ok()).unwrap_or(0);
    (owner, until)
}
