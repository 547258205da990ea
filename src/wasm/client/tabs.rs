//! Cross-tab coordination of one session in a browser: the tabs of an app
//! share the session in localStorage, and a refresh token is spent by one
//! tab only.
//!
//! - **Lock.** `navigator.locks.request(name, { mode: 'exclusive' })` where
//!   the Web Locks API exists. The browser releases a lock when its holder's
//!   tab dies, so a tab closed mid-refresh never leaves it stuck. No `steal`,
//!   no `ifAvailable` (supabase-js#936), no acquire timeout that surfaces as
//!   an error (supabase-js#2111, #2426): a waiter re-checks storage on every
//!   signal and at least every [`RECHECK_MS`], and stops waiting as soon as
//!   another tab has stored fresh tokens (or the session ended). The
//!   holder's refresh is bounded by `timeoutMs` (the core's budget).
//! - **Fallback without Web Locks** (old browsers, plain-http origins other
//!   than localhost): a lease in localStorage (`owner|expiresAt`), taken by
//!   write-then-verify after a random delay, released on drop and on
//!   `pagehide`, and expiring `timeoutMs` + 10 s after it was taken if its
//!   tab crashed. Residual risk: localStorage is not atomic across tabs, so
//!   two tabs whose writes cross within the settle delay could both believe
//!   they hold the lease. The holder re-reads the stored session before it
//!   spends the refresh token, which closes most of that window, not all.
//! - **Signals.** A `BroadcastChannel` named `mesh-sdk:<issuer>:<clientId>`
//!   carries `stored` and `ended`, never a token (storage is the source of
//!   truth); `storage` events cover browsers without BroadcastChannel. On
//!   `stored` a tab adopts the newer stored tokens; on `ended` it ends its
//!   session if storage holds none. `visibilitychange` (to visible),
//!   `pageshow` and `online` re-read storage too: browsers run timers late
//!   after sleep, and a tab may have missed the signals while frozen.
//!
//! Only a browser tab (a `document`) whose session is in localStorage gets a
//! coordinator: in Node, workerd, workers and with memory or sessionStorage,
//! [`attach`] touches nothing. Nothing here runs at module load.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;

use js_sys::{Function, Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{AbortController, EventTarget};

use super::convert::get;
use super::events::Event;
use super::session::{emit_ended, ensure_loaded, now, read_stored, session_ended, session_info};
use super::Inner;
use crate::client::{AuthMode, SendStep};
use crate::error::{Error, ErrorKind};
use crate::wasm::global::now_ms;
use crate::wasm::timer::{deferred, sleep, AbortListener, Cancel, Timeout};

/// A lock waiter re-checks storage at least this often.
pub const RECHECK_MS: u32 = 1_000;
/// How often a tab waiting for a lease looks at it again.
const LEASE_POLL_MS: u32 = 100;
/// Random delay before writing a lease, so simultaneous writers spread out.
const LEASE_JITTER_MS: f64 = 40.0;
/// Delay between writing the lease and reading it back: longer than a
/// localStorage write takes to reach the other tabs of a browser.
const LEASE_SETTLE_MS: u32 = 60;
/// A lease outlives the holder's bounded refresh by this much.
const LEASE_MARGIN_MS: f64 = 10_000.0;

#[wasm_bindgen]
extern "C" {
    type LockManager;
    #[wasm_bindgen(method, catch)]
    fn request(this: &LockManager, name: &str, options: &Object, callback: &JsValue) -> Result<LockRequest, JsValue>;

    /// The promise `request` returns; it rejects if the request is refused.
    type LockRequest;
    #[wasm_bindgen(method, js_name = catch)]
    fn catch_with(this: &LockRequest, f: &JsValue);

    type BroadcastChannel;
    #[wasm_bindgen(constructor, catch)]
    fn new(name: &str) -> Result<BroadcastChannel, JsValue>;
    #[wasm_bindgen(method, js_name = postMessage)]
    fn post_message(this: &BroadcastChannel, message: &str);
    #[wasm_bindgen(method)]
    fn close(this: &BroadcastChannel);

    /// `localStorage`; every call can throw (quota, privacy settings).
    #[derive(Clone)]
    type WebStorage;
    #[wasm_bindgen(method, catch, js_name = getItem)]
    fn get_item(this: &WebStorage, key: &str) -> Result<Option<String>, JsValue>;
    #[wasm_bindgen(method, catch, js_name = setItem)]
    fn set_item(this: &WebStorage, key: &str, value: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = removeItem)]
    fn remove_item(this: &WebStorage, key: &str) -> Result<(), JsValue>;
}

