//! What this build is: the version and the commit it was built from (stamped by `app/build.rs`).

/// "0.1.0 (3f2a9c1d0b7e)": the version and the commit the release was built from (`dev` for
/// builds outside `make build`).
pub const VERSION_LINE: &str = env!("CHARON_VERSION_LINE");
