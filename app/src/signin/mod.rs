//! The pages before a session exists: sign-in (`login_page`), its second step (`code_page`) and
//! first-run setup (`setup_page`). They post plain HTML forms to the server's handlers, so they
//! work without JavaScript.

pub mod code_page;
pub mod login_page;
pub mod setup_page;
