//! Themes: `themes/*.toml`, one style per UI element, written as short specs:
//!
//! ```toml
//! name = "default"
//! [styles]
//! header = "bold yellow"
//! selected = "black on cyan"
//! have = "green"
//! graph_down = "#5fafff"      # quantised to 256 or 16 colours when the terminal lacks RGB
//! ```
//!
//! Words: colour names (`black` … `white`, `dark_gray`, `light_red` …, `reset`), `#rrggbb`,
//! `color0`..`color255`, `on COLOUR` for the background, and modifiers (`bold`, `dim`,
//! `italic`, `underlined`, `reversed`). Missing keys inherit the default theme, so a user theme
//! can be two lines. A bad theme is reported with its line and the default is used instead.

use std::path::{Path, PathBuf};

use ratatui::style::{Color, Modifier, Style};

use super::keymap::{ConfigIssue, line_of};

/// The themes shipped in the binary, so it works without a `themes/` directory installed.
pub const BUILTIN: &[(&str, &str)] = &[
    ("default", include_str!("../../themes/default.toml")),
    ("dusk", include_str!("../../themes/dusk.toml")),
    ("light", include_str!("../../themes/light.toml")),
    ("mono", include_str!("../../themes/mono.toml")),
];

/// How many colours the terminal can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorDepth {
    None,
    Ansi16,
    Ansi256,
    TrueColor,
}

impl ColorDepth {
    /// `COLORTERM` first (truecolor/24bit), then `TERM` (`*-256color`). `COLORTERM` is not
    /// forwarded by ssh or sudo, so `color = "truecolor"` in the config overrides this.
    pub fn detect() -> ColorDepth {
        let colorterm = std::env::var("COLORTERM").unwrap_or_default();
        if colorterm == "truecolor" || colorterm == "24bit" {
            return ColorDepth::TrueColor;
        }
        let term = std::env::var("TERM").unwrap_or_default();
        if term.contains("256") {
            ColorDepth::Ansi256
        } else {
            ColorDepth::Ansi16
        }
    }

    pub fn parse(s: &str) -> Option<Option<ColorDepth>> {
        Some(match s {
            "auto" => None,
            "truecolor" | "24bit" => Some(ColorDepth::TrueColor),
            "256" => Some(ColorDepth::Ansi256),
            "16" => Some(ColorDepth::Ansi16),
            "none" => Some(ColorDepth::None),
            _ => return None,
        })
    }
}

macro_rules! theme_fields {
    ($($field:ident),* $(,)?) => {
        #[derive(Debug, Clone, PartialEq)]
        pub struct Theme {
            pub name: String,
            $(pub $field: Style,)*
        }

        const FIELDS: &[&str] = &[$(stringify!($field),)*];

        impl Theme {
            fn field_mut(&mut self, name: &str) -> Option<&mut Style> {
                match name {
                    $(stringify!($field) => Some(&mut self.$field),)*
                    _ => None,
                }
            }
            fn map_styles(&mut self, mut f: impl FnMut(Style) -> Style) {
                $(self.$field = f(self.$field);)*
            }
        }
    };
}

theme_fields!(
    base,
    border,
    border_focus,
    title,
    header,
    selected,
    marked,
    dim,
    accent,
    tab,
    tab_active,
    status,
    status_error,
    mode_standalone,
    mode_attached,
    prompt,
    help_key,
    state_downloading,
    state_seeding,
    state_paused,
    state_error,
    progress_bar,
    have,
    downloading,
    missing_common,
    missing_rare,
    unavailable,
    graph_down,
    graph_up,
    graph_spend,
    graph_earn,
    market,
);

impl Default for Theme {
    fn default() -> Self {
        let mut t = Theme::blank("default");
        // The embedded default always parses (a unit test checks); a blank theme is the
        // fallback of the fallback.
        let _ = apply(&mut t, BUILTIN[0].1);
        t
    }
}

