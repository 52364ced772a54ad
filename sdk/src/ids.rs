//! Newtype identifiers and counters of the protocol. Nothing crosses a module boundary as a bare
//! `u64` or `String`: each id says what it is, validates its own format, and has one CBOR and one
//! JSON form.

use core::fmt;

use minicbor::{Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::hash::Digest;

macro_rules! digest_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Encode, Decode, Serialize, Deserialize)]
        #[cbor(transparent)]
        #[serde(transparent)]
        pub struct $name(#[n(0)] pub Digest);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl core::str::FromStr for $name {
            type Err = crate::hash::DigestParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Digest::from_hex(s).map($name)
            }
        }
    };
}

digest_id!(
    /// The id of a federation: the hash of its unsigned genesis.
    ChainId
);
digest_id!(
    /// The id of a transaction: the hash of its unsigned canonical bytes.
    TxId
);
digest_id!(
    /// The id of a block: the hash of its header. Validators vote for it.
    BlockId
);

macro_rules! counter {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug, Encode, Decode, Serialize, Deserialize)]
        #[cbor(transparent)]
        #[serde(transparent)]
        pub struct $name(#[n(0)] pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

counter!(
    /// A block height. The first block is height 1.
    Height
);
counter!(
    /// A signer's transaction counter; each (signer, nonce) pair is usable once.
    Nonce
);

impl Height {
    /// The next height.
    pub fn next(self) -> Height {
        Height(self.0 + 1)
    }
}

/// An identifier that is not well formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {found:?}: expected {expected}")]
pub struct IdError {
    /// Which kind of identifier.
    pub what: &'static str,
    /// What was given.
    pub found: String,
    /// What was expected.
    pub expected: &'static str,
}

fn check_code(what: &'static str, text: &str) -> Result<(), IdError> {
    let ok = (3..=48).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-')
        && !text.contains("--");
    if ok {
        Ok(())
    } else {
        Err(IdError {
            what,
            found: text.chars().take(64).collect(),
            expected: "3 to 48 characters of A-Z, 0-9 and single inner hyphens, e.g. CN-QDG-CUSTOMS",
        })
    }
}

macro_rules! code_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Encode, Serialize)]
        #[cbor(transparent)]
        #[serde(transparent)]
        pub struct $name(#[n(0)] String);

        impl $name {
            /// Validates and wraps `text`.
            pub fn new(text: impl Into<String>) -> Result<Self, IdError> {
                let text = text.into();
                check_code($what, &text)?;
                Ok(Self(text))
            }

            /// The identifier's text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(&self.0)
            }
        }

        impl core::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl<'b, C> Decode<'b, C> for $name {
            fn decode(d: &mut minicbor::Decoder<'b>, _: &mut C) -> Result<Self, minicbor::decode::Error> {
                let text = d.str()?;
                Self::new(text).map_err(|e| minicbor::decode::Error::message(e.to_string()))
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                Self::new(text).map_err(serde::de::Error::custom)
            }
        }
    };
}

code_id!(
    /// An agency of the federation, e.g. `CN-QDG-CUSTOMS`.
    AgencyId,
    "agency id"
);
code_id!(
    /// A participant registered on the ledger (an agency, an enterprise, a bank, a carrier...).
    /// Agencies are participants under their agency id.
    ParticipantId,
    "participant id"
);

impl From<&AgencyId> for ParticipantId {
    fn from(agency: &AgencyId) -> Self {
        ParticipantId(agency.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_ids_validate() {
        for good in ["CN-QDG-CUSTOMS", "KZ-KGS", "BANK1"] {
            assert!(AgencyId::new(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "ab",
            "cn-qdg",
            "-AB",
            "AB-",
            "A--B",
            "A B C",
            &"A".repeat(49),
        ] {
            assert!(ParticipantId::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn code_id_decoding_validates() {
        let bytes = crate::codec::encode(&"lower".to_string());
        assert!(crate::codec::decode::<ParticipantId>(&bytes, 100).is_err());
        let json = serde_json::from_str::<AgencyId>("\"bad id\"");
        assert!(json.is_err());
    }
}
