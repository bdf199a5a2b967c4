//! What the AWS SDK clients share: counting the requests they make, and saying in a few words
//! why one failed and where the credentials most likely came from.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::interceptors::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::{BoxError, ProvideErrorMetadata, SdkError};

/// Counts every HTTP attempt the SDK makes, retries included, and every operation, so that
/// their difference is the number of retries.
#[derive(Debug, Clone, Default)]
pub(super) struct RequestCounter {
    pub(super) attempts: Arc<AtomicU64>,
    pub(super) operations: Arc<AtomicU64>,
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "stapler-request-counter"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.operations.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.attempts.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// A few words for a failure that a person reads; the whole chain goes in the error's context.
pub(super) fn short_detail<E: ProvideErrorMetadata + std::error::Error + 'static>(
    error: &SdkError<E, HttpResponse>,
) -> String {
    let root_cause = |error: &dyn std::error::Error| {
        let mut current = error;
        while let Some(next) = current.source() {
            current = next;
        }
        current.to_string()
    };
    match error {
        SdkError::TimeoutError(_) => "no answer in time".into(),
        SdkError::DispatchFailure(failure) if failure.is_timeout() => "no answer in time".into(),
        SdkError::DispatchFailure(_) => root_cause(error),
        SdkError::ResponseError(_) => {
            format!("the answer was cut off ({})", root_cause(error))
        }
        _ => {
            let status = error
                .raw_response()
                .map(|response| format!("HTTP {}", response.status().as_u16()));
            let said = match (error.code(), error.message()) {
                (Some(code), Some(message)) if !message.is_empty() => {
                    Some(format!("{code}: {message}"))
                }
                (Some(code), _) => Some(code.to_string()),
                _ => None,
            };
            match (status, said) {
                (Some(status), Some(said)) => format!("{status}, {said}"),
                (Some(one), None) | (None, Some(one)) => one,
                (None, None) => root_cause(error),
            }
        }
    }
}

/// Which link of the standard chain most likely supplied the credentials, for messages.
pub(super) fn credentials_source() -> String {
    let set = |name: &str| std::env::var_os(name).is_some_and(|value| !value.is_empty());
    if set("AWS_ACCESS_KEY_ID") {
        "the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)".into()
    } else if set("AWS_WEB_IDENTITY_TOKEN_FILE") {
        "web identity (AWS_WEB_IDENTITY_TOKEN_FILE)".into()
    } else if set("AWS_PROFILE") {
        format!(
            "the profile `{}`",
            std::env::var("AWS_PROFILE").unwrap_or_default()
        )
    } else {
        "the default profile, container or instance metadata".into()
    }
}
