//! The explorer in a real browser: headless Chromium, driven over WebDriver (chromedriver), on
//! the demo federation. A reader looks at the overview, meets the protected pages anonymously,
//! signs in with the rail operator's key file, searches by consignment reference, SCO code,
//! train and container, reads both consignments (one clean, one with its weight discrepancy
//! open in the validation matrix), downloads a credit credential, verifies a proof bundle in the
//! browser (every link green) and a tampered copy (red at the link the sdk names), switches the
//! language to Chinese and Russian, and signs out.
//!
//! Chromium and ChromeDriver come from Debian's packages, installed by `scripts/chromium` when
//! missing; if they cannot be installed or started, the test fails with the reason. A PNG
//! screenshot of each page is written to `target/explorer-screenshots/`.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use caravan_sdk::bundle::{ProofBundle, verify_bundle};
use caravan_sdk::credential::{Credential, verify_credential};
use caravan_sdk::genesis::Genesis;
use caravan_sdk::ids::ParticipantId;
use caravan_sdk::keys::read_key_file;
use caravan_testnet::demo;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::support::{launcher, one_at_a_time};

/// How long a page may take to show what a step waits for.
const WAIT: Duration = Duration::from_secs(30);
/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(100);
const WINDOW: (u32, u32) = (1280, 900);
/// The rail operator: a party to both consignments, registered, so it may read the exporter's
/// SCO code and its attestations too.
const READER: &str = "CN-CR-EXPRESS";

#[test]
fn explorer_in_a_browser_on_the_demo_federation() {
    // The browser first: a missing one is installed (or the reason it cannot be) before any
    // federation is started.
    let (chromium, chromedriver) = install_chromium();
    let _guard = one_at_a_time();
    let dir = tempfile::tempdir().expect("tempdir");
    let (fed, facts) = demo::scenario(dir.path(), launcher()).expect("demo scenario");
    let started = Instant::now();
    let base = fed.nodes[1].api_url.clone();
    let browser = Browser::launch(&chromium, &chromedriver, &base);

    overview(&browser);
    anonymous(&browser, &facts);
    sign_in(&browser, &facts);
    clean_consignment(&browser, &facts);
    discrepancy(&browser, &facts);
    search(&browser, &facts);
    transaction_and_block(&browser, &facts);
    let genesis = Genesis::read(&fed.genesis_path).expect("genesis");
    sco_page(&browser, &facts, &genesis);
    verify_page(&browser, &fed, &facts, &genesis, dir.path());
    languages(&browser, &facts);
    sign_out(&browser, &facts);

    browser.assert_no_script_errors();
    eprintln!(
        "explorer browser scenarios took {:.1} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        browser.shots.display()
    );
}

// ---- scenarios -------------------------------------------------------------------------------

/// The overview, anonymous and in English: the height, the four agencies and who signed.
fn overview(b: &Browser) {
    b.scenario("overview");
    b.go("#/");
    b.wait_page("overview");
    let height: u64 = b.wait_for("a numeric height", |b| {
        b.text("[data-test=overview-height]")
            .and_then(|t| t.trim().parse().ok())
    });
    assert!(height > 10, "height {height}");
    b.wait_for("four agencies", |b| {
        (b.count("[data-test=agency-row]") == 4).then_some(())
    });
    for agency in ["CN-QDG-CUSTOMS", "KZ-KGS-CUSTOMS"] {
        b.expect(&format!("[data-test=agency-row][data-agency={agency}]"));
    }
    let signed = b.count("[data-test=agency-row][data-signed=true]");
    b.check(
        signed >= 3,
        &format!("only {signed} agencies signed the latest block"),
    );
    b.expect("[data-test=latest-blocks] [data-test=block-row]");
    b.expect("[data-test=public-note]");
    b.wait_for("the live block feed", |b| {
        (b.attr("#live-status", "data-state").as_deref() == Some("live")).then_some(())
    });
    b.check(
        b.text("[data-test=nav-overview]").as_deref() == Some("Overview"),
        "the page is not in English",
    );
    b.screenshot("overview");
}

/// Anonymous: the node's protected data is withheld, and each page says why.
fn anonymous(b: &Browser, facts: &demo::DemoFacts) {
    b.scenario("anonymous");
    // An SCO code is recognised by its form: the search lands on its page, which needs a
    // signed-in reader.
    b.search(&facts.sco_code);
    b.wait_page("sco");
    b.wait_hash(&format!("#/sco/{}", facts.sco_code));
    let notice = b.wait_text("[data-test=protected-notice][data-reason=not_signed_in]");
    b.check(
        notice.contains("Sign in as a registered participant") && notice.contains("not signed in"),
        &format!("the SCO page does not say why its data is hidden: {notice}"),
    );
    b.check(
        b.count("[data-test=sco-enterprise]") == 0,
        "the SCO page shows the enterprise anonymously",
    );
    b.screenshot("sco-anonymous");

    // A train number is found only for a signed-in reader: an empty result with the reason.
    b.search(&facts.train);
    b.wait_page("search");
    b.expect("[data-test=search-empty]");
    let hint = b.wait_text("[data-test=search-signin-hint]");
    b.check(
        hint.contains("Without signing in"),
        &format!("no sign-in hint: {hint}"),
    );
    b.screenshot("search-anonymous");

    b.go(&format!("#/consignment/{}", facts.ucr));
    b.wait_page("consignment");
    let notice = b.wait_text("[data-test=protected-notice][data-reason=not_signed_in]");
    b.check(
        notice.contains("party to this consignment"),
        &format!("the consignment page does not say why its data is hidden: {notice}"),
    );
    b.check(
        b.count("[data-test=validation-matrix]") == 0,
        "the validation matrix is shown anonymously",
    );
    b.screenshot("consignment-anonymous");
}

