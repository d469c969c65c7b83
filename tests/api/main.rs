//! End-to-end tests of the real binary and the storage layer against real
//! Azurite. One test binary; `./scripts/test.sh` starts Azurite first.

mod azure_cli;
mod backup;
mod cli_output;
mod deploy;
mod docs;
mod doctor;
mod fakes;
mod field;
mod flow;
mod graph;
mod graph_pace;
mod graph_users;
mod handler;
mod helpers;
mod host;
mod hostile;
mod identity;
mod ledger_index;
mod local;
mod local_bound;
mod notify;
mod package;
mod preview;
mod reconcile;
mod removal;
mod sharepoint;
mod status;
mod storage_proxy;
mod store;
mod sync;
mod web;
mod web_http;
