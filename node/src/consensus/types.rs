//! Malachite's view of Caravan: the context and the types it is generic over. Each wraps an sdk
//! type (heights, block ids, keys, signatures, headers) so that the sdk stays free of the
//! consensus engine; conversions live here and nowhere else.

use std::fmt;
use std::sync::Arc;

use borsh::{BorshDeserialize, BorshSerialize};
use malachite_core_types::{self as mc, NilOrVal, Round, VoteType};

use caravan_sdk::block::{Header, ValidatorSet as SdkValidatorSet};
use caravan_sdk::codec;
use caravan_sdk::ids::{BlockId, ChainId, Height};
use caravan_sdk::keys::{Keypair, PublicKey, Signature};

fn io_err(msg: impl Into<String>) -> borsh::io::Error {
    borsh::io::Error::new(borsh::io::ErrorKind::InvalidData, msg.into())
}

/// A consensus height.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
)]
pub struct ConsensusHeight(pub u64);

impl fmt::Display for ConsensusHeight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl mc::Height for ConsensusHeight {
    const ZERO: Self = ConsensusHeight(0);
    const INITIAL: Self = ConsensusHeight(1);

    fn increment_by(&self, n: u64) -> Self {
        ConsensusHeight(self.0.saturating_add(n))
    }

    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.checked_sub(n).map(ConsensusHeight)
    }

    fn as_u64(&self) -> u64 {
        self.0
    }
}

impl From<ConsensusHeight> for Height {
    fn from(h: ConsensusHeight) -> Self {
        Height(h.0)
    }
}

impl From<Height> for ConsensusHeight {
    fn from(h: Height) -> Self {
        ConsensusHeight(h.0)
    }
}

/// A validator's consensus address: its validator public key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address(pub PublicKey);

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", &self.0.to_hex()[..12])
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({})", self.0.to_hex())
    }
}

impl mc::Address for Address {}

impl BorshSerialize for Address {
    fn serialize<W: borsh::io::Write>(&self, writer: &mut W) -> borsh::io::Result<()> {
        writer.write_all(&self.0.to_bytes())
    }
}

impl BorshDeserialize for Address {
    fn deserialize_reader<R: borsh::io::Read>(reader: &mut R) -> borsh::io::Result<Self> {
        let bytes = <[u8; 32]>::deserialize_reader(reader)?;
        PublicKey::from_bytes(bytes)
            .map(Address)
            .map_err(|e| io_err(e.to_string()))
    }
}

/// A block id as consensus sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ValueId(pub BlockId);

impl fmt::Display for ValueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", &self.0.to_string()[..12])
    }
}

impl BorshSerialize for ValueId {
    fn serialize<W: borsh::io::Write>(&self, writer: &mut W) -> borsh::io::Result<()> {
        writer.write_all(self.0.0.as_bytes())
    }
}

impl BorshDeserialize for ValueId {
    fn deserialize_reader<R: borsh::io::Read>(reader: &mut R) -> borsh::io::Result<Self> {
        let bytes = <[u8; 32]>::deserialize_reader(reader)?;
        Ok(ValueId(BlockId(caravan_sdk::hash::Digest(bytes))))
    }
}

/// The value consensus decides on: a block header (the transactions travel in proposal parts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Value {
    /// The header.
    pub header: Arc<Header>,
    /// Its id, computed once.
    pub id: BlockId,
}

impl Value {
    /// Wraps a header.
    pub fn new(header: Header) -> Self {
        let id = header.id();
        Value {
            header: Arc::new(header),
            id,
        }
    }
}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.id.cmp(&other.id)
    }
}

impl mc::Value for Value {
    type Id = ValueId;

    fn id(&self) -> ValueId {
        ValueId(self.id)
    }
}

impl BorshSerialize for Value {
    fn serialize<W: borsh::io::Write>(&self, writer: &mut W) -> borsh::io::Result<()> {
        codec::encode(self.header.as_ref()).serialize(writer)
    }
}

impl BorshDeserialize for Value {
    fn deserialize_reader<R: borsh::io::Read>(reader: &mut R) -> borsh::io::Result<Self> {
        let bytes = Vec::<u8>::deserialize_reader(reader)?;
        let header: Header = codec::decode(&bytes, 64 * 1024).map_err(|e| io_err(e.to_string()))?;
        Ok(Value::new(header))
    }
}