/// Signs in from the protected consignment page with the rail operator's key file (chosen in the
/// file input), and lands back on the consignment.
fn sign_in(b: &Browser, facts: &demo::DemoFacts) {
    b.scenario("sign in");
    b.click("[data-test=protected-signin]");
    b.wait_page("signin");
    b.expect("[data-test=signin-form]");
    let key = facts.keys[READER].canonicalize().expect("key file path");
    b.upload("[data-test=signin-key]", &key);
    b.wait_for("the key file to be read", |b| {
        b.text("[data-test=signin-key-name]")
            .filter(|t| t.contains(&format!("{READER}.key")))
    });
    // The participant id is taken from the file's name.
    b.wait_for("the participant id from the key file's name", |b| {
        (b.js(
            "return document.querySelector('[data-test=signin-participant]').value",
            vec![],
        ) == json!(READER))
        .then_some(())
    });
    b.screenshot("signin");
    b.click("[data-test=signin-submit]");
    b.wait_for("the header to show who is signed in", |b| {
        b.attr("[data-test=signin-who]", "data-participant")
            .filter(|p| p == READER)
    });
    b.wait_hash(&format!("#/consignment/{}", facts.ucr));
    b.wait_page("consignment");
}

/// The consignment the rail operator amended: two legs, and every rule of the matrix passes.
fn clean_consignment(b: &Browser, facts: &demo::DemoFacts) {
    b.scenario("clean consignment");
    b.wait_text("[data-test=validation-matrix]");
    b.check(
        b.text("[data-test=consignment-ucr]").as_deref() == Some(facts.ucr.as_str()),
        "the page is not the consignment's",
    );
    let legs = b.js(
        "return [...document.querySelectorAll('[data-test=consignment-leg]')].map(l => l.dataset.mode)",
        vec![],
    );
    b.check(legs == json!(["sea", "rail"]), &format!("legs: {legs}"));
    let stops = b.js(
        "return [...document.querySelectorAll('[data-test=route-stop]')].map(s => s.dataset.locode)",
        vec![],
    );
    b.check(
        stops == json!(["CNTAO", "CNLYG", "KZALA"]),
        &format!("route: {stops}"),
    );
    b.check(
        b.attr("[data-test=report-verdict]", "data-verdict")
            .as_deref()
            == Some("clean"),
        "the report is not clean",
    );
    let rules = b.count("[data-test=rule-row]");
    let passing = b.count("[data-test=rule-row][data-status=pass]");
    b.check(
        rules == 11 && passing == 11,
        &format!("{passing} of {rules} rules pass"),
    );
    b.check(
        b.count("[data-test=matrix-cell][data-status=fail]") == 0,
        "a failed cell on a clean report",
    );
    // The amended rail note: its row says it was amended once.
    let rail = b.wait_text("[data-test=consignment-leg][data-mode=rail] [data-test=document-row]");
    b.check(
        rail.contains("SMGS 24-0417-0093") && rail.to_lowercase().contains("amended once"),
        &format!("rail note row: {rail}"),
    );
    b.check(
        b.count("[data-test=transport-event]") >= 3,
        "the transport events are missing",
    );
    b.check(
        b.count("[data-test=report-attestation][data-decision=confirm]") == 1,
        "Khorgos customs' confirmation is missing",
    );
    b.screenshot("consignment");
}

/// The second consignment, found by searching its reference: the weights rule fails, and the
/// matrix shows the failed cell under the rail note and the packing list with their weights.
fn discrepancy(b: &Browser, facts: &demo::DemoFacts) {
    b.scenario("open discrepancy");
    b.search(&facts.discrepancy_ucr);
    b.wait_hash(&format!("#/consignment/{}", facts.discrepancy_ucr));
    b.wait_page("consignment");
    b.wait_text("[data-test=validation-matrix]");
    b.check(
        b.text("[data-test=consignment-ucr]").as_deref() == Some(facts.discrepancy_ucr.as_str()),
        "the page is not the second consignment's",
    );
    b.check(
        b.attr("[data-test=report-verdict]", "data-verdict")
            .as_deref()
            == Some("fail"),
        "the report does not fail",
    );
    b.expect("[data-test=rule-row][data-rule=weights][data-status=fail]");
    let failed = b.js(
        "return [...document.querySelectorAll('[data-test=matrix-cell][data-rule=weights][data-status=fail]')].map(cell => {
            const column = document.querySelector(`[data-test=matrix-column][data-document='${cell.dataset.document}']`);
            return [column ? column.dataset.kind : '', cell.querySelector('[data-test=finding-value]')?.textContent || ''];
        })",
        vec![],
    );
    b.check(
        failed == json!([["transport", "4800 KGM"], ["packing_list", "4200 KGM"]]),
        &format!("failed weight cells (column kind, value): {failed}"),
    );
    let tolerance = b.text("[data-test=finding-tolerance]").unwrap_or_default();
    b.check(
        tolerance.contains("KGM"),
        &format!("no tolerance shown with the finding: {tolerance:?}"),
    );
    // Rules short of a declaration or an invoice wait for them, rather than pass.
    b.expect("[data-test=rule-row][data-rule=value][data-status=pending]");
    b.screenshot("consignment-discrepancy");
}