impl Theme {
    fn blank(name: &str) -> Theme {
        let s = Style::default();
        let mut t = Theme {
            name: name.to_string(),
            base: s,
            border: s,
            border_focus: s,
            title: s,
            header: s,
            selected: s,
            marked: s,
            dim: s,
            accent: s,
            tab: s,
            tab_active: s,
            status: s,
            status_error: s,
            mode_standalone: s,
            mode_attached: s,
            prompt: s,
            help_key: s,
            state_downloading: s,
            state_seeding: s,
            state_paused: s,
            state_error: s,
            progress_bar: s,
            have: s,
            downloading: s,
            missing_common: s,
            missing_rare: s,
            unavailable: s,
            graph_down: s,
            graph_up: s,
            graph_spend: s,
            graph_earn: s,
            market: s,
        };
        t.selected = Style::default().add_modifier(Modifier::REVERSED);
        t
    }

    /// Reduces every colour to what the terminal shows; `None` keeps only modifiers.
    pub fn for_depth(mut self, depth: ColorDepth) -> Theme {
        let q = move |c: Option<Color>| {
            c.map(|c| quantise(c, depth))
                .filter(|_| depth != ColorDepth::None)
        };
        self.map_styles(|s| Style {
            fg: q(s.fg),
            bg: q(s.bg),
            ..s
        });
        self
    }

    pub fn names() -> Vec<String> {
        let mut v: Vec<String> = BUILTIN.iter().map(|(n, _)| n.to_string()).collect();
        if let Some(dir) = user_theme_dir()
            && let Ok(rd) = std::fs::read_dir(dir)
        {
            for e in rd.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "toml")
                    && let Some(stem) = p.file_stem().and_then(|s| s.to_str())
                    && !v.iter().any(|n| n == stem)
                {
                    v.push(stem.to_string());
                }
            }
        }
        v
    }
}

fn user_theme_dir() -> Option<PathBuf> {
    use etcetera::BaseStrategy;
    let base = etcetera::choose_base_strategy().ok()?;
    Some(base.config_dir().join("bidtorrent").join("themes"))
}

/// Loads a theme by name (user dir first, then built in) or by path. On any problem returns
/// the default theme and a message naming the file and line, so the dashboard still starts.
pub fn load(name_or_path: &str) -> (Theme, Option<String>) {
    let looks_like_path = name_or_path.contains('/') || name_or_path.ends_with(".toml");
    let (label, text) = if looks_like_path {
        let p = Path::new(name_or_path);
        match std::fs::read_to_string(p) {
            Ok(t) => (p.display().to_string(), t),
            Err(e) => {
                return (
                    Theme::default(),
                    Some(format!("theme {}: {e}; using default", p.display())),
                );
            }
        }
    } else if let Some(t) = user_theme_dir()
        .map(|d| d.join(format!("{name_or_path}.toml")))
        .and_then(|p| std::fs::read_to_string(&p).ok().map(|t| (p, t)))
    {
        (t.0.display().to_string(), t.1)
    } else if let Some((_, t)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
        (format!("built-in theme {name_or_path}"), t.to_string())
    } else {
        return (
            Theme::default(),
            Some(format!(
                "no theme named {name_or_path:?} (have: {}); using default",
                Theme::names().join(", ")
            )),
        );
    };
    match parse(&text) {
        Ok(t) => (t, None),
        Err(issue) => (
            Theme::default(),
            Some(format!("theme {label}: {issue}; using default")),
        ),
    }
}

/// Parses a theme file over the default theme.
pub fn parse(text: &str) -> Result<Theme, ConfigIssue> {
    let mut t = Theme::default();
    apply(&mut t, text)?;
    Ok(t)
}

fn apply(t: &mut Theme, text: &str) -> Result<(), ConfigIssue> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        name: Option<String>,
        #[serde(default)]
        styles: std::collections::BTreeMap<String, toml::Spanned<String>>,
    }
    let f: File = toml::from_str(text).map_err(|e| ConfigIssue {
        line: e.span().map(|s| line_of(text, s.start)).unwrap_or(1),
        message: e.message().to_string(),
    })?;
    if let Some(n) = f.name {
        t.name = n;
    }
    for (key, spec) in &f.styles {
        let line = line_of(text, spec.span().start);
        let style = parse_style(spec.get_ref()).map_err(|message| ConfigIssue { line, message })?;
        match t.field_mut(key) {
            Some(slot) => *slot = style,
            None => {
                return Err(ConfigIssue {
                    line,
                    message: format!("unknown style {key:?} (known: {})", FIELDS.join(", ")),
                });
            }
        }
    }
    Ok(())
}

