//! The genesis ceremony, run by agencies apart from each other: each generates its keys and
//! shares a public member card; one assembles the cards into an unsigned genesis; each signs
//! its hash with its admin key; anyone verifies. Writes the sdk's `Genesis`; does not define it.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use caravan_sdk::genesis::{Genesis, GenesisContent, GenesisError, MemberCard, Params};
use caravan_sdk::ids::AgencyId;
use caravan_sdk::keys::{KeyFileError, Keypair, read_key_file, write_key_file};
use caravan_sdk::tx::Role;

/// A ceremony step that failed.
#[derive(Debug, thiserror::Error)]
pub enum CeremonyError {
    /// A key file problem.
    #[error(transparent)]
    Key(#[from] KeyFileError),
    /// A genesis problem.
    #[error(transparent)]
    Genesis(#[from] GenesisError),
    /// A file problem.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// Bad input.
    #[error("{0}")]
    Invalid(String),
}

fn file_err(path: &Path, reason: impl ToString) -> CeremonyError {
    CeremonyError::File {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// What an agency says about itself in its member card.
#[derive(Clone, Debug)]
pub struct AgencyInfo {
    /// Its id.
    pub agency: AgencyId,
    /// Its name.
    pub name: String,
    /// ISO 3166-1 alpha-2 country.
    pub country: String,
    /// Its roles.
    pub roles: Vec<Role>,
    /// `host:port` for peers.
    pub p2p_address: String,
    /// `http://host:port` for the API.
    pub api_url: String,
}

/// The files `keygen` writes.
pub struct KeygenOutput {
    /// The member card, to share.
    pub card: MemberCard,
    /// Where it was written.
    pub card_path: PathBuf,
}

/// Generates an agency's validator, network and admin keys into `out` (files mode 0600, never
/// overwritten) and writes its public member card as `member-card.json`.
pub fn keygen(info: &AgencyInfo, out: &Path) -> Result<KeygenOutput, CeremonyError> {
    if info.country.len() != 2 || !info.country.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(CeremonyError::Invalid(format!(
            "country must be an ISO 3166-1 alpha-2 code such as CN or KZ, found {:?}",
            info.country
        )));
    }
    if info.roles.is_empty() {
        return Err(CeremonyError::Invalid(
            "an agency needs at least one role".into(),
        ));
    }
    std::fs::create_dir_all(out).map_err(|e| file_err(out, e))?;
    let mut roles = info.roles.clone();
    roles.sort();
    roles.dedup();
    let gen_key = || Keypair::generate().map_err(|e| CeremonyError::Invalid(e.to_string()));
    let validator = gen_key()?;
    let network = gen_key()?;
    let admin = gen_key()?;
    write_key_file(&out.join("validator.key"), "validator", &validator)?;
    write_key_file(&out.join("network.key"), "network", &network)?;
    write_key_file(&out.join("admin.key"), "admin", &admin)?;
    let card = MemberCard {
        agency: info.agency.clone(),
        name: info.name.clone(),
        country: info.country.clone(),
        roles,
        validator_key: validator.public(),
        network_key: network.public(),
        admin_key: admin.public(),
        p2p_address: info.p2p_address.clone(),
        api_url: info.api_url.clone(),
    };
    let card_path = out.join("member-card.json");
    let text =
        serde_json::to_string_pretty(&card).map_err(|e| CeremonyError::Invalid(e.to_string()))?;
    std::fs::write(&card_path, text + "\n").map_err(|e| file_err(&card_path, e))?;
    Ok(KeygenOutput { card, card_path })
}

/// Reads a member card.
pub fn read_card(path: &Path) -> Result<MemberCard, CeremonyError> {
    let text = std::fs::read_to_string(path).map_err(|e| file_err(path, e))?;
    serde_json::from_str(&text).map_err(|e| file_err(path, format!("not a member card: {e}")))
}

/// Assembles member cards into an unsigned genesis.
pub fn assemble(
    chain_name: &str,
    created: &str,
    mut cards: Vec<MemberCard>,
    params: Params,
) -> Result<Genesis, CeremonyError> {
    cards.sort_by(|a, b| a.agency.cmp(&b.agency));
    if let Some(w) = cards.windows(2).find(|w| w[0].agency == w[1].agency) {
        return Err(CeremonyError::Invalid(format!(
            "agency {} has two member cards",
            w[0].agency
        )));
    }
    let content = GenesisContent {
        chain_name: chain_name.to_string(),
        created: created.to_string(),
        agencies: cards,
        params,
    };
    content.validate()?;
    Ok(Genesis::new(content))
}

/// Adds `agency`'s signature to the genesis file at `path`, using its admin key file.
pub fn sign_file(
    path: &Path,
    agency: &AgencyId,
    admin_key: &Path,
) -> Result<Genesis, CeremonyError> {
    let mut genesis = Genesis::read(path)?;
    let key = read_key_file(admin_key)?;
    genesis.sign(agency, &key)?;
    genesis.write(path)?;
    Ok(genesis)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(i: u16) -> AgencyInfo {
        AgencyInfo {
            agency: AgencyId::new(format!("AG-{i}")).expect("id"),
            name: format!("Agency {i}"),
            country: "KZ".into(),
            roles: vec![Role::Customs, Role::Registry],
            p2p_address: format!("127.0.0.1:{}", 40000 + i),
            api_url: format!("http://127.0.0.1:{}", 41000 + i),
        }
    }

    #[test]
    fn ceremony_end_to_end_with_files() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut cards = Vec::new();
        for i in 0..3 {
            let out = keygen(&info(i), &dir.path().join(format!("ag{i}"))).expect("keygen");
            cards.push(read_card(&out.card_path).expect("card"));
        }
        let genesis =
            assemble("test", "2026-11-26T00:00:00Z", cards, Params::default()).expect("assemble");
        let path = dir.path().join("genesis.json");
        genesis.write(&path).expect("write");
        for i in 0..3 {
            let id = AgencyId::new(format!("AG-{i}")).expect("id");
            if i == 2 {
                // Before the last founder signs, the genesis is refused, naming it.
                let err = Genesis::read_verified(&path)
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_default();
                assert!(err.contains("AG-2"), "{err}");
            }
            sign_file(&path, &id, &dir.path().join(format!("ag{i}/admin.key"))).expect("sign");
        }
        assert!(Genesis::read_verified(&path).is_ok());
        // Signing with another agency's key is refused.
        let wrong = sign_file(
            &path,
            &AgencyId::new("AG-0").expect("id"),
            &dir.path().join("ag1/admin.key"),
        );
        assert!(wrong.is_err());
        // Keys are not overwritten.
        assert!(keygen(&info(0), &dir.path().join("ag0")).is_err());
    }

    #[test]
    fn bad_country_refused() {
        let mut bad = info(1);
        bad.country = "Kazakhstan".into();
        let dir = tempfile::tempdir().expect("tmp");
        assert!(matches!(
            keygen(&bad, dir.path()),
            Err(CeremonyError::Invalid(_))
        ));
    }
}