/// A signature as consensus sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConsensusSignature(pub Signature);

impl BorshSerialize for ConsensusSignature {
    fn serialize<W: borsh::io::Write>(&self, writer: &mut W) -> borsh::io::Result<()> {
        writer.write_all(&self.0.0)
    }
}

impl BorshDeserialize for ConsensusSignature {
    fn deserialize_reader<R: borsh::io::Read>(reader: &mut R) -> borsh::io::Result<Self> {
        let mut bytes = [0u8; 64];
        reader.read_exact(&mut bytes)?;
        Ok(ConsensusSignature(Signature(bytes)))
    }
}

/// A private key as consensus sees it.
#[derive(Clone)]
pub struct PrivateKey(pub Arc<Keypair>);

/// Ed25519 under the protocol's single verification rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ed25519;

/// A malformed key or signature.
#[derive(Debug)]
pub struct DecodingError(pub String);

impl fmt::Display for DecodingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl mc::SigningScheme for Ed25519 {
    type DecodingError = DecodingError;
    type Signature = ConsensusSignature;
    type PublicKey = PublicKey;
    type PrivateKey = PrivateKey;

    fn decode_signature(bytes: &[u8]) -> Result<Self::Signature, Self::DecodingError> {
        let array: [u8; 64] = bytes.try_into().map_err(|_| {
            DecodingError(format!("signature must be 64 bytes, found {}", bytes.len()))
        })?;
        Ok(ConsensusSignature(Signature(array)))
    }

    fn encode_signature(signature: &Self::Signature) -> Vec<u8> {
        signature.0.0.to_vec()
    }

    fn decode_public_key(bytes: &[u8]) -> Result<Self::PublicKey, Self::DecodingError> {
        let array: [u8; 32] = bytes.try_into().map_err(|_| {
            DecodingError(format!(
                "public key must be 32 bytes, found {}",
                bytes.len()
            ))
        })?;
        PublicKey::from_bytes(array).map_err(|e| DecodingError(e.to_string()))
    }

    fn encode_public_key(public_key: &Self::PublicKey) -> Vec<u8> {
        public_key.to_bytes().to_vec()
    }
}

/// A validator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    /// Its address (= key).
    pub address: Address,
    /// Its key.
    pub public_key: PublicKey,
    /// Its power.
    pub power: u64,
}

impl mc::Validator<CaravanContext> for Validator {
    fn address(&self) -> &Address {
        &self.address
    }

    fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    fn voting_power(&self) -> mc::VotingPower {
        self.power
    }
}

/// A validator set, in the sdk's order (sorted by key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    /// The validators.
    pub validators: Arc<Vec<Validator>>,
}

impl ValidatorSet {
    /// The proposer of `height` at `round` ([`proposer_index`]); the set must not be empty.
    pub fn proposer(&self, height: ConsensusHeight, round: Round) -> &Validator {
        let round = round.as_u32().map_or(0, u64::from);
        &self.validators[proposer_index(self.validators.len(), height.0, round)]
    }
}

impl From<&SdkValidatorSet> for ValidatorSet {
    fn from(set: &SdkValidatorSet) -> Self {
        ValidatorSet {
            validators: Arc::new(
                set.validators
                    .iter()
                    .map(|v| Validator {
                        address: Address(v.public_key),
                        public_key: v.public_key,
                        power: v.power,
                    })
                    .collect(),
            ),
        }
    }
}

impl mc::ValidatorSet<CaravanContext> for ValidatorSet {
    fn count(&self) -> usize {
        self.validators.len()
    }

    fn total_voting_power(&self) -> mc::VotingPower {
        self.validators.iter().map(|v| v.power).sum()
    }

    fn get_by_address(&self, address: &Address) -> Option<&Validator> {
        self.validators.iter().find(|v| &v.address == address)
    }

    fn get_by_index(&self, index: usize) -> Option<&Validator> {
        self.validators.get(index)
    }
}

/// A vote.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Vote {
    /// Prevote or precommit.
    pub vote_type: VoteType,
    /// Height.
    pub height: ConsensusHeight,
    /// Round.
    pub round: Round,
    /// The block voted for, or nil.
    pub value: NilOrVal<ValueId>,
    /// The voter.
    pub validator: Address,
    /// Unused vote extension.
    pub extension: Option<mc::SignedExtension<CaravanContext>>,
}

