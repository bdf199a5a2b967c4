//! The `s3://bucket/prefix` store, through aws-sdk-s3 and aws-config's standard credential
//! chain. S3-compatible stores differ from AWS in the corners, so bodies are sent with a known
//! length and a `Content-MD5` instead of the SDK's default `aws-chunked` trailing checksums,
//! which several stores reject or store wrongly.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    ProvideCredentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, Delete, ObjectCannedAcl, ObjectIdentifier,
};
use base64::Engine as _;
use md5::Digest as _;

use super::S3Settings;

use super::sdk::{credentials_source, short_detail, RequestCounter};
use super::{
    attempt_timeout, Headers, LocalFile, ObjectInfo, Store, StoreError, ATTEMPTS, BASE_ATTEMPT,
};

type Result<T, E = StoreError> = std::result::Result<T, E>;

pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
    /// Empty, or ending with `/`.
    prefix: String,
    endpoint: String,
    credentials_source: String,
    counter: RequestCounter,
    /// Files this large or larger go up in parts.
    multipart_threshold: u64,
}

impl S3Store {
    pub async fn connect(settings: &S3Settings) -> Result<S3Store> {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(region) = &settings.region {
            loader = loader.region(Region::new(region.clone()));
        }
        let shared = loader.load().await;
        let counter = RequestCounter::default();
        let mut builder = aws_sdk_s3::config::Builder::from(&shared)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(ATTEMPTS)
                    .with_initial_backoff(Duration::from_millis(100)),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_attempt_timeout(BASE_ATTEMPT)
                    .build(),
            )
            .interceptor(counter.clone());
        if shared.region().is_none() {
            builder = builder.region(Region::new("us-east-1"));
        }
        if let Some(endpoint) = &settings.endpoint_url {
            builder = builder.endpoint_url(endpoint.clone());
        }
        builder = builder.force_path_style(settings.path_style);
        let source = credentials_source();
        let provider = shared
            .credentials_provider()
            .ok_or_else(|| StoreError::NoCredentials {
                looked: source.clone(),
                detail: "no credentials provider is configured".into(),
            })?;
        provider
            .provide_credentials()
            .await
            .map_err(|error| StoreError::NoCredentials {
                looked: source.clone(),
                detail: error.to_string(),
            })?;
        let endpoint = settings
            .endpoint_url
            .clone()
            .unwrap_or_else(|| "AWS S3".to_string());
        Ok(S3Store {
            client: aws_sdk_s3::Client::from_conf(builder.build()),
            bucket: settings.bucket.clone(),
            prefix: settings.prefix.clone(),
            endpoint,
            credentials_source: source,
            counter,
            multipart_threshold: settings.multipart_threshold,
        })
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Types an SDK failure by what the user can do about it.
    fn explain<E: ProvideErrorMetadata + std::error::Error + 'static>(
        &self,
        action: &str,
        error: SdkError<E, HttpResponse>,
    ) -> StoreError {
        let endpoint = self.endpoint.clone();
        let action = action.to_string();
        let detail = short_detail(&error);
        let context = aws_sdk_s3::error::DisplayErrorContext(&error).to_string();
        if matches!(
            error,
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_)
        ) {
            return StoreError::Unreachable {
                endpoint,
                action,
                detail,
                context,
            };
        }
        match error.code() {
            Some(
                code @ ("InvalidAccessKeyId"
                | "SignatureDoesNotMatch"
                | "AccessDenied"
                | "InvalidToken"),
            ) => StoreError::Denied {
                endpoint,
                credentials: self.credentials_source.clone(),
                action,
                code: code.to_string(),
            },
            Some("NoSuchBucket") => StoreError::NoSuchBucket {
                bucket: self.bucket.clone(),
                endpoint,
            },
            _ => StoreError::Failed {
                endpoint,
                action,
                detail,
                context,
            },
        }
    }

    /// Per-request settings: an attempt timeout that fits the bytes being sent.
    fn sized(bytes: u64) -> aws_sdk_s3::config::Builder {
        aws_sdk_s3::config::Builder::default().timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(attempt_timeout(bytes))
                .build(),
        )
    }

    /// A PUT of bytes held in memory with their MD5 and the object's headers.
    /// A PUT that only happens on `condition`: `Ok(false)` when the store refuses it for that
    /// (412: taken or changed; 409: another conditional write is in progress; when replacing,
    /// 404: gone).
    async fn put_on_condition(
        &self,
        name: &str,
        bytes: Vec<u8>,
        headers: &Headers,
        condition: Condition,
    ) -> Result<bool> {
        let md5: [u8; 16] = md5::Md5::digest(&bytes).into();
        let size = bytes.len() as u64;
        let request = self.put_request(name, bytes, &md5, headers);
        // A 404 is a missing bucket when creating, and the object gone when replacing.
        let (request, doing, refused): (_, _, &[u16]) = match condition {
            Condition::Absent => (request.if_none_match("*"), "creating", &[409, 412]),
            Condition::Matches(etag) => (request.if_match(etag), "replacing", &[404, 409, 412]),
        };
        let sent = request
            .customize()
            .config_override(Self::sized(size))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            Err(error)
                if error
                    .raw_response()
                    .is_some_and(|response| refused.contains(&response.status().as_u16())) =>
            {
                Ok(false)
            }
            Err(error) => Err(self.explain(&format!("{doing} {name}"), error)),
        }
    }

    fn put_request(
        &self,
        name: &str,
        bytes: Vec<u8>,
        md5: &[u8; 16],
        headers: &Headers,
    ) -> aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder {
        let length = bytes.len() as i64;
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(self.key(name))
            .content_length(length)
            .content_md5(base64::engine::general_purpose::STANDARD.encode(md5))
            .content_type(&headers.content_type)
            .cache_control(&headers.cache_control)
            .body(ByteStream::from(bytes));
        if let Some(acl) = &headers.acl {
            request = request.acl(ObjectCannedAcl::from(acl.as_str()));
        }
        for (header, value) in &headers.extra {
            request = match header.to_ascii_lowercase().as_str() {
                "content-disposition" => request.content_disposition(value),
                "content-language" => request.content_language(value),
                "content-encoding" => request.content_encoding(value),
                lower => match lower.strip_prefix("x-amz-meta-") {
                    Some(meta) => request.metadata(meta, value),
                    None => request,
                },
            };
        }
        request
    }

    async fn put(
        &self,
        name: &str,
        bytes: Vec<u8>,
        md5: &[u8; 16],
        headers: &Headers,
    ) -> Result<()> {
        let size = bytes.len() as u64;
        self.put_request(name, bytes, md5, headers)
            .customize()
            .config_override(Self::sized(size))
            .send()
            .await
            .map_err(|error| self.explain(&format!("uploading {name}"), error))?;
        Ok(())
    }

    /// Large files go up in parts; their MD5 is kept in metadata, since a multipart ETag is not one.
    async fn put_multipart(&self, name: &str, file: &LocalFile, headers: &Headers) -> Result<()> {
        let key = self.key(name);
        let mut create = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(&key)
            .content_type(&headers.content_type)
            .cache_control(&headers.cache_control)
            .metadata("md5", file.md5_hex());
        if let Some(acl) = &headers.acl {
            create = create.acl(ObjectCannedAcl::from(acl.as_str()));
        }
        let upload = create
            .send()
            .await
            .map_err(|error| self.explain(&format!("starting the upload of {name}"), error))?;
        let upload_id = upload.upload_id().unwrap_or_default().to_string();
        let result = self.send_parts(name, &key, &upload_id, file).await;
        if result.is_err() {
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(&key)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        result
    }

    async fn send_parts(
        &self,
        name: &str,
        key: &str,
        upload_id: &str,
        file: &LocalFile,
    ) -> Result<()> {
        let part_size = self.multipart_threshold;
        let unreadable = |source| StoreError::Unreadable {
            path: file.path.clone(),
            source,
        };
        let mut reader = tokio::fs::File::open(&file.path)
            .await
            .map_err(unreadable)?;
        let mut parts = Vec::new();
        let mut offset = 0u64;
        let mut number = 1;
        let mut whole = md5::Md5::new();
        while offset < file.size {
            let length = part_size.min(file.size - offset);
            let mut buffer = vec![0u8; length as usize];
            tokio::io::AsyncReadExt::read_exact(&mut reader, &mut buffer)
                .await
                .map_err(|_| StoreError::Changed {
                    path: file.path.clone(),
                })?;
            whole.update(&buffer);
            let md5 = md5::Md5::digest(&buffer);
            let part = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .content_length(length as i64)
                .content_md5(base64::engine::general_purpose::STANDARD.encode(md5))
                .body(ByteStream::from(buffer))
                .customize()
                .config_override(Self::sized(length))
                .send()
                .await
                .map_err(|error| {
                    self.explain(&format!("uploading part {number} of {name}"), error)
                })?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(part.e_tag().map(str::to_string))
                    .build(),
            );
            offset += length;
            number += 1;
        }
        if whole.finalize().as_slice() != file.md5 {
            return Err(StoreError::Changed {
                path: file.path.clone(),
            });
        }
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|error| self.explain(&format!("completing the upload of {name}"), error))?;
        Ok(())
    }
}

