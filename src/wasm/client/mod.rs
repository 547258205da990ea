//! JavaScript bindings of the client: `ClientCore`.
//!
//! The public `MeshClient` is the package's JavaScript layer
//! (`pkg-template/client.js`): it does the IO (fetch with deadlines, sleeps,
//! storage, tabs, events) and asks `ClientCore`, which wraps the sans-IO core
//! (`crate::client`) in synchronous calls, what to do next. Each answer is a
//! step `{ t, ... }` (typed in `pkg-template/steps.d.ts`).

// The redirect-only build uses a few of the shared conversions.
#[cfg_attr(not(feature = "client"), allow(dead_code))]
mod convert;
#[cfg(feature = "client")]
mod core;
#[cfg(feature = "client")]
mod device;
#[cfg(feature = "client")]
mod options;
#[cfg_attr(not(feature = "client"), allow(dead_code))]
mod records;
#[cfg(feature = "redirect")]
mod redirect;
#[cfg(feature = "client")]
mod rules;
#[cfg(feature = "server")]
mod server;
#[cfg(feature = "server")]
mod terminal;

#[cfg(feature = "client")]
pub use self::core::ClientCore;
#[cfg(feature = "redirect")]
pub use self::redirect::RedirectCore;

// The browser build allocates little (short strings per call into the core) on one
// thread: a coalescing free list (memory is reused, O(free blocks) per call)
// is ~4 KB of code smaller than dlmalloc. Builds with the gateway, which
// allocates per request, keep dlmalloc.
#[cfg(all(target_arch = "wasm32", not(feature = "gateway")))]
#[global_allocator]
// SAFETY: wasm32-unknown-unknown without atomics runs one thread.
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };
