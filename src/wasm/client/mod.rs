//! JavaScript bindings of the client: `ClientCore`.
//!
//! The public `MeshClient` is the package's JavaScript layer
//! (`pkg-template/client.js`): it does the IO (fetch with deadlines, sleeps,
//! storage, tabs, events) and asks `ClientCore`, which wraps the sans-IO core
//! (`crate::client`) in synchronous calls, what to do next. Each answer is a
//! step `{ t, ... }` (typed in `pkg-template/steps.d.ts`).

mod convert;
mod core;
mod device;
mod options;
mod records;
mod redirect;
mod rules;
#[cfg(feature = "server")]
mod server;
#[cfg(feature = "server")]
mod terminal;

pub use self::core::ClientCore;

// The browser build allocates little (short strings per call into the core) on one
// thread: a coalescing free list (memory is reused, O(free blocks) per call)
// is ~4 KB of code smaller than dlmalloc. Builds with the gateway, which
// allocates per request, keep dlmalloc.
#[cfg(all(target_arch = "wasm32", not(feature = "gateway")))]
#[global_allocator]
// SAFETY: wasm32-unknown-unknown without atomics runs one thread.
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };
