//! Enforcement: the in-memory decision cache, the loop that keeps it in sync with the LAPI's
//! decision stream, the forward-auth endpoint Caddy asks, the `charon bouncer` process and the
//! change feed through which the console follows that process's cache.

pub mod cache;
pub mod daemon;
pub mod feed;
pub mod feed_client;
pub mod forward_auth;
pub mod go_duration;
pub mod scoped;
pub mod sync;
pub mod unenforced;
mod tables;
