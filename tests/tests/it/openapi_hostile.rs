//! The HTTP API checked against its own OpenAPI document with generated hostile requests.
//!
//! For every operation in `docs/openapi.json`, requests are generated from its declared
//! parameters: each path and query parameter in turn takes each hostile value (empty, huge,
//! overflowing, traversal, control and invalid percent-encodings, injections, other ids), both
//! anonymous and as a validly signed read by an agency (so that the handlers' own checks are
//! reached), and every POST gets hostile bodies under each content type. Every answer must be
//! one the document declares for that operation, or one of the answers every route may give
//! (404 for a path no route matches, 405, 413, 429); never a 5xx; and every error the node
//! produces is JSON with a reason. At the end the node still serves and still commits.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use caravan_sdk::api::{READ_PARTICIPANT_HEADER, READ_SIGNATURE_HEADER, READ_TIME_HEADER};
use caravan_sdk::api::{TxStatus, read_request_digest};
use caravan_sdk::keys::Keypair;
use serde_json::Value;

use crate::support::{record, register_with_nonce, testnet};

static OPENAPI: &str = include_str!("../../../docs/openapi.json");

/// Values every parameter takes in turn, already percent-encoded where they go into a URL.
const HOSTILE: &[&str] = &[
    "",
    "0",
    "-1",
    "18446744073709551616",
    "99999999999999999999999999999999",
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "..%2F..%2Fetc%2Fpasswd",
    "%00",
    "%ZZ",
    "%F0%9F%92%A3%E4%B8%AD",
    "%27%20OR%201%3D1%20--",
    "SCO-CN-000001-X",
    "6CN91350100-HN0417",
    "cbor",
    "commit",
    "%0D%0AX-Injected:%201",
];