fn present(v: JsValue) -> Option<JsValue> {
    (!v.is_undefined() && !v.is_null()).then_some(v)
}

// ---------------------------------------------------------------------------
// The hooks the client uses (see `session::start_refresh`, `MeshClient`).

/// The cross-tab layer of one client, kept in `Inner::tabs`.
pub struct Tabs(Rc<Coordinator>);

/// Sets up the layer for a new client, if it runs in a browser tab with its
/// session in localStorage.
pub fn attach(inner: &Rc<Inner>) {
    if inner.config.mode() == AuthMode::ApiKey || !inner.storage.is_shared() {
        return;
    }
    let weak = Rc::downgrade(inner);
    let issuer = inner.config.issuer_normalized();
    let client_id = inner.config.client_id.as_deref().unwrap_or("");
    let timeout = inner.config.timeout_ms as f64;
    let coordinator = Coordinator::new(issuer, client_id, &inner.storage_key, timeout, move |what, wake| {
        let weak = weak.clone();
        spawn_local(async move {
            if let Some(inner) = weak.upgrade() {
                on_signal(&inner, what).await;
            }
            wake.wake_waiters();
        });
    });
    *inner.tabs.borrow_mut() = coordinator.map(|c| Tabs(Rc::new(c)));
}

/// Removes the listeners and closes the channel (`dispose()`).
pub fn detach(inner: &Inner) {
    inner.tabs.borrow_mut().take();
}

fn coordinator(inner: &Inner) -> Option<Rc<Coordinator>> {
    inner.tabs.borrow().as_ref().map(|t| t.0.clone())
}

/// The name of the cross-tab refresh lock, when there is one.
pub fn lock_name(inner: &Inner) -> Option<String> {
    coordinator(inner).map(|c| c.lock_name.clone())
}

/// Runs the refresh `f` holding the cross-tab lock. `f` does not run at all
/// when, while this tab waited, another tab stored fresh tokens (adopted
/// here) or the session ended.
pub async fn with_lock(inner: &Rc<Inner>, _name: &str, f: impl Future<Output = Result<(), JsValue>>) -> Result<(), JsValue> {
    let Some(c) = coordinator(inner) else { return f.await };
    match c.lock(|| recheck(inner), &inner.cancel(None)).await? {
        Some(_lock) => f.await, // released when `_lock` drops, after storing
        None => Ok(()),
    }
}

/// Tells the other tabs that new tokens are in storage.
pub fn announce_tokens(inner: &Inner) {
    if let Some(c) = coordinator(inner) {
        c.post("stored");
    }
}

/// Tells the other tabs that the session ended here (logout, invalid_grant).
pub fn announce_end(inner: &Inner) {
    if let Some(c) = coordinator(inner) {
        c.post("ended");
    }
}

/// While waiting for the lock: true when the refresh is no longer needed.
async fn recheck(inner: &Rc<Inner>) -> bool {
    if !inner.session.borrow().is_refreshing() {
        return true; // the session ended or was replaced meanwhile
    }
    let stored = read_stored(inner).await.ok().flatten();
    let step = inner.session.borrow_mut().before_send(stored, now());
    match step {
        SendStep::Send { .. } => false, // nothing changed: keep waiting
        SendStep::Skip(_) => {
            inner.events.emit(Event::Refreshed, &session_info(inner.session.borrow().tokens()));
            true
        }
        SendStep::Ended(e) => {
            let _ = session_ended(inner, "expired", &e).await;
            true
        }
    }
}

