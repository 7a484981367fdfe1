//! Past one machine: the binary built static, its container image, and the Kubernetes files that split a load
//! run over pods (`deploy/`). What they run is proved in `tests/load/hosts.rs`; these check what they are made of.

#[path = "../support/mod.rs"]
mod support;

mod image;
mod manifests;
mod static_binary;
