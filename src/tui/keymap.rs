//! Key bindings: vim keys and arrows by default, overridable per action in the config file:
//!
//! ```toml
//! [tui.keys]
//! quit = ["q", "ctrl-c"]
//! down = ["j", "down", "ctrl-n"]
//! remove = "D"
//! ```
//!
//! A binding that does not parse is reported with its line and skipped; the defaults stay.

use std::collections::BTreeMap;
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::action::Action;

/// One key with its modifiers, as written in the config (`ctrl-c`, `G`, `pgdn`, `?`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    code: KeyCodeOrd,
    ctrl: bool,
    alt: bool,
}

/// `KeyCode` is not `Ord`; this is the part of it we bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum KeyCodeOrd {
    Char(char),
    F(u8),
    Named(&'static str),
}

const NAMED: &[(&str, KeyCode)] = &[
    ("up", KeyCode::Up),
    ("down", KeyCode::Down),
    ("left", KeyCode::Left),
    ("right", KeyCode::Right),
    ("enter", KeyCode::Enter),
    ("esc", KeyCode::Esc),
    ("tab", KeyCode::Tab),
    ("backtab", KeyCode::BackTab),
    ("backspace", KeyCode::Backspace),
    ("delete", KeyCode::Delete),
    ("insert", KeyCode::Insert),
    ("home", KeyCode::Home),
    ("end", KeyCode::End),
    ("pgup", KeyCode::PageUp),
    ("pgdn", KeyCode::PageDown),
];

impl Key {
    pub fn parse(s: &str) -> Result<Key, String> {
        let mut ctrl = false;
        let mut alt = false;
        let mut rest = s;
        loop {
            if let Some(r) = rest.strip_prefix("ctrl-") {
                ctrl = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("alt-") {
                alt = true;
                rest = r;
            } else {
                break;
            }
        }
        let code = match rest {
            "space" => KeyCodeOrd::Char(' '),
            "pageup" => KeyCodeOrd::Named("pgup"),
            "pagedown" => KeyCodeOrd::Named("pgdn"),
            "shift-tab" => KeyCodeOrd::Named("backtab"),
            "del" => KeyCodeOrd::Named("delete"),
            r if r.chars().count() == 1 => KeyCodeOrd::Char(r.chars().next().unwrap_or(' ')),
            r => {
                if let Some((name, _)) = NAMED.iter().find(|(n, _)| *n == r) {
                    KeyCodeOrd::Named(name)
                } else if let Some(n) = r.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
                    KeyCodeOrd::F(n)
                } else {
                    return Err(format!(
                        "unknown key {s:?} (use a character, space, enter, esc, tab, \
                         up/down/left/right, pgup/pgdn, home/end, f1-f12, with ctrl-/alt-)"
                    ));
                }
            }
        };
        Ok(Key { code, ctrl, alt })
    }

