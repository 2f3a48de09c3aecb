//! BEP 19 web seeds (`url-list`): a plain HTTP server holding the torrent's files, read with
//! range requests. This module is the HTTP side: where a byte range of the torrent lives
//! (which files, which padding) and fetching it. The torrent's use of it (picking, verifying,
//! backing off) is in `torrent/webseed.rs`.
//!
//! ureq is blocking, so every fetch runs on tokio's blocking pool with ureq's global timeout
//! and a tokio timeout slightly longer as a backstop, as the HTTP tracker does. A web seed
//! is asked for at most one piece at a time, so a handful of blocking threads is all it
//! costs; a separate async HTTP client would add a dependency for no measurable gain.

use std::io::Read;
use std::sync::OnceLock;
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::engine::metainfo::Info;

/// RFC 3986 unreserved characters stay as they are; everything else in a path component is
/// escaped (a name with '/' or '?' must not change the URL's meaning).
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[derive(Debug, thiserror::Error)]
pub enum WebSeedError {
    #[error("{url}: HTTP status {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: timed out after {timeout:?}")]
    Timeout { url: String, timeout: Duration },
    #[error("{url}: sent {got} bytes for a range of {want}")]
    Short { url: String, got: u64, want: u64 },
    #[error("{url}: {reason}")]
    Network { url: String, reason: String },
}

/// The URL of one file of the torrent on a web seed. For a single-file torrent a URL ending
/// in '/' names a directory holding the file; otherwise it is the file itself. For a
/// multi-file torrent the URL is the directory holding the torrent's directory.
pub fn file_url(base: &str, info: &Info, path: &[String]) -> String {
    let enc = |c: &str| utf8_percent_encode(c, COMPONENT).to_string();
    if info.single_file {
        return if base.ends_with('/') {
            format!("{base}{}", enc(&info.name))
        } else {
            base.to_string()
        };
    }
    let mut url = base.to_string();
    if !url.ends_with('/') {
        url.push('/');
    }
    url.push_str(&enc(&info.name));
    for c in path {
        url.push('/');
        url.push_str(&enc(c));
    }
    url
}

/// Part of a torrent byte range inside one file: `file` indexes `Info::files`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub file: usize,
    pub offset: u64,
    pub len: u64,
}

/// The files (padding included) covering torrent bytes `[start, start + len)`.
pub fn segments(info: &Info, start: u64, len: u64) -> Vec<Segment> {
    let end = start.saturating_add(len);
    let first = info.files.partition_point(|f| f.offset + f.length <= start);
    info.files[first..]
        .iter()
        .enumerate()
        .take_while(|(_, f)| f.offset < end)
        .filter(|(_, f)| f.length > 0)
        .map(|(i, f)| {
            let s = start.max(f.offset);
            let e = end.min(f.offset + f.length);
            Segment {
                file: first + i,
                offset: s - f.offset,
                len: e - s,
            }
        })
        .collect()
}

fn agent() -> &'static ureq::Agent {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    AGENT.get_or_init(|| {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(3)
            .user_agent(concat!("bidtorrent/", env!("CARGO_PKG_VERSION")))
            .build()
            .into()
    })
}

