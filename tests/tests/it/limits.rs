//! Limits on one HTTP client, each refused with its own reason while the node keeps serving:
//! oversized headers (431), too many requests in flight (503), a request over its time (408),
//! and too many requests per second from one address (429 with Retry-After).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use caravan_sdk::client::ClientError;
use caravan_sdk::ids::{Nonce, ParticipantId};
use caravan_sdk::tx::{Body, Role, UnsignedTx};

use crate::support::testnet;

/// A raw GET with `padding` bytes of an extra header; the status code and the body.
fn raw_get(api_url: &str, path: &str, padding: usize) -> (u16, String) {
    let addr = api_url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nX-Padding: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(padding)
    );
    stream.write_all(request.as_bytes()).expect("write");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

#[test]
fn each_client_limit_is_refused_by_name_and_the_node_keeps_serving() {
    // Node 0 alone: no quorum, so a submission that waits for its commit waits.
    let mut net = testnet(4, &[]);
    net.fed
        .start_with(
            0,
            &[
                "--max-header-bytes",
                "4096",
                "--max-concurrent-requests",
                "3",
                "--request-timeout-secs",
                "2",
                "--rate-limit",
                "20",
            ],
        )
        .expect("start");
    net.fed
        .wait_healthy(0, Duration::from_secs(60))
        .expect("healthy");
    let url = net.fed.nodes[0].api_url.clone();

    // Headers: 8 KiB of them is refused, a small request is served.
    let (status, body) = raw_get(&url, "/health", 8 * 1024);
    assert_eq!(status, 431, "{body}");
    assert!(body.contains("headers_too_large"), "{body}");
    assert_eq!(raw_get(&url, "/health", 10).0, 200);

    // Time: a submission waiting for a commit that cannot come is cut at 2 s.
    let admin = net.fed.admin_key(0).expect("admin");
    let tx = |nonce: u64| {
        UnsignedTx {
            chain_id: net.fed.chain_id(),
            signer: ParticipantId::from(&net.fed.nodes[0].agency),
            nonce: Nonce(nonce),
            body: Body::RegisterParticipant {
                id: ParticipantId::new(format!("LIMITS-{nonce}")).expect("id"),
                name: "Limits".into(),
                roles: vec![Role::Enterprise],
                public_key: caravan_sdk::keys::Keypair::generate()
                    .expect("key")
                    .public(),
            },
        }
        .sign(&admin)
    };
    let started = std::time::Instant::now();
    match net.fed.client(0).submit(&tx(1), true) {
        Err(ClientError::Api {
            status: 408, api, ..
        }) => assert_eq!(api.error, "timeout"),
        other => panic!("expected 408 timeout, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(10));

    // In flight: three waiting submissions take every slot; the fourth request is turned away
    // at once, and served again once they end.
    let waiting: Vec<_> = (2..5u64)
        .map(|n| {
            let client = net.fed.client(0);
            let tx = tx(n);
            std::thread::spawn(move || client.submit(&tx, true))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    let (status, body) = raw_get(&url, "/health", 10);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("busy"), "{body}");
    for w in waiting {
        let _ = w.join().expect("waiting client");
    }
    assert_eq!(raw_get(&url, "/health", 10).0, 200);

    // Rate: 20 a second (bursts of 40) from one address; beyond, 429 with Retry-After.
    std::thread::sleep(Duration::from_secs(2));
    let answers: Vec<(u16, String)> = (0..80).map(|_| raw_get(&url, "/health", 10)).collect();
    let limited: Vec<&(u16, String)> = answers.iter().filter(|(s, _)| *s == 429).collect();
    assert!(!limited.is_empty(), "80 quick requests were all served");
    assert!(answers.iter().all(|(s, _)| *s == 200 || *s == 429));
    assert!(limited[0].1.contains("rate_limited"), "{}", limited[0].1);
    assert!(
        limited[0].1.to_ascii_lowercase().contains("retry-after: 1"),
        "{}",
        limited[0].1
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        raw_get(&url, "/health", 10).0,
        200,
        "served again after a pause"
    );
    net.fed.stop_all().expect("stop");
}