/// Another tab stored tokens or ended the session, or this tab woke up:
/// storage says what the session is now.
async fn on_signal(inner: &Rc<Inner>, what: Signal) {
    if inner.alive().is_err() {
        return;
    }
    ensure_loaded(inner).await;
    let stored = match read_stored(inner).await {
        Ok(stored) => stored,
        Err(_) => return, // unreadable now: the next call reports it
    };
    match stored {
        Some(tokens) => {
            let adopted = inner.session.borrow_mut().adopt(tokens, now());
            if adopted {
                inner.events.emit(Event::Refreshed, &session_info(inner.session.borrow().tokens()));
            }
        }
        // Storage was emptied by another tab (for a wake-up: while this tab
        // slept and missed the signal).
        None if what != Signal::Stored && inner.session.borrow().tokens().is_some() => {
            let e = Error::new(ErrorKind::SessionEnded, "the session ended in another tab; log in again");
            let e = inner.session.borrow_mut().end(e);
            emit_ended(inner, ErrorKind::SessionEnded.code(), Some(&e));
        }
        None => {}
    }
}

// ---------------------------------------------------------------------------
// The coordinator: lock, lease, channel and listeners. Knows nothing of the
// session; `on_signal` and `recheck` bring the session in.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    /// Another tab stored new tokens.
    Stored,
    /// Another tab's session ended.
    Ended,
    /// The page became visible, came back from the bfcache or back online.
    Wake,
}

/// What the event listeners share with the lock waiters.
struct Shared {
    session_key: String,
    lease_key: String,
    on_signal: Box<dyn Fn(Signal, Rc<Shared>)>,
    /// Resolvers of the waits in progress; any signal wakes them all.
    waiters: RefCell<Vec<Function>>,
}

impl Shared {
    fn wake_waiters(&self) {
        for resolve in self.waiters.take() {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }
    }

    fn signal(self: &Rc<Self>, what: Signal) {
        (self.on_signal)(what, self.clone());
        self.wake_waiters();
    }
}

/// An event listener, removed on drop.
struct Listener {
    target: EventTarget,
    kind: &'static str,
    callback: Closure<dyn FnMut(JsValue)>,
}

impl Listener {
    fn new(target: &JsValue, kind: &'static str, f: impl FnMut(JsValue) + 'static) -> Listener {
        let target: EventTarget = target.clone().unchecked_into();
        let callback = Closure::<dyn FnMut(JsValue)>::new(f);
        let _ = target.add_event_listener_with_callback(kind, callback.as_ref().unchecked_ref());
        Listener { target, kind, callback }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.target.remove_event_listener_with_callback(self.kind, self.callback.as_ref().unchecked_ref());
    }
}

/// This tab's localStorage lease, when it holds one.
#[derive(Clone)]
struct Lease {
    storage: WebStorage,
    key: String,
    value: Rc<RefCell<Option<String>>>,
}

impl Lease {
    /// Removes the lease if it is still ours.
    fn release(&self) {
        if let Some(mine) = self.value.take() {
            if self.storage.get_item(&self.key).ok().flatten().as_deref() == Some(mine.as_str()) {
                let _ = self.storage.remove_item(&self.key);
            }
        }
    }
}

/// The cross-tab lock, released on drop.
#[must_use = "the cross-tab lock is released when dropped"]
struct TabLock {
    /// Resolves the promise the Web Lock callback returned.
    release: Option<Function>,
    /// Withdraws a lock request not granted yet.
    request: Option<AbortController>,
    lease: Option<Lease>,
}

impl TabLock {
    const NONE: TabLock = TabLock { release: None, request: None, lease: None };
}

impl Drop for TabLock {
    fn drop(&mut self) {
        if let Some(release) = &self.release {
            let _ = release.call0(&JsValue::UNDEFINED);
        }
        if let Some(request) = &self.request {
            request.abort();
        }
        if let Some(lease) = &self.lease {
            lease.release();
        }
    }
}

struct Coordinator {
    shared: Rc<Shared>,
    lock_name: String,
    owner: String,
    lease_ms: f64,
    locks: Option<LockManager>,
    storage: Option<WebStorage>,
    channel: Option<BroadcastChannel>,
    lease: Lease,
    _listeners: Vec<Listener>,
}

