#![no_main]
//! The MSE/PE handshake against a hostile peer. The first byte picks the scenario:
//!
//! - the answering side (and the listener's sniffing in every encryption mode) reading the
//!   input as everything the dialler sent;
//! - the dialling side reading the input as everything the answerer sent;
//! - both of our sides in memory with the input XORed over the dialler's bytes after its public
//!   key, so the encrypted header (VC, crypto_provide, pad and IA lengths) arrives corrupted in
//!   every way the fuzzer finds.
//!
//! Nothing may panic; a corrupted handshake must fail, not yield mismatched ciphers.

use bidtorrent::engine::mse::{self, CRYPTO_PLAINTEXT, CRYPTO_RC4, KEY_LEN};
use bidtorrent::engine::transport::{Encryption, PeerStream, accept_stream};
use bidtorrent::engine::types::InfoHash;
use libfuzzer_sys::fuzz_target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const IH: InfoHash = InfoHash([7; 20]);

fuzz_target!(|data: &[u8]| {
    let Some((&mode, input)) = data.split_first() else {
        return;
    };
    // Paused time: a handshake left waiting for bytes that never come (a corrupted length)
    // reaches the timeout at once instead of stalling the fuzzer.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
    {
        Ok(rt) => rt,
        Err(_) => return,
    };
    rt.block_on(async {
        match mode % 3 {
            0 => {
                // Their bytes, then EOF; what we write goes nowhere.
                let mut io = tokio::io::join(input, tokio::io::sink());
                let _ = mse::respond(&mut io, &[], &[IH], CRYPTO_RC4 | CRYPTO_PLAINTEXT, false).await;
                // Each mode with the methods it accepts, and `prefer` answering a same-host
                // peer (plaintext only, its first RC4-only offer refused).
                let modes = [
                    (Encryption::Prefer, Encryption::Prefer.allowed()),
                    (Encryption::Prefer, CRYPTO_PLAINTEXT),
                    (Encryption::Require, Encryption::Require.allowed()),
                    (Encryption::Allow, Encryption::Allow.allowed()),
                    (Encryption::Off, Encryption::Off.allowed()),
                ];
                for (m, methods) in modes {
                    let io = tokio::io::join(std::io::Cursor::new(input.to_vec()), tokio::io::sink());
                    let _ = accept_stream(PeerStream::from_io(io), m, methods, || vec![IH]).await;
                }
            }
            1 => {
                let mut io = tokio::io::join(input, tokio::io::sink());
                let _ = mse::initiate(&mut io, IH, CRYPTO_RC4 | CRYPTO_PLAINTEXT).await;
            }
            _ => mitm(input).await,
        }
    });
});

async fn mitm(mask: &[u8]) {
    let (mut a, a_far) = tokio::io::duplex(1 << 16);
    let (mut b, b_far) = tokio::io::duplex(1 << 16);
    let (mut a_rd, mut a_wr) = tokio::io::split(a_far);
    let (mut b_rd, mut b_wr) = tokio::io::split(b_far);
    let mask = mask.to_vec();
    // Dialler → answerer, corrupted after the public key.
    let forward = async move {
        let mut at = 0usize;
        let mut buf = [0u8; 512];
        loop {
            let n = match a_rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            for byte in &mut buf[..n] {
                if let Some(m) = at.checked_sub(KEY_LEN).and_then(|i| mask.get(i)) {
                    *byte ^= m;
                }
                at += 1;
            }
            if b_wr.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = b_wr.shutdown().await;
    };
    let backward = async move {
        let _ = tokio::io::copy(&mut b_rd, &mut a_wr).await;
        let _ = a_wr.shutdown().await;
    };
    let dialler = async {
        let r = mse::initiate(&mut a, IH, CRYPTO_RC4 | CRYPTO_PLAINTEXT).await;
        drop(a);
        r
    };
    let answerer = async {
        let r = mse::respond(&mut b, &[], &[IH], CRYPTO_RC4, false).await;
        drop(b);
        r
    };
    let run = async { tokio::join!(dialler, answerer, forward, backward) };
    // A corrupted length can leave both sides waiting for each other: in the engine the
    // transport's handshake timeout ends that, here this one does.
    let Ok((ra, rb, _, _)) = tokio::time::timeout(std::time::Duration::from_secs(10), run).await
    else {
        return;
    };
    if let (Ok(mut a), Ok(mut b)) = (ra, rb) {
        // Both accepted: their keys must agree, or the corruption went unnoticed.
        let mut probe = *b"probe";
        if let (Some(w), Some(r)) = (a.write.as_mut(), b.read.as_mut()) {
            w.apply(&mut probe);
            r.apply(&mut probe);
            assert_eq!(&probe, b"probe");
        }
    }
}
