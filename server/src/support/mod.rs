//! Plumbing shared by every topic and owning no domain concept: files, processes, time, cookies.
//! It imports nothing from the rest of the crate.

pub mod cookies;
pub mod files;
pub mod process;
pub mod sealed;
pub mod time;
