//! The network side: TLS setup, HTTP requests with retries, the stream framer and the
//! background thread. It produces snapshots and hands them to the store; it never evaluates.

pub(crate) mod http;
pub(crate) mod poller;
pub(crate) mod stop;
pub mod stream;
pub(crate) mod tls;
