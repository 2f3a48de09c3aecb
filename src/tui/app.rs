//! The dashboard's state and its pure update: keys become [`Action`]s, actions change
//! [`App`] and may return [`Effect`]s (commands for the engine) for the run loop to carry out.
//! Nothing here touches the terminal or the network, so tests drive it directly.

use std::cell::Cell;
use std::collections::{BTreeSet, VecDeque};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEventKind};
use ratatui::layout::Rect;

use super::action::Action;
use super::keymap::Keymap;
use super::source::{
    BUYER_STRATEGIES, Command, Mode, Priority, SELLER_STRATEGIES, Side, Snapshot, StrategyView,
    TorrentRow,
};
use super::theme::Theme;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Torrents,
    Wallet,
    Graphs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Peers,
    Market,
    Pieces,
    Files,
    Trackers,
}

impl Tab {
    pub const ALL: [Tab; 5] = [
        Tab::Peers,
        Tab::Market,
        Tab::Pieces,
        Tab::Files,
        Tab::Trackers,
    ];
    pub fn title(self) -> &'static str {
        match self {
            Tab::Peers => "Peers",
            Tab::Market => "Market",
            Tab::Pieces => "Pieces",
            Tab::Files => "Files",
            Tab::Trackers => "Trackers",
        }
    }
    fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Table,
    Detail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Id,
    Name,
    Size,
    Progress,
    State,
    Down,
    Up,
    Eta,
    Peers,
    Ratio,
    Price,
    Label,
}

impl Column {
    pub const ALL: [Column; 12] = [
        Column::Id,
        Column::Name,
        Column::Size,
        Column::Progress,
        Column::State,
        Column::Down,
        Column::Up,
        Column::Eta,
        Column::Peers,
        Column::Ratio,
        Column::Price,
        Column::Label,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Column::Id => "id",
            Column::Name => "name",
            Column::Size => "size",
            Column::Progress => "progress",
            Column::State => "state",
            Column::Down => "down",
            Column::Up => "up",
            Column::Eta => "eta",
            Column::Peers => "peers",
            Column::Ratio => "ratio",
            Column::Price => "price",
            Column::Label => "label",
        }
    }
    pub fn parse(s: &str) -> Option<Column> {
        Column::ALL.iter().copied().find(|c| c.name() == s)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    /// `/`: live filter; Enter keeps it, Esc restores the previous one.
    Filter { previous: String },
    /// `:` command line.
    Command,
    /// `a`: add a path or magnet (same arguments as `:add`).
    Add,
    /// Remove asks first.
    Confirm { ids: Vec<String>, delete_data: bool },
    /// Strategy picker for one side.
    Strategy { side: Side, cursor: usize },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Command(Command),
}

/// Rate history for the graphs, newest last.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub down: VecDeque<u64>,
    pub up: VecDeque<u64>,
    pub spend: VecDeque<u64>,
    pub earn: VecDeque<u64>,
}

const HISTORY_LEN: usize = 600;

impl History {
    fn push(&mut self, s: &Snapshot) {
        for (q, v) in [
            (&mut self.down, s.totals.down_rate),
            (&mut self.up, s.totals.up_rate),
            (&mut self.spend, s.totals.spend_rate),
            (&mut self.earn, s.totals.earn_rate),
        ] {
            if q.len() == HISTORY_LEN {
                q.pop_front();
            }
            q.push_back(v.max(0.0) as u64);
        }
    }
}

pub struct App {
    pub snapshot: Snapshot,
    pub mode: Mode,
    pub keymap: Keymap,
    pub theme: Theme,
    pub view: View,
    pub tab: Tab,
    pub focus: Focus,
    pub sort: Column,
    pub sort_desc: bool,
    pub filter: String,
    pub marked: BTreeSet<String>,
    /// Index into [`App::visible`].
    pub cursor: usize,
    /// First visible row of the table; kept so the cursor stays on screen.
    pub offset: usize,
    pub detail_cursor: usize,
    pub prompt: Option<Prompt>,
    pub input: String,
    pub help: bool,
    /// First line of the help overlay shown (it scrolls at 80×24).
    pub help_scroll: usize,
    /// Status-bar message and whether it is an error.
    pub message: Option<(String, bool)>,
    /// Startup warnings (bad theme or keymap), shown until the first key.
    pub history: History,
    pub should_quit: bool,
    /// Rows the table showed at the last draw, and where: page keys and mouse clicks use them.
    pub table_rows: Cell<u16>,
    pub table_area: Cell<Rect>,
    visible: Vec<usize>,
    selected_id: Option<String>,
}

