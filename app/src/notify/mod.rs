//! Notifications: the channels messages go to and the history of messages (`model`). The REST
//! API serves them; the Settings page comes later.

pub mod model;
