//! `serverlab serve`, tested as a user meets it: the real binary on 127.0.0.1 port 0, driven by real clients
//! (std sockets, curl, Python), and the HTTP core driven directly by a fuzzer and a corpus of malformed requests.

#[path = "../support/mod.rs"]
mod support;

mod http_support;

mod caps;
mod errors;
mod event_models;
mod graceful_stop;
mod hostile_clients;
mod http_corpus;
mod http_fuzz;
mod protocols;
mod timing;
