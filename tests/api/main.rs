//! End-to-end tests of the real binary and the storage layer against real
//! Azurite. One test binary; `./scripts/test.sh` starts Azurite first.

mod deploy;
mod fakes;
mod graph;
mod handler;
mod helpers;
mod local;
mod package;
mod reconcile;
mod sharepoint;
mod store;
mod sync;
mod web;
mod web_http;
