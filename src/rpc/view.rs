//! Engine state as the front ends show it: the one mapping from a running [`Torrent`] (and
//! its market) to the protocol's rows. The controller answers `list`, `peers`, `pieces`,
//! `files` and `trackers` with these, and the demo's dashboard reads its members through
//! them too, so a peer's flags or a torrent's market role read the same everywhere.

use crate::engine::torrent::{PeerInfo as EnginePeer, Torrent, TorrentEvent, file_progress};
use crate::engine::types::InfoHash;
use crate::market::Market;
use crate::market::config::{BuyerStrategy, SellerStrategy};

use super::proto::{
    Event, FileState, MarketSummary, PeerInfo, PieceState, TorrentSummary, TrackerState,
    bitfield_hex,
};

/// The flags column of a peer (the legend is in RPC.md and `peers --help`):
/// `D`/`d` we download from it (unchoked / choked while interested), `U`/`u` it downloads from
/// us (unchoked / choked while interested), `O`/`I` outgoing or incoming connection, `E` the
/// connection is encrypted (MSE/PE, RC4), `P` it runs over uTP, `F` it speaks the fast
/// extension (BEP 6), `X` it speaks the token market (`bt_market`).
pub fn peer_flags(p: &EnginePeer) -> String {
    let mut f = String::new();
    if p.am_interested {
        f.push(if p.peer_choking { 'd' } else { 'D' });
    }
    if p.peer_interested {
        f.push(if p.am_choking { 'u' } else { 'U' });
    }
    f.push(if p.outgoing { 'O' } else { 'I' });
    if p.encrypted {
        f.push('E');
    }
    if p.utp {
        f.push('P');
    }
    if p.fast {
        f.push('F');
    }
    if p.extensions
        .iter()
        .any(|e| e == crate::market::proto::EXTENSION)
    {
        f.push('X');
    }
    f
}

/// One peer row.
pub fn peer_info(p: &EnginePeer) -> PeerInfo {
    PeerInfo {
        addr: p.addr.to_string(),
        client: p.client.clone(),
        flags: peer_flags(p),
        outgoing: p.outgoing,
        progress: p.progress,
        down_rate: p.down_rate,
        up_rate: p.up_rate,
        downloaded: p.downloaded,
        uploaded: p.uploaded,
        am_choking: p.am_choking,
        am_interested: p.am_interested,
        peer_choking: p.peer_choking,
        peer_interested: p.peer_interested,
    }
}

/// The connected peers, by address.
pub fn peers(t: &Torrent) -> Vec<PeerInfo> {
    let mut peers: Vec<PeerInfo> = t.peers().iter().map(peer_info).collect();
    peers.sort_by(|a, b| a.addr.cmp(&b.addr));
    peers
}

/// The torrent's columns from the engine; the caller fills what its own records know (id,
/// download dir, paused, limits, when added). `t` is `None` for a torrent that did not load.
pub fn summary(
    id: u32,
    info_hash: &str,
    name: &str,
    t: Option<&Torrent>,
    market: Option<&Market>,
) -> TorrentSummary {
    let s = t.map(|t| t.stats());
    let total = s.as_ref().map_or(0, |s| s.total_bytes);
    let left = s.as_ref().map_or(0, |s| s.left_bytes);
    TorrentSummary {
        id,
        info_hash: info_hash.to_string(),
        name: name.to_string(),
        phase: s.as_ref().map_or("error", |s| s.phase.as_str()).to_string(),
        progress: if total == 0 {
            if s.is_some() { 1.0 } else { 0.0 }
        } else {
            (total - left) as f64 / total as f64
        },
        have_pieces: s.as_ref().map_or(0, |s| s.have_pieces),
        num_pieces: s.as_ref().map_or(0, |s| s.num_pieces),
        total_bytes: total,
        left_bytes: left,
        downloaded: s.as_ref().map_or(0, |s| s.downloaded),
        uploaded: s.as_ref().map_or(0, |s| s.uploaded),
        down_rate: s.as_ref().map_or(0.0, |s| s.down_rate),
        up_rate: s.as_ref().map_or(0.0, |s| s.up_rate),
        peers: s.as_ref().map_or(0, |s| s.peers),
        download_dir: String::new(),
        paused: t.is_some_and(|t| t.is_paused()),
        sequential: false,
        down_limit: 0,
        up_limit: 0,
        added_at: 0,
        error: match &s {
            Some(s) => s.error.clone(),
            None => Some("not loaded (see the daemon's log)".into()),
        },
        market: match (market, InfoHash::from_hex(info_hash)) {
            (Some(m), Ok(ih)) => Some(market_summary(m, &ih, left)),
            _ => None,
        },
        labels: Vec::new(),
        seed: Default::default(),
        seed_limit: None,
        done_at: None,
    }
}

