//! Enforcement data: the in-memory decision cache and the loop that keeps it in sync with the
//! LAPI's decision stream.

pub mod cache;
pub mod go_duration;
pub mod sync;
