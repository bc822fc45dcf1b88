//! Callback signatures (`X-Aqsha-Signature: t=<unix seconds>,v1=<hex>`) where a receiver checks
//! them: wire's `signature::verify` and the client's `CallbackVerifier` (what `aqsha listen`
//! and a merchant's Rust receiver run). Properties: any header, body, clock and tolerance give
//! an answer, never a panic; a signature verifies at its own time; a body altered by one byte
//! never verifies; a timestamp is refused as too old exactly when it is further from the clock
//! than the tolerance.
#![no_main]

use aqsha_client::CallbackVerifier;
use aqsha_wire::signature::{sign, verify, SignatureError};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    secret: String,
    header: String,
    body: Vec<u8>,
    now: i64,
    ts: i64,
    tolerance: i64,
    flip_at: usize,
    flip: u8,
}

fuzz_target!(|i: Input| {
    let _ = verify(&i.secret, &i.header, &i.body, i.now, i.tolerance);
    let verifier = CallbackVerifier::new()
        .signing_secret(i.secret.clone())
        .tolerance(std::time::Duration::from_secs(i.tolerance.unsigned_abs()));
    let _ = verifier.verify_at(Some(&i.header), &i.body, i.now);

    let header = sign(&i.secret, i.ts, &i.body);
    assert_eq!(verify(&i.secret, &header, &i.body, i.ts, 0), Ok(()));
    let far = (i128::from(i.now) - i128::from(i.ts)).abs() > i128::from(i.tolerance);
    match verify(&i.secret, &header, &i.body, i.now, i.tolerance) {
        Ok(()) => assert!(!far),
        Err(SignatureError::TooOld { .. }) => assert!(far),
        Err(e) => panic!("own signature refused: {e}"),
    }
    if !i.body.is_empty() && i.flip != 0 {
        let mut altered = i.body.clone();
        let at = i.flip_at % altered.len();
        altered[at] ^= i.flip;
        assert_eq!(
            verify(&i.secret, &header, &altered, i.ts, 0),
            Err(SignatureError::Mismatch)
        );
    }
});
