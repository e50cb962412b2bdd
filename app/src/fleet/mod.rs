//! The fleet: edge nodes that enforce and detect on other machines against this node's Local
//! API. The types (`model`); the Nodes page follows.

pub mod model;
