//! photosync: photos dropped into Azure Blob Storage become square thumbnails
//! and Microsoft 365 profile photos.
//!
//! Layers, outermost first: [`commands`] (what the CLI runs), [`handler`] (the
//! Azure Functions custom-handler transport), [`sync`] (the use cases), [`portal`] (the web page's use cases),
//! [`store`] (object storage), [`pipeline`] (pure image work). [`config`]
//! reads settings once; [`telemetry`] sets up logging.

pub mod commands;
pub mod config;
pub mod graph;
pub mod handler;
pub mod html;
pub mod identity;
pub mod memory;
pub mod notify;
pub mod pipeline;
pub mod portal;
pub mod problem;
pub mod renderer;
pub mod resilience;
pub mod sharepoint;
pub mod store;
pub mod sync;
pub mod telemetry;
