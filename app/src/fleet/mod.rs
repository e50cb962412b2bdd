//! The fleet: edge nodes that enforce and detect on other machines against this node's Local
//! API. The types (`model`), the server functions (`rpc`) and the Nodes page (`page`).

pub mod model;
pub mod page;
pub mod rpc;
