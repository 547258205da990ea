//! The client's events: `on(name, handler)` returns an unsubscribe function.
//! A handler that throws does not stop the others, nor the SDK.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use js_sys::Function;
use wasm_bindgen::prelude::*;

use crate::error::Error;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// New tokens (payload: the session without tokens).
    Refreshed,
    /// A refresh failed; the session goes on (payload: `{ error }`).
    RefreshFailed,
    /// The session is over (payload: `{ reason, error? }`).
    SessionEnded,
    /// The API rejected the credentials after the retry (payload: `{ error }`).
    Unauthorized,
}

impl Event {
    fn parse(name: &str) -> Option<Event> {
        Some(match name {
            "refreshed" => Event::Refreshed,
            "refreshFailed" => Event::RefreshFailed,
            "sessionEnded" => Event::SessionEnded,
            "unauthorized" => Event::Unauthorized,
            _ => return None,
        })
    }
}

#[derive(Default)]
pub struct Emitter {
    next_id: Cell<u32>,
    handlers: RefCell<Vec<(u32, Event, Function)>>,
}

impl Emitter {
    /// Registers `handler` for `name`; returns the unsubscribe function
    /// (idempotent).
    pub fn on(self: &Rc<Self>, name: &str, handler: JsValue) -> Result<Function, Error> {
        let event = Event::parse(name).ok_or_else(|| {
            Error::config("event", "must be one of refreshed, refreshFailed, sessionEnded, unauthorized")
        })?;
        let handler: Function = handler
            .dyn_into()
            .map_err(|_| Error::config("handler", "must be a function"))?;
        let id = self.next_id.get().wrapping_add(1);
        self.next_id.set(id);
        self.handlers.borrow_mut().push((id, event, handler));
        let weak: Weak<Emitter> = Rc::downgrade(self);
        let off = Closure::<dyn FnMut()>::new(move || {
            if let Some(emitter) = weak.upgrade() {
                emitter.handlers.borrow_mut().retain(|(i, _, _)| *i != id);
            }
        });
        Ok(off.into_js_value().unchecked_into())
    }

    /// Calls every handler of `event` with `payload`. Handlers registered or
    /// removed during the emit take effect next time.
    pub fn emit(&self, event: Event, payload: &JsValue) {
        let targets: Vec<Function> = self
            .handlers
            .borrow()
            .iter()
            .filter(|(_, e, _)| *e == event)
            .map(|(_, _, f)| f.clone())
            .collect();
        for f in targets {
            let _ = f.call1(&JsValue::UNDEFINED, payload);
        }
    }

    pub fn clear(&self) {
        self.handlers.borrow_mut().clear();
    }
}
