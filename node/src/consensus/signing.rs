//! Signing and verifying consensus messages with the agency's validator key. Votes are signed
//! over the sdk's `vote_digest`, so the precommit signatures in a commit certificate verify
//! offline with the sdk alone.

use async_trait::async_trait;
use malachite::{Signer, Verifier};
use malachite_core_types::{self as mc, NilOrVal, Round, SignedMessage, VoteType};
use malachite_signing::{Error as SigningError, VerificationResult};

use caravan_sdk::block::{VoteKind, vote_digest};
use caravan_sdk::hash::{Digest, Domain, hash};
use caravan_sdk::ids::{BlockId, ChainId, Height};
use caravan_sdk::keys::PublicKey;

use super::types::{CaravanContext, ConsensusSignature, PrivateKey, Proposal, Vote};

fn round_i64(round: Round) -> i64 {
    round.as_i64()
}

/// The digest a validator signs for `vote`.
pub fn vote_signing_digest(chain_id: &ChainId, vote: &Vote) -> Digest {
    let kind = match vote.vote_type {
        VoteType::Prevote => VoteKind::Prevote,
        VoteType::Precommit => VoteKind::Precommit,
    };
    let block = match &vote.value {
        NilOrVal::Nil => None,
        NilOrVal::Val(id) => Some(&id.0),
    };
    vote_digest(
        chain_id,
        kind,
        Height(vote.height.0),
        round_i64(vote.round),
        block,
    )
}

/// The digest a proposer signs for a proposal of `block` at `height`/`round`.
pub fn proposal_signing_digest(
    chain_id: &ChainId,
    height: u64,
    round: Round,
    block: &BlockId,
    pol_round: Round,
) -> Digest {
    caravan_sdk::block::proposal_digest(
        chain_id,
        Height(height),
        round_i64(round),
        block,
        round_i64(pol_round),
    )
}

fn peer_binding_digest(chain_id: &ChainId, public_key: &[u8], peer_id: &[u8]) -> Digest {
    let chain = chain_id.0.0;
    caravan_sdk::hash::hash_parts(
        Domain::PeerBinding,
        &[
            &chain,
            &(public_key.len() as u64).to_be_bytes(),
            public_key,
            peer_id,
        ],
    )
}

/// Signs with this agency's validator key.
#[derive(Clone)]
pub struct ValidatorSigner {
    chain_id: ChainId,
    key: PrivateKey,
}

impl ValidatorSigner {
    /// A signer for `chain_id`.
    pub fn new(chain_id: ChainId, key: PrivateKey) -> Self {
        ValidatorSigner { chain_id, key }
    }

    /// Signs a digest.
    pub fn sign_digest(&self, digest: &Digest) -> ConsensusSignature {
        ConsensusSignature(self.key.0.sign(digest))
    }
}

#[async_trait]
impl Signer<CaravanContext> for ValidatorSigner {
    async fn sign_vote(
        &self,
        vote: Vote,
    ) -> Result<SignedMessage<CaravanContext, Vote>, SigningError> {
        let signature = self.sign_digest(&vote_signing_digest(&self.chain_id, &vote));
        Ok(SignedMessage::new(vote, signature))
    }

    async fn sign_proposal(
        &self,
        proposal: Proposal,
    ) -> Result<SignedMessage<CaravanContext, Proposal>, SigningError> {
        let digest = proposal_signing_digest(
            &self.chain_id,
            proposal.height.0,
            proposal.round,
            &proposal.value.id,
            proposal.pol_round,
        );
        let signature = self.sign_digest(&digest);
        Ok(SignedMessage::new(proposal, signature))
    }

    async fn sign_vote_extension(
        &self,
        _scope: mc::VoteExtensionScope<CaravanContext>,
        extension: (),
    ) -> Result<SignedMessage<CaravanContext, ()>, SigningError> {
        // Vote extensions are not used; sign an empty domain-separated message all the same.
        let signature = self.sign_digest(&hash(Domain::Vote, b"no extension"));
        Ok(SignedMessage::new(extension, signature))
    }

    async fn sign_validator_proof(
        &self,
        public_key: Vec<u8>,
        peer_id: Vec<u8>,
    ) -> Result<mc::ValidatorProof<CaravanContext>, SigningError> {
        let signature =
            self.sign_digest(&peer_binding_digest(&self.chain_id, &public_key, &peer_id));
        Ok(mc::ValidatorProof::new(public_key, peer_id, signature))
    }
}

/// Verifies consensus signatures with the protocol's single rule.
#[derive(Clone)]
pub struct ValidatorVerifier {
    chain_id: ChainId,
}

impl ValidatorVerifier {
    /// A verifier for `chain_id`.
    pub fn new(chain_id: ChainId) -> Self {
        ValidatorVerifier { chain_id }
    }
}

fn check(key: &PublicKey, digest: &Digest, signature: &ConsensusSignature) -> VerificationResult {
    VerificationResult::from_bool(key.verify(digest, &signature.0).is_ok())
}

#[async_trait]
impl Verifier<CaravanContext> for ValidatorVerifier {
    async fn verify_signed_vote(
        &self,
        vote: &Vote,
        signature: &ConsensusSignature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, SigningError> {
        Ok(check(
            public_key,
            &vote_signing_digest(&self.chain_id, vote),
            signature,
        ))
    }

    async fn verify_signed_proposal(
        &self,
        proposal: &Proposal,
        signature: &ConsensusSignature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, SigningError> {
        let digest = proposal_signing_digest(
            &self.chain_id,
            proposal.height.0,
            proposal.round,
            &proposal.value.id,
            proposal.pol_round,
        );
        Ok(check(public_key, &digest, signature))
    }

    async fn verify_signed_vote_extension(
        &self,
        _scope: &mc::VoteExtensionScope<CaravanContext>,
        _extension: &(),
        signature: &ConsensusSignature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, SigningError> {
        Ok(check(
            public_key,
            &hash(Domain::Vote, b"no extension"),
            signature,
        ))
    }

    async fn verify_validator_proof(
        &self,
        proof: &mc::ValidatorProof<CaravanContext>,
    ) -> Result<VerificationResult, SigningError> {
        let Ok(bytes) = <[u8; 32]>::try_from(proof.public_key.as_slice()) else {
            return Ok(VerificationResult::Invalid);
        };
        let Ok(key) = PublicKey::from_bytes(bytes) else {
            return Ok(VerificationResult::Invalid);
        };
        let digest = peer_binding_digest(&self.chain_id, &proof.public_key, &proof.peer_id);
        Ok(check(&key, &digest, &proof.signature))
    }
}