impl mc::Vote<CaravanContext> for Vote {
    fn height(&self) -> ConsensusHeight {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &NilOrVal<ValueId> {
        &self.value
    }

    fn take_value(self) -> NilOrVal<ValueId> {
        self.value
    }

    fn vote_type(&self) -> VoteType {
        self.vote_type
    }

    fn validator_address(&self) -> &Address {
        &self.validator
    }

    fn extension(&self) -> Option<&mc::SignedExtension<CaravanContext>> {
        self.extension.as_ref()
    }

    fn take_extension(&mut self) -> Option<mc::SignedExtension<CaravanContext>> {
        self.extension.take()
    }

    fn extend(self, extension: mc::SignedExtension<CaravanContext>) -> Self {
        Vote {
            extension: Some(extension),
            ..self
        }
    }
}

/// A proposal: the header proposed at a height and round.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Proposal {
    /// Height.
    pub height: ConsensusHeight,
    /// Round.
    pub round: Round,
    /// The proposed header.
    pub value: Value,
    /// Proof-of-lock round.
    pub pol_round: Round,
    /// The proposer.
    pub proposer: Address,
}

impl mc::Proposal<CaravanContext> for Proposal {
    fn height(&self) -> ConsensusHeight {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &Value {
        &self.value
    }

    fn take_value(self) -> Value {
        self.value
    }

    fn pol_round(&self) -> Round {
        self.pol_round
    }

    fn validator_address(&self) -> &Address {
        &self.proposer
    }
}

/// The one part of a streamed proposal: the whole block, signed by its proposer.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ProposalPart {
    /// Height.
    pub height: ConsensusHeight,
    /// Round.
    pub round: Round,
    /// Who proposes.
    pub proposer: Address,
    /// The block, canonical CBOR.
    pub block: Vec<u8>,
    /// The proposer's signature over (chain, height, round, block id).
    pub signature: ConsensusSignature,
}

impl mc::ProposalPart<CaravanContext> for ProposalPart {
    fn is_first(&self) -> bool {
        true
    }

    fn is_last(&self) -> bool {
        true
    }
}

/// Caravan's consensus context.
#[derive(Clone, Debug)]
pub struct CaravanContext {
    /// The federation.
    pub chain_id: ChainId,
}

/// The position, in a validator set of `count` (in the set's order), of the proposer of `height`
/// at `round`: round-robin over the validators, shifted by height, so that every agency proposes
/// in turn and a crashed proposer costs one round. The relay sends admitted transactions to the
/// next heights' proposers by the same rule.
pub fn proposer_index(count: usize, height: u64, round: u64) -> usize {
    (height.wrapping_add(round) % count.max(1) as u64) as usize
}

impl mc::Context for CaravanContext {
    type Address = Address;
    type Height = ConsensusHeight;
    type ProposalPart = ProposalPart;
    type Proposal = Proposal;
    type Validator = Validator;
    type ValidatorSet = ValidatorSet;
    type Timeouts = mc::LinearTimeouts;
    type Value = Value;
    type Vote = Vote;
    type Extension = ();
    type SigningScheme = Ed25519;

    fn select_proposer<'a>(
        &self,
        validator_set: &'a ValidatorSet,
        height: ConsensusHeight,
        round: Round,
    ) -> &'a Validator {
        validator_set.proposer(height, round)
    }

    fn new_proposal(
        &self,
        height: ConsensusHeight,
        round: Round,
        value: Value,
        pol_round: Round,
        address: Address,
    ) -> Proposal {
        Proposal {
            height,
            round,
            value,
            pol_round,
            proposer: address,
        }
    }

    fn new_prevote(
        &self,
        height: ConsensusHeight,
        round: Round,
        value_id: NilOrVal<ValueId>,
        address: Address,
    ) -> Vote {
        Vote {
            vote_type: VoteType::Prevote,
            height,
            round,
            value: value_id,
            validator: address,
            extension: None,
        }
    }

    fn new_precommit(
        &self,
        height: ConsensusHeight,
        round: Round,
        value_id: NilOrVal<ValueId>,
        address: Address,
    ) -> Vote {
        Vote {
            vote_type: VoteType::Precommit,
            height,
            round,
            value: value_id,
            validator: address,
            extension: None,
        }
    }
}