impl Store for S3Store {
    fn describe(&self) -> String {
        format!("s3://{}/{} at {}", self.bucket, self.prefix, self.endpoint)
    }

    fn requests(&self) -> u64 {
        self.counter.attempts.load(Ordering::Relaxed)
    }

    fn retries(&self) -> u64 {
        let attempts = self.counter.attempts.load(Ordering::Relaxed);
        attempts.saturating_sub(self.counter.operations.load(Ordering::Relaxed))
    }

    /// One paginated listing of the prefix.
    async fn list(&self) -> Result<BTreeMap<String, ObjectInfo>> {
        let mut out = BTreeMap::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&self.prefix)
            .max_keys(1000)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| self.explain("listing the prefix", error))?;
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                let Some(name) = key.strip_prefix(&self.prefix) else {
                    continue;
                };
                let etag = object
                    .e_tag()
                    .unwrap_or_default()
                    .trim_matches('"')
                    .to_ascii_lowercase();
                let md5 = (etag.len() == 32 && etag.chars().all(|c| c.is_ascii_hexdigit()))
                    .then_some(etag);
                let modified = object
                    .last_modified()
                    .and_then(|time| std::time::SystemTime::try_from(*time).ok());
                out.insert(
                    name.to_string(),
                    ObjectInfo {
                        size: object.size().unwrap_or(0).max(0) as u64,
                        md5,
                        modified,
                    },
                );
            }
        }
        Ok(out)
    }

    /// One object's bytes. A body cut off on the way is asked for again, as the SDK asks again
    /// for a request that failed.
    async fn get(&self, name: &str) -> Result<Vec<u8>> {
        let action = format!("reading {name}");
        let mut attempt = 1;
        loop {
            let response = self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(self.key(name))
                .send()
                .await
                .map_err(|error| {
                    if matches!(error.as_service_error(), Some(e) if e.is_no_such_key()) {
                        return StoreError::NotFound {
                            endpoint: self.endpoint.clone(),
                            name: name.to_string(),
                        };
                    }
                    self.explain(&action, error)
                })?;
            let expected = response.content_length();
            match response.body.collect().await {
                Ok(bytes) => {
                    let bytes = bytes.into_bytes().to_vec();
                    let whole = expected.is_none_or(|length| length == bytes.len() as i64);
                    if whole {
                        return Ok(bytes);
                    }
                    if attempt >= ATTEMPTS {
                        return Err(StoreError::Unreachable {
                            endpoint: self.endpoint.clone(),
                            action,
                            detail: format!(
                                "the answer was cut off ({} of {} bytes), {ATTEMPTS} times",
                                bytes.len(),
                                expected.unwrap_or_default()
                            ),
                            context: String::new(),
                        });
                    }
                }
                Err(error) if attempt >= ATTEMPTS => {
                    return Err(StoreError::Unreachable {
                        endpoint: self.endpoint.clone(),
                        action,
                        detail: format!("the answer was cut off, {ATTEMPTS} times"),
                        context: error.to_string(),
                    })
                }
                Err(_) => {}
            }
            attempt += 1;
            tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
        }
    }

    async fn put_file(&self, name: &str, file: &LocalFile, headers: &Headers) -> Result<()> {
        if file.size >= self.multipart_threshold {
            return self.put_multipart(name, file, headers).await;
        }
        let bytes = file.read_unchanged()?;
        self.put(name, bytes, &file.md5, headers).await
    }

    async fn put_bytes(&self, name: &str, bytes: Vec<u8>, headers: &Headers) -> Result<()> {
        let md5: [u8; 16] = md5::Md5::digest(&bytes).into();
        self.put(name, bytes, &md5, headers).await
    }

    async fn put_if_absent(&self, name: &str, bytes: Vec<u8>, headers: &Headers) -> Result<bool> {
        self.put_on_condition(name, bytes, headers, Condition::Absent)
            .await
    }

    async fn replace_if_unchanged(
        &self,
        name: &str,
        expected: &[u8],
        bytes: Vec<u8>,
        headers: &Headers,
    ) -> Result<bool> {
        // An object put in one request has the MD5 of its bytes as its ETag.
        let etag = format!("\"{}\"", hex::encode(md5::Md5::digest(expected)));
        self.put_on_condition(name, bytes, headers, Condition::Matches(etag))
            .await
    }

    async fn delete(&self, names: &[String]) -> Result<()> {
        let mut deleted = 0;
        for chunk in names.chunks(1000) {
            let objects = chunk
                .iter()
                .filter_map(|name| ObjectIdentifier::builder().key(self.key(name)).build().ok())
                .collect::<Vec<_>>();
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|error| StoreError::Failed {
                    endpoint: self.endpoint.clone(),
                    action: "building the delete request".into(),
                    detail: error.to_string(),
                    context: String::new(),
                })?;
            let response = self
                .client
                .delete_objects()
                .bucket(&self.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|error| self.explain("deleting old objects", error))?;
            if let Some(first) = response.errors().first() {
                let key = first.key().unwrap_or_default();
                return Err(StoreError::NotDeleted {
                    endpoint: self.endpoint.clone(),
                    name: key.strip_prefix(&self.prefix).unwrap_or(key).to_string(),
                    detail: first.message().unwrap_or_default().to_string(),
                    deleted: deleted + chunk.len() - response.errors().len(),
                });
            }
            deleted += chunk.len();
        }
        Ok(())
    }
}

/// When a conditional PUT may happen.
enum Condition {
    /// Nothing is stored under the name (`If-None-Match: *`).
    Absent,
    /// What is stored has this ETag (`If-Match`).
    Matches(String),
}
