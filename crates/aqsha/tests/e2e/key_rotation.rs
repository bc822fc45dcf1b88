//! Key rotation with the real binary: a server seals cards and tokens under its first key; the
//! key rotates (`aqsha keys rotate`) and the server restarts; old tokens and saved cards keep
//! working, new cards are sealed under the new key; `aqsha keys reencrypt` moves every stored
//! card number to the new key, and `aqsha keys retire` removes the old one. On SQLite the
//! server starts with no configuration (its `master.key` becomes the keyring's first key); on
//! PostgreSQL with `--master-key` and an explicit `--keyring` file.

use crate::common::*;
use aqsha_core::card::Pan;
use aqsha_core::keyring::Keyring;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

crate::tests! {
    both: [
        keys_rotate_reencrypt_and_retire,
    ],
}

/// Runs `aqsha keys ARGS` against the server's database and keys.
fn keys(s: &Server, keyring: Option<&Path>, args: &[&str]) -> (bool, String, String) {
    let mut cmd = Command::new(bin());
    cmd.arg("keys")
        .args(args)
        .arg("--data-dir")
        .arg(s.data_dir());
    if let Some(pg) = &s.pg {
        cmd.args(["--database", &pg.url, "--master-key", TEST_MASTER_KEY]);
    }
    if let Some(k) = keyring {
        cmd.arg("--keyring").arg(k);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn keys_ok(s: &Server, keyring: Option<&Path>, args: &[&str]) -> String {
    let (ok, out, err) = keys(s, keyring, args);
    assert!(ok, "aqsha keys {args:?} failed:\n{out}\n{err}");
    out
}

/// Every stored sealed card number: (table, key id, sealed bytes, fingerprint).
fn sealed_rows(s: &Server) -> Vec<(String, String, Vec<u8>, String)> {
    let query = "SELECT 'vault_cards', key_id, pan_sealed, fingerprint FROM vault_cards
                 UNION ALL SELECT 'network_cards', key_id, pan_sealed, fingerprint FROM network_cards";
    if let Some(pg) = &s.pg {
        let q = query.replace("pan_sealed", "encode(pan_sealed, 'hex')");
        return pg
            .sql(&q)
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split('|').collect();
                (f[0].into(), f[1].into(), decode_hex(f[2]), f[3].into())
            })
            .collect();
    }
    let db = rusqlite::Connection::open(s.data_dir().join("aqsha.db")).unwrap();
    let mut stmt = db.prepare(query).unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn decode_hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn count_under(rows: &[(String, String, Vec<u8>, String)], key: &str) -> usize {
    rows.iter().filter(|r| r.1 == key).count()
}

/// A transfer from a saved card (TYPECARDID) to the seed's MasterCard.
async fn pay_with_saved(s: &Server, account: &str, card: &str) -> (StatusCode, Value) {
    let mut b = seed_like_body(&invoice(), json!(100));
    b["order"]["accountID"] = json!(account);
    b["card"]["sender"] = json!({"transferType": "TYPECARDID", "cardCred": card});
    b["card"]["receiver"] = json!({"transferType": "TYPEPAN", "cardCred": MASTERCARD});
    s.pay(&b).await
}

async fn keys_rotate_reencrypt_and_retire(backend: Backend) {
    // PostgreSQL instances share an explicit keyring file; SQLite runs with no configuration.
    let keys_dir = tempfile::tempdir().unwrap();
    let explicit: Option<PathBuf> =
        (backend == Backend::Postgres).then(|| keys_dir.path().join("keyring"));
    let explicit = explicit.as_deref();
    let server_args: Vec<&str> = match explicit {
        Some(p) => vec!["--keyring", p.to_str().unwrap()],
        None => vec![],
    };
    let mut s = Server::start_with(backend, &server_args);

    // The seed's transfer, saving the sender's card; its token is kept for status calls.
    let inv = invoice();
    let mut b = seed_like_body(&inv, json!(100));
    b["card"]["sender"]["save"] = json!(true);
    let status_token = s.token_for(&b["order"]).await;
    let (st, r) = s.transfer(&status_token, &b).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    let saved = r["senderCardID"].as_str().unwrap().to_string();
    // A token issued now and spent only after the rotation.
    let later = seed_like_body(&invoice(), json!(100));
    let unspent_token = s.token_for(&later["order"]).await;

    let list = keys_ok(&s, explicit, &["list"]);
    assert!(list.starts_with("# one master key"), "{list}");
    let before = sealed_rows(&s);
    let old = before[0].1.clone();
    assert!(before.iter().all(|r| r.1 == old), "one key so far");
    assert!(list.contains(&format!("{old}  active")), "{list}");
    s.stop();

    let new = keys_ok(&s, explicit, &["rotate"]).trim().to_string();
    assert_eq!(new.len(), 8, "{new}");
    assert_ne!(new, old);
    let keyring = explicit
        .map(Path::to_path_buf)
        .unwrap_or_else(|| s.data_dir().join("keyring"));
    let text = std::fs::read_to_string(&keyring).unwrap();
    assert!(text.contains(&format!("key {new} ")) && text.contains(&format!("key {old} ")));
    if explicit.is_none() {
        assert!(
            !s.data_dir().join("master.key").exists(),
            "moved into the keyring"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&keyring).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    s.restart();

    // Sealed under the old key: the status token and the unspent one both still work.
    let (st, v) = s
        .get_json(
            &format!("/check-status/p2p/transaction/{inv}"),
            &status_token,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["transaction"]["statusName"], "CHARGE");
    let (st, v) = s.transfer(&unspent_token, &later).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    // The card saved under the old key still pays.
    let (st, v) = pay_with_saved(&s, "testUser1", &saved).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    // A card saved now is sealed under the new key.
    let mut b = seed_like_body(&invoice(), json!(100));
    b["order"]["accountID"] = json!("after-rotation");
    b["card"]["sender"]["cardCred"] = json!(MASTERCARD);
    b["card"]["sender"]["cvc"] = json!("525");
    b["card"]["sender"]["save"] = json!(true);
    let (st, v) = s.pay(&b).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let rows = sealed_rows(&s);
    assert_eq!(count_under(&rows, &new), 1, "the new saved card only");
    assert_eq!(count_under(&rows, &old), before.len());

    // The old key cannot go while card numbers are sealed under it, even with --force.
    let (ok, _, err) = keys(&s, explicit, &["retire", &old, "--force"]);
    assert!(!ok && err.contains("reencrypt"), "{err}");

    // Re-encrypt, in batches of two, while the server runs.
    let out = keys_ok(&s, explicit, &["reencrypt", "--batch", "2"]);
    assert!(out.contains("network_cards: 2 re-sealed"), "{out}");
    assert!(
        out.contains(&format!(
            "re-sealed {} card numbers under key {new}",
            before.len()
        )),
        "{out}"
    );
    let after = sealed_rows(&s);
    assert_eq!(count_under(&after, &old), 0, "{after:?}");
    assert_eq!(after.len(), before.len() + 1);
    // Every record opens under the keyring, and its fingerprint is still the one stored.
    let vault = Keyring::parse(&std::fs::read_to_string(&keyring).unwrap())
        .unwrap()
        .vault();
    for (table, key, blob, fingerprint) in &after {
        let sealed = aqsha_core::vault::SealedPan {
            key_id: key.clone(),
            blob: blob.clone(),
        };
        let pan: Pan = vault
            .open(&sealed)
            .unwrap_or_else(|e| panic!("{table}: {e}"));
        assert_eq!(&vault.fingerprint(&pan), fingerprint, "{table}");
    }
    // Run again: nothing left to do.
    let out = keys_ok(&s, explicit, &["reencrypt"]);
    assert!(out.contains("re-sealed 0 card numbers"), "{out}");

    // Tokens sealed under the old key may still be live: refused without --force.
    let (ok, _, err) = keys(&s, explicit, &["retire", &old]);
    assert!(!ok && err.contains("--force"), "{err}");
    assert_eq!(
        keys_ok(&s, explicit, &["retire", &old, "--force"]).trim(),
        format!("retired {old}")
    );
    let text = std::fs::read_to_string(&keyring).unwrap();
    assert!(!text.contains(&format!("key {old} ")), "{text}");
    let list = keys_ok(&s, explicit, &["list"]);
    assert!(
        !list.contains(&old) && list.contains(&format!("{new}  active")),
        "{list}"
    );

    s.restart();
    // The saved card still pays; the old token is gone with its key.
    let (st, v) = pay_with_saved(&s, "testUser1", &saved).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, _) = s
        .get_json(
            &format!("/check-status/p2p/transaction/{inv}"),
            &status_token,
        )
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    s.assert_ledger_balanced().await;
}
