//! The pages before a session exists: sign-in (`login_page`) and first-run setup (`setup_page`).
//! Both post plain HTML forms to the server's handlers, so they work without JavaScript.

pub mod login_page;
pub mod setup_page;
