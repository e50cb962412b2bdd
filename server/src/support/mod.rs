//! Plumbing shared by every topic and owning no domain concept: files, processes, time, cookies,
//! this machine's host name.
//! It imports nothing from the rest of the crate.

pub mod cookies;
pub mod files;
pub mod process;
pub mod sealed;
pub mod time;

/// This machine's host name as the kernel has it; `None` when unreadable or empty.
pub fn host_name() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    Some(name.trim().to_owned()).filter(|n| !n.is_empty())
}
