//! The integration tests, in one binary: the server links all of Leptos, so one test executable
//! instead of one per file saves minutes of linking and gigabytes of disk.

mod common;

mod alerts;
mod audit;
mod backup;
mod authz;
mod cli;
mod console;
mod crowdsec_engine;
mod decisions;
mod export;
mod fleet;
mod fleet_netns;
mod http;
mod import;
mod notify;
mod overview;
mod hub;
mod proxy;
mod scale;
mod serve;
mod sessions;
mod oidc;
mod two_factor;
mod tidy;
mod upgrade;
