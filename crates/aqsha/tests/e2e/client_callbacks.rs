//! `aqsha-client`'s callback verifier on real callbacks from a real server: signature,
//! `secret_hash`, tampering, wrong keys, missing headers and old timestamps.

use crate::common::client::*;
use crate::common::receiver::Receiver as CallbackReceiver;
use crate::common::*;
use aqsha_client::{CallbackError, CallbackVerifier, P2pTransfer, Receiver};

crate::tests! {
    sqlite: [
        callback_verifier_checks_real_callbacks,
    ],
}

async fn callback_verifier_checks_real_callbacks(backend: Backend) {
    let s = Server::start(backend);
    let c = client(&s);
    let r = CallbackReceiver::start(&[]).await;
    let key = c.sandbox_callback_secret().await.unwrap();
    assert!(!key.is_empty());

    let ok = visa_to_saved("100")
        .callbacks(format!("{}/ok", r.url), format!("{}/fail", r.url))
        .secret_hash("sh: ÄÖ 1");
    let receipt = c.transfer(&ok).await.unwrap().into_receipt().unwrap();
    let fail = P2pTransfer::new(
        inv(),
        amount("100"),
        card_sender(VISA, "000", false),
        Receiver::Saved(saved(SAVED_RECEIVER)),
    )
    .callbacks(format!("{}/ok", r.url), format!("{}/fail", r.url))
    .secret_hash("sh: ÄÖ 1");
    assert!(c.transfer(&fail).await.is_err());

    let hits = r.wait_for(2, 20).await;
    let hit_ok = hits.iter().find(|h| h.path == "/ok").unwrap();
    let hit_fail = hits.iter().find(|h| h.path == "/fail").unwrap();
    let verifier = CallbackVerifier::new()
        .secret_hash("sh: ÄÖ 1")
        .signing_secret(key.clone());
    let sig = hit_ok.header("x-aqsha-signature");
    let cb = verifier.verify(Some(&sig), &hit_ok.body).unwrap();
    assert!(cb.is_success() && cb.signature_verified && cb.secret_hash_verified);
    assert_eq!(cb.amount, amount("100"));
    assert_eq!(cb.body.invoice_id, ok.invoice_id.as_str());
    assert_eq!(cb.body.id, receipt.response.id);

    let sig_fail = hit_fail.header("x-aqsha-signature");
    let cb = verifier.verify(Some(&sig_fail), &hit_fail.body).unwrap();
    assert!(!cb.is_success());
    assert_eq!(cb.body.reason_code, 466);
    assert!(cb.reason().unwrap().is_final);

    // Tampering, a wrong secret_hash, a wrong key, a missing header and an old timestamp fail.
    let mut tampered = hit_ok.body.to_vec();
    let pos = tampered.iter().position(|&b| b == b'1').unwrap();
    tampered[pos] = b'2';
    assert!(matches!(
        verifier.verify(Some(&sig), &tampered),
        Err(CallbackError::Signature(_))
    ));
    assert_eq!(
        CallbackVerifier::new()
            .secret_hash("other")
            .verify(None, &hit_ok.body)
            .unwrap_err(),
        CallbackError::SecretHashMismatch
    );
    assert!(matches!(
        CallbackVerifier::new()
            .signing_secret("not-the-key")
            .verify(Some(&sig), &hit_ok.body),
        Err(CallbackError::Signature(_))
    ));
    assert_eq!(
        verifier.verify(None, &hit_ok.body).unwrap_err(),
        CallbackError::MissingSignature
    );
    let later = chrono::Utc::now().timestamp() + 3600;
    assert!(matches!(
        verifier.verify_at(Some(&sig), &hit_ok.body, later),
        Err(CallbackError::Signature(
            aqsha_wire::signature::SignatureError::TooOld { .. }
        ))
    ));
}
