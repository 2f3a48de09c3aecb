//! A .torrent named by an HTTP(S) URL (`add https://…/x.torrent`, Transmission's `torrent-add`
//! with a URL), fetched with a cap on size and time so a slow or huge answer cannot hold the
//! controller or fill its memory.

use std::time::Duration;

/// Larger than any real .torrent (the biggest public ones are a few MiB).
pub const FETCH_MAX: u64 = 10 << 20;
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(20);

/// Whether `source` is a URL to fetch rather than a path or a magnet.
pub fn is_url(source: &str) -> bool {
    let lower = source.get(..8).unwrap_or(source).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// Fetches a .torrent over HTTP(S), bounded in size and time.
pub fn torrent(url: &str) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(FETCH_TIMEOUT))
        .build()
        .into();
    let resp = agent
        .get(url)
        .call()
        .map_err(|e| format!("fetching {url}: {e}"))?;
    let mut bytes = Vec::new();
    resp.into_body()
        .into_reader()
        .take(FETCH_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("fetching {url}: {e}"))?;
    if bytes.len() as u64 > FETCH_MAX {
        return Err(format!("{url}: larger than {FETCH_MAX} bytes"));
    }
    Ok(bytes)
}
