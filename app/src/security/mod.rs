//! The Security page: the engine's types (`model`), its server functions (`rpc`), the page
//! (`page`) and its cards (`crowdsec_card` with `bouncer_key_display`, `data_plane_card`), and the
//! lazily loaded Enforcement page (`enforcement_page` with `self_test_card` and `shielded_card`).

pub mod bouncer_key_display;
pub mod crowdsec_card;
pub mod data_plane_card;
pub mod enforcement_page;
pub mod model;
pub mod page;
pub mod rpc;
pub mod self_test_card;
pub mod shielded_card;
