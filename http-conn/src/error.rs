//! The one error type of the crate: a response the connection cannot take.

use std::fmt;

/// The sequence number of a request on its connection: 0 for the first, then 1, 2, ...
/// Every [`crate::Event`] carries one, and [`crate::ServerConnection::respond`] takes it
/// back to say which request a response answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub(crate) u64);

impl RequestId {
    /// The position of the request on its connection, counting from 0.
    pub fn sequence(self) -> u64 {
        self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Why [`crate::ServerConnection::respond`] refused a response. Both are caller bugs:
/// the connection state is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RespondError {
    /// No event with this id was handed out yet.
    #[error("request {id} was never handed out by this connection")]
    UnknownRequest {
        /// The id given.
        id: RequestId,
    },
    /// A response for this id was already supplied.
    #[error("request {id} was already answered")]
    AlreadyAnswered {
        /// The id given.
        id: RequestId,
    },
}
