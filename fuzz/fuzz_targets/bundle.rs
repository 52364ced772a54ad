//! A proof bundle (CBOR or JSON) and a credential from arbitrary bytes: reading never panics,
//! and verifying what reads, against a fixed genesis, never panics.
#![no_main]

use std::sync::OnceLock;

use caravan_sdk::bundle::{ProofBundle, verify_bundle};
use caravan_sdk::credential::Credential;
use caravan_sdk::genesis::{Genesis, GenesisContent, MemberCard, Params};
use caravan_sdk::ids::AgencyId;
use caravan_sdk::keys::Keypair;
use caravan_sdk::tx::Role;
use libfuzzer_sys::fuzz_target;

fn genesis() -> &'static Genesis {
    static GENESIS: OnceLock<Genesis> = OnceLock::new();
    GENESIS.get_or_init(|| {
        let admin = Keypair::from_seed(&[3; 32]);
        let mut genesis = Genesis::new(GenesisContent {
            chain_name: "fuzz".into(),
            created: "fuzz".into(),
            agencies: vec![MemberCard {
                agency: AgencyId::new("CN-QDG-CUSTOMS").expect("id"),
                name: "Qingdao".into(),
                country: "CN".into(),
                roles: vec![Role::Registry],
                validator_key: Keypair::from_seed(&[1; 32]).public(),
                network_key: Keypair::from_seed(&[2; 32]).public(),
                admin_key: admin.public(),
                p2p_address: "127.0.0.1:1".into(),
                api_url: "http://127.0.0.1:2".into(),
            }],
            params: Params::default(),
        });
        let id = genesis.content.agencies[0].agency.clone();
        genesis.sign(&id, &admin).expect("sign");
        genesis
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(bundle) = ProofBundle::parse(data) {
        let _ = verify_bundle(genesis(), &bundle);
    }
    if let Ok(credential) = Credential::parse(data) {
        let _ = caravan_sdk::credential::verify_credential(genesis(), &credential);
    }
});