impl Coordinator {
    /// `None` outside a browser tab. `on_signal` runs in event handlers: it
    /// should start the re-read and return; it gets the waker to call when
    /// done. It must hold no strong reference to the owner of this value.
    fn new(
        issuer: &str,
        client_id: &str,
        session_key: &str,
        timeout_ms: f64,
        on_signal: impl Fn(Signal, Rc<Shared>) + 'static,
    ) -> Option<Coordinator> {
        let global: JsValue = js_sys::global().into();
        let document = present(get(&global, "document"))?;
        let mut name = String::from("mesh-sdk:");
        name.push_str(issuer);
        name.push(':');
        name.push_str(client_id);
        let shared = Rc::new(Shared {
            session_key: session_key.to_owned(),
            lease_key: name.clone() + ":refresh-lease",
            on_signal: Box::new(on_signal),
            waiters: RefCell::new(Vec::new()),
        });
        let locks = present(get(&get(&global, "navigator"), "locks")).map(JsCast::unchecked_into::<LockManager>);
        let storage = present(get(&global, "localStorage")).map(JsCast::unchecked_into::<WebStorage>);
        let channel = present(get(&global, "BroadcastChannel")).and_then(|_| BroadcastChannel::new(&name).ok());
        let lease = Lease {
            storage: storage.clone().unwrap_or_else(|| JsValue::UNDEFINED.unchecked_into()),
            key: shared.lease_key.clone(),
            value: Rc::new(RefCell::new(None)),
        };

        let mut listeners = Vec::new();
        if let Some(channel) = &channel {
            let s = shared.clone();
            listeners.push(Listener::new(channel, "message", move |e| match get(&e, "data").as_string().as_deref() {
                Some("stored") => s.signal(Signal::Stored),
                Some("ended") => s.signal(Signal::Ended),
                _ => {}
            }));
        }
        if storage.is_some() {
            let s = shared.clone();
            listeners.push(Listener::new(&global, "storage", move |e| match get(&e, "key").as_string() {
                None => s.signal(Signal::Ended), // localStorage.clear() in another tab
                Some(k) if k == s.session_key => {
                    s.signal(if get(&e, "newValue").is_null() { Signal::Ended } else { Signal::Stored })
                }
                Some(k) if k == s.lease_key => s.wake_waiters(),
                _ => {}
            }));
            let lease = lease.clone();
            listeners.push(Listener::new(&global, "pagehide", move |_| lease.release()));
        }
        let s = shared.clone();
        let doc = document.clone();
        listeners.push(Listener::new(&document, "visibilitychange", move |_| {
            if get(&doc, "visibilityState").as_string().as_deref() == Some("visible") {
                s.signal(Signal::Wake);
            }
        }));
        for kind in ["pageshow", "online"] {
            let s = shared.clone();
            listeners.push(Listener::new(&global, kind, move |_| s.signal(Signal::Wake)));
        }

        Some(Coordinator {
            shared,
            lock_name: name + ":refresh",
            owner: format!("{:x}{:x}", js_sys::Math::random().to_bits(), now_ms() as u64),
            lease_ms: timeout_ms.max(0.0) + LEASE_MARGIN_MS,
            locks,
            storage,
            channel,
            lease,
            _listeners: listeners,
        })
    }

    fn post(&self, message: &str) {
        if let Some(channel) = &self.channel {
            channel.post_message(message);
        }
    }

