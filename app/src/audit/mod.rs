//! The audit log, read: who changed what through Charon, and when (administrators only). The
//! types (`model`), the server function (`rpc`) and the page (`page`).

pub mod model;
pub mod page;
pub mod rpc;
