//! A typed, blocking HTTP client for a Caravan node, used by the `caravan` CLI, the testnet and
//! the tests. Errors keep the node's machine-readable reason.

use std::time::Duration;

use crate::api::{
    ApiError, BatchResponse, CertifiedBlock, Checkpoint, Health, TxStatus, encode_batch,
};
use crate::bundle::ProofBundle;
use crate::ids::{Height, TxId};
use crate::merkle::ConsistencyProof;
use crate::tx::SignedTx;

/// A failed call.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The node answered with an error.
    #[error("{url}: HTTP {status} {}: {}", api.error, api.detail)]
    Api {
        /// The URL called.
        url: String,
        /// HTTP status.
        status: u16,
        /// The node's reason.
        api: ApiError,
    },
    /// The node could not be reached or answered nonsense.
    #[error("{url}: {reason}")]
    Transport {
        /// The URL called.
        url: String,
        /// What went wrong.
        reason: String,
    },
}

impl ClientError {
    /// The node's machine-readable reason, if it answered with one.
    pub fn reason(&self) -> Option<&str> {
        match self {
            ClientError::Api { api, .. } => Some(&api.error),
            ClientError::Transport { .. } => None,
        }
    }

    /// The HTTP status, if the node answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            ClientError::Transport { .. } => None,
        }
    }
}

/// A client for one node.
#[derive(Clone, Debug)]
pub struct Client {
    base: String,
    agent: ureq::Agent,
    identity: Option<(
        crate::ids::ParticipantId,
        std::sync::Arc<crate::keys::Keypair>,
    )>,
}

