//! Hub presets: the types and curated presets (`model`), the server functions (`rpc`) and the
//! catalogue and item pages (`page`).

pub mod model;
pub mod page;
pub mod rpc;