    pub fn from_event(ev: &KeyEvent) -> Option<Key> {
        let code = match ev.code {
            KeyCode::Char(c) => KeyCodeOrd::Char(c),
            KeyCode::F(n) => KeyCodeOrd::F(n),
            other => KeyCodeOrd::Named(NAMED.iter().find(|(_, c)| *c == other)?.0),
        };
        Some(Key {
            code,
            ctrl: ev.modifiers.contains(KeyModifiers::CONTROL),
            alt: ev.modifiers.contains(KeyModifiers::ALT),
        })
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("ctrl-")?;
        }
        if self.alt {
            f.write_str("alt-")?;
        }
        match self.code {
            KeyCodeOrd::Char(' ') => f.write_str("space"),
            KeyCodeOrd::Char(c) => write!(f, "{c}"),
            KeyCodeOrd::F(n) => write!(f, "f{n}"),
            KeyCodeOrd::Named(n) => f.write_str(n),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Keymap {
    map: BTreeMap<Key, Action>,
}

const DEFAULTS: &[(Action, &[&str])] = &[
    (Action::Quit, &["q", "ctrl-c"]),
    (Action::Help, &["?", "f1"]),
    (Action::Up, &["k", "up"]),
    (Action::Down, &["j", "down"]),
    (Action::PageUp, &["ctrl-u", "pgup"]),
    (Action::PageDown, &["ctrl-d", "pgdn"]),
    (Action::Top, &["g", "home"]),
    (Action::Bottom, &["G", "end"]),
    (Action::NextTab, &["l", "right", "tab"]),
    (Action::PrevTab, &["h", "left", "backtab"]),
    (Action::TabPeers, &["P"]),
    (Action::TabMarket, &["M"]),
    (Action::TabPieces, &["I"]),
    (Action::TabFiles, &["F"]),
    (Action::TabTrackers, &["T"]),
    (Action::FocusNext, &["enter"]),
    (Action::ViewTorrents, &["1"]),
    (Action::ViewWallet, &["2", "w"]),
    (Action::ViewGraphs, &["3"]),
    (Action::ToggleMark, &["space"]),
    (Action::MarkAll, &["V"]),
    (Action::ClearMarks, &["esc"]),
    (Action::Filter, &["/"]),
    (Action::CommandLine, &[":"]),
    (Action::AddPrompt, &["a"]),
    (Action::Pause, &["p"]),
    (Action::Resume, &["r"]),
    (Action::Remove, &["d", "delete"]),
    (Action::SortNext, &["o"]),
    (Action::SortReverse, &["O"]),
    (Action::BuyerStrategy, &["s"]),
    (Action::SellerStrategy, &["S"]),
    (Action::PriceUp, &["+", "="]),
    (Action::PriceDown, &["-"]),
    (Action::FilePriority, &["f"]),
];

impl Default for Keymap {
    fn default() -> Self {
        let mut map = BTreeMap::new();
        for (action, keys) in DEFAULTS {
            for k in *keys {
                if let Ok(key) = Key::parse(k) {
                    map.insert(key, *action);
                }
            }
        }
        Keymap { map }
    }
}

/// A problem in the config's `[tui.keys]`, with the 1-based line it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// 1-based line of a byte offset in `text`.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()
        .iter()
        .take(offset)
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

impl Keymap {
    pub fn action(&self, ev: &KeyEvent) -> Option<Action> {
        let key = Key::from_event(ev)?;
        if let Some(a) = self.map.get(&key) {
            return Some(*a);
        }
        // Terminals disagree on whether `G` arrives with SHIFT; the character already says it.
        None
    }

    /// Keys bound to each action, in action order, for the help overlay.
    pub fn bindings(&self) -> Vec<(Action, Vec<String>)> {
        Action::ALL
            .iter()
            .map(|a| {
                let keys = self
                    .map
                    .iter()
                    .filter(|(_, b)| *b == a)
                    .map(|(k, _)| k.to_string())
                    .collect();
                (*a, keys)
            })
            .collect()
    }

    /// Applies `[tui.keys]` overrides. `keys` maps an action name to one key or a list, each
    /// value spanned so errors can name their line in `text` (the whole config file).
    /// An overridden action loses its default keys; a key taken from another action moves.
    pub fn apply_overrides(
        &mut self,
        text: &str,
        keys: &BTreeMap<String, toml::Spanned<toml::Value>>,
    ) -> Vec<ConfigIssue> {
        let mut issues = Vec::new();
        // Keys the file itself binds, to catch one key given to two actions (the later would
        // silently win).
        let mut claimed: BTreeMap<Key, (Action, usize)> = BTreeMap::new();
        for (name, value) in keys {
            let line = line_of(text, value.span().start);
            let Some(action) = Action::from_name(name) else {
                issues.push(ConfigIssue {
                    line,
                    message: format!("unknown action {name:?}; see `?` in the dashboard"),
                });
                continue;
            };
            let list: Vec<&toml::Value> = match value.get_ref() {
                toml::Value::Array(a) => a.iter().collect(),
                v => vec![v],
            };
            let mut parsed = Vec::new();
            let mut ok = true;
            for v in list {
                match v.as_str().map(Key::parse) {
                    Some(Ok(k)) => parsed.push(k),
                    Some(Err(e)) => {
                        issues.push(ConfigIssue { line, message: e });
                        ok = false;
                    }
                    None => {
                        issues.push(ConfigIssue {
                            line,
                            message: format!("{name}: keys are strings like \"j\" or \"ctrl-d\""),
                        });
                        ok = false;
                    }
                }
            }
            if !ok {
                continue;
            }
            for k in &parsed {
                if let Some((other, other_line)) = claimed.get(k)
                    && *other != action
                {
                    issues.push(ConfigIssue {
                        line,
                        message: format!(
                            "key {k} is bound to both {} (line {other_line}) and {name}",
                            other.name()
                        ),
                    });
                }
                claimed.insert(*k, (action, line));
            }
            self.map.retain(|_, a| *a != action);
            for k in parsed {
                self.map.insert(k, action);
            }
        }
        // Keys moved from one action to another can leave the dashboard with no way out.
        if !self.map.values().any(|a| *a == Action::Quit) {
            issues.push(ConfigIssue {
                line: keys
                    .values()
                    .map(|v| line_of(text, v.span().start))
                    .min()
                    .unwrap_or(1),
                message: "no key is left for quit; bind one (quit = \"q\")".into(),
            });
        }
        issues
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_a_default_key() {
        let km = Keymap::default();
        for (a, keys) in km.bindings() {
            assert!(!keys.is_empty(), "{} unbound", a.name());
        }
    }

    #[test]
    fn keys_round_trip() {
        for s in [
            "j", "G", "ctrl-c", "space", "pgdn", "f1", "alt-x", "?", "backtab",
        ] {
            assert_eq!(Key::parse(s).map(|k| k.to_string()), Ok(s.to_string()));
        }
        assert!(Key::parse("hyper-x").is_err());
    }

    #[test]
    fn overrides_report_lines() {
        let text = "[tui.keys]\nquit = \"x\"\nnope = \"y\"\ndown = [\"j\", \"wat\"]\n";
        #[derive(serde::Deserialize)]
        struct F {
            tui: T,
        }
        #[derive(serde::Deserialize)]
        struct T {
            keys: BTreeMap<String, toml::Spanned<toml::Value>>,
        }
        let f: F = toml::from_str(text).unwrap();
        let mut km = Keymap::default();
        let issues = km.apply_overrides(text, &f.tui.keys);
        assert_eq!(issues.len(), 2, "{issues:?}");
        assert_eq!(issues[0].line, 4);
        assert_eq!(issues[1].line, 3);
        let x = KeyEvent::new(KeyCode::Char('x'), KeyModifiers::NONE);
        let q = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
        assert_eq!(km.action(&x), Some(Action::Quit));
        assert_eq!(km.action(&q), None);
        // `down` had a bad key: its defaults stay.
        let j = KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE);
        assert_eq!(km.action(&j), Some(Action::Down));
    }

    #[test]
    fn conflicts_and_no_way_to_quit_are_reported() {
        #[derive(serde::Deserialize)]
        struct F {
            tui: T,
        }
        #[derive(serde::Deserialize)]
        struct T {
            keys: BTreeMap<String, toml::Spanned<toml::Value>>,
        }
        let text = "[tui.keys]\ndown = [\"q\", \"ctrl-c\"]\nup = \"q\"\n";
        let f: F = toml::from_str(text).unwrap();
        let issues = Keymap::default().apply_overrides(text, &f.tui.keys);
        let all: Vec<&str> = issues.iter().map(|i| i.message.as_str()).collect();
        assert!(all.iter().any(|m| m.contains("bound to both")), "{all:?}");
        assert!(
            all.iter().any(|m| m.contains("no key is left for quit")),
            "{all:?}"
        );
    }
}