/// Signed-in search: a train and a container lead to the rail note.
fn search(b: &Browser, facts: &demo::DemoFacts) {
    b.scenario("search");
    b.search(&facts.train);
    b.wait_page("document");
    let number = b.wait_text("[data-test=document-number]");
    b.check(
        number.contains(&facts.rail_note_number),
        &format!("the train led to {number}"),
    );
    b.check(
        b.text("[data-test=document-consignment]").as_deref() == Some(facts.ucr.as_str()),
        "the rail note does not link its consignment",
    );
    b.expect("[data-test=document-fields]");
    b.screenshot("document");

    // A container number typed loosely: every document of the consignment that lists it.
    let loose = format!(
        "{} {}",
        facts.container[..4].to_lowercase(),
        &facts.container[4..]
    );
    b.search(&loose);
    b.wait_page("search");
    let results = b.js(
        "return [...document.querySelectorAll('[data-test=search-result]')].map(r => r.dataset.kind + ' ' + r.textContent)",
        vec![],
    );
    let listed = results.as_array().cloned().unwrap_or_default();
    b.check(
        listed.len() >= 2
            && listed.iter().all(|r| {
                r.as_str()
                    .is_some_and(|r| r.starts_with("document") && r.contains(&facts.ucr))
            })
            && listed.iter().any(|r| {
                r.as_str()
                    .is_some_and(|r| r.contains(&facts.rail_note_number))
            }),
        &format!("container search results: {results}"),
    );
    b.screenshot("search-container");
}

/// A transaction found by its id, and the block that holds it.
fn transaction_and_block(b: &Browser, facts: &demo::DemoFacts) {
    b.scenario("transaction and block");
    let id = facts.grade_attestation.to_string();
    b.search(&id);
    b.wait_hash(&format!("#/tx/{id}"));
    b.wait_page("tx");
    b.expect("[data-test=tx-status][data-status=committed]");
    let kind = b.wait_text("[data-test=tx-body] [data-test=tx-type]");
    b.check(
        kind.contains("attest_credit"),
        &format!("transaction type {kind}"),
    );
    b.screenshot("tx");

    b.click("[data-test=tx-status] .at-height a");
    b.wait_page("block");
    b.wait_text(&format!("[data-test=block-tx-row][data-tx='{id}']"));
    b.expect("[data-test=block-header]");
    b.screenshot("block");
}

/// The SCO page, found by searching the code: the enterprise, its credit summary and attestations, each with its downloads;
/// the customs grade's credential is saved and verifies offline, and verifies in the page.
fn sco_page(b: &Browser, facts: &demo::DemoFacts, genesis: &Genesis) {
    b.scenario("SCO code");
    b.search(&facts.sco_code);
    b.wait_hash(&format!("#/sco/{}", facts.sco_code));
    b.wait_page("sco");
    b.wait_text("[data-test=sco-enterprise]");
    b.check(
        b.text("[data-test=sco-enterprise] [data-test=sco-code]")
            .as_deref()
            == Some(facts.sco_code.as_str()),
        "the page is not the SCO code's",
    );
    b.expect("[data-test=customs-grade]");
    // The second consignment's open discrepancy puts the exporter on watch, and says so.
    b.check(
        b.attr("[data-test=credit-standing]", "data-standing")
            .as_deref()
            == Some("watch"),
        "the open discrepancy does not put the exporter on watch",
    );
    let open = b
        .text("[data-test=history-discrepancies]")
        .unwrap_or_default();
    b.check(
        open.ends_with('1'),
        &format!("the open discrepancy is not counted: {open}"),
    );
    let counted = b
        .text("[data-test=history-consignments]")
        .unwrap_or_default();
    b.check(
        counted.ends_with('2'),
        &format!("the two consignments are not counted: {counted}"),
    );
    let grade = format!(
        "[data-test=attestation-row][data-attestation='{}']",
        facts.grade_attestation
    );
    b.wait_text(&grade);
    b.check(
        b.count("[data-test=attestation-row][data-state=live]") >= 2,
        "fewer than two live attestations",
    );
    for download in [
        "download-credential",
        "download-tx-proof",
        "download-state-proof",
        "verify-credential",
        "verify-tx-proof",
    ] {
        b.expect(&format!("{grade} [data-test={download}]"));
    }
    b.expect("[data-test=download-enterprise-proof]");
    b.screenshot("sco");

    // The credential, saved by the browser, is the ledger's: it verifies offline.
    b.click(&format!("{grade} [data-test=download-credential]"));
    let saved = b.wait_for("the credential download", |b| {
        b.downloaded(".credential.json")
    });
    let credential = Credential::parse(&std::fs::read(&saved).expect("read the download"))
        .unwrap_or_else(|e| b.fail(&format!("the downloaded file is no credential: {e}")));
    if let Err(e) = verify_credential(genesis, &credential) {
        b.fail(&format!("the downloaded credential does not verify: {e}"));
    }

    // "Verify here": the same credential checked by the page's WebAssembly verifier.
    b.click(&format!("{grade} [data-test=verify-credential]"));
    b.wait_page("verify");
    let result = b.wait_result();
    b.check(
        result.ok && result.kind == "credential",
        &format!("the credential did not verify in the page: {result:?}"),
    );
    b.check(
        result.links.iter().all(|(_, status)| status == "ok"),
        &format!("links: {:?}", result.links),
    );
    b.expect("[data-test=verify-proven]");
    b.screenshot("verify-credential");
}

