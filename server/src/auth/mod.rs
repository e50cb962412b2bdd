//! Authentication and authorisation: who is calling (session cookie or bearer token), whether they
//! may, and the sign-in, first-run setup and sign-out endpoints.

pub mod handlers;
pub mod middleware;
pub mod password;
pub mod rate_limit;
pub mod secret;
pub mod session;
