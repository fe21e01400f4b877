//! The network side: TLS setup, HTTP requests with retries, the stream framer and the
//! background thread. It produces snapshots or errors and hands them to the update policy
//! (`crate::update`); it never touches the store itself, and never evaluates.

pub(crate) mod http;
pub(crate) mod poller;
pub(crate) mod proxy;
pub(crate) mod stop;
pub(crate) mod stream;
pub(crate) mod tls;
