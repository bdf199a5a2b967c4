//! Why a store could not do what was asked, typed by what the user can do about it.

use std::path::PathBuf;

/// Why a store could not do what was asked, typed by what the user can do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No connection, a timeout, a dropped connection: the endpoint could not be talked to.
    #[error(
        "cannot reach {endpoint} while {action}: {detail}; check `endpoint_url` and the network"
    )]
    Unreachable {
        endpoint: String,
        action: String,
        /// A few words a person reads (`connection refused`, `no answer within 20 s`).
        detail: String,
        /// The client library's whole account, shown only with `-v`.
        context: String,
    },
    /// The store answered and refused the credentials.
    #[error("{endpoint} refused the credentials from {credentials} while {action} ({code}); check the access key and secret")]
    Denied {
        endpoint: String,
        credentials: String,
        action: String,
        code: String,
    },
    #[error("bucket `{bucket}` does not exist at {endpoint}; create it or fix `to`")]
    NoSuchBucket { bucket: String, endpoint: String },
    /// No credentials could be found at all.
    #[error("no usable AWS credentials (looked in {looked}): {detail}; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE")]
    NoCredentials { looked: String, detail: String },
    /// Any other answer the store gave.
    #[error("{endpoint} failed while {action}: {detail}")]
    Failed {
        endpoint: String,
        action: String,
        detail: String,
        /// The client library's whole account, shown only with `-v`.
        context: String,
    },
    /// The object does not exist (any more).
    #[error("{name}: no such object at {endpoint}")]
    NotFound { endpoint: String, name: String },
    /// The store refused to delete some objects.
    #[error("{endpoint} could not delete {name} ({detail}); {deleted} other object(s) were deleted; rerun to finish pruning")]
    NotDeleted {
        endpoint: String,
        name: String,
        detail: String,
        /// How many objects were deleted before the refusal.
        deleted: usize,
    },
    /// CloudFront refused or failed an invalidation.
    #[error("CloudFront distribution {distribution} did not take the invalidation: {message}")]
    Invalidation {
        distribution: String,
        message: String,
    },
    /// A local file changed between planning and sending.
    #[error("{}: changed while publishing; rerun `stapler publish`", path.display())]
    Changed { path: PathBuf },
    /// A local file to send could not be read.
    #[error("{}: vanished or became unreadable while publishing ({source}); rerun", path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The directory store could not read or write its own files.
    #[error("{}: {action} failed: {source}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        source: std::io::Error,
    },
    /// An object name that would leave the store's directory.
    #[error("{name}: is not a safe object name")]
    UnsafeName { name: String },
}

impl StoreError {
    /// The client library's own account of the failure, for `-v`.
    pub fn context(&self) -> Option<&str> {
        match self {
            StoreError::Unreachable { context, .. } | StoreError::Failed { context, .. }
                if !context.is_empty() =>
            {
                Some(context)
            }
            _ => None,
        }
    }

    /// Whether the store as a whole is out of reach (so asking again is pointless), as opposed
    /// to one request failing.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Unreachable { .. }
                | StoreError::Denied { .. }
                | StoreError::NoSuchBucket { .. }
                | StoreError::NoCredentials { .. }
        )
    }
}