fn lower_contains(hay: &str, needle: &str) -> bool {
    hay.to_lowercase().contains(needle)
}

impl App {
    pub fn new(mode: Mode, keymap: Keymap, theme: Theme) -> App {
        App {
            snapshot: Snapshot::default(),
            mode,
            keymap,
            theme,
            view: View::Torrents,
            tab: Tab::Peers,
            focus: Focus::Table,
            sort: Column::Name,
            sort_desc: false,
            filter: String::new(),
            marked: BTreeSet::new(),
            cursor: 0,
            offset: 0,
            detail_cursor: 0,
            prompt: None,
            input: String::new(),
            help: false,
            help_scroll: 0,
            message: None,
            history: History::default(),
            should_quit: false,
            table_rows: Cell::new(10),
            table_area: Cell::new(Rect::default()),
            visible: Vec::new(),
            selected_id: None,
        }
    }

    /// Indices into `snapshot.torrents`, filtered and sorted.
    pub fn visible(&self) -> &[usize] {
        &self.visible
    }

    pub fn selected(&self) -> Option<&TorrentRow> {
        self.visible
            .get(self.cursor)
            .and_then(|&i| self.snapshot.torrents.get(i))
    }

    /// The torrent whose detail tabs are open: the source fills heavy data only for it.
    pub fn focus_id(&self) -> Option<String> {
        self.selected().map(|t| t.id.clone())
    }

    /// Marked torrents, else the one under the cursor.
    pub fn targets(&self) -> Vec<String> {
        let marked: Vec<String> = self
            .snapshot
            .torrents
            .iter()
            .filter(|t| self.marked.contains(&t.id))
            .map(|t| t.id.clone())
            .collect();
        if !marked.is_empty() {
            return marked;
        }
        self.focus_id().into_iter().collect()
    }

    pub fn say(&mut self, text: impl Into<String>) {
        self.message = Some((text.into(), false));
    }

    pub fn warn(&mut self, text: impl Into<String>) {
        self.message = Some((text.into(), true));
    }

    /// A new snapshot from the source; `sample` adds it to the rate graphs (periodic polls,
    /// not the refresh right after a command).
    pub fn on_snapshot(&mut self, mut s: Snapshot, sample: bool) {
        for n in s.notices.drain(..) {
            self.message = Some((n.text, n.error));
        }
        if sample {
            self.history.push(&s);
        }
        self.snapshot = s;
        let ids: BTreeSet<&str> = self
            .snapshot
            .torrents
            .iter()
            .map(|t| t.id.as_str())
            .collect();
        self.marked.retain(|m| ids.contains(m.as_str()));
        self.refresh_visible();
    }

    pub fn on_reply(&mut self, r: Result<String, String>) {
        match r {
            Ok(m) => self.say(m),
            Err(e) => self.warn(e),
        }
    }

    fn matches(&self, t: &TorrentRow) -> bool {
        self.filter.split_whitespace().all(|tok| {
            let tok = tok.to_lowercase();
            if let Some(s) = tok.strip_prefix("state:") {
                t.state.starts_with(s)
            } else if let Some(l) = tok.strip_prefix("label:") {
                t.label.as_deref().is_some_and(|x| lower_contains(x, l))
            } else {
                lower_contains(&t.name, &tok)
                    || t.state == tok
                    || t.label.as_deref().is_some_and(|x| lower_contains(x, &tok))
            }
        })
    }

