//! The one error type of the crate: a response the connection cannot take.

use crate::RequestId;

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
