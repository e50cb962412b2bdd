//! Notifications: the channels messages go to and the history of messages (`model`), the server
//! functions (`rpc`) and the page under Settings (`page`).

pub mod model;
pub mod page;
pub mod rpc;