    /// Re-filters and re-sorts, keeping the cursor on the same torrent when it is still shown.
    pub fn refresh_visible(&mut self) {
        let keep = self.selected_id.clone();
        let rows = &self.snapshot.torrents;
        let mut v: Vec<usize> = (0..rows.len())
            .filter(|&i| self.matches(&rows[i]))
            .collect();
        let key = self.sort;
        v.sort_by(|&a, &b| {
            let (x, y) = (&rows[a], &rows[b]);
            let f = |o: Option<f64>| o.unwrap_or(f64::INFINITY);
            let ord = match key {
                Column::Id => x.num.cmp(&y.num),
                Column::Name => x.name.to_lowercase().cmp(&y.name.to_lowercase()),
                Column::Size => x.size.cmp(&y.size),
                Column::Progress => x.progress.total_cmp(&y.progress),
                Column::State => x.state.cmp(&y.state),
                Column::Down => x.down_rate.total_cmp(&y.down_rate),
                Column::Up => x.up_rate.total_cmp(&y.up_rate),
                Column::Eta => f(x.eta.map(|e| e as f64)).total_cmp(&f(y.eta.map(|e| e as f64))),
                Column::Peers => x.peers.cmp(&y.peers),
                Column::Ratio => x.ratio().total_cmp(&y.ratio()),
                Column::Price => {
                    let p = |t: &TorrentRow| t.market.as_ref().and_then(|m| m.price);
                    p(x).cmp(&p(y))
                }
                Column::Label => x.label.cmp(&y.label),
            };
            // Ties by name, then id, so the order never flickers between polls.
            let ord = ord
                .then_with(|| x.name.cmp(&y.name))
                .then_with(|| x.id.cmp(&y.id));
            if self.sort_desc { ord.reverse() } else { ord }
        });
        self.visible = v;
        if let Some(id) = keep
            && let Some(pos) = self
                .visible
                .iter()
                .position(|&i| self.snapshot.torrents[i].id == id)
        {
            self.cursor = pos;
        }
        self.clamp_cursor();
    }

    fn clamp_cursor(&mut self) {
        let n = self.visible.len();
        if self.cursor >= n {
            self.cursor = n.saturating_sub(1);
        }
        let prev = self.selected_id.clone();
        self.selected_id = self.focus_id();
        if prev != self.selected_id {
            self.detail_cursor = 0;
        }
        let h = usize::from(self.table_rows.get().max(1));
        if self.cursor < self.offset {
            self.offset = self.cursor;
        } else if self.cursor >= self.offset + h {
            self.offset = self.cursor + 1 - h;
        }
        self.offset = self.offset.min(n.saturating_sub(1));
    }

    fn move_cursor(&mut self, delta: isize) {
        if self.focus == Focus::Detail && self.view == View::Torrents {
            let n = self.detail_len();
            let c = self.detail_cursor as isize + delta;
            self.detail_cursor = c.clamp(0, n.saturating_sub(1) as isize) as usize;
            return;
        }
        let n = self.visible.len() as isize;
        self.cursor = (self.cursor as isize + delta).clamp(0, (n - 1).max(0)) as usize;
        self.clamp_cursor();
    }

    fn detail_len(&self) -> usize {
        let Some(d) = &self.snapshot.detail else {
            return 0;
        };
        match self.tab {
            Tab::Peers => d.peers.len(),
            Tab::Files => d.files.len(),
            Tab::Trackers => d.trackers.len(),
            Tab::Market => d.market.bids.len(),
            Tab::Pieces => 0,
        }
    }