/// The verify page with files chosen in its file input: a bundle fetched with the sdk client
/// verifies link by link; a copy with a flipped byte in a certificate signature, and one in the
/// transaction's signature, fail at the link the sdk names, with the links after it unchecked.
fn verify_page(
    b: &Browser,
    fed: &caravan_testnet::federation::Federation,
    facts: &demo::DemoFacts,
    genesis: &Genesis,
    dir: &Path,
) {
    b.scenario("verify");
    let reader = fed.client(2).signing_as(
        ParticipantId::new(READER).expect("id"),
        read_key_file(&facts.keys[READER]).expect("key"),
    );
    let bundle = reader
        .proof(&facts.grade_attestation)
        .expect("the grade attestation's bundle");
    verify_bundle(genesis, &bundle).expect("the sdk verifies the bundle");

    b.go("#/verify");
    b.wait_page("verify");
    b.wait_for("the node's genesis", |b| {
        b.attr("[data-test=genesis-match]", "data-match")
            .filter(|m| m == "true")
    });
    let good = dir.join("grade-attestation.bundle.cbor");
    std::fs::write(&good, bundle.to_bytes()).expect("write bundle");
    b.upload("[data-test=verify-drop-input]", &good);
    let result = b.wait_result_for("grade-attestation.bundle.cbor");
    b.check(
        result.ok && result.kind == "bundle",
        &format!("a good bundle did not verify: {result:?}"),
    );
    b.check(
        !result.links.is_empty() && result.links.iter().all(|(_, status)| status == "ok"),
        &format!("not every link is green: {:?}", result.links),
    );
    b.check(
        b.count("[data-test=verify-link].link-ok") == result.links.len(),
        "the links are not all shown as passed",
    );
    b.expect("[data-test=verify-proven]");
    b.screenshot("verify-good");

    let mut forged = bundle.clone();
    forged
        .item
        .as_mut()
        .expect("a transaction bundle")
        .certificate
        .signatures[0]
        .signature
        .0[10] ^= 0x01;
    tampered(
        b,
        genesis,
        &forged,
        &dir.join("grade-attestation.forged-certificate.cbor"),
    );
    b.screenshot("verify-tampered");

    let mut resigned = bundle;
    resigned
        .item
        .as_mut()
        .expect("a transaction bundle")
        .transaction
        .signature
        .0[0] ^= 0x01;
    tampered(
        b,
        genesis,
        &resigned,
        &dir.join("grade-attestation.forged-signature.cbor"),
    );
    b.screenshot("verify-tampered-signature");
}

/// Chooses `bundle` (written to `path`) on the verify page: it must fail at the link the sdk
/// names, every link before it green and every link after it unchecked.
fn tampered(b: &Browser, genesis: &Genesis, bundle: &ProofBundle, path: &Path) {
    let expected = match verify_bundle(genesis, bundle) {
        Ok(_) => panic!("the sdk verifies a tampered bundle ({})", path.display()),
        Err(e) => e.link(),
    };
    std::fs::write(path, bundle.to_bytes()).expect("write bundle");
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    b.upload("[data-test=verify-drop-input]", path);
    let result = b.wait_result_for(&name);
    b.check(
        !result.ok,
        &format!("a tampered bundle verified: {result:?}"),
    );
    let failed: Vec<&str> = result
        .links
        .iter()
        .filter(|(_, status)| status == "failed")
        .map(|(link, _)| link.as_str())
        .collect();
    b.check(
        failed == [expected],
        &format!(
            "{name}: the page names {failed:?} as failed, the sdk '{expected}'; links {:?}",
            result.links
        ),
    );
    let at = result
        .links
        .iter()
        .position(|(_, status)| status == "failed")
        .unwrap_or_default();
    b.check(
        result.links[..at].iter().all(|(_, s)| s == "ok")
            && result.links[at + 1..]
                .iter()
                .all(|(_, s)| s == "not_checked"),
        &format!("{name}: links around the failed one: {:?}", result.links),
    );
    let shown = b
        .text("[data-test=verify-link][data-status=failed]")
        .unwrap_or_default();
    b.check(
        b.attr("[data-test=verify-link][data-status=failed]", "class")
            .is_some_and(|c| c.contains("link-fail")),
        &format!("the failed link is not shown as failed: {shown}"),
    );
    b.check(
        b.text("[data-test=verify-error]")
            .is_some_and(|t| !t.is_empty()),
        "no reason is given for the failure",
    );
}

