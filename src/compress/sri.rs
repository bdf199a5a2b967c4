//! Subresource Integrity: the `integrity` (and `crossorigin`) attributes a browser checks a
//! bundle's bytes against before it runs or applies them.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha384, Sha512};

pub use crate::config::{Sri, SriAlgorithm};

/// `sha384-<base64 digest>`.
fn token(algorithm: SriAlgorithm, bytes: &[u8]) -> String {
    let digest = match algorithm {
        SriAlgorithm::Sha256 => Sha256::digest(bytes).to_vec(),
        SriAlgorithm::Sha384 => Sha384::digest(bytes).to_vec(),
        SriAlgorithm::Sha512 => Sha512::digest(bytes).to_vec(),
    };
    let encoded = base64::engine::general_purpose::STANDARD.encode(digest);
    format!("{}-{encoded}", algorithm.as_str())
}

/// The attributes one bundle's tag carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Integrity {
    /// Space-separated tokens, one per algorithm: a browser checks the strongest it knows.
    pub value: String,
    pub crossorigin: Option<String>,
}

/// The attributes for a file of these bytes, or `None` when SRI is off.
pub fn integrity(sri: &Sri, bytes: &[u8]) -> Option<Integrity> {
    if !sri.is_on() {
        return None;
    }
    let tokens: Vec<String> = sri.algorithms.iter().map(|a| token(*a, bytes)).collect();
    Some(Integrity {
        value: tokens.join(" "),
        crossorigin: sri.crossorigin.clone(),
    })
}

impl Integrity {
    /// ` integrity="…" crossorigin="…"`, to follow a tag's URL attribute.
    pub fn attributes(&self) -> String {
        match &self.crossorigin {
            Some(crossorigin) => format!(
                " integrity=\"{}\" crossorigin=\"{crossorigin}\"",
                self.value
            ),
            None => format!(" integrity=\"{}\"", self.value),
        }
    }
}

/// The attributes for an optional integrity: nothing when there is none.
pub fn attributes(integrity: &Option<Integrity>) -> String {
    integrity
        .as_ref()
        .map(Integrity::attributes)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_the_base64_digests_browsers_compute() {
        // `printf 'alert(1)' | openssl dgst -sha384 -binary | base64`
        let sri = Sri {
            algorithms: vec![SriAlgorithm::Sha384],
            crossorigin: None,
        };
        let value = integrity(&sri, b"alert(1)").map(|i| i.value);
        assert_eq!(
            value.as_deref(),
            Some("sha384-HT2E9NfWiuQ/w1PRai+hTyqW16NIoCGA/m8VQDUopfAtcz6YQjtsMmQd5uRbVDpW")
        );
        let both = Sri {
            algorithms: vec![SriAlgorithm::Sha256, SriAlgorithm::Sha512],
            crossorigin: Some("anonymous".into()),
        };
        let attributes = integrity(&both, b"").expect("on");
        assert_eq!(
            attributes.value,
            "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU= \
             sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="
        );
        assert_eq!(
            attributes.attributes(),
            format!(
                " integrity=\"{}\" crossorigin=\"anonymous\"",
                attributes.value
            )
        );
    }

    #[test]
    fn off_means_no_attributes() {
        assert_eq!(integrity(&Sri::default(), b"x"), None);
        assert_eq!(attributes(&None), "");
    }
}