/// Reads `len` bytes at `offset` of the file at `url` (blocking). A 206 must carry exactly
/// the range; a 200 (a server ignoring ranges) is accepted only for a range from 0, and only
/// its first `len` bytes are read. Anything else is an error: the caller backs off.
pub fn fetch_range(
    url: &str,
    offset: u64,
    len: u64,
    timeout: Duration,
) -> Result<Vec<u8>, WebSeedError> {
    let net = |e: ureq::Error| match e {
        ureq::Error::Timeout(_) => WebSeedError::Timeout {
            url: url.to_string(),
            timeout,
        },
        other => WebSeedError::Network {
            url: url.to_string(),
            reason: other.to_string(),
        },
    };
    let last = offset + len.max(1) - 1;
    let mut resp = agent()
        .get(url)
        .header("Range", &format!("bytes={offset}-{last}"))
        .config()
        .timeout_global(Some(timeout))
        .build()
        .call()
        .map_err(net)?;
    let status = resp.status().as_u16();
    if !(status == 206 || (status == 200 && offset == 0)) {
        return Err(WebSeedError::Status {
            url: url.to_string(),
            status,
        });
    }
    let want = usize::try_from(len).map_err(|_| WebSeedError::Short {
        url: url.to_string(),
        got: 0,
        want: len,
    })?;
    let mut out = Vec::with_capacity(want);
    // One byte more than the range, to tell a 206 that sends too much from one that fits.
    let limit = if status == 206 { len + 1 } else { len };
    resp.body_mut()
        .as_reader()
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::TimedOut => WebSeedError::Timeout {
                url: url.to_string(),
                timeout,
            },
            _ => WebSeedError::Network {
                url: url.to_string(),
                reason: e.to_string(),
            },
        })?;
    if out.len() != want {
        return Err(WebSeedError::Short {
            url: url.to_string(),
            got: out.len() as u64,
            want: len,
        });
    }
    Ok(out)
}

/// Reads torrent bytes `[start, start + len)` from the web seed at `base` (blocking):
/// padding is zeros, every file part is one range request.
pub fn fetch(
    base: &str,
    info: &Info,
    start: u64,
    len: u64,
    timeout: Duration,
) -> Result<Vec<u8>, WebSeedError> {
    let mut out = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    for seg in segments(info, start, len) {
        let f = &info.files[seg.file];
        if f.pad {
            out.resize(out.len() + seg.len as usize, 0);
            continue;
        }
        let url = file_url(base, info, &f.path);
        out.extend_from_slice(&fetch_range(&url, seg.offset, seg.len, timeout)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::metainfo::FileEntry;

    fn info(single: bool) -> Info {
        let files = if single {
            vec![FileEntry {
                path: vec!["a b.iso".into()],
                length: 100,
                offset: 0,
                pad: false,
            }]
        } else {
            vec![
                FileEntry {
                    path: vec!["d".into(), "x?y.bin".into()],
                    length: 10,
                    offset: 0,
                    pad: false,
                },
                FileEntry {
                    path: vec![".pad".into(), "6".into()],
                    length: 6,
                    offset: 10,
                    pad: true,
                },
                FileEntry {
                    path: vec!["empty".into()],
                    length: 0,
                    offset: 16,
                    pad: false,
                },
                FileEntry {
                    path: vec!["z".into()],
                    length: 20,
                    offset: 16,
                    pad: false,
                },
            ]
        };
        Info {
            name: if single {
                "a b.iso".into()
            } else {
                "top dir".into()
            },
            piece_length: 16,
            pieces: Vec::new(),
            total_length: files.last().map_or(0, |f| f.offset + f.length),
            files,
            private: false,
            single_file: single,
            v2: None,
        }
    }

    #[test]
    fn urls_follow_bep19() {
        let s = info(true);
        assert_eq!(
            file_url("http://h/x.iso", &s, &s.files[0].path),
            "http://h/x.iso"
        );
        assert_eq!(
            file_url("http://h/d/", &s, &s.files[0].path),
            "http://h/d/a%20b.iso"
        );
        let m = info(false);
        assert_eq!(
            file_url("http://h/seed", &m, &m.files[0].path),
            "http://h/seed/top%20dir/d/x%3Fy.bin"
        );
        assert_eq!(
            file_url("http://h/seed/", &m, &m.files[3].path),
            "http://h/seed/top%20dir/z"
        );
    }

    #[test]
    fn segments_cross_files_and_padding() {
        let m = info(false);
        assert_eq!(
            segments(&m, 8, 12),
            vec![
                Segment {
                    file: 0,
                    offset: 8,
                    len: 2
                },
                Segment {
                    file: 1,
                    offset: 0,
                    len: 6
                },
                Segment {
                    file: 3,
                    offset: 0,
                    len: 4
                },
            ]
        );
        assert_eq!(
            segments(&m, 30, 6),
            vec![Segment {
                file: 3,
                offset: 14,
                len: 6
            }]
        );
        assert!(segments(&m, 36, 0).is_empty());
    }
}
