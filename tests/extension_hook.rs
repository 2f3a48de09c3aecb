//! The BEP 10 extension hook over real sockets: two bidtorrent sessions talk through a
//! registered extension, and a peer that does not announce it never receives its messages.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod engine_util;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bidtorrent::bencode::{self, Dict, Owned};
use bidtorrent::engine::extension::{Extension, ExtensionFactory, PeerLink, TorrentHandle};
use bidtorrent::engine::metainfo::Metainfo;
use bidtorrent::engine::session::{Session, SessionConfig};
use bidtorrent::engine::torrent::TorrentOptions;
use bidtorrent::engine::types::PeerId;
use bidtorrent::engine::wire::{Handshake, Message};
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Greets every peer that announced it and records what it hears.
#[derive(Default)]
struct Hello {
    heard: Mutex<Vec<String>>,
    greeted: Mutex<Vec<bool>>,
}

impl Extension for Hello {
    fn name(&self) -> &'static str {
        "x_hello"
    }
    fn handshake_fields(&self, _t: &TorrentHandle, hs: &mut Owned) {
        hs.insert("x_hello_ver", 7i64);
    }
    fn on_handshake(&self, link: &PeerLink, hs: &Dict<'_>, supported: bool) {
        let sent = supported && link.send("x_hello", b"hi".to_vec());
        self.greeted
            .lock()
            .expect("lock")
            .push(sent || hs.get_int("x_hello_ver") == Some(7) && !supported);
    }
    fn on_message(&self, _link: &PeerLink, payload: &[u8]) -> Result<(), String> {
        if payload == b"bad" {
            return Err("bad greeting".into());
        }
        self.heard
            .lock()
            .expect("lock")
            .push(String::from_utf8_lossy(payload).into_owned());
        Ok(())
    }
}

struct Factory(Arc<Hello>);

impl ExtensionFactory for Factory {
    fn create(&self, _t: &TorrentHandle) -> Option<Arc<dyn Extension>> {
        Some(self.0.clone())
    }
}

async fn session(tmp: &std::path::Path, name: &str) -> Arc<Session> {
    Session::start(SessionConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: tmp.join(name),
        download_limit: 0,
        upload_limit: 0,
    })
    .await
    .expect("session")
}

#[tokio::test]
async fn extension_messages_flow_only_to_peers_that_announce_them() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = engine_util::make_torrent(tmp.path(), "e.bin", &[("e.bin", 100_000)], 16384);
    let meta = Metainfo::from_file(&t).expect("torrent");

    let a_ext = Arc::new(Hello::default());
    let b_ext = Arc::new(Hello::default());
    let a = session(tmp.path(), "a").await;
    a.register_extension(Arc::new(Factory(a_ext.clone())));
    let b = session(tmp.path(), "b").await;
    b.register_extension(Arc::new(Factory(b_ext.clone())));
    a.add(
        meta.clone(),
        TorrentOptions {
            download_dir: tmp.path().join("src"),
            ..TorrentOptions::default()
        },
    )
    .await
    .expect("add a");
    b.add(
        meta.clone(),
        TorrentOptions {
            download_dir: tmp.path().join("dl"),
            peers: vec![a.listen_addr()],
            ..TorrentOptions::default()
        },
    )
    .await
    .expect("add b");

    let ok = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if !a_ext.heard.lock().expect("lock").is_empty()
                && !b_ext.heard.lock().expect("lock").is_empty()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(ok.is_ok(), "greetings not exchanged");
    assert_eq!(a_ext.heard.lock().expect("lock")[0], "hi");

    // A plain peer: extension protocol on, but x_hello not announced.
    let mut s = tokio::net::TcpStream::connect(a.listen_addr())
        .await
        .expect("connect");
    s.write_all(&Handshake::new(meta.info_hash, PeerId(*b"-PL0001-plainpeer123")).encode())
        .await
        .expect("handshake");
    let hs = Owned::dict()
        .with("m", Owned::dict().with("ut_other", 3i64))
        .encode();
    let mut out = BytesMut::new();
    Message::Extended {
        id: 0,
        payload: Bytes::from(hs),
    }
    .encode(&mut out);
    s.write_all(&out).await.expect("ext handshake");
    let mut back = [0u8; 68];
    s.read_exact(&mut back).await.expect("handshake back");
    let mut buf = BytesMut::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            if s.read_buf(&mut buf).await.unwrap_or(0) == 0 {
                return;
            }
        }
    })
    .await;
    let mut saw_their_handshake = false;
    let mut hello_id = 0u8;
    while let Ok(Some(m)) = Message::decode(&mut buf) {
        if let Message::Extended { id, payload } = m {
            assert_eq!(id, 0, "a plain peer got an extension message");
            let v = bencode::decode(&payload).expect("bencoded handshake");
            let d = v.as_dict().expect("dict");
            let m = d.get_dict("m").expect("m");
            // The session's built-in extensions (ut_metadata, ut_pex) come first: ids 1 and 2.
            assert_eq!(m.get_int("ut_metadata"), Some(1));
            assert_eq!(m.get_int("ut_pex"), Some(2));
            assert_eq!(
                m.get_int("x_hello"),
                Some(3),
                "our handshake announces x_hello as id 3"
            );
            hello_id = 3;
            assert_eq!(d.get_int("x_hello_ver"), Some(7));
            saw_their_handshake = true;
        }
    }
    assert!(saw_their_handshake);

    // An extension that rejects a payload drops the peer.
    let mut s2 = tokio::net::TcpStream::connect(a.listen_addr())
        .await
        .expect("connect");
    s2.write_all(&Handshake::new(meta.info_hash, PeerId(*b"-PL0001-plainpeer456")).encode())
        .await
        .expect("handshake");
    let mut out = BytesMut::new();
    Message::Extended {
        id: hello_id,
        payload: Bytes::from_static(b"bad"),
    }
    .encode(&mut out);
    s2.write_all(&out).await.expect("bad message");
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        let mut b = vec![0u8; 4096];
        loop {
            match s2.read(&mut b).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "peer with a rejected payload still connected"
    );
}
