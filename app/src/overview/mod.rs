//! The Overview: the landing page after sign-in.

pub mod chart;
pub mod model;
pub mod page;
pub mod rpc;
