//! `serverlab load`: the generator against our servers, tiny misbehaving servers written here, and servers that
//! are not ours (Python's), through the library and the real binary.

#[path = "../support/mod.rs"]
mod support;

mod load_support;

mod classroom;
mod cli;
mod ending;
mod errors;
mod foreign;
mod hold;
mod hosts;
mod http_requests;
mod ports;
mod protocols;
mod ramp;
mod segments;
mod slow;
mod stall;
mod summary;
mod targets;
mod uring;
