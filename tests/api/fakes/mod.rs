//! Faithful stand-ins for the Microsoft services that cannot run here. Each
//! enforces what the real service enforces and records what it received.

pub mod blob_trigger;
pub mod easy_auth;
pub mod entra;
pub mod functions_host;
pub mod graph;
pub mod photo_load;
pub mod sharepoint;
pub mod trap;
pub mod webhook;
