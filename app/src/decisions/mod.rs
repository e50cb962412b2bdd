//! Live Decisions: the types (`model`), the server functions (`rpc`), the page (`page`) and its
//! allowlist panel (`allowlist_panel`) and blocklist import panel (`import_panel`).

pub mod allowlist_panel;
pub mod import_panel;
pub mod model;
pub mod page;
pub mod rpc;
