//! HTTP/1.1, both roles: the server's session and the client's reply reader, framed by one set of rules.
//!
//! - [`framing`] — where a message and its body end and whether the connection carries another: the head fields
//!   (`Content-Length`, `Transfer-Encoding`, `Connection`) and a streaming body decoder, the same for requests
//!   and replies, so the server and the load generator cannot disagree about a message's length.
//! - [`server`] — the sans-IO session of the one-page server ([`HttpSession`]); [`reply`] writes its answers.
//! - [`client`] — a reply read as it arrives ([`ReplyReader`]), for the load generator.

pub mod client;
pub mod framing;
pub mod reply;
pub mod server;

pub use client::{ReplyReader, ReplyStatus};
pub use framing::MAX_HEAD;
pub use reply::Status;
pub use server::{DEFAULT_MAX_BODY, DEFAULT_PAGE, HttpSession};
