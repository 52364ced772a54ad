//! `sign_read`: signs a read request with a participant's key file, read from memory, so that a
//! page can fetch protected records from a node (`x-caravan-signature`).

use caravan_sdk::api::read_request_digest;
use caravan_sdk::keys::parse_key_file;
use serde::Serialize;

/// The longest path and query signed: far more than any route of the API needs.
const MAX_PATH_BYTES: usize = 8 * 1024;

/// The answer of [`sign_read`]: the key and signature to send, or why there are none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum SignedRead {
    /// The read request is signed.
    Signed {
        /// The key file's public key, as hex.
        public_key: String,
        /// The signature over [`read_request_digest`], as hex.
        signature: String,
    },
    /// It is not.
    Refused {
        /// What is wrong with the input.
        error: String,
    },
}

/// Signs [`read_request_digest`]`(method, path_and_query, time_ms)` with the key in
/// `key_file`, the text of a key file (`kind`, `public_key`, `secret_seed`), checking that the
/// public key is the seed's. Nothing touches a file system; the seed's copies made here are
/// wiped from memory when the key is dropped. The caller owns `key_file`.
pub fn sign_read(
    key_file: &[u8],
    method: &[u8],
    path_and_query: &[u8],
    time_ms: u64,
) -> SignedRead {
    match try_sign_read(key_file, method, path_and_query, time_ms) {
        Ok(signed) => signed,
        Err(error) => SignedRead::Refused { error },
    }
}

fn try_sign_read(
    key_file: &[u8],
    method: &[u8],
    path_and_query: &[u8],
    time_ms: u64,
) -> Result<SignedRead, String> {
    let method = std::str::from_utf8(method).map_err(|_| "the method is not UTF-8".to_string())?;
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format!(
            "the method must be an HTTP method in capitals, such as GET; found {method:?}"
        ));
    }
    let path = std::str::from_utf8(path_and_query)
        .map_err(|_| "the path and query are not UTF-8".to_string())?;
    if !path.starts_with('/') {
        return Err(format!(
            "the path and query must start with '/', as the node sees them (e.g. /v1/sco/...); found {:?}",
            path.chars().take(80).collect::<String>()
        ));
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(format!(
            "the path and query are {} bytes, at most {MAX_PATH_BYTES} are signed",
            path.len()
        ));
    }
    if path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(
            "the path and query hold a space or a control character: percent-encode them as the request does"
                .into(),
        );
    }
    let text = std::str::from_utf8(key_file)
        .map_err(|_| "the key file is not UTF-8 text: not a key file".to_string())?;
    let key = parse_key_file(text).map_err(|e| e.to_string())?;
    let signature = key.sign(&read_request_digest(method, path, time_ms));
    Ok(SignedRead::Signed {
        public_key: key.public().to_hex(),
        signature: signature.to_hex(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::key_file_text;
    use caravan_sdk::keys::{Keypair, PublicKey, Signature};

    const PATH: &str = "/v1/sco/SCO-CN-000123-X?at=12";

    fn signed(answer: SignedRead) -> (PublicKey, Signature) {
        match answer {
            SignedRead::Signed {
                public_key,
                signature,
            } => (
                PublicKey::from_hex(&public_key).expect("a public key"),
                Signature::from_hex(&signature).expect("a signature"),
            ),
            SignedRead::Refused { error } => panic!("refused: {error}"),
        }
    }

    fn refused(answer: SignedRead) -> String {
        match answer {
            SignedRead::Refused { error } => error,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_signed_read_verifies_with_the_sdk() {
        let key = Keypair::from_seed(&[42; 32]);
        let text = key_file_text(&key, &key.public());
        let time_ms = 1_785_000_000_123;
        let (public, signature) =
            signed(sign_read(text.as_bytes(), b"GET", PATH.as_bytes(), time_ms));
        assert_eq!(public, key.public());
        public
            .verify(&read_request_digest("GET", PATH, time_ms), &signature)
            .expect("the node's check passes");
        // Another time, path or method is another request.
        assert!(
            public
                .verify(&read_request_digest("GET", PATH, time_ms + 1), &signature)
                .is_err()
        );
        assert!(
            public
                .verify(
                    &read_request_digest("GET", "/v1/sco/x", time_ms),
                    &signature
                )
                .is_err()
        );
        let json = serde_json::to_value(sign_read(text.as_bytes(), b"GET", b"/", 0)).expect("json");
        let fields: Vec<&String> = json.as_object().expect("an object").keys().collect();
        assert_eq!(fields, ["public_key", "signature"]);
    }

    #[test]
    fn a_bad_key_file_is_refused_clearly() {
        let key = Keypair::from_seed(&[42; 32]);
        let other = Keypair::from_seed(&[43; 32]);
        let mismatched = key_file_text(&key, &other.public());
        let error = refused(sign_read(mismatched.as_bytes(), b"GET", b"/v1/x", 1));
        assert!(
            error.starts_with("not a key file: public_key")
                && error.contains("does not match the secret seed"),
            "{error}"
        );
        let error = refused(sign_read(
            b"{\"kind\": \"participant\"}",
            b"GET",
            b"/v1/x",
            1,
        ));
        assert!(
            error.starts_with("not a key file: missing field"),
            "{error}"
        );
        let error = refused(sign_read(b"\xff\xfe", b"GET", b"/v1/x", 1));
        assert_eq!(error, "the key file is not UTF-8 text: not a key file");
        let seed = key_file_text(&key, &key.public())
            .replace("\"secret_seed\": \"", "\"secret_seed\": \"zz");
        let error = refused(sign_read(seed.as_bytes(), b"GET", b"/v1/x", 1));
        assert_eq!(error, "not a key file: secret_seed is not 32 bytes of hex");
        let json = serde_json::to_value(sign_read(b"", b"GET", b"/", 0)).expect("json");
        assert!(json["error"].is_string(), "{json}");
    }

    #[test]
    fn a_malformed_request_is_refused_before_the_key_is_read() {
        let key = Keypair::from_seed(&[42; 32]);
        let text = key_file_text(&key, &key.public());
        for (method, path, expected) in [
            (&b"get"[..], &b"/v1/x"[..], "HTTP method in capitals"),
            (b"", b"/v1/x", "HTTP method in capitals"),
            (b"GET", b"v1/x", "must start with '/'"),
            (b"GET", b"/v1/a b", "percent-encode"),
            (b"GET", b"/v1/\n", "percent-encode"),
            (b"GET", b"/\xff", "not UTF-8"),
        ] {
            let error = refused(sign_read(text.as_bytes(), method, path, 1));
            assert!(error.contains(expected), "{error}");
        }
        let long = format!("/{}", "a".repeat(MAX_PATH_BYTES));
        let error = refused(sign_read(text.as_bytes(), b"GET", long.as_bytes(), 1));
        assert!(error.contains("at most"), "{error}");
    }
}
