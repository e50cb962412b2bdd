//! Live Decisions: the types (`model`), the server functions (`rpc`), the page (`page`) and its
//! allowlist panel (`allowlist_panel`), blocklist import panel (`import_panel`) and the "unban and
//! allow for …" form (`allow_for`, also on an alert's page).

pub mod allow_for;
pub mod allowlist_panel;
pub mod import_panel;
pub mod model;
pub mod page;
pub mod rpc;
