//! BEP 52 hash request / hashes / hash reject: decoding never panics and accepted frames
//! re-encode byte for byte; merkle proofs over arbitrary hashes never panic, and a proof we
//! build always verifies against the root we compute.
#![no_main]

use bidtorrent::engine::merkle;
use bidtorrent::engine::wire::Message;
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // As frames with ids 21-23.
    for id in [21u8, 22, 23] {
        let mut frame = BytesMut::new();
        frame.extend_from_slice(&u32::try_from(data.len() + 1).unwrap_or(u32::MAX).to_be_bytes());
        frame.extend_from_slice(&[id]);
        frame.extend_from_slice(data);
        let original = frame.clone();
        if let Ok(Some(m)) = Message::decode(&mut frame) {
            let mut out = BytesMut::new();
            m.encode(&mut out);
            assert_eq!(out, original);
        }
    }
    // As the fields of a hashes answer checked against a root.
    if data.len() < 12 {
        return;
    }
    let index = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize;
    let count = u32::from_le_bytes([data[4], data[5], data[6], data[7]]) as usize;
    let width = u32::from_le_bytes([data[8], data[9], data[10], data[11]]) as usize;
    let hashes: Vec<[u8; 32]> = data[12..]
        .chunks_exact(32)
        .map(|c| c.try_into().unwrap_or([0; 32]))
        .collect();
    let root = hashes.first().copied().unwrap_or([0; 32]);
    let split = count.min(hashes.len());
    let _ = merkle::verify_proof(&root, &hashes[..split], index, &hashes[split..], width);
    // A layer of the given hashes: every aligned range's proof verifies.
    if !hashes.is_empty() && count > 0 && count.is_power_of_two() && count <= 64 {
        let layer = &hashes;
        let w = layer.len().next_power_of_two();
        let root = merkle::root_of(layer, w, merkle::ZERO);
        let idx = (index % w) / count * count;
        if let Some((base, uncles)) = merkle::proof(layer, merkle::ZERO, idx, count, 64) {
            assert!(merkle::verify_proof(&root, &base, idx, &uncles, w));
        }
    }
});
