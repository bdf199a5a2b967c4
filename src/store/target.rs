//! Where a store puts objects: a folder laid out like a bucket, or an S3 bucket and prefix.

use std::path::PathBuf;

/// A place objects go: parsed once from `s3://bucket/prefix` or `file:///dir`.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A local directory laid out like a bucket.
    Dir(PathBuf),
    S3(S3Settings),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Dir(path) => write!(f, "file://{}", path.display()),
            Target::S3(s3) => write!(f, "s3://{}/{}", s3.bucket, s3.prefix),
        }
    }
}

/// An S3 bucket and prefix, and how to reach it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct S3Settings {
    pub bucket: String,
    /// Empty, or ending with `/`.
    pub prefix: String,
    /// An S3-compatible endpoint (MinIO, Garage, R2, SeaweedFS) instead of AWS.
    pub endpoint_url: Option<String>,
    /// The region; default from the AWS environment, else `us-east-1`.
    pub region: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`); on by default when `endpoint_url` is set.
    pub path_style: bool,
    /// Files this large or larger go up in parts.
    pub multipart_threshold: u64,
}
