//! The load benchmark, run as a user would, briefly: a real federation under paced load with a
//! share of invalid transactions, the central-database baseline on the same records, and a JSON
//! report with exactly the documented keys. Nothing valid is lost or rejected, and every invalid
//! transaction is refused.

use std::process::Command;

use crate::support::testnet;

/// Runs `caravan-testnet load` with `args` on 4 validators; the JSON report and the text one.
fn load(args: &[&str]) -> (serde_json::Value, String) {
    let _net = testnet(1, &[]); // holds the one-federation-at-a-time lock
    let dir = tempfile::tempdir().expect("tmp");
    let json = dir.path().join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_caravan-testnet-it"))
        .args([
            "load",
            "--validators",
            "4",
            "--clients",
            "3",
            "--batch",
            "20",
        ])
        .args(args)
        .arg("--dir")
        .arg(dir.path().join("fed"))
        .arg("--json")
        .arg(&json)
        .output()
        .expect("run load");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "load failed:\n{stdout}\n{stderr}");
    let report =
        serde_json::from_slice(&std::fs::read(&json).expect("report written")).expect("json");
    (report, stdout)
}

/// The committed and submitted counts of valid transactions in the text report.
fn committed_of_submitted(stdout: &str) -> (u64, u64) {
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("committed  "))
        .unwrap_or_else(|| panic!("no committed line:\n{stdout}"));
    let counts: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(counts.len(), 2, "{line}");
    (counts[0], counts[1])
}

#[test]
fn load_of_trade_documents_loses_nothing() {
    let (report, stdout) = load(&[
        "--mix",
        "domain",
        "--duration",
        "3s",
        "--rate",
        "200",
        "--no-baseline",
        "--observers",
        "1",
    ]);
    assert_eq!(report["lost"], 0, "{stdout}");
    // An observer started from zero after the load caught up with every block.
    assert_eq!(report["observers"], 1);
    let catchup = report["observer_catchup_tx_s"].as_f64().unwrap_or(f64::NAN);
    assert!(catchup > 0.0, "observer catch-up {catchup}\n{stdout}");
    assert!(stdout.contains("observer catch-up"), "{stdout}");
    assert_eq!(report["rejected"], 0, "{stdout}");
    assert!(report["baseline_tx_s"].is_null());
    assert!(
        stdout.contains("PostgreSQL baseline    skipped"),
        "{stdout}"
    );
    let (committed, submitted) = committed_of_submitted(&stdout);
    assert_eq!(committed, submitted);
    assert!(committed >= 300, "{stdout}");
}

#[test]
fn load_benchmark_reports_and_loses_nothing() {
    let (report, stdout) = load(&["--duration", "5s", "--rate", "300", "--invalid", "0.1"]);
    let keys: Vec<&str> = report
        .as_object()
        .expect("object")
        .keys()
        .map(|k| k.as_str())
        .collect();
    let mut expected = vec![
        "committed_tx_s",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "rejected",
        "lost",
        "verify_ceiling_tx_s",
        "ratio_to_ceiling",
        "validators",
        "duration_s",
        "baseline_tx_s",
        "ratio_to_baseline",
        "observers",
        "observer_catchup_tx_s",
    ];
    expected.sort();
    let mut keys_sorted = keys.clone();
    keys_sorted.sort();
    assert_eq!(keys_sorted, expected);
    assert_eq!(report["lost"], 0, "{stdout}");
    assert_eq!(report["rejected"], 0, "{stdout}");
    assert_eq!(report["validators"], 4);
    assert!(report["observer_catchup_tx_s"].is_null());
    for key in [
        "committed_tx_s",
        "p50_ms",
        "p99_ms",
        "verify_ceiling_tx_s",
        "ratio_to_ceiling",
        "baseline_tx_s",
        "ratio_to_baseline",
    ] {
        let v = report[key].as_f64().unwrap_or(f64::NAN);
        assert!(v > 0.0, "{key} = {v}\n{stdout}");
    }
    assert!(report["p50_ms"].as_f64() <= report["p99_ms"].as_f64());
    // About 1,500 transactions at 300/s for 5 s, one in ten of them invalid.
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("invalid"))
        .unwrap_or_else(|| panic!("no invalid line:\n{stdout}"));
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.trim_end_matches(',').parse().ok())
        .collect();
    assert_eq!(numbers.len(), 3, "{line}");
    assert!(numbers[0] >= 100, "{line}");
    assert_eq!(numbers[0], numbers[1], "every invalid one refused: {line}");
    assert_eq!(numbers[2], 0, "no invalid one committed: {line}");
    let committed_line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("committed  "))
        .unwrap_or_else(|| panic!("no committed line:\n{stdout}"));
    let counts: Vec<u64> = committed_line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(counts.len(), 2, "{committed_line}");
    assert_eq!(
        counts[0], counts[1],
        "all valid committed: {committed_line}"
    );
    assert!(counts[0] >= 1_000, "{committed_line}");
}

#[test]
fn load_refuses_a_rate_and_duration_beyond_what_it_signs() {
    // 20,000 tx/s for ten minutes is 12,000,000 transactions, above the 8,000,000 signed in
    // advance: refused before anything starts, rather than a run that ends early.
    let dir = tempfile::tempdir().expect("tmp");
    let fed = dir.path().join("fed");
    let out = Command::new(env!("CARGO_BIN_EXE_caravan-testnet-it"))
        .args(["load", "--validators", "4", "--rate", "20000"])
        .args(["--duration", "600s", "--no-baseline", "--dir"])
        .arg(&fed)
        .output()
        .expect("run load");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("--rate 20000 for 600 s needs 12000000 transactions"),
        "{stderr}"
    );
    assert!(!fed.exists(), "nothing was started");
}
