//! The configuration file (TOML): every key has a default, unknown keys are errors.
//!
//! [`DEFAULT_FILE`] is the full commented file `bidtorrent config default` prints; a unit test
//! parses it and compares it with [`Config::default`], so the documentation cannot drift from
//! the code.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where torrents are downloaded unless `add --dir` says otherwise; `~/` is the home dir.
    pub download_dir: String,
    /// Address the peer listener binds.
    pub listen: SocketAddr,
    pub limits: Limits,
    pub torrent: TorrentDefaults,
    pub watch: Watch,
    pub log: Log,
    /// The dashboard's `[tui]` table (theme, colour, mouse, refresh, keys). Kept as a table
    /// here and checked, with line numbers, by `tui::parse_config`.
    #[serde(skip_serializing_if = "toml::Table::is_empty")]
    pub tui: toml::Table,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Global download rate, bytes/s (or "10M"); 0 = unlimited.
    pub download: Rate,
    pub upload: Rate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TorrentDefaults {
    pub max_peers: usize,
    pub upload_slots: usize,
    pub sequential: bool,
    /// Seconds between tracker announces; 0 = what the tracker asks.
    pub tracker_interval: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Watch {
    /// Directory scanned for new .torrent files; empty = off.
    pub dir: String,
    pub interval_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    /// Level of the daemon's log file: error, warn, info, debug or trace.
    pub level: String,
    /// Write the log file (under the state dir).
    pub file: bool,
}

/// A rate in bytes/s: a TOML integer or a string with a binary unit ("512K", "10M").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rate(pub u64);

impl Serialize for Rate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Str(String),
        }
        match Raw::deserialize(d)
            .map_err(|_| serde::de::Error::custom("expected a rate like 0, 1048576 or \"10M\""))?
        {
            Raw::Int(v) => Ok(Rate(v)),
            Raw::Str(s) => crate::cli::parse_size(&s)
                .map(Rate)
                .map_err(serde::de::Error::custom),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            download_dir: "~/Downloads".into(),
            listen: SocketAddr::from(([0, 0, 0, 0], 6881)),
            limits: Limits::default(),
            torrent: TorrentDefaults::default(),
            watch: Watch::default(),
            log: Log::default(),
            tui: toml::Table::new(),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            download: Rate(0),
            upload: Rate(0),
        }
    }
}

impl Default for TorrentDefaults {
    fn default() -> Self {
        TorrentDefaults {
            max_peers: 50,
            upload_slots: 4,
            sequential: false,
            tracker_interval: 0,
        }
    }
}

impl Default for Watch {
    fn default() -> Self {
        Watch {
            dir: String::new(),
            interval_secs: 5,
        }
    }
}

impl Default for Log {
    fn default() -> Self {
        Log {
            level: "info".into(),
            file: true,
        }
    }
}

/// The full default configuration, every key commented (`bidtorrent config default`).
pub const DEFAULT_FILE: &str = r#"# bidtorrent configuration (TOML). Every key is optional; shown here with its default.
# Unknown keys are errors. Check a file with `bidtorrent config check`.

# Where torrents are downloaded unless `add --dir` says otherwise. "~/" is your home.
download_dir = "~/Downloads"

# Address the peer listener binds (port 0 picks a free port).
listen = "0.0.0.0:6881"

[limits]
# Global rates in bytes/s: an integer, or a string with a binary unit ("512K", "10M", "1G").
# 0 means unlimited. `bidtorrent limit` changes them at run time.
download = 0
upload = 0

[torrent]
# Most peers connected per torrent.
max_peers = 50
# Upload slots per torrent (peers unchoked by the choker, besides the optimistic one).
upload_slots = 4
# Fetch pieces in order (for streaming) instead of rarest first; `add --sequential` per torrent.
sequential = false
# Seconds between tracker announces; 0 follows the interval the tracker asks for.
tracker_interval = 0

[watch]
# A directory scanned for new .torrent files: each is added once, then renamed to
# NAME.torrent.added, or NAME.torrent.invalid when it cannot be added (the reason is logged).
# Empty turns watching off. "~/" is your home.
dir = ""
# Seconds between scans.
interval_secs = 5

