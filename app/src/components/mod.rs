pub mod bouncer_key_display;
pub mod crowdsec_card;
pub mod data_plane_card;
pub mod error_message;
pub mod hydration;
pub mod language_switcher;
pub mod layout;
pub mod server_events;
