//! The Charon server. This file is the table of contents: `state` builds the services once
//! (the composition root), `startup` serves them (router, data plane, listener), `api` and `web`
//! are the two doors (REST and the Leptos pages / server functions) to the same services, which
//! live one topic per module. `main.rs` only parses the command line.

pub mod accounts;
pub mod alerts;
pub mod api;
pub mod audit;
pub mod backup;
pub mod auth;
pub mod bouncer;
pub mod cli;
pub mod config;
pub mod console;
pub mod crowdsec;
pub mod db;
pub mod decisions;
pub mod evidence;
pub mod fleet;
pub mod geo;
pub mod housekeeping;
pub mod listener;
pub mod locale;
pub mod metrics;
pub mod notify;
pub mod overview;
pub mod proxy;
pub mod security_headers;
pub mod shutdown;
pub mod startup;
pub mod static_files;
pub mod state;
pub mod support;
pub mod telemetry;
pub mod web;

pub use startup::{router, serve, start_data_plane};
pub use state::AppState;
