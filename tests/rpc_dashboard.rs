//! The control-protocol requests the dashboard's detail tabs use when attached (RPC.md):
//! `pieces`, `files`, `prio` and `trackers`, answered by the daemon's real [`Controller`]
//! over an in-process session, and their documented JSON shapes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::sync::Arc;
use std::time::Duration;

use bidtorrent::engine::create::{CreateOptions, create_torrent};
use bidtorrent::engine::session::{Session, SessionConfig};
use bidtorrent::rpc::proto::{
    self, Command, FileList, PieceState, Request, TrackerList, bitfield_from_hex, bitfield_hex,
};
use bidtorrent::rpc::{Controller, ControllerConfig};

#[test]
fn bitfield_hex_round_trips() {
    let flags: Vec<bool> = (0..13).map(|i| i % 3 == 0).collect();
    let hex = bitfield_hex(&flags);
    assert_eq!(hex, "9248");
    assert_eq!(bitfield_from_hex(&hex, 13), Some(flags));
    assert_eq!(bitfield_from_hex("9", 13), None);
    assert_eq!(bitfield_from_hex("zz48", 13), None);
}

#[test]
fn requests_parse_as_documented() {
    let parse = |line: &str| -> Request {
        serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"))
    };
    // Each line becomes the command it documents, with every field read (an id alone would
    // pass whatever the command parsed to).
    let r = parse(r#"{"id": 5, "cmd": "pieces", "torrent": "3"}"#);
    assert_eq!(r.id, 5);
    assert!(
        matches!(&r.cmd, Command::Pieces { torrent } if torrent == "3"),
        "{r:?}"
    );
    let r = parse(r#"{"id": 6, "cmd": "files", "torrent": "ab12cd34"}"#);
    assert_eq!(r.id, 6);
    assert!(
        matches!(&r.cmd, Command::Files { torrent } if torrent == "ab12cd34"),
        "{r:?}"
    );
    let r =
        parse(r#"{"id": 7, "cmd": "prio", "torrent": "3", "files": [0, 2], "priority": "skip"}"#);
    assert_eq!(r.id, 7);
    assert!(
        matches!(&r.cmd, Command::Prio { torrent, files, priority }
            if torrent == "3" && files == &[0, 2] && priority == "skip"),
        "{r:?}"
    );
    // `files` may be left out: every file.
    let r = parse(r#"{"id": 9, "cmd": "prio", "torrent": "3", "priority": "high"}"#);
    assert!(
        matches!(&r.cmd, Command::Prio { files, priority, .. } if files.is_empty() && priority == "high"),
        "{r:?}"
    );
    let r = parse(r#"{"id": 8, "cmd": "trackers", "torrent": "3"}"#);
    assert_eq!(r.id, 8);
    assert!(
        matches!(&r.cmd, Command::Trackers { torrent } if torrent == "3"),
        "{r:?}"
    );
    // A request without its torrent is refused, not defaulted.
    assert!(serde_json::from_str::<Request>(r#"{"id": 1, "cmd": "pieces"}"#).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pieces_files_prio_and_trackers() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("src").join("pack");
    std::fs::create_dir_all(&src).expect("mkdir");
    std::fs::write(src.join("a.bin"), vec![1u8; 40_000]).expect("write");
    std::fs::write(src.join("b.bin"), vec![2u8; 70_000]).expect("write");
    let bytes = create_torrent(
        &src,
        &CreateOptions {
            trackers: vec![vec!["http://127.0.0.1:9/announce".into()]],
            piece_length: Some(16384),
            private: false,
            comment: None,
            name: None,
            creation_date: None,
            created_by: "test".into(),
            ..CreateOptions::default()
        },
        |_, _| {},
    )
    .expect("create");
    let tfile = tmp.path().join("pack.torrent");
    std::fs::write(&tfile, bytes).expect("write torrent");
    let data = tmp.path().join("data");
    let session = Session::start(SessionConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: data.clone(),
        download_limit: 0,
        upload_limit: 0,
    })
    .await
    .expect("session");
    let ctl = Controller::new(
        session.clone(),
        ControllerConfig {
            data_dir: data,
            download_dir: tmp.path().join("dl"),
            max_peers: 10,
            upload_slots: 4,
            sequential: false,
            tracker_interval: Some(Duration::from_secs(3600)),
            persist: true,
            seeding: Default::default(),
        },
    );
    // Seeding from the source directory: every piece verified.
    let r = ctl
        .add_one(
            tfile.to_str().expect("utf-8"),
            Some(tmp.path().join("src")),
            false,
            false,
            &[],
        )
        .await;
    assert!(r.ok, "{r:?}");
    let id = || "1".to_string();
    let call = |cmd: Command| {
        let ctl: Arc<Controller> = ctl.clone();
        async move { ctl.handle(cmd).await }
    };
    // Checking runs in the background: wait for the map to fill.
    let mut pieces: Option<PieceState> = None;
    for _ in 0..100 {
        let v = call(Command::Pieces { torrent: id() })
            .await
            .expect("pieces");
        let p: PieceState = serde_json::from_value(v).expect("shape");
        if bitfield_from_hex(&p.have, p.num_pieces).is_some_and(|h| h.iter().all(|x| *x)) {
            pieces = Some(p);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let p = pieces.expect("every piece verified");
    assert_eq!(p.num_pieces, 7); // 110 000 bytes in 16 KiB pieces
    assert_eq!(p.availability.len(), 7);
    assert!(p.downloading.is_empty());

    let v = call(Command::Files { torrent: id() }).await.expect("files");
    let f: FileList = serde_json::from_value(v).expect("shape");
    assert_eq!(f.files.len(), 2);
    assert_eq!(f.files[0].index, 0);
    assert!(f.files[0].path.ends_with("a.bin"), "{:?}", f.files[0].path);
    assert_eq!(f.files[1].length, 70_000);
    assert!(
        f.files
            .iter()
            .all(|f| f.priority == "normal" && f.progress == 1.0)
    );

    let v = call(Command::Prio {
        torrent: id(),
        files: vec![1],
        priority: "skip".into(),
    })
    .await
    .expect("prio");
    let f: FileList = serde_json::from_value(v).expect("shape");
    assert_eq!(f.files[1].priority, "skip");
    assert_eq!(f.files[0].priority, "normal");
    let bad = call(Command::Prio {
        torrent: id(),
        files: vec![9],
        priority: "skip".into(),
    })
    .await;
    assert!(bad.is_err_and(|e| e.contains("no file 9")));
    let bad = call(Command::Prio {
        torrent: id(),
        files: vec![],
        priority: "urgent".into(),
    })
    .await;
    assert!(bad.is_err_and(|e| e.contains("unknown priority")));

    let v = call(Command::Trackers { torrent: id() })
        .await
        .expect("trackers");
    let t: TrackerList = serde_json::from_value(v).expect("shape");
    assert_eq!(t.trackers.len(), 1);
    assert_eq!(t.trackers[0].url, "http://127.0.0.1:9/announce");
    assert!(
        ["not contacted", "error"].contains(&t.trackers[0].status.as_str()),
        "{:?}",
        t.trackers[0]
    );
    let _ = proto::TrackerState::describe(&t.trackers[0]);
    ctl.finish().await;
}
