//! Alerts, the "why" behind decisions: the types (`model`), the server functions (`rpc`), the list
//! page and the detail page (`page`).

pub mod model;
pub mod page;
pub mod rpc;
