//! The wire and WAL encoding of consensus messages: borsh, through the engine's own borsh
//! support, for every message the engine exchanges. Our own objects inside them (headers, blocks)
//! travel as their canonical CBOR, re-checked on decode.

use bytes::Bytes;
use malachite::app::types::codec::Codec;
use malachite::app::types::core::{
    ExtendedCommitCertificate, ExtendedCommitSignature, PolkaCertificate, Round, ValidatorProof,
};
use malachite::app::types::streaming::StreamMessage;
use malachite::app::types::sync;
use malachite::app::types::{ProposedValue, SignedConsensusMsg};
use malachite_core_consensus::LivenessMsg;
use malachite_sync::ValueResponse;

use super::types::{
    Address, CaravanContext, ConsensusHeight, ConsensusSignature, ProposalPart, ValueId,
};

/// Size cap for any single consensus message decoded from the network or the WAL.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Borsh codec for every consensus, sync and WAL message.
#[derive(Clone, Copy, Debug, Default)]
pub struct BorshCodec;

/// A message that could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
#[error("consensus codec: {0}")]
pub struct CodecError(String);

fn decode_borsh<T: borsh::BorshDeserialize>(bytes: &[u8]) -> Result<T, CodecError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(CodecError(format!(
            "message of {} bytes exceeds {MAX_MESSAGE_BYTES}",
            bytes.len()
        )));
    }
    borsh::from_slice(bytes).map_err(|e| CodecError(e.to_string()))
}

fn encode_borsh<T: borsh::BorshSerialize>(msg: &T) -> Result<Bytes, CodecError> {
    borsh::to_vec(msg)
        .map(Bytes::from)
        .map_err(|e| CodecError(e.to_string()))
}

macro_rules! borsh_codec {
    ($($t:ty),* $(,)?) => {
        $(
            impl Codec<$t> for BorshCodec {
                type Error = CodecError;

                fn decode(&self, bytes: Bytes) -> Result<$t, Self::Error> {
                    decode_borsh(&bytes)
                }

                fn encode(&self, msg: &$t) -> Result<Bytes, Self::Error> {
                    encode_borsh(msg)
                }
            }
        )*
    };
}

borsh_codec!(
    ProposalPart,
    SignedConsensusMsg<CaravanContext>,
    LivenessMsg<CaravanContext>,
    StreamMessage<ProposalPart>,
    ProposedValue<CaravanContext>,
    PolkaCertificate<CaravanContext>,
    sync::Status<CaravanContext>,
    sync::Request<CaravanContext>,
);

/// A decided value as value sync carries it. The engine's extended certificate has no borsh
/// form; vote extensions are not used by Caravan, so none are carried.
#[derive(borsh::BorshSerialize, borsh::BorshDeserialize)]
struct DecidedWire {
    value_bytes: Vec<u8>,
    height: ConsensusHeight,
    round: Round,
    value_id: ValueId,
    signatures: Vec<(Address, ConsensusSignature)>,
}

#[derive(borsh::BorshSerialize, borsh::BorshDeserialize)]
struct ResponseWire {
    start_height: ConsensusHeight,
    values: Vec<DecidedWire>,
}

impl Codec<sync::Response<CaravanContext>> for BorshCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<sync::Response<CaravanContext>, Self::Error> {
        let wire: ResponseWire = decode_borsh(&bytes)?;
        let values = wire
            .values
            .into_iter()
            .map(|v| sync::RawDecidedValue {
                value_bytes: Bytes::from(v.value_bytes),
                certificate: ExtendedCommitCertificate {
                    height: v.height,
                    round: v.round,
                    value_id: v.value_id,
                    commit_signatures: v
                        .signatures
                        .into_iter()
                        .map(|(address, signature)| {
                            ExtendedCommitSignature::new(address, signature, None)
                        })
                        .collect(),
                },
            })
            .collect();
        Ok(sync::Response::ValueResponse(ValueResponse::new(
            wire.start_height,
            values,
        )))
    }

    fn encode(&self, msg: &sync::Response<CaravanContext>) -> Result<Bytes, Self::Error> {
        let sync::Response::ValueResponse(response) = msg;
        encode_borsh(&ResponseWire {
            start_height: response.start_height,
            values: response
                .values
                .iter()
                .map(|v| DecidedWire {
                    value_bytes: v.value_bytes.to_vec(),
                    height: v.certificate.height,
                    round: v.certificate.round,
                    value_id: v.certificate.value_id,
                    signatures: v
                        .certificate
                        .commit_signatures
                        .iter()
                        .map(|s| (s.address, s.signature))
                        .collect(),
                })
                .collect(),
        })
    }
}

/// The engine's validator proof has no borsh form of its own: encoded here field by field.
#[derive(borsh::BorshSerialize, borsh::BorshDeserialize)]
struct ValidatorProofWire {
    public_key: Vec<u8>,
    peer_id: Vec<u8>,
    signature: ConsensusSignature,
}

impl Codec<ValidatorProof<CaravanContext>> for BorshCodec {
    type Error = CodecError;

    fn decode(&self, bytes: Bytes) -> Result<ValidatorProof<CaravanContext>, Self::Error> {
        let wire: ValidatorProofWire = decode_borsh(&bytes)?;
        Ok(ValidatorProof::new(
            wire.public_key,
            wire.peer_id,
            wire.signature,
        ))
    }

    fn encode(&self, msg: &ValidatorProof<CaravanContext>) -> Result<Bytes, Self::Error> {
        encode_borsh(&ValidatorProofWire {
            public_key: msg.public_key.clone(),
            peer_id: msg.peer_id.clone(),
            signature: msg.signature,
        })
    }
}

impl malachite::app::types::codec::HasEncodedLen<sync::Response<CaravanContext>> for BorshCodec {
    fn encoded_len(&self, msg: &sync::Response<CaravanContext>) -> Result<usize, CodecError> {
        // Exact: the engine uses it to keep responses under the configured size.
        self.encode(msg).map(|b| b.len())
    }
}
