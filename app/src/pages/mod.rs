pub mod hub;
pub mod live_decisions;
pub mod login;
pub mod not_found;
pub mod placeholder;
pub mod security;
pub mod settings;
pub mod setup;
