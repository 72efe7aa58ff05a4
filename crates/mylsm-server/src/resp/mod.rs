//! The Redis serialization protocol: requests in ([`RequestDecoder`]) and replies out
//! ([`Reply`], in RESP2 or RESP3).

mod reply;
mod request;

pub use reply::{format_double, Protocol, Reply};
pub use request::{parse_int, Limits, ProtocolError, RequestDecoder};
