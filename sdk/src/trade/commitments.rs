//! Salted field commitments. A document's key fields are flattened to (path, value) pairs; each
//! pair is committed with a salt derived from a secret seed the holder keeps, and the commitments
//! form a Merkle tree whose root is anchored on the ledger. The holder can later disclose one
//! field — its value, salt and inclusion proof — and anyone checks it against the anchored root
//! without learning the other fields.

use serde::{Deserialize, Serialize};

use crate::hash::Digest;
use crate::merkle::{InclusionProof, MemoryLog, MerkleError, inclusion_proof, leaf_hash};
use crate::trade::documents::DocumentFields;

/// The flattened fields of a document, sorted by path: `total.minor`, `lines[0].hs_code`, ...
/// Values are the JSON text of each scalar.
pub fn field_leaves(fields: &DocumentFields) -> Vec<(String, String)> {
    let mut out = Vec::new();
    match serde_json::to_value(fields) {
        Ok(value) => flatten("", &value, &mut out),
        Err(_) => return out,
    }
    out.sort();
    out
}

fn flatten(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&path, v, out);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), v, out);
            }
        }
        scalar => out.push((prefix.to_string(), scalar.to_string())),
    }
}

/// The salt of one field: keyed by the holder's secret seed, so salts cannot be guessed and
/// values cannot be brute-forced from their commitments.
pub fn salt(seed: &[u8; 32], path: &str) -> [u8; 32] {
    *blake3::keyed_hash(seed, path.as_bytes()).as_bytes()
}

fn leaf_entry(salt: &[u8; 32], path: &str, value: &str) -> Vec<u8> {
    let mut entry = b"caravan field v1".to_vec();
    entry.extend_from_slice(salt);
    entry.extend_from_slice(&(path.len() as u32).to_be_bytes());
    entry.extend_from_slice(path.as_bytes());
    entry.extend_from_slice(value.as_bytes());
    entry
}

/// The root of the salted commitments of `fields` under `seed`.
pub fn fields_root(fields: &DocumentFields, seed: &[u8; 32]) -> Digest {
    let mut log = MemoryLog::new();
    for (path, value) in field_leaves(fields) {
        log.append(leaf_hash(&leaf_entry(&salt(seed, &path), &path, &value)));
    }
    log.root()
}

/// One disclosed field with what is needed to check it against an anchored root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disclosure {
    /// The field's path.
    pub path: String,
    /// Its value (JSON text).
    pub value: String,
    /// Its salt, hex.
    pub salt: String,
    /// Inclusion of its commitment under the root.
    pub proof: InclusionProof,
}

/// Why a disclosure does not check out.
#[derive(Debug, thiserror::Error)]
pub enum DisclosureError {
    /// No such field in the document.
    #[error("the document has no field {0:?}")]
    NoField(String),
    /// The salt is not 32 bytes of hex.
    #[error("the salt is not 32 bytes of hex")]
    Salt,
    /// The commitment is not under the root.
    #[error("the disclosed value is not committed under this root: {0}")]
    Proof(#[from] MerkleError),
}

/// Discloses the field at `path`.
pub fn disclose(
    fields: &DocumentFields,
    seed: &[u8; 32],
    path: &str,
) -> Result<Disclosure, DisclosureError> {
    let leaves = field_leaves(fields);
    let index = leaves
        .iter()
        .position(|(p, _)| p == path)
        .ok_or_else(|| DisclosureError::NoField(path.to_string()))?;
    let mut log = MemoryLog::new();
    for (p, v) in &leaves {
        log.append(leaf_hash(&leaf_entry(&salt(seed, p), p, v)));
    }
    let proof = inclusion_proof(&log, index as u64, log.size())
        .map_err(|_| DisclosureError::NoField(path.to_string()))?;
    Ok(Disclosure {
        path: path.to_string(),
        value: leaves[index].1.clone(),
        salt: hex::encode(salt(seed, path)),
        proof,
    })
}

impl Disclosure {
    /// Checks the disclosed value against an anchored field-commitment root.
    pub fn verify(&self, root: &Digest) -> Result<(), DisclosureError> {
        let mut salt = [0u8; 32];
        hex::decode_to_slice(&self.salt, &mut salt).map_err(|_| DisclosureError::Salt)?;
        let leaf = leaf_hash(&leaf_entry(&salt, &self.path, &self.value));
        self.proof.verify(&leaf, root)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trade::sample;

    #[test]
    fn disclose_one_field_and_verify() {
        let fields = DocumentFields::Invoice(sample::invoice());
        let seed = [42u8; 32];
        let root = fields_root(&fields, &seed);
        let leaves = field_leaves(&fields);
        assert!(leaves.iter().any(|(p, _)| p == "total.minor"), "{leaves:?}");
        let d = disclose(&fields, &seed, "total.minor").expect("disclose");
        assert_eq!(d.value, "17920400");
        d.verify(&root).expect("verifies");
        // A changed value, salt, or root is refused.
        let mut forged = d.clone();
        forged.value = "17920401".into();
        assert!(forged.verify(&root).is_err());
        let mut other_salt = d.clone();
        other_salt.salt = hex::encode([1u8; 32]);
        assert!(other_salt.verify(&root).is_err());
        assert!(d.verify(&fields_root(&fields, &[43u8; 32])).is_err());
        assert!(matches!(
            disclose(&fields, &seed, "no.such"),
            Err(DisclosureError::NoField(_))
        ));
        // Every field discloses and verifies.
        for (path, _) in &leaves {
            disclose(&fields, &seed, path)
                .expect("disclose")
                .verify(&root)
                .expect("verify");
        }
    }
}