/// The language switcher: Chinese and Russian, on the open discrepancy's page, then back.
fn languages(b: &Browser, facts: &demo::DemoFacts) {
    b.scenario("languages");
    b.go(&format!("#/consignment/{}", facts.discrepancy_ucr));
    b.wait_page("consignment");
    b.wait_text("[data-test=validation-matrix]");
    let weights_rule = "[data-test=rule-row][data-rule=weights] .rule-name";
    for (button, html_lang, overview, weights, shot) in [
        (
            "lang-zh",
            "zh-CN",
            "概览",
            "5. 重量",
            Some("consignment-discrepancy-zh"),
        ),
        (
            "lang-ru",
            "ru",
            "Обзор",
            "5. Вес",
            Some("consignment-discrepancy-ru"),
        ),
        ("lang-en", "en", "Overview", "5. Weights", None),
    ] {
        b.click(&format!("[data-test={button}]"));
        b.wait_for(&format!("the page in {html_lang}"), |b| {
            (b.attr("html", "lang").as_deref() == Some(html_lang)
                && b.text("[data-test=nav-overview]").as_deref() == Some(overview)
                && b.text(weights_rule).as_deref() == Some(weights))
            .then_some(())
        });
        b.check(
            b.attr(&format!("[data-test={button}]"), "aria-pressed")
                .as_deref()
                == Some("true"),
            &format!("{button} is not shown as pressed"),
        );
        // The data stays as it is; the failed cell is still there.
        b.expect("[data-test=matrix-cell][data-rule=weights][data-status=fail]");
        if let Some(shot) = shot {
            b.screenshot(shot);
        }
    }
}

/// Signing out hides the protected data again, with the reason.
fn sign_out(b: &Browser, facts: &demo::DemoFacts) {
    b.scenario("sign out");
    b.go(&format!("#/consignment/{}", facts.ucr));
    b.wait_page("consignment");
    b.wait_text("[data-test=validation-matrix]");
    b.click("[data-test=signout-button]");
    b.wait_for("the header to show nobody signed in", |b| {
        (b.attr("#signin-status", "data-signed-in").as_deref() == Some("false")).then_some(())
    });
    b.wait_text("[data-test=protected-notice][data-reason=not_signed_in]");
    b.check(
        b.count("[data-test=validation-matrix]") == 0,
        "the matrix is still shown after signing out",
    );
}

// ---- the browser -----------------------------------------------------------------------------

/// Runs `scripts/chromium`, which installs Debian's Chromium and ChromeDriver when missing;
/// returns their paths. Panics with the script's reason when they cannot be had.
fn install_chromium() -> (PathBuf, PathBuf) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/chromium");
    let out = Command::new("bash")
        .arg(&script)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !stderr.trim().is_empty() {
        eprintln!("{}", stderr.trim_end());
    }
    assert!(
        out.status.success(),
        "the browser tests need Chromium and ChromeDriver, and {} could not provide them \
         ({}):\n{stderr}",
        script.display(),
        out.status
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines = stdout.lines().map(|l| PathBuf::from(l.trim()));
    match (lines.next(), lines.next()) {
        (Some(browser), Some(driver)) => (browser, driver),
        _ => panic!("{} printed no paths: {stdout:?}", script.display()),
    }
}

