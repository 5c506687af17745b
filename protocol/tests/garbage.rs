//! Decoding arbitrary bytes returns an error and never panics: random bytes, every truncation of
//! valid messages, single-byte corruptions, and oversize payloads.

use hashward_protocol::*;
use rand::{Rng, SeedableRng};

fn valid() -> Vec<u8> {
    let env = Envelope::new(
        RigId::new("r").expect("id"),
        5,
        1,
        Body::Ack(Ack {
            scope: "fleet".into(),
            version: 1,
            outcome: AckOutcome::Applied,
        }),
    );
    encode(&env).expect("encode")
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let mut accepted = 0;
    for _ in 0..200_000 {
        let len = rng.gen_range(0..256);
        let bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        if decode(&bytes).is_ok() {
            accepted += 1;
        }
    }
    // Random bytes almost never form a valid envelope with a valid rig id.
    assert!(accepted < 100, "{accepted} random payloads decoded");
}

#[test]
fn truncations_and_bit_flips_are_errors_or_valid_never_panics() {
    let bytes = valid();
    for cut in 0..bytes.len() {
        assert!(decode(&bytes[..cut]).is_err(), "truncated at {cut} decoded");
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    for _ in 0..20_000 {
        let mut b = bytes.clone();
        let i = rng.gen_range(0..b.len());
        b[i] = rng.gen();
        let _ = decode(&b);
    }
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(matches!(decode(&trailing), Err(DecodeError::Trailing(1))));
}

#[test]
fn huge_payloads_are_refused_before_parsing() {
    let huge = vec![0u8; MAX_PAYLOAD + 1];
    assert!(matches!(decode(&huge), Err(DecodeError::TooLarge(_))));
    // A length prefix claiming gigabytes must not allocate them.
    let mut lying = vec![1u8, 0xff, 0xff, 0xff, 0xff, 0x0f];
    lying.extend_from_slice(&[b'a'; 32]);
    assert!(decode(&lying).is_err());
}