pub fn parse_style(spec: &str) -> Result<Style, String> {
    let mut style = Style::default();
    let mut words = spec.split_whitespace();
    while let Some(w) = words.next() {
        let m = match w {
            "bold" => Some(Modifier::BOLD),
            "dim" => Some(Modifier::DIM),
            "italic" => Some(Modifier::ITALIC),
            "underlined" | "underline" => Some(Modifier::UNDERLINED),
            "reversed" | "reverse" => Some(Modifier::REVERSED),
            "none" | "plain" => None,
            _ => {
                if w == "on" {
                    let c = words
                        .next()
                        .ok_or_else(|| format!("{spec:?}: `on` needs a colour"))?;
                    style = style.bg(parse_color(c)?);
                } else {
                    style = style.fg(parse_color(w)?);
                }
                continue;
            }
        };
        if let Some(m) = m {
            style = style.add_modifier(m);
        }
    }
    Ok(style)
}

pub fn parse_color(s: &str) -> Result<Color, String> {
    let named = [
        ("reset", Color::Reset),
        ("black", Color::Black),
        ("red", Color::Red),
        ("green", Color::Green),
        ("yellow", Color::Yellow),
        ("blue", Color::Blue),
        ("magenta", Color::Magenta),
        ("cyan", Color::Cyan),
        ("gray", Color::Gray),
        ("dark_gray", Color::DarkGray),
        ("light_red", Color::LightRed),
        ("light_green", Color::LightGreen),
        ("light_yellow", Color::LightYellow),
        ("light_blue", Color::LightBlue),
        ("light_magenta", Color::LightMagenta),
        ("light_cyan", Color::LightCyan),
        ("white", Color::White),
    ];
    if let Some((_, c)) = named.iter().find(|(n, _)| *n == s) {
        return Ok(*c);
    }
    if let Some(hex) = s.strip_prefix('#')
        && hex.len() == 6
        && let Ok(v) = u32::from_str_radix(hex, 16)
    {
        return Ok(Color::Rgb((v >> 16) as u8, (v >> 8) as u8, v as u8));
    }
    if let Some(n) = s.strip_prefix("color").and_then(|n| n.parse::<u8>().ok()) {
        return Ok(Color::Indexed(n));
    }
    Err(format!(
        "unknown colour {s:?} (use a name like light_blue, #rrggbb or color0..color255)"
    ))
}

/// The 16 ANSI colours with their usual xterm RGB values, for nearest-colour matching.
const ANSI16: &[(Color, (u8, u8, u8))] = &[
    (Color::Black, (0, 0, 0)),
    (Color::Red, (205, 0, 0)),
    (Color::Green, (0, 205, 0)),
    (Color::Yellow, (205, 205, 0)),
    (Color::Blue, (0, 0, 238)),
    (Color::Magenta, (205, 0, 205)),
    (Color::Cyan, (0, 205, 205)),
    (Color::Gray, (229, 229, 229)),
    (Color::DarkGray, (127, 127, 127)),
    (Color::LightRed, (255, 0, 0)),
    (Color::LightGreen, (0, 255, 0)),
    (Color::LightYellow, (255, 255, 0)),
    (Color::LightBlue, (92, 92, 255)),
    (Color::LightMagenta, (255, 0, 255)),
    (Color::LightCyan, (0, 255, 255)),
    (Color::White, (255, 255, 255)),
];

fn dist(a: (u8, u8, u8), b: (u8, u8, u8)) -> u32 {
    let d = |x: u8, y: u8| (i32::from(x) - i32::from(y)).unsigned_abs();
    d(a.0, b.0).pow(2) + d(a.1, b.1).pow(2) + d(a.2, b.2).pow(2)
}

