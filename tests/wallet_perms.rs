//! The wallet's key and database, and the ledger's directory and admin key, are not readable
//! by other users (SPEC §5).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use bidtorrent::wallet::{Amount, EmbeddedLedger, LedgerClient, Wallet};

fn assert_private(dir: &Path) {
    let mode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "{} is {mode:o}", dir.display());
    let mut files = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if e.file_type().unwrap().is_dir() {
            assert_private(&p);
        } else {
            files += 1;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(
                mode & 0o077,
                0,
                "{} is readable by others: {mode:o}",
                p.display()
            );
        }
    }
    let _ = files;
}

#[tokio::test]
async fn wallet_and_ledger_are_owner_only() {
    let tmp = tempfile::tempdir().unwrap();
    // A permissive parent: the wallet must not rely on it.
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let wdir = tmp.path().join("data/wallet");
    let ldir = tmp.path().join("ledger");
    {
        let (ledger, addr) = EmbeddedLedger::start(&ldir).await.unwrap();
        let w = Wallet::open(&wdir).unwrap();
        let client = LedgerClient::new(addr.to_string());
        ledger.mint(w.public_key(), Amount(5)).await.unwrap();
        w.refresh(&client).await.unwrap();
        assert_private(&wdir);
        let key = tmp.path().join("exported.key");
        w.export_secret_key(&key).unwrap();
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(
            w.export_secret_key(&key).is_err(),
            "export must not overwrite"
        );
        ledger.shutdown().await.unwrap();
    }
    assert_private(&wdir);
    assert_private(&ldir);
    assert!(ldir.join("admin.key").exists());
    // Reopening keeps the same identity.
    let a = Wallet::open(&wdir).unwrap().public_key();
    let b = Wallet::open(&wdir).unwrap().public_key();
    assert_eq!(a, b);
}