impl Client {
    /// A client for the node at `base_url` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base_url: &str) -> Self {
        Self::with_timeout(base_url, Duration::from_secs(60))
    }

    /// A client whose calls give up after `timeout`.
    pub fn with_timeout(base_url: &str, timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Client {
            base: base_url.trim_end_matches('/').to_string(),
            agent,
            identity: None,
        }
    }

    /// The same client, signing its reads as `participant` (needed for protected data).
    pub fn signing_as(
        mut self,
        participant: crate::ids::ParticipantId,
        key: crate::keys::Keypair,
    ) -> Self {
        self.identity = Some((participant, std::sync::Arc::new(key)));
        self
    }

    /// A GET, retried (at most three times, a second apart) while the node answers
    /// `429 rate_limited`: reads are idempotent.
    fn get(&self, path: &str) -> Result<Vec<u8>, ClientError> {
        let mut attempts = 0;
        loop {
            match self.get_once(path) {
                Err(ClientError::Api { status: 429, .. }) if attempts < 3 => {
                    attempts += 1;
                    std::thread::sleep(std::time::Duration::from_secs(1));
                }
                other => return other,
            }
        }
    }

    fn get_once(&self, path: &str) -> Result<Vec<u8>, ClientError> {
        let url = format!("{}{}", self.base, path);
        let mut request = self.agent.get(&url);
        if let Some((participant, key)) = &self.identity {
            let time_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0);
            let signature = key.sign(&crate::api::read_request_digest("GET", path, time_ms));
            request = request
                .header(crate::api::READ_PARTICIPANT_HEADER, participant.as_str())
                .header(crate::api::READ_TIME_HEADER, time_ms.to_string())
                .header(crate::api::READ_SIGNATURE_HEADER, signature.to_hex());
        }
        self.finish(&url, request.call())
    }

    /// The node's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn finish(
        &self,
        url: &str,
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Vec<u8>, ClientError> {
        let transport = |reason: String| ClientError::Transport {
            url: url.to_string(),
            reason,
        };
        let mut response = response.map_err(|e| transport(e.to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_vec()
            .map_err(|e| transport(e.to_string()))?;
        if (200..300).contains(&status) {
            return Ok(body);
        }
        let api = serde_json::from_slice::<ApiError>(&body).unwrap_or_else(|_| ApiError {
            error: "http_error".into(),
            detail: String::from_utf8_lossy(&body).chars().take(500).collect(),
        });
        Err(ClientError::Api {
            url: url.to_string(),
            status,
            api,
        })
    }

    fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = format!("{}{}", self.base, path);
        let body = self.get(path)?;
        serde_json::from_slice(&body).map_err(|e| ClientError::Transport {
            url,
            reason: format!("unexpected answer: {e}"),
        })
    }

    /// Submits raw bytes with a content type (for tests of hostile input).
    pub fn submit_raw(
        &self,
        content_type: &str,
        body: &[u8],
        wait: bool,
    ) -> Result<TxStatus, ClientError> {
        let url = format!(
            "{}/v1/tx{}",
            self.base,
            if wait { "?wait=commit" } else { "" }
        );
        let response = self
            .agent
            .post(&url)
            .header("content-type", content_type)
            .send(body);
        let body = self.finish(&url, response)?;
        serde_json::from_slice(&body).map_err(|e| ClientError::Transport {
            url,
            reason: format!("unexpected answer: {e}"),
        })
    }

    /// Submits a signed transaction (canonical CBOR). With `wait`, returns once it is in a
    /// durable, certified block on this node.
    pub fn submit(&self, tx: &SignedTx, wait: bool) -> Result<TxStatus, ClientError> {
        self.submit_raw("application/cbor", &tx.to_bytes(), wait)
    }

    /// Submits several transactions in one request (a CBOR array of canonical transactions).
    /// With `wait`, the answer comes when every admitted one is in a certified block, or after
    /// the node's longest wait with those still pending.
    pub fn submit_batch(&self, txs: &[SignedTx], wait: bool) -> Result<BatchResponse, ClientError> {
        let bytes: Vec<Vec<u8>> = txs.iter().map(|tx| tx.to_bytes()).collect();
        self.submit_batch_encoded(&encode_batch(bytes.iter().map(|b| &b[..])), wait)
    }

    /// [`Client::submit_batch`] with a body already made by [`encode_batch`].
    pub fn submit_batch_encoded(
        &self,
        body: &[u8],
        wait: bool,
    ) -> Result<BatchResponse, ClientError> {
        let url = format!(
            "{}/v1/txs{}",
            self.base,
            if wait { "?wait=commit" } else { "" }
        );
        let response = self
            .agent
            .post(&url)
            .header("content-type", "application/cbor")
            .send(body);
        let body = self.finish(&url, response)?;
        serde_json::from_slice(&body).map_err(|e| ClientError::Transport {
            url,
            reason: format!("unexpected answer: {e}"),
        })
    }

    /// Where a transaction stands.
    pub fn tx_status(&self, id: &TxId) -> Result<TxStatus, ClientError> {
        self.get_json(&format!("/v1/tx/{id}"))
    }

    /// The proof bundle of a committed transaction.
    pub fn proof(&self, id: &TxId) -> Result<ProofBundle, ClientError> {
        self.bundle(&format!("/v1/proof/tx/{id}?format=cbor"))
    }

    /// The state proof bundle of a key at the node's committed tip: its current value, or its
    /// absence. The key travels as `hex:` and its hex, so any bytes can be asked for.
    pub fn state_proof(&self, key: &[u8]) -> Result<ProofBundle, ClientError> {
        self.bundle(&format!(
            "/v1/state/proof?key=hex:{}&format=cbor",
            hex::encode(key)
        ))
    }

    /// The state proof bundle of an SCO code's enterprise record, or with `attestation`, of one
    /// of its credit attestations (revoked or not), at the node's committed tip.
    pub fn sco_proof(
        &self,
        code: &str,
        attestation: Option<&TxId>,
    ) -> Result<ProofBundle, ClientError> {
        let mut path = format!("/v1/sco/{code}/proof?format=cbor");
        if let Some(id) = attestation {
            path.push_str(&format!("&attestation={id}"));
        }
        self.bundle(&path)
    }

    fn bundle(&self, path: &str) -> Result<ProofBundle, ClientError> {
        let url = format!("{}{path}", self.base);
        let body = self.get(path)?;
        ProofBundle::from_bytes(&body).map_err(|e| ClientError::Transport {
            url,
            reason: e.to_string(),
        })
    }

    /// The latest certified header.
    pub fn checkpoint(&self) -> Result<Checkpoint, ClientError> {
        self.get_json("/v1/checkpoint")
    }

    /// A block and its certificate.
    pub fn block(&self, height: Height) -> Result<CertifiedBlock, ClientError> {
        self.get_json(&format!("/v1/blocks/{height}"))
    }

    /// Up to `count` committed blocks from height `from`, each with its commit certificate, as
    /// the node stores them (canonical CBOR), for an observer that re-executes them (signed read
    /// by an agency or an observer).
    #[allow(clippy::type_complexity)]
    pub fn sync_blocks(
        &self,
        from: Height,
        count: u64,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, ClientError> {
        let path = format!("/v1/sync/blocks?from={from}&count={count}");
        let url = format!("{}{path}", self.base);
        let body = self.get(&path)?;
        let items = crate::api::decode_batch(&body, 2 * crate::api::MAX_SYNC_BLOCKS as usize)
            .map_err(|e| ClientError::Transport {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        if items.len() % 2 != 0 {
            return Err(ClientError::Transport {
                url,
                reason: "blocks and certificates do not pair up".into(),
            });
        }
        Ok(items
            .chunks(2)
            .map(|pair| (pair[0].to_vec(), pair[1].to_vec()))
            .collect())
    }

    /// The certified validator-set changes since the genesis, in height order
    /// (`GET /v1/validators`).
    pub fn validator_changes(&self) -> Result<Vec<crate::block::SetChange>, ClientError> {
        #[derive(serde::Deserialize)]
        struct Membership {
            changes: Vec<crate::block::SetChange>,
        }
        let membership: Membership = self.get_json("/v1/validators")?;
        Ok(membership.changes)
    }

    /// A consistency proof between two log sizes.
    pub fn consistency(&self, from: u64, to: u64) -> Result<ConsistencyProof, ClientError> {
        self.get_json(&format!("/v1/consistency?from={from}&to={to}"))
    }

    /// A text resource read with this client's signature (for protected resources).
    pub fn get_signed_text(&self, path: &str) -> Result<String, ClientError> {
        let url = format!("{}{}", self.base, path);
        let body = self.get(path)?;
        String::from_utf8(body).map_err(|e| ClientError::Transport {
            url,
            reason: e.to_string(),
        })
    }

    /// A text resource (e.g. `/metrics`, `/openapi.json`), unsigned.
    pub fn get_text(&self, path: &str) -> Result<String, ClientError> {
        let url = format!("{}{}", self.base, path);
        let body = self.finish(&url, self.agent.get(&url).call())?;
        String::from_utf8(body).map_err(|e| ClientError::Transport {
            url,
            reason: e.to_string(),
        })
    }

    /// An SCO code's enterprise, credit summary and attestations (signed read).
    pub fn sco(&self, code: &str) -> Result<crate::api::ScoView, ClientError> {
        self.get_json(&format!("/v1/sco/{code}"))
    }

    /// A consignment (signed read; key fields only for its parties and the agencies).
    pub fn consignment(&self, ucr: &str) -> Result<crate::api::ConsignmentView, ClientError> {
        self.get_json(&format!("/v1/consignments/{ucr}"))
    }

    /// A consignment's validation report (signed read; parties and agencies).
    pub fn validation(&self, ucr: &str) -> Result<crate::api::ValidationView, ClientError> {
        self.get_json(&format!("/v1/consignments/{ucr}/validation"))
    }

    /// The liens on a document (signed read).
    pub fn liens(&self, document: &TxId) -> Result<Vec<crate::trade::model::Lien>, ClientError> {
        self.get_json(&format!("/v1/liens?document={document}"))
    }

    /// A registered participant (signed read).
    pub fn participant(
        &self,
        id: &crate::ids::ParticipantId,
    ) -> Result<crate::api::ParticipantView, ClientError> {
        self.get_json(&format!("/v1/participants/{id}"))
    }

    /// The node's health.
    pub fn health(&self) -> Result<Health, ClientError> {
        self.get_json("/health")
    }
}
