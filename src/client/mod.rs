//! Sans-IO client core: no IO, no clock, no wasm_bindgen. See crate docs.