/// A chromedriver process on a free loopback port, in a process group of its own: dropping it
/// kills the group (the driver and every browser process it started), also when a test panics.
struct ChromeDriver {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl ChromeDriver {
    fn start(program: &Path, dir: &Path) -> Result<Self, String> {
        use std::os::unix::process::CommandExt as _;
        let log = dir.join("chromedriver.log");
        let mut last = String::new();
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| format!("no free loopback port: {e}"))?
                .port();
            let output = std::fs::File::create(&log)
                .map_err(|e| format!("creating {}: {e}", log.display()))?;
            let errors = output
                .try_clone()
                .map_err(|e| format!("{}: {e}", log.display()))?;
            let child = Command::new(program)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(output)
                .stderr(errors)
                .process_group(0)
                .spawn()
                .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
            let mut driver = ChromeDriver {
                child,
                port,
                log: log.clone(),
            };
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Ok(driver);
                }
                if let Ok(Some(status)) = driver.child.try_wait() {
                    // Most likely another process took the port first: try another.
                    last = format!(
                        "{} exited ({status}):\n{}",
                        program.display(),
                        driver.log_tail()
                    );
                    break;
                }
                if Instant::now() > deadline {
                    return Err(format!(
                        "{} did not listen on port {port} within 20 s:\n{}",
                        program.display(),
                        driver.log_tail()
                    ));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Err(last)
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // The whole group: chromedriver and the browser processes it started.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the verify page shows for the file chosen last.
#[derive(Debug)]
struct VerifyResult {
    ok: bool,
    kind: String,
    file: String,
    /// Each link's name and status, in order.
    links: Vec<(String, String)>,
}

/// The browser: a WebDriver session of headless Chromium, with blocking helpers that wait for
/// what a page should show and fail with what it does show.
struct Browser {
    client: Option<Client>,
    rt: tokio::runtime::Runtime,
    base: String,
    shots: PathBuf,
    downloads: PathBuf,
    scenario: RefCell<String>,
    driver: ChromeDriver,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn launch(chromium: &Path, chromedriver: &Path, base: &str) -> Browser {
        let profile = tempfile::tempdir().expect("tempdir");
        let downloads = profile.path().join("downloads");
        std::fs::create_dir_all(&downloads).expect("downloads folder");
        let shots = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .expect("the target folder")
            .join("explorer-screenshots");
        std::fs::create_dir_all(&shots).expect("screenshot folder");
        // A failure's screenshot is about its own run only.
        for entry in std::fs::read_dir(&shots).into_iter().flatten().flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .ends_with("-failure.png")
            {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        let driver = ChromeDriver::start(chromedriver, profile.path())
            .unwrap_or_else(|e| panic!("cannot start ChromeDriver: {e}"));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let user_data = profile.path().join("profile");
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-dev-shm-usage",
                    format!("--user-data-dir={}", user_data.display()),
                    format!("--window-size={},{}", WINDOW.0, WINDOW.1),
                    "--lang=en-US",
                ],
                "prefs": {
                    "intl.accept_languages": "en-US,en",
                    "download.default_directory": downloads,
                    "download.prompt_for_download": false,
                },
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("an object")
        };
        let connected = rt.block_on(async {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            let mut builder = ClientBuilder::new(connector);
            builder.capabilities(capabilities);
            tokio::time::timeout(Duration::from_secs(60), builder.connect(&driver.url())).await
        });
        let client = match connected {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => panic!(
                "Chromium did not start under ChromeDriver: {e}\n---- chromedriver log ----\n{}",
                driver.log_tail()
            ),
            Err(_) => panic!(
                "Chromium did not start within 60 s\n---- chromedriver log ----\n{}",
                driver.log_tail()
            ),
        };
        let browser = Browser {
            client: Some(client),
            rt,
            base: base.trim_end_matches('/').to_string(),
            shots,
            downloads,
            scenario: RefCell::new("start".into()),
            driver,
            _profile: profile,
        };
        browser.run("set the window size", |c| async move {
            c.set_window_size(WINDOW.0, WINDOW.1).await
        });
        let url = format!("{}/#/", browser.base);
        browser.run("open the explorer", |c| async move { c.goto(&url).await });
        browser.record_errors();
        browser
    }

    fn client(&self) -> Client {
        self.client.clone().expect("a session")
    }

    /// Runs one WebDriver command; a WebDriver error fails the test with the page's state.
    fn run<T, F, Fut>(&self, what: &str, f: F) -> T
    where
        F: FnOnce(Client) -> Fut,
        Fut: std::future::Future<Output = Result<T, fantoccini::error::CmdError>>,
    {
        match self.try_run(f) {
            Ok(v) => v,
            Err(e) => self.fail(&format!("{what}: {e}")),
        }
    }

    fn try_run<T, F, Fut>(&self, f: F) -> Result<T, fantoccini::error::CmdError>
    where
        F: FnOnce(Client) -> Fut,
        Fut: std::future::Future<Output = Result<T, fantoccini::error::CmdError>>,
    {
        let client = self.client();
        self.rt.block_on(f(client))
    }

    /// Names the scenario that failure messages and screenshots belong to.
    fn scenario(&self, name: &str) {
        *self.scenario.borrow_mut() = name.to_string();
    }

    /// Runs `script` (a function body) in the page and returns its value.
    fn js(&self, script: &str, args: Vec<Value>) -> Value {
        let script = script.to_string();
        self.run(
            "run a script",
            |c| async move { c.execute(&script, args).await },
        )
    }

    /// The first element's visible text, or None when there is none.
    fn text(&self, css: &str) -> Option<String> {
        match self.js(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText.trim() : null;",
            vec![json!(css)],
        ) {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The first element's attribute, or None.
    fn attr(&self, css: &str, name: &str) -> Option<String> {
        match self.js(
            "const e = document.querySelector(arguments[0]); return e ? e.getAttribute(arguments[1]) : null;",
            vec![json!(css), json!(name)],
        ) {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    fn count(&self, css: &str) -> usize {
        self.js(
            "return document.querySelectorAll(arguments[0]).length;",
            vec![json!(css)],
        )
        .as_u64()
        .unwrap_or(0) as usize
    }

    /// Polls `probe` until it gives a value; fails with the page's visible text after [`WAIT`].
    fn wait_for<T>(&self, what: &str, mut probe: impl FnMut(&Self) -> Option<T>) -> T {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(v) = probe(self) {
                return v;
            }
            if Instant::now() > deadline {
                self.fail(&format!("waited {WAIT:?} for {what}"));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits for an element and returns its visible text.
    fn wait_text(&self, css: &str) -> String {
        self.wait_for(&format!("an element {css}"), |b| b.text(css))
    }

    /// Fails unless an element matches `css` now.
    fn expect(&self, css: &str) {
        if self.count(css) == 0 {
            self.fail(&format!("no element {css}"));
        }
    }

    fn check(&self, condition: bool, message: &str) {
        if !condition {
            self.fail(message);
        }
    }

    /// Goes to a route of the explorer within the page (the signed-in key lives in the page's
    /// memory, so the page is never reloaded).
    fn go(&self, hash: &str) {
        let here = self.js("return decodeURIComponent(window.location.hash);", vec![]);
        if here.as_str() == Some(hash) {
            return;
        }
        self.mark_stale();
        self.js("window.location.hash = arguments[0];", vec![json!(hash)]);
        self.wait_hash(hash);
    }

    /// Marks the current page as stale, so that a wait for a page sees the next paint only.
    fn mark_stale(&self) {
        self.js(
            "document.getElementById('main').dataset.state = 'stale';",
            vec![],
        );
    }

    fn wait_hash(&self, hash: &str) {
        self.wait_for(&format!("the address {hash}"), |b| {
            let now = b.js("return decodeURIComponent(window.location.hash);", vec![]);
            (now.as_str() == Some(hash)).then_some(())
        });
    }

    /// Waits until the page `name` has been painted with its data.
    fn wait_page(&self, name: &str) {
        self.wait_for(&format!("the {name} page"), |b| {
            let main = b.js(
                "const m = document.getElementById('main'); return [m.dataset.page, m.dataset.state];",
                vec![],
            );
            match main.as_array().map(|a| (a[0].as_str(), a[1].as_str())) {
                Some((Some(page), Some("ready"))) if page == name => Some(()),
                Some((_, Some("error"))) => b.fail("the page reports an error"),
                _ => None,
            }
        });
    }

    /// Types `term` in the header's search box and submits it.
    fn search(&self, term: &str) {
        self.mark_stale();
        let term = term.to_string();
        self.run("type the search term", |c| async move {
            let input = c.find(Locator::Css("[data-test=search-input]")).await?;
            input.clear().await?;
            input.send_keys(&term).await?;
            c.find(Locator::Css("[data-test=search-button]"))
                .await?
                .click()
                .await
        });
    }

    fn click(&self, css: &str) {
        self.mark_stale_if_link(css);
        let selector = css.to_string();
        self.run(&format!("click {css}"), |c| async move {
            // The page can render again between finding the element and clicking it (a new
            // block arrives over the event stream): the element is then found again.
            let mut stale = 0;
            loop {
                match c.find(Locator::Css(&selector)).await?.click().await {
                    Err(e) if stale < 5 && e.to_string().contains("stale element") => stale += 1,
                    clicked => return clicked,
                }
            }
        });
    }

    /// A link leads to another page: the current one is marked stale first.
    fn mark_stale_if_link(&self, css: &str) {
        let is_link = self.js(
            "const e = document.querySelector(arguments[0]); return Boolean(e && e.tagName === 'A');",
            vec![json!(css)],
        );
        if is_link == json!(true) {
            self.mark_stale();
        }
    }

    /// Chooses the file at `path` in the file input `css`, as a user would.
    fn upload(&self, css: &str, path: &Path) {
        let selector = css.to_string();
        let path = path.display().to_string();
        self.wait_for(&format!("a file input {css}"), |b| {
            (b.count(css) > 0).then_some(())
        });
        self.run(&format!("choose {path} in {css}"), |c| async move {
            c.find(Locator::Css(&selector))
                .await?
                .send_keys(&path)
                .await
        });
    }

    /// The verify page's result, when one is shown.
    fn result(&self) -> Option<VerifyResult> {
        let v = self.js(
            "const r = document.querySelector('[data-test=verify-result]');
             if (!r) return null;
             return {
               ok: r.dataset.ok === 'true',
               kind: r.dataset.kind || '',
               file: r.querySelector('.verdict .mono')?.textContent || '',
               links: [...r.querySelectorAll('[data-test=verify-link]')].map(l => [l.dataset.link, l.dataset.status]),
             };",
            vec![],
        );
        if v.is_null() {
            return None;
        }
        Some(VerifyResult {
            ok: v["ok"] == json!(true),
            kind: v["kind"].as_str().unwrap_or_default().to_string(),
            file: v["file"].as_str().unwrap_or_default().to_string(),
            links: serde_json::from_value(v["links"].clone()).unwrap_or_default(),
        })
    }

    fn wait_result(&self) -> VerifyResult {
        self.wait_for("a verification result", |b| b.result())
    }

    /// Waits for the result of the file named `name`.
    fn wait_result_for(&self, name: &str) -> VerifyResult {
        self.wait_for(&format!("the verification result of {name}"), |b| {
            b.result().filter(|r| r.file == name)
        })
    }

    /// A finished download whose name ends with `suffix`.
    fn downloaded(&self, suffix: &str) -> Option<PathBuf> {
        std::fs::read_dir(&self.downloads)
            .ok()?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with(suffix))
    }

    /// Writes a PNG of the whole page to `target/explorer-screenshots/NAME.png`.
    fn screenshot(&self, name: &str) {
        let png = self.full_page_png();
        let path = self.shots.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }

    /// The page from top to bottom: the window is made as tall as the page for the shot.
    fn full_page_png(&self) -> Vec<u8> {
        const TALLEST: u64 = 8000;
        let sizes = self.js(
            "window.scrollTo(0, 0);
             return [Math.ceil(Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)),
                     window.innerHeight, window.outerHeight - window.innerHeight];",
            vec![],
        );
        let size = |i: usize| sizes[i].as_u64().unwrap_or_default();
        let (page, viewport, frame) = (size(0).min(TALLEST), size(1), size(2));
        let tall = page > viewport;
        if tall {
            let height = u32::try_from(page + frame).unwrap_or(WINDOW.1);
            self.run("make the window as tall as the page", |c| async move {
                c.set_window_size(WINDOW.0, height).await
            });
            self.wait_for("the window to fit the page", |b| {
                let inner = b.js("return window.innerHeight;", vec![]);
                (inner.as_u64().unwrap_or_default() >= page).then_some(())
            });
        }
        let png = self.run("take a screenshot", |c| async move { c.screenshot().await });
        if tall {
            self.run("restore the window", |c| async move {
                c.set_window_size(WINDOW.0, WINDOW.1).await
            });
        }
        png
    }

    /// From here on, the page records its script errors, rejected promises, errors it logs
    /// itself and content security policy violations (the page is never reloaded, so they
    /// last for the whole test).
    fn record_errors(&self) {
        self.js(
            "if (window.__testErrors) return;
             const errors = window.__testErrors = [];
             window.addEventListener('error', (e) => errors.push(`error: ${e.message} (${e.filename}:${e.lineno})`));
             window.addEventListener('unhandledrejection', (e) => errors.push(`unhandled rejection: ${e.reason}`));
             document.addEventListener('securitypolicyviolation', (e) => errors.push(`refused by the content security policy (${e.violatedDirective}): ${e.blockedURI}`));
             const log = console.error.bind(console);
             console.error = (...args) => { errors.push(`console.error: ${args.map(String).join(' ')}`); log(...args); };",
            vec![],
        );
    }

    /// What the page recorded since [`Browser::record_errors`].
    fn page_errors(&self) -> Vec<String> {
        let errors = self.try_run(|c| async move {
            c.execute("return window.__testErrors || [];", vec![]).await
        });
        serde_json::from_value(errors.unwrap_or_default()).unwrap_or_default()
    }

    fn assert_no_script_errors(&self) {
        let errors = self.page_errors();
        if !errors.is_empty() {
            self.fail(&format!("the page recorded errors:\n{}", errors.join("\n")));
        }
    }

    /// Fails the test: the message, the page's address and visible text, and what the browser
    /// logged; a screenshot of the page is kept as `SCENARIO-failure.png`.
    fn fail(&self, message: &str) -> ! {
        let scenario = self.scenario.borrow().clone();
        let mut report = format!("[{scenario}] {message}\n");
        let state = self.try_run(|c| async move {
            let url = c.current_url().await?;
            let text = c
                .execute(
                    "return document.body ? document.body.innerText : ''",
                    vec![],
                )
                .await?;
            Ok((url, text))
        });
        match state {
            Ok((url, text)) => {
                let text = text.as_str().unwrap_or_default();
                let shown: String = text.chars().take(6000).collect();
                let _ = write!(
                    report,
                    "address: {url}\n---- the page's visible text ----\n{shown}\n"
                );
            }
            Err(e) => {
                let _ = writeln!(report, "(the page could not be read: {e})");
            }
        }
        let errors = self.page_errors();
        if !errors.is_empty() {
            let _ = write!(
                report,
                "---- errors the page recorded ----\n{}\n",
                errors.join("\n")
            );
        }
        let shot = self
            .shots
            .join(format!("{}-failure.png", scenario.replace(' ', "-")));
        if let Ok(png) = self.try_run(|c| async move { c.screenshot().await }) {
            let _ = std::fs::write(&shot, png);
            let _ = writeln!(report, "screenshot: {}", shot.display());
        }
        panic!("{report}");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // End the session politely (the browser exits and removes its profile lock); the
        // driver's process group is killed right after in any case.
        if let Some(client) = self.client.take() {
            let _ = self.rt.block_on(async move {
                tokio::time::timeout(Duration::from_secs(10), client.close()).await
            });
        }
        if std::thread::panicking() {
            eprintln!(
                "---- last chromedriver log lines ----\n{}",
                self.driver.log_tail()
            );
        }
    }
}
