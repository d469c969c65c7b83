//! What each CLI command does; `main.rs` only parses arguments and calls these.

pub mod init;
pub mod package;
pub mod preview;
pub mod reconcile;
pub mod retry;
pub mod serve;
pub mod sync;
pub mod thumbnail;
