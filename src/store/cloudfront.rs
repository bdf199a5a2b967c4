//! CloudFront invalidations: after a publish, the CDN is told to forget the names whose
//! content changed and whose names are not content-hashed (the only ones it can serve stale).
//! Batched, each request at most [`BATCH`] paths; past `max_paths` one wildcard for the
//! prefix replaces them. The credentials are the AWS SDK's chain, as for S3.

use std::time::{Duration, Instant, SystemTime};

use aws_sdk_cloudfront::types::{InvalidationBatch, Paths};
use aws_sdk_cloudfront::Client;

use aws_sdk_cloudfront::config::http::HttpResponse;
use aws_sdk_cloudfront::error::{ProvideErrorMetadata, SdkError};

use super::sdk::short_detail;
use super::StoreError;

/// Paths per invalidation request: CloudFront accepts 3,000 paths in progress per
/// distribution, so a batch leaves room for other publishes' requests.
pub const BATCH: usize = 1000;

/// Where and how to invalidate.
#[derive(Debug, Clone)]
pub struct Invalidator {
    pub distribution_id: String,
    /// The URL path the published prefix is served at (`/` or `/static/`).
    pub path_prefix: String,
    /// Past this many paths, one wildcard for `path_prefix` is sent instead.
    pub max_paths: usize,
    /// An endpoint other than AWS's (a local implementation of the API, in tests).
    pub endpoint_url: Option<String>,
    pub region: Option<String>,
}

/// What was asked of CloudFront.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Invalidated {
    /// The invalidation requests' ids.
    pub ids: Vec<String>,
    /// The paths sent, wildcard included.
    pub paths: Vec<String>,
    /// Whether every request completed (only known with `wait`).
    pub completed: bool,
}

impl Invalidator {
    /// The paths for these object names: URL-encoded, under `path_prefix`, or the wildcard.
    pub fn paths(&self, names: &[String]) -> Vec<String> {
        let prefix = format!("/{}", self.path_prefix.trim_matches('/'));
        let prefix = if prefix == "/" {
            prefix
        } else {
            format!("{prefix}/")
        };
        if names.len() > self.max_paths {
            return vec![format!("{prefix}*")];
        }
        let mut paths: Vec<String> = names
            .iter()
            .map(|name| format!("{prefix}{}", encode(name)))
            .collect();
        paths.sort();
        paths.dedup();
        paths
    }

    /// Invalidates `names`, in batches; with `wait`, until CloudFront says each is done
    /// (at most `wait_for`).
    pub async fn invalidate(
        &self,
        names: &[String],
        wait: bool,
        wait_for: Duration,
    ) -> Result<Invalidated, StoreError> {
        let paths = self.paths(names);
        let mut done = Invalidated {
            paths: paths.clone(),
            ..Invalidated::default()
        };
        if paths.is_empty() {
            done.completed = true;
            return Ok(done);
        }
        let client = self.client().await;
        let stamp = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|since| since.as_nanos())
            .unwrap_or_default();
        for (index, batch) in paths.chunks(BATCH).enumerate() {
            let batch_paths = Paths::builder()
                .quantity(batch.len() as i32)
                .set_items(Some(batch.to_vec()))
                .build()
                .map_err(|error| failed(&self.distribution_id, error.to_string()))?;
            let request = InvalidationBatch::builder()
                .paths(batch_paths)
                .caller_reference(format!("stapler-{stamp}-{index}"))
                .build()
                .map_err(|error| failed(&self.distribution_id, error.to_string()))?;
            let created = client
                .create_invalidation()
                .distribution_id(&self.distribution_id)
                .invalidation_batch(request)
                .send()
                .await
                .map_err(|error| self.sdk_failed(error))?;
            if let Some(id) = created.invalidation().map(|i| i.id().to_string()) {
                done.ids.push(id);
            }
        }
        if wait {
            done.completed = self.wait(&client, &done.ids, wait_for).await?;
        }
        Ok(done)
    }

    async fn wait(
        &self,
        client: &Client,
        ids: &[String],
        wait_for: Duration,
    ) -> Result<bool, StoreError> {
        let until = Instant::now() + wait_for;
        for id in ids {
            loop {
                let got = client
                    .get_invalidation()
                    .distribution_id(&self.distribution_id)
                    .id(id)
                    .send()
                    .await
                    .map_err(|error| self.sdk_failed(error))?;
                let status = got.invalidation().map(|i| i.status().to_string());
                if status
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case("completed"))
                {
                    break;
                }
                if Instant::now() >= until {
                    return Ok(false);
                }
                tokio::time::sleep(Duration::from_secs(5).min(until - Instant::now())).await;
            }
        }
        Ok(true)
    }

    fn sdk_failed<E>(&self, error: SdkError<E, HttpResponse>) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        failed(&self.distribution_id, short_detail(&error))
    }

    async fn client(&self) -> Client {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        // CloudFront is a global service, signed for us-east-1.
        loader = loader.region(aws_config::Region::new(
            self.region.clone().unwrap_or_else(|| "us-east-1".into()),
        ));
        if let Some(endpoint) = &self.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        Client::new(&loader.load().await)
    }
}

fn failed(distribution: &str, message: String) -> StoreError {
    StoreError::Invalidation {
        distribution: distribution.to_string(),
        message,
    }
}

/// A name as a CloudFront path: every byte but unreserved ones and `/` percent-encoded (a
/// `*` in a name would otherwise be a wildcard).
fn encode(name: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(name, KEEP).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalidator(prefix: &str, max_paths: usize) -> Invalidator {
        Invalidator {
            distribution_id: "E1".into(),
            path_prefix: prefix.into(),
            max_paths,
            endpoint_url: None,
            region: None,
        }
    }

    #[test]
    fn names_become_encoded_paths_under_the_prefix_or_one_wildcard() {
        let names = vec![
            "CACHE/manifest.json".to_string(),
            "img/a b*.svg".to_string(),
        ];
        assert_eq!(
            invalidator("/static/", 10).paths(&names),
            vec!["/static/CACHE/manifest.json", "/static/img/a%20b%2A.svg"]
        );
        assert_eq!(
            invalidator("", 10).paths(&names),
            vec!["/CACHE/manifest.json", "/img/a%20b%2A.svg"]
        );
        assert_eq!(invalidator("site", 1).paths(&names), vec!["/site/*"]);
        assert!(invalidator("/", 1).paths(&[]).is_empty());
    }
}
