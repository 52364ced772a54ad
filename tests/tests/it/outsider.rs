//! Outsiders: a node whose keys are in no genesis and no enacted membership change runs, but
//! no agency's node accepts its connection: it learns no block, and its votes reach nobody.

use std::time::Duration;

use caravan_sdk::ids::AgencyId;
use caravan_sdk::tx::Role;

use crate::support::{record, register_exporter, testnet, wait_committed};

#[test]
fn a_node_outside_the_membership_cannot_connect_or_affect_consensus() {
    let mut net = testnet(4, &[0, 1, 2, 3]);
    let outsider = net
        .fed
        .prepare_agency(
            &AgencyId::new("XX-OUTSIDER").expect("id"),
            "Not a member",
            "KG",
            vec![Role::Customs],
        )
        .expect("outsider keys");
    net.fed.start(outsider).expect("start the outsider");
    net.fed
        .wait_healthy(outsider, Duration::from_secs(60))
        .expect("its API answers");
    let exporter = register_exporter(&net, 0, "CN-EXPORTER-OUTSIDER");
    let txs: Vec<_> = (1..=20).map(|n| record(&net, &exporter, n)).collect();
    for tx in &txs {
        net.fed.client(1).submit(tx, false).expect("admitted");
    }
    wait_committed(
        &net.fed.client(0),
        &txs.iter().map(|t| t.id()).collect::<Vec<_>>(),
        Duration::from_secs(60),
    );
    std::thread::sleep(Duration::from_secs(2));
    let members = net.fed.client(0).health().expect("health").height;
    assert!(members.0 >= 2, "the federation committed {members} blocks");
    // The outsider learned nothing: no agency's node let it in to sync.
    let outside = net.fed.client(outsider).health().expect("health").height;
    assert_eq!(outside.0, 0, "the outsider synced {outside} blocks");
    // And the agencies' nodes say why they turned it away.
    let log = std::fs::read_to_string(&net.fed.nodes[0].log).expect("log");
    assert!(
        log.contains("Rejecting connection from non-persistent peer"),
        "node 0 did not refuse the outsider"
    );
    net.fed.stop_all().expect("stop");
}