fn indexed_rgb(i: u8) -> (u8, u8, u8) {
    match i {
        0..=15 => ANSI16[usize::from(i)].1,
        16..=231 => {
            let i = i - 16;
            let level = |v: u8| if v == 0 { 0 } else { 55 + v * 40 };
            (level(i / 36), level((i / 6) % 6), level(i % 6))
        }
        _ => {
            let g = 8 + (i - 232) * 10;
            (g, g, g)
        }
    }
}

/// The nearest colour the terminal can show.
pub fn quantise(c: Color, depth: ColorDepth) -> Color {
    match (c, depth) {
        (_, ColorDepth::TrueColor) | (_, ColorDepth::None) => c,
        (Color::Rgb(r, g, b), ColorDepth::Ansi256) => {
            // The 6×6×6 cube or the grey ramp, whichever is closer.
            let step = |v: u8| -> u8 {
                if v < 48 {
                    0
                } else if v < 115 {
                    1
                } else {
                    (v - 35) / 40
                }
            };
            let cube = 16 + 36 * step(r) + 6 * step(g) + step(b);
            let grey_i = if r.max(g).max(b) < 8 {
                232
            } else {
                (232 + (u16::from(r) + u16::from(g) + u16::from(b)) / 3 / 10).min(255) as u8
            };
            let best = if dist(indexed_rgb(cube), (r, g, b)) <= dist(indexed_rgb(grey_i), (r, g, b))
            {
                cube
            } else {
                grey_i
            };
            Color::Indexed(best)
        }
        (Color::Rgb(r, g, b), ColorDepth::Ansi16) => nearest16((r, g, b)),
        (Color::Indexed(i), ColorDepth::Ansi16) if i >= 16 => nearest16(indexed_rgb(i)),
        _ => c,
    }
}

fn nearest16(rgb: (u8, u8, u8)) -> Color {
    ANSI16
        .iter()
        .min_by_key(|(_, v)| dist(*v, rgb))
        .map(|(c, _)| *c)
        .unwrap_or(Color::Reset)
}

/// `NO_COLOR` set and non-empty (https://no-color.org).
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_themes_parse() {
        for (name, text) in BUILTIN {
            let t = parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(&t.name, name);
        }
    }

    #[test]
    fn mono_has_no_colours() {
        let t = parse(BUILTIN.iter().find(|(n, _)| *n == "mono").unwrap().1).unwrap();
        let mut bad = Vec::new();
        let mut t2 = t.clone();
        t2.map_styles(|s| {
            if s.fg.is_some_and(|c| c != Color::Reset) || s.bg.is_some_and(|c| c != Color::Reset) {
                bad.push(s);
            }
            s
        });
        assert!(bad.is_empty(), "{bad:?}");
    }

    #[test]
    fn bad_theme_names_line_and_falls_back() {
        let text = "name = \"x\"\n[styles]\nheader = \"bold\"\nhave = \"greenish\"\n";
        let e = parse(text).unwrap_err();
        assert_eq!(e.line, 4);
        assert!(e.message.contains("greenish"));
        let e = parse("name = \"x\"\n[styles\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse("[styles]\nnot_a_thing = \"red\"\n").unwrap_err();
        assert_eq!(e.line, 2);

        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.toml");
        std::fs::write(&p, text).unwrap();
        let (t, msg) = load(p.to_str().unwrap());
        assert_eq!(t, Theme::default());
        assert!(msg.unwrap().contains("line 4"));
    }

    #[test]
    fn quantising() {
        assert_eq!(
            quantise(Color::Rgb(0, 0, 0), ColorDepth::Ansi256),
            Color::Indexed(16)
        );
        assert_eq!(
            quantise(Color::Rgb(255, 0, 0), ColorDepth::Ansi16),
            Color::LightRed
        );
        assert_eq!(
            quantise(Color::Indexed(196), ColorDepth::Ansi16),
            Color::LightRed
        );
        assert_eq!(
            quantise(Color::Rgb(1, 2, 3), ColorDepth::TrueColor),
            Color::Rgb(1, 2, 3)
        );
    }
}