    /// Every terminal event comes through here: prompts take keys first, then the keymap.
    pub fn handle_event(&mut self, ev: Event) -> Vec<Effect> {
        match ev {
            // Windows and kitty-protocol terminals also report releases and repeats.
            Event::Key(k) if k.kind == KeyEventKind::Press => self.handle_key(k),
            Event::Paste(text) => {
                if self.prompt.is_none() {
                    // A pasted magnet or path opens the add prompt with it.
                    self.prompt = Some(Prompt::Add);
                    self.input.clear();
                }
                self.input.push_str(text.trim());
                self.prompt_changed();
                Vec::new()
            }
            Event::Mouse(m) => {
                match m.kind {
                    MouseEventKind::ScrollDown => return self.update(Action::Down),
                    MouseEventKind::ScrollUp => return self.update(Action::Up),
                    MouseEventKind::Down(_) => {
                        let a = self.table_area.get();
                        // Row 0 of the area is the header.
                        if m.column >= a.x
                            && m.column < a.x + a.width
                            && m.row > a.y
                            && m.row < a.y + a.height
                        {
                            self.focus = Focus::Table;
                            self.cursor = self.offset + usize::from(m.row - a.y - 1);
                            self.clamp_cursor();
                        }
                    }
                    _ => {}
                }
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn handle_key(&mut self, k: KeyEvent) -> Vec<Effect> {
        if self.prompt.is_some() {
            return self.prompt_key(k);
        }
        if self.help {
            // Moving keys scroll the overlay (it is taller than 24 lines); any other key
            // closes it, the help key too.
            match self.keymap.action(&k) {
                Some(Action::Down) => self.help_scroll += 1,
                Some(Action::Up) => self.help_scroll = self.help_scroll.saturating_sub(1),
                Some(Action::PageDown) => self.help_scroll += 10,
                Some(Action::PageUp) => self.help_scroll = self.help_scroll.saturating_sub(10),
                Some(Action::Quit) => {
                    self.help = false;
                    return self.update(Action::Quit);
                }
                _ => {
                    self.help = false;
                    self.help_scroll = 0;
                }
            }
            return Vec::new();
        }
        match self.keymap.action(&k) {
            Some(a) => self.update(a),
            None => Vec::new(),
        }
    }

    fn prompt_key(&mut self, k: KeyEvent) -> Vec<Effect> {
        let Some(prompt) = self.prompt.clone() else {
            return Vec::new();
        };
        match prompt {
            Prompt::Confirm { ids, delete_data } => {
                self.prompt = None;
                // `y` does what was asked; `D` also deletes the data (a capital, so a stray
                // key cannot delete files).
                let delete_data = match k.code {
                    KeyCode::Char('y') | KeyCode::Char('Y') => Some(delete_data),
                    KeyCode::Char('D') => Some(true),
                    _ => None,
                };
                if let Some(delete_data) = delete_data {
                    for id in &ids {
                        self.marked.remove(id);
                    }
                    return vec![Effect::Command(Command::Remove { ids, delete_data })];
                }
                self.say("remove cancelled");
                Vec::new()
            }
            Prompt::Strategy { side, cursor } => {
                let names = strategies(side);
                match self.keymap.action(&k) {
                    _ if k.code == KeyCode::Esc => self.prompt = None,
                    _ if k.code == KeyCode::Enter => {
                        self.prompt = None;
                        let name = names.get(cursor).copied().unwrap_or("off");
                        return self.set_strategy(side, name, None);
                    }
                    Some(Action::Down) => {
                        self.prompt = Some(Prompt::Strategy {
                            side,
                            cursor: (cursor + 1).min(names.len() - 1),
                        })
                    }
                    Some(Action::Up) => {
                        self.prompt = Some(Prompt::Strategy {
                            side,
                            cursor: cursor.saturating_sub(1),
                        })
                    }
                    Some(Action::Quit) => self.prompt = None,
                    _ => {}
                }
                Vec::new()
            }
            Prompt::Filter { .. } | Prompt::Command | Prompt::Add => {
                match k.code {
                    KeyCode::Esc => {
                        if let Prompt::Filter { previous } = &prompt {
                            self.filter = previous.clone();
                            self.refresh_visible();
                        }
                        self.prompt = None;
                        self.input.clear();
                    }
                    KeyCode::Enter => {
                        self.prompt = None;
                        let text = std::mem::take(&mut self.input);
                        return match prompt {
                            Prompt::Filter { .. } => Vec::new(),
                            Prompt::Command => self.run_command_line(&text),
                            _ => self.run_command_line(&format!("add {text}")),
                        };
                    }
                    KeyCode::Backspace => {
                        if self.input.pop().is_none() && !matches!(prompt, Prompt::Filter { .. }) {
                            self.prompt = None;
                        }
                        self.prompt_changed();
                    }
                    KeyCode::Char('u') if k.modifiers.contains(KeyModifiers::CONTROL) => {
                        self.input.clear();
                        self.prompt_changed();
                    }
                    KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => {
                        self.prompt = None;
                        self.input.clear();
                    }
                    KeyCode::Char(c) => {
                        self.input.push(c);
                        self.prompt_changed();
                    }
                    _ => {}
                }
                Vec::new()
            }
        }
    }

    fn prompt_changed(&mut self) {
        if matches!(self.prompt, Some(Prompt::Filter { .. })) {
            self.filter = self.input.clone();
            self.cursor = 0;
            self.refresh_visible();
        }
    }

    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        let page = self.table_rows.get().max(2) as isize - 1;
        match action {
            Action::Quit => self.should_quit = true,
            Action::Help => self.help = !self.help,
            Action::Up => self.move_cursor(-1),
            Action::Down => self.move_cursor(1),
            Action::PageUp => self.move_cursor(-page),
            Action::PageDown => self.move_cursor(page),
            Action::Top => self.move_cursor(isize::MIN / 2),
            Action::Bottom => self.move_cursor(isize::MAX / 2),
            Action::NextTab | Action::PrevTab => {
                let n = Tab::ALL.len();
                let step = if action == Action::NextTab { 1 } else { n - 1 };
                self.tab = Tab::ALL[(self.tab.index() + step) % n];
                self.view = View::Torrents;
                self.detail_cursor = 0;
            }
            Action::TabPeers => self.set_tab(Tab::Peers),
            Action::TabMarket => self.set_tab(Tab::Market),
            Action::TabPieces => self.set_tab(Tab::Pieces),
            Action::TabFiles => self.set_tab(Tab::Files),
            Action::TabTrackers => self.set_tab(Tab::Trackers),
            Action::FocusNext => {
                self.view = View::Torrents;
                self.focus = match self.focus {
                    Focus::Table => Focus::Detail,
                    Focus::Detail => Focus::Table,
                };
            }
            Action::ViewTorrents => self.view = View::Torrents,
            Action::ViewWallet => self.view = View::Wallet,
            Action::ViewGraphs => self.view = View::Graphs,
            Action::ToggleMark => {
                if let Some(id) = self.focus_id() {
                    if !self.marked.remove(&id) {
                        self.marked.insert(id);
                    }
                    self.move_cursor(1);
                }
            }
            Action::MarkAll => {
                let ids: Vec<String> = self
                    .visible
                    .iter()
                    .map(|&i| self.snapshot.torrents[i].id.clone())
                    .collect();
                self.marked.extend(ids);
            }
            Action::ClearMarks => {
                if self.focus == Focus::Detail {
                    self.focus = Focus::Table;
                } else {
                    self.marked.clear();
                    self.filter.clear();
                    self.message = None;
                    self.refresh_visible();
                }
            }
            Action::Filter => {
                self.prompt = Some(Prompt::Filter {
                    previous: self.filter.clone(),
                });
                self.input = self.filter.clone();
            }
            Action::CommandLine => {
                self.prompt = Some(Prompt::Command);
                self.input.clear();
            }
            Action::AddPrompt => {
                self.prompt = Some(Prompt::Add);
                self.input.clear();
            }
            Action::Pause | Action::Resume => {
                let ids = self.targets();
                if ids.is_empty() {
                    self.warn("no torrent selected");
                    return Vec::new();
                }
                let cmd = if action == Action::Pause {
                    Command::Pause(ids)
                } else {
                    Command::Resume(ids)
                };
                return vec![Effect::Command(cmd)];
            }
            Action::Remove => self.ask_remove(false),
            Action::SortNext => {
                let i = Column::ALL
                    .iter()
                    .position(|c| *c == self.sort)
                    .unwrap_or(0);
                self.sort = Column::ALL[(i + 1) % Column::ALL.len()];
                self.say(format!("sorted by {}", self.sort.name()));
                self.refresh_visible();
            }
            Action::SortReverse => {
                self.sort_desc = !self.sort_desc;
                self.refresh_visible();
            }
            Action::BuyerStrategy | Action::SellerStrategy => {
                if self.focus_id().is_none() {
                    self.warn("no torrent selected");
                    return Vec::new();
                }
                let side = if action == Action::BuyerStrategy {
                    Side::Buyer
                } else {
                    Side::Seller
                };
                let current = self.current_strategy(side).map(|s| s.name);
                let cursor = current
                    .and_then(|n| strategies(side).iter().position(|s| *s == n))
                    .unwrap_or(0);
                self.view = View::Torrents;
                self.tab = Tab::Market;
                self.prompt = Some(Prompt::Strategy { side, cursor });
            }
            Action::PriceUp => return self.nudge_price(1.1),
            Action::PriceDown => return self.nudge_price(1.0 / 1.1),
            Action::FilePriority => {
                if self.tab != Tab::Files {
                    self.set_tab(Tab::Files);
                    self.focus = Focus::Detail;
                    return Vec::new();
                }
                let Some(d) = &self.snapshot.detail else {
                    return Vec::new();
                };
                let Some(f) = d.files.get(self.detail_cursor) else {
                    return Vec::new();
                };
                return vec![Effect::Command(Command::FilePriority {
                    id: d.id.clone(),
                    files: vec![self.detail_cursor],
                    priority: f.priority.next(),
                })];
            }
        }
        Vec::new()
    }

    fn set_tab(&mut self, t: Tab) {
        self.view = View::Torrents;
        self.tab = t;
        self.detail_cursor = 0;
    }

    fn ask_remove(&mut self, delete_data: bool) {
        let ids = self.targets();
        if ids.is_empty() {
            self.warn("no torrent selected");
            return;
        }
        self.prompt = Some(Prompt::Confirm { ids, delete_data });
    }

    fn current_strategy(&self, side: Side) -> Option<StrategyView> {
        let d = self.snapshot.detail.as_ref()?;
        let s = match side {
            Side::Buyer => &d.market.buyer,
            Side::Seller => &d.market.seller,
        };
        (!s.name.is_empty()).then(|| s.clone())
    }

    fn set_strategy(
        &mut self,
        side: Side,
        name: &str,
        params: Option<Vec<(String, String)>>,
    ) -> Vec<Effect> {
        let ids = self.targets();
        if ids.is_empty() {
            self.warn("no torrent selected");
            return Vec::new();
        }
        let params = params.unwrap_or_else(|| match self.current_strategy(side) {
            // Keep tuned parameters when re-picking the same strategy.
            Some(s) if s.name == name => s.params,
            _ => default_params(name),
        });
        vec![Effect::Command(Command::Strategy {
            ids,
            side,
            name: name.to_string(),
            params,
        })]
    }

    /// `+`/`-`: scale the buyer strategy's money parameter by 10 %.
    fn nudge_price(&mut self, factor: f64) -> Vec<Effect> {
        let Some(cur) = self.current_strategy(Side::Buyer) else {
            self.warn("no strategy shown: select a torrent");
            return Vec::new();
        };
        let Some(key) = price_param(&cur.name) else {
            self.warn(format!(
                "buyer strategy {} has no price; press {} to pick one",
                cur.name,
                self.key_for(Action::BuyerStrategy)
            ));
            return Vec::new();
        };
        let mut params = cur.params.clone();
        let slot = match params.iter_mut().find(|(k, _)| k == key) {
            Some(p) => p,
            None => {
                params.extend(
                    default_params(&cur.name)
                        .into_iter()
                        .filter(|(k, _)| k == key),
                );
                match params.iter_mut().find(|(k, _)| k == key) {
                    Some(p) => p,
                    None => return Vec::new(),
                }
            }
        };
        if key == "fraction" {
            let Ok(v) = slot.1.parse::<f64>() else {
                self.warn(format!("{key}={} is not a number", slot.1));
                return Vec::new();
            };
            slot.1 = format!("{:.3}", (v * factor).clamp(0.001, 1.0));
        } else {
            // Money is integral micro-tokens; always move by at least one unit.
            let Ok(v) = slot.1.parse::<crate::wallet::Amount>() else {
                self.warn(format!("{key}={} is not a token amount", slot.1));
                return Vec::new();
            };
            let v = v.0;
            let n = (v as f64 * factor).round() as u64;
            let n = if factor > 1.0 {
                n.max(v + 1)
            } else {
                n.min(v.saturating_sub(1))
            };
            slot.1 = crate::wallet::Amount(n.max(1)).to_string();
        }
        let name = cur.name.clone();
        self.set_strategy(Side::Buyer, &name, Some(params))
    }

    /// The first key bound to `a`, for hints.
    pub fn key_for(&self, a: Action) -> String {
        self.keymap
            .bindings()
            .into_iter()
            .find(|(x, _)| *x == a)
            .and_then(|(_, k)| k.into_iter().next())
            .unwrap_or_else(|| format!(":{}", a.name()))
    }

    /// The `:` command line: the CLI's verbs (SPEC §2) plus a few view commands.
    pub fn run_command_line(&mut self, line: &str) -> Vec<Effect> {
        let words = split_words(line);
        let Some((verb, args)) = words.split_first() else {
            return Vec::new();
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match verb.as_str() {
            "q" | "quit" | "exit" => self.should_quit = true,
            "help" => self.help = true,
            "add" => match parse_add(&args) {
                Ok(cmds) => return cmds.into_iter().map(Effect::Command).collect(),
                Err(e) => self.warn(e),
            },
            "pause" | "resume" => {
                let ids = if args.first() == Some(&"all") {
                    self.visible
                        .iter()
                        .map(|&i| self.snapshot.torrents[i].id.clone())
                        .collect()
                } else {
                    self.targets()
                };
                return vec![Effect::Command(if verb == "pause" {
                    Command::Pause(ids)
                } else {
                    Command::Resume(ids)
                })];
            }
            "rm" | "remove" => {
                let delete = args.contains(&"--delete-data");
                if args.iter().any(|a| *a == "-y" || *a == "--yes") {
                    let ids = self.targets();
                    return vec![Effect::Command(Command::Remove {
                        ids,
                        delete_data: delete,
                    })];
                }
                self.ask_remove(delete);
            }
            "strategy" => {
                let mut name = None;
                let mut params = Vec::new();
                let mut side = None;
                let mut it = args.iter();
                while let Some(a) = it.next() {
                    match *a {
                        "--seller" | "seller" => side = Some(Side::Seller),
                        "--buyer" | "buyer" => side = Some(Side::Buyer),
                        "--param" => {
                            if let Some((k, v)) = it.next().and_then(|p| p.split_once('=')) {
                                params.push((k.to_string(), v.to_string()));
                            }
                        }
                        p if p.contains('=') => {
                            if let Some((k, v)) = p.split_once('=') {
                                params.push((k.to_string(), v.to_string()));
                            }
                        }
                        n => name = Some(n.to_string()),
                    }
                }
                let Some(name) = name else {
                    let b = self.current_strategy(Side::Buyer);
                    let s = self.current_strategy(Side::Seller);
                    let show = |s: Option<StrategyView>| {
                        s.map(|s| format_strategy(&s)).unwrap_or_else(|| "—".into())
                    };
                    let msg = format!("buyer {} · seller {}", show(b), show(s));
                    self.say(msg);
                    return Vec::new();
                };
                let side = side.unwrap_or(if SELLER_STRATEGIES.contains(&name.as_str()) {
                    Side::Seller
                } else {
                    Side::Buyer
                });
                if !strategies(side).contains(&name.as_str()) {
                    self.warn(format!(
                        "unknown {} strategy {name:?} (have: {})",
                        if side == Side::Buyer {
                            "buyer"
                        } else {
                            "seller"
                        },
                        strategies(side).join(", ")
                    ));
                    return Vec::new();
                }
                let params = if params.is_empty() {
                    None
                } else {
                    let mut base = default_params(&name);
                    for (k, v) in params {
                        match base.iter_mut().find(|(bk, _)| *bk == k) {
                            Some(slot) => slot.1 = v,
                            None => base.push((k, v)),
                        }
                    }
                    Some(base)
                };
                return self.set_strategy(side, &name, params);
            }
            "sort" => match args.first().and_then(|c| Column::parse(c)) {
                Some(c) => {
                    self.sort = c;
                    self.sort_desc = args.get(1).is_some_and(|d| *d == "desc");
                    self.refresh_visible();
                    // Replaces whatever the status bar said before (a stale message misleads).
                    self.say(format!(
                        "sorted by {} {}",
                        c.name(),
                        if self.sort_desc { "▼" } else { "▲" }
                    ));
                }
                None => self.warn(format!(
                    "sort by one of: {}",
                    Column::ALL.map(|c| c.name()).join(", ")
                )),
            },
            "filter" => {
                self.filter = args.join(" ");
                self.cursor = 0;
                self.refresh_visible();
            }
            "limit" => {
                let p = |s: Option<&&str>| s.map(|s| crate::units::parse_size(s)).unwrap_or(Ok(0));
                match (p(args.first()), p(args.get(1))) {
                    (Ok(down), Ok(up)) => {
                        return vec![Effect::Command(Command::Limit { down, up })];
                    }
                    (Err(e), _) | (_, Err(e)) => self.warn(e),
                }
            }
            "prio" | "priority" => {
                let Some(d) = &self.snapshot.detail else {
                    self.warn("no torrent selected");
                    return Vec::new();
                };
                let (Some(which), Some(level)) = (args.first(), args.get(1)) else {
                    self.warn("usage: prio FILE|all skip|low|normal|high");
                    return Vec::new();
                };
                let Some(priority) = Priority::parse(level) else {
                    self.warn(format!("{level:?}: use skip, low, normal or high"));
                    return Vec::new();
                };
                let files: Vec<usize> = if *which == "all" {
                    (0..d.files.len()).collect()
                } else {
                    match which.parse::<usize>() {
                        Ok(n) if n >= 1 && n <= d.files.len() => vec![n - 1],
                        _ => {
                            self.warn(format!("{which:?}: no such file (1..{})", d.files.len()));
                            return Vec::new();
                        }
                    }
                };
                return vec![Effect::Command(Command::FilePriority {
                    id: d.id.clone(),
                    files,
                    priority,
                })];
            }
            "theme" => match args.first() {
                Some(name) => {
                    let (t, err) = super::theme::load(name);
                    self.theme = t.for_depth(super::theme::ColorDepth::detect());
                    match err {
                        Some(e) => self.warn(e),
                        None => self.say(format!("theme {name}")),
                    }
                }
                None => self.say(format!(
                    "themes: {}",
                    super::theme::Theme::names().join(", ")
                )),
            },
            other => self.warn(format!(
                "unknown command {other:?} (add, pause, resume, rm, strategy, prio, sort, filter, \
                 limit, theme, help, quit)"
            )),
        }
        Vec::new()
    }
}

pub fn strategies(side: Side) -> &'static [&'static str] {
    match side {
        Side::Buyer => BUYER_STRATEGIES,
        Side::Seller => SELLER_STRATEGIES,
    }
}

/// Defaults proposed when a strategy is picked: the market config's defaults, in its keys
/// and units (token amounts as decimal strings), so they pass `Market::set_strategy` as is.
pub fn default_params(name: &str) -> Vec<(String, String)> {
    use crate::market::config::{BuyerConfig, BuyerStrategy, SellerConfig, SellerStrategy};
    if let Some(b) = BuyerStrategy::parse(name) {
        return super::market_view::buyer_view(&BuyerConfig {
            strategy: b,
            ..BuyerConfig::default()
        })
        .params;
    }
    if let Some(s) = SellerStrategy::parse(name) {
        return super::market_view::seller_view(&SellerConfig {
            strategy: s,
            ..SellerConfig::default()
        })
        .params;
    }
    Vec::new()
}

/// The parameter `+`/`-` moves for each buyer strategy.
pub fn price_param(name: &str) -> Option<&'static str> {
    match name {
        "fixed" => Some("price"),
        "auto" => Some("fraction"),
        "budget" => Some("budget"),
        "target-rate" => Some("max_price"),
        _ => None,
    }
}

pub fn format_strategy(s: &StrategyView) -> String {
    if s.params.is_empty() {
        return s.name.clone();
    }
    let p: Vec<String> = s.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{} ({})", s.name, p.join(" "))
}

/// Splits on whitespace, honouring "double" and 'single' quotes (paths with spaces).
pub fn split_words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// `add SRC... [--dir D] [--paused] [--peer ADDR]...`: one command per source, so one bad
/// item never stops the others (SPEC §2).
fn parse_add(args: &[&str]) -> Result<Vec<Command>, String> {
    let mut sources = Vec::new();
    let mut dir = None;
    let mut paused = false;
    let mut peers = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match *a {
            "--dir" | "-d" => {
                dir = Some(std::path::PathBuf::from(
                    it.next().ok_or("--dir needs a directory")?,
                ))
            }
            "--paused" => paused = true,
            "--peer" => peers.push(it.next().ok_or("--peer needs an address")?.to_string()),
            s => sources.push(s.to_string()),
        }
    }
    if sources.is_empty() {
        return Err("add: give a .torrent path or a magnet link".into());
    }
    Ok(sources
        .into_iter()
        .map(|source| Command::Add {
            source,
            dir: dir.clone(),
            paused,
            peers: peers.clone(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert_eq!(
            split_words(r#"add "/a b/c.torrent" --peer 1.2.3.4:5 ''"#),
            vec!["add", "/a b/c.torrent", "--peer", "1.2.3.4:5", ""]
        );
    }

    #[test]
    fn add_parses_many() {
        let c = parse_add(&["a.torrent", "--paused", "b.torrent"]).unwrap();
        assert_eq!(c.len(), 2);
        assert!(parse_add(&[]).is_err());
    }
}
