//! The Security page: the engine's types (`model`), its server functions (`rpc`), the page
//! (`page`) and its cards (`crowdsec_card` with `bouncer_key_display`, `data_plane_card`,
//! `shielded_card`, `self_test_card`).

pub mod bouncer_key_display;
pub mod crowdsec_card;
pub mod data_plane_card;
pub mod model;
pub mod page;
pub mod rpc;
pub mod self_test_card;
pub mod shielded_card;
