//! Pieces every page uses: the clock (now, UTC timestamps, countdowns), the layout with the current user, error messages, the language
//! switcher, the hydration marker, Server-Sent Events subscriptions, the 404 page and links that
//! keep a list's filters.

pub mod clock;
pub mod error_message;
pub mod hydration;
pub mod language_switcher;
pub mod layout;
pub mod not_found;
pub mod query_link;
pub mod server_events;
pub mod theme;
