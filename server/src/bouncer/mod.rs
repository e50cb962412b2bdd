//! Enforcement: the in-memory decision cache, the loop that keeps it in sync with the LAPI's
//! decision stream, the forward-auth endpoint Caddy asks, and the `charon bouncer` process.

pub mod cache;
pub mod daemon;
pub mod forward_auth;
pub mod go_duration;
pub mod sync;
pub mod unenforced;
mod tables;