/// The market columns of one torrent: the one place that decides its role.
pub fn market_summary(market: &Market, ih: &InfoHash, left: u64) -> MarketSummary {
    let eff = market.strategy(Some(ih));
    let report = market.report(ih);
    let buying = left > 0 && eff.buyer.strategy != BuyerStrategy::Off;
    let selling = left == 0 && eff.seller.strategy != SellerStrategy::TitForTat;
    let price = match &report {
        Some(r) if buying => r
            .peers
            .iter()
            .filter_map(|p| p.my_bid)
            .max()
            .unwrap_or_default()
            .micro(),
        Some(r) => r.clearing.micro(),
        None => 0,
    };
    MarketSummary {
        role: if buying {
            "buyer"
        } else if selling {
            "seller"
        } else {
            "plain"
        }
        .into(),
        buyer_strategy: eff.buyer.strategy.to_string(),
        seller_strategy: eff.seller.strategy.to_string(),
        price,
        paid: report.as_ref().map_or(0, |r| r.spent.micro()),
        earned: report.as_ref().map_or(0, |r| r.earned.micro()),
        peers: report.as_ref().map_or(0, |r| r.peers.len()),
    }
}

/// The piece map: have, in flight, availability.
pub fn pieces(id: u32, t: &Torrent) -> PieceState {
    let have = t.have();
    let flags: Vec<bool> = (0..have.len()).map(|i| have.get(i)).collect();
    PieceState {
        id,
        num_pieces: flags.len(),
        have: bitfield_hex(&flags),
        downloading: t.downloading_pieces(),
        availability: t.piece_availability(),
    }
}

/// Indices into `meta.info.files` of the files that `files` and `prio` number (padding is
/// hidden).
pub fn real_files(t: &Torrent) -> Vec<usize> {
    t.meta.info.real_files().map(|(i, _)| i).collect()
}

/// The files, numbered as `prio` takes them, with paths relative to `base` and the
/// priorities given (`normal` where none is).
pub fn files(t: &Torrent, base: &std::path::Path, priorities: &[String]) -> Vec<FileState> {
    let have = t.have();
    let paths = t.file_paths();
    real_files(t)
        .into_iter()
        .zip(paths)
        .enumerate()
        .map(|(index, (fi, p))| FileState {
            index,
            path: p.strip_prefix(base).unwrap_or(&p).display().to_string(),
            length: t.meta.info.files[fi].length,
            progress: file_progress(&t.meta, &have, fi),
            priority: priorities
                .get(index)
                .cloned()
                .unwrap_or_else(|| "normal".into()),
        })
        .collect()
}

/// Every tracker with its last announce, then every web seed (BEP 19) with its state.
pub fn trackers(t: &Torrent) -> Vec<TrackerState> {
    t.tracker_status()
        .iter()
        .map(TrackerState::from_status)
        .chain(t.web_seed_status().iter().map(TrackerState::from_web_seed))
        .collect()
}

/// A torrent's event as subscribers see it; `None` for the ones only the engine cares about.
pub fn event(id: u32, t: &Torrent, ev: TorrentEvent) -> Option<Event> {
    Some(match ev {
        TorrentEvent::Checking => Event::Checking { id },
        TorrentEvent::Checked { have, hashed } => Event::Checked { id, have, hashed },
        TorrentEvent::Complete => Event::Complete {
            id,
            name: t.meta.info.name.clone(),
        },
        TorrentEvent::HashFailed { piece } => Event::HashFailed { id, piece },
        TorrentEvent::PeerBanned(ip) => Event::PeerBanned {
            id,
            ip: ip.to_string(),
        },
        TorrentEvent::TrackerError(message) => Event::TrackerError { id, message },
        TorrentEvent::Error(message) => Event::Error { id, message },
        TorrentEvent::PieceVerified(_) | TorrentEvent::Seeding => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(encrypted: bool, utp: bool) -> EnginePeer {
        EnginePeer {
            key: 0,
            addr: ([127, 0, 0, 1], 6881).into(),
            client: String::new(),
            outgoing: true,
            am_choking: true,
            am_interested: false,
            peer_choking: true,
            peer_interested: false,
            fast: true,
            have_pieces: 0,
            progress: 0.0,
            down_rate: 0.0,
            up_rate: 0.0,
            downloaded: 0,
            uploaded: 0,
            extensions: Vec::new(),
            encrypted,
            utp,
        }
    }

    #[test]
    fn transport_flags_follow_the_connection() {
        assert_eq!(peer_flags(&peer(false, false)), "OF");
        assert_eq!(peer_flags(&peer(true, false)), "OEF");
        assert_eq!(peer_flags(&peer(false, true)), "OPF");
        assert_eq!(peer_flags(&peer(true, true)), "OEPF");
    }
}
