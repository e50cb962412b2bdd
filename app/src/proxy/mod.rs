//! Proxy hosts and the data plane: the types (`model`), the server functions (`rpc`) and the page
//! (`page`).

pub mod model;
pub mod page;
pub mod rpc;
