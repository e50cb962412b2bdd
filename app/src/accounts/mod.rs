//! Accounts: who acts (`Role`, `Principal`, the `Admin` capability), users and API tokens — their
//! types (`model`), server functions (`rpc`) and the Settings page (`page`).

pub mod duties;
pub mod model;
pub mod page;
pub mod rpc;
pub mod sessions_page;
pub mod sign_in_page;
pub mod two_factor_page;