    /// Waits for the cross-tab lock; `Ok(None)` when `recheck` (run after
    /// every signal and at least every [`RECHECK_MS`]) says the refresh is
    /// no longer needed. Fails only when `cancel` fires, never because the
    /// lock took long.
    async fn lock<F, Fut>(&self, mut recheck: F, cancel: &Cancel) -> Result<Option<TabLock>, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        if let Some(locks) = &self.locks {
            if let Some(outcome) = self.web_lock(locks, &mut recheck, cancel).await? {
                return Ok(outcome);
            }
            // The browser refused the request at once: use the lease.
        }
        match &self.storage {
            Some(storage) => self.lease(storage, &mut recheck, cancel).await,
            None => Ok(Some(TabLock::NONE)), // nothing to coordinate with
        }
    }

    /// `Ok(None)` when the browser refused the request.
    async fn web_lock<F, Fut>(&self, locks: &LockManager, recheck: &mut F, cancel: &Cancel) -> Result<Option<Option<TabLock>>, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        let granted = Rc::new(Cell::new(false));
        let refused = Rc::new(Cell::new(false));
        let (held, release) = deferred();
        let controller = AbortController::new().ok();
        // Dropping the guard releases the lock, or withdraws the request.
        let guard = TabLock { release: Some(release), request: controller.clone(), lease: None };

        let options = Object::new();
        let _ = Reflect::set(&options, &"mode".into(), &"exclusive".into());
        if let Some(c) = &controller {
            let _ = Reflect::set(&options, &"signal".into(), &c.signal());
        }
        let (s, flag) = (self.shared.clone(), granted.clone());
        // Held until `held` settles: until the guard drops, or the tab dies.
        let on_grant = Closure::once_into_js(move |_lock: JsValue| -> JsValue {
            flag.set(true);
            s.wake_waiters();
            held.into()
        });
        let (s, flag, g) = (self.shared.clone(), refused.clone(), granted.clone());
        let on_refused = Closure::once_into_js(move |_e: JsValue| {
            if !g.get() {
                flag.set(true);
                s.wake_waiters();
            }
        });
        match locks.request(&self.lock_name, &options, &on_grant) {
            Ok(request) => request.catch_with(&on_refused),
            Err(_) => return Ok(None),
        }
        loop {
            if granted.get() {
                return Ok(Some(Some(guard)));
            }
            if refused.get() {
                return Ok(None);
            }
            self.wait(RECHECK_MS, cancel).await?;
            if !granted.get() && !refused.get() && recheck().await {
                return Ok(Some(None));
            }
        }
    }

    async fn lease<F, Fut>(&self, storage: &WebStorage, recheck: &mut F, cancel: &Cancel) -> Result<Option<TabLock>, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        let key = &self.shared.lease_key;
        loop {
            if self.lease_free(storage) {
                sleep((js_sys::Math::random() * LEASE_JITTER_MS) as u32, cancel).await?;
                if self.lease_free(storage) {
                    let value = format!("{}|{}", self.owner, (now_ms() + self.lease_ms) as i64);
                    if storage.set_item(key, &value).is_err() {
                        return Ok(Some(TabLock::NONE)); // storage refuses writes: no lease to take
                    }
                    sleep(LEASE_SETTLE_MS, cancel).await?;
                    if storage.get_item(key).ok().flatten().as_deref() == Some(value.as_str()) {
                        self.lease.value.replace(Some(value));
                        return Ok(Some(TabLock { release: None, request: None, lease: Some(self.lease.clone()) }));
                    }
                }
            }
            self.wait(LEASE_POLL_MS, cancel).await?;
            if recheck().await {
                return Ok(None);
            }
        }
    }

    /// Free: absent, unreadable, expired, or ours.
    fn lease_free(&self, storage: &WebStorage) -> bool {
        let Ok(Some(value)) = storage.get_item(&self.shared.lease_key) else {
            return true;
        };
        let (owner, expires) = value.split_once('|').unwrap_or(("", "0"));
        owner == self.owner || expires.parse::<f64>().map_or(true, |e| e <= now_ms())
    }

    /// Sleeps up to `ms`, waking early on any signal or lock grant.
    async fn wait(&self, ms: u32, cancel: &Cancel) -> Result<(), Error> {
        cancel.check()?;
        let (promise, resolve) = deferred();
        self.shared.waiters.borrow_mut().push(resolve.clone());
        let wake = |r: &Function| {
            let r = r.clone();
            move || {
                let _ = r.call0(&JsValue::UNDEFINED);
            }
        };
        let _timer = Timeout::new(ms, wake(&resolve));
        let _aborts: Vec<AbortListener> = cancel.signals().map(|s| AbortListener::new(s, wake(&resolve))).collect();
        let _ = JsFuture::from(promise).await;
        let resolve: &JsValue = resolve.as_ref();
        self.shared.waiters.borrow_mut().retain(|f| AsRef::<JsValue>::as_ref(f) != resolve);
        cancel.check()
    }
}

impl Drop for Coordinator {
    fn drop(&mut self) {
        if let Some(channel) = &self.channel {
            channel.close();
        }
        self.lease.release();
        self.shared.wake_waiters();
    }
}