/// Bodies every POST gets, with each content type.
fn hostile_bodies() -> Vec<Vec<u8>> {
    let mut nested = "[".repeat(10_000).into_bytes();
    nested.extend("]".repeat(10_000).into_bytes());
    vec![
        Vec::new(),
        b"{}".to_vec(),
        b"[]".to_vec(),
        b"null".to_vec(),
        b"{\"tx\":{\"chain_id\":7}}".to_vec(),
        b"{\"transactions\":\"yes\"}".to_vec(),
        (0u8..=255).collect(),
        vec![0xbf; 64],
        vec![0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        nested,
        vec![b'a'; 200_000],
    ]
}

const CONTENT_TYPES: &[&str] = &["application/json", "application/cbor", "text/plain"];

/// Answers any route may give besides its own: 404 when a hostile path parameter makes the path
/// match no route, 405 for a method the path does not take, 413 for a body over the limit, 429
/// when the client outruns the rate limit.
const ANY_ROUTE: &[u16] = &[404, 405, 413, 429];

struct Answer {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

fn send(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Answer {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut request =
        format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(request.as_bytes()).expect("write head");
    // The node may answer (413) and close before the whole body is sent.
    let _ = stream.write_all(body);
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).expect("status line");
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{method} {target}: no status in {status_line:?}"));
    let mut content_type = String::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("header");
        if line.trim().is_empty() {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-type:") {
            content_type = v.trim().to_string();
        }
    }
    let mut body = Vec::new();
    if content_type != "text/event-stream" {
        let _ = reader.take(4 * 1024 * 1024).read_to_end(&mut body);
    }
    Answer {
        status,
        content_type,
        body,
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64
}

fn signed_headers(who: &str, key: &Keypair, target: &str) -> Vec<(String, String)> {
    let time = now_ms();
    let signature = key.sign(&read_request_digest("GET", target, time));
    vec![
        (READ_PARTICIPANT_HEADER.to_string(), who.to_string()),
        (READ_TIME_HEADER.to_string(), time.to_string()),
        (READ_SIGNATURE_HEADER.to_string(), signature.to_hex()),
    ]
}

/// One generated request of an operation.
struct Case {
    target: String,
    signed: bool,
    content_type: Option<&'static str>,
    body: Vec<u8>,
}

/// The requests generated for one operation.
fn cases(path: &str, method: &str, operation: &Value) -> Vec<Case> {
    let params: Vec<(String, String, Option<String>)> = operation["parameters"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter(|p| p["in"] == "path" || p["in"] == "query")
                .map(|p| {
                    (
                        p["name"].as_str().unwrap_or("").to_string(),
                        p["in"].as_str().unwrap_or("").to_string(),
                        p["schema"]["enum"][0].as_str().map(str::to_string),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    // A well-formed value for every parameter, so that one hostile value at a time is tested.
    let plain = |name: &str, example: &Option<String>| -> String {
        example.clone().unwrap_or_else(|| match name {
            "height" | "from" | "count" | "to" => "1".into(),
            "code" => "SCO-CN-000001-X".into(),
            "q" => "X8017".into(),
            "key" => "702f".into(),
            _ => "0".repeat(64),
        })
    };
    let build = |hostile: Option<(&str, &str)>| -> String {
        let mut target = path.to_string();
        let mut query = Vec::new();
        for (name, place, example) in &params {
            let value = match hostile {
                Some((n, v)) if n == name => v.to_string(),
                _ => plain(name, example),
            };
            if place == "path" {
                target = target.replace(&format!("{{{name}}}"), &value);
            } else {
                query.push(format!("{name}={value}"));
            }
        }
        if !query.is_empty() {
            target.push('?');
            target.push_str(&query.join("&"));
        }
        target
    };
    let mut out = Vec::new();
    let mut targets = vec![build(None)];
    for (name, _, _) in &params {
        for value in HOSTILE {
            targets.push(build(Some((name, value))));
        }
    }
    for target in targets {
        if method == "post" {
            for body in hostile_bodies() {
                for content_type in CONTENT_TYPES {
                    out.push(Case {
                        target: target.clone(),
                        signed: false,
                        content_type: Some(content_type),
                        body: body.clone(),
                    });
                }
            }
        } else {
            for signed in [false, true] {
                out.push(Case {
                    target: target.clone(),
                    signed,
                    content_type: None,
                    body: Vec::new(),
                });
            }
        }
    }
    out
}

#[test]
fn hostile_requests_generated_from_the_openapi_document() {
    let net = testnet(1, &[0]);
    let exporter = register_with_nonce(&net, 0, "CN-HOSTILE-1", 1);
    let base = net.fed.nodes[0].api_url.clone();
    let addr = base.trim_start_matches("http://").to_string();
    let agency = net.fed.nodes[0].agency.to_string();
    let admin = net.fed.admin_key(0).expect("admin key");
    let doc: Value = serde_json::from_str(OPENAPI).expect("openapi.json");
    let paths = doc["paths"].as_object().expect("paths");

    let mut sent = 0usize;
    let mut by_status = std::collections::BTreeMap::<u16, usize>::new();
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("path item") {
            let declared: Vec<u16> = operation["responses"]
                .as_object()
                .expect("responses")
                .keys()
                .filter_map(|k| k.parse().ok())
                .collect();
            for case in cases(path, method, operation) {
                let mut headers = Vec::new();
                if case.signed {
                    headers = signed_headers(&agency, &admin, &case.target);
                }
                if let Some(ct) = case.content_type {
                    headers.push(("Content-Type".into(), ct.into()));
                }
                let answer = send(
                    &addr,
                    &method.to_uppercase(),
                    &case.target,
                    &headers,
                    &case.body,
                );
                sent += 1;
                *by_status.entry(answer.status).or_default() += 1;
                let what = format!(
                    "{} {} (signed: {}, content type {:?}, {} body bytes)",
                    method.to_uppercase(),
                    case.target,
                    case.signed,
                    case.content_type,
                    case.body.len()
                );
                assert!(
                    answer.status < 500,
                    "{what}: {} {}",
                    answer.status,
                    String::from_utf8_lossy(&answer.body)
                );
                assert!(
                    declared.contains(&answer.status) || ANY_ROUTE.contains(&answer.status),
                    "{what}: status {} is not declared for {method} {path} (declared {declared:?}): {}",
                    answer.status,
                    String::from_utf8_lossy(&answer.body)
                );
                // Errors the node produces are JSON with a reason; the framework's own 405 and
                // its plain-text 400 for an unparsable query string are the documented exceptions.
                let framework = answer.status == 405
                    || (answer.status == 400 && answer.content_type.starts_with("text/plain"));
                if answer.status >= 400 && !framework {
                    let error: Value = serde_json::from_slice(&answer.body).unwrap_or_else(|e| {
                        panic!(
                            "{what}: {} answer is not JSON ({e}): {}",
                            answer.status,
                            String::from_utf8_lossy(&answer.body)
                        )
                    });
                    assert!(
                        error["error"].as_str().is_some_and(|r| !r.is_empty()),
                        "{what}: no reason in {error}"
                    );
                }
            }
        }
    }
    eprintln!("hostile requests: {sent} sent; answers by status: {by_status:?}");
    assert!(sent > 1_000, "only {sent} requests generated");

    // The node still serves and still commits.
    let client = net.fed.client(0);
    assert_eq!(client.health().expect("health").status, "ok");
    let tx = record(&net, &exporter, 1);
    assert!(matches!(
        client.submit(&tx, true).expect("submit"),
        TxStatus::Committed { .. }
    ));
}