[log]
# Level of the daemon's log: "error", "warn", "info", "debug" or "trace".
# RUST_LOG overrides it.
level = "info"
# Write the log to daemon.log in the state directory ($XDG_STATE_HOME/bidtorrent, or the
# --data-dir). `bidtorrent daemon --log-stderr` also logs to stderr.
file = true
"#;

/// A problem with a configuration file, naming the file, the line and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: {message}", .path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

impl Config {
    /// Parses `text` (from `path`, used in messages) and validates the values.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            ConfigError::Invalid {
                path: path.to_path_buf(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;
        cfg.validate(text, path)?;
        Ok(cfg)
    }

    /// Reads `path`; a missing file gives the defaults unless `must_exist`.
    pub fn load(path: &Path, must_exist: bool) -> Result<Config, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => {
                Ok(Config::default())
            }
            Err(source) => Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Checks what serde cannot: values in range. Errors point at the key's line.
    fn validate(&self, text: &str, path: &Path) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| {
            let (line, column) = find_key(text, key);
            Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line,
                column,
                message: format!("{key}: {message}"),
            })
        };
        if !["error", "warn", "info", "debug", "trace"].contains(&self.log.level.as_str()) {
            return bad(
                "level",
                format!(
                    "{:?} is not one of error, warn, info, debug, trace",
                    self.log.level
                ),
            );
        }
        if self.torrent.max_peers == 0 {
            return bad("max_peers", "must be at least 1".into());
        }
        if self.torrent.upload_slots == 0 {
            return bad("upload_slots", "must be at least 1".into());
        }
        if self.watch.interval_secs == 0 {
            return bad("interval_secs", "must be at least 1".into());
        }
        if self.download_dir.trim().is_empty() {
            return bad("download_dir", "must not be empty".into());
        }
        Ok(())
    }

    pub fn download_dir(&self) -> PathBuf {
        expand_home(&self.download_dir)
    }

    pub fn watch_dir(&self) -> Option<PathBuf> {
        (!self.watch.dir.trim().is_empty()).then(|| expand_home(&self.watch.dir))
    }
}

/// `~/x` → `$HOME/x`; anything else unchanged.
pub fn expand_home(s: &str) -> PathBuf {
    if let Some(rest) = s.strip_prefix("~/")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    if s == "~"
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home);
    }
    PathBuf::from(s)
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

/// Line and column of the first line that sets `key` (for errors found after parsing).
fn find_key(text: &str, key: &str) -> (usize, usize) {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix(key)
            && rest.trim_start().starts_with('=')
        {
            return line_col(text, offset + (line.len() - t.len()));
        }
        offset += line.len();
    }
    (1, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_file_is_the_defaults() {
        let cfg = Config::parse(DEFAULT_FILE, Path::new("default")).expect("parses");
        assert_eq!(cfg, Config::default());
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let text = "listen = \"127.0.0.1:0\"\n[limits]\ndownload = \"1M\"\nuplaod = 5\n";
        let e = Config::parse(text, Path::new("c.toml")).expect_err("must fail");
        let msg = e.to_string();
        assert!(msg.starts_with("c.toml:4:"), "{msg}");
        assert!(msg.contains("uplaod"), "{msg}");
    }

    #[test]
    fn rates_take_units() {
        let cfg = Config::parse(
            "[limits]\ndownload = \"1M\"\nupload = 2048\n",
            Path::new("c"),
        )
        .expect("parses");
        assert_eq!(cfg.limits.download, Rate(1 << 20));
        assert_eq!(cfg.limits.upload, Rate(2048));
        let e =
            Config::parse("[limits]\ndownload = \"fast\"\n", Path::new("c")).expect_err("bad rate");
        assert!(e.to_string().contains("c:2:"), "{e}");
    }

    #[test]
    fn bad_values_name_the_key() {
        let e = Config::parse("[log]\nlevel = \"loud\"\n", Path::new("c")).expect_err("bad");
        assert!(e.to_string().starts_with("c:2:1: level:"), "{e}");
    }
}
