//! The dashboard's vocabulary: every key binding names one [`Action`], and the help overlay
//! lists them from the live keymap. The kebab-case names are what `[tui.keys]` in the config
//! file uses.

use serde::{Deserialize, Serialize};

macro_rules! actions {
    ($($variant:ident = $name:literal : $help:literal,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum Action {
            $($variant,)*
        }

        impl Action {
            pub const ALL: &'static [Action] = &[$(Action::$variant,)*];

            /// The name used in the config file and the `:` command line.
            pub fn name(self) -> &'static str {
                match self {
                    $(Action::$variant => $name,)*
                }
            }

            pub fn help(self) -> &'static str {
                match self {
                    $(Action::$variant => $help,)*
                }
            }

            pub fn from_name(s: &str) -> Option<Action> {
                match s {
                    $($name => Some(Action::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

actions! {
    Quit = "quit": "quit the dashboard",
    Help = "help": "show or hide this help",
    Up = "up": "move up",
    Down = "down": "move down",
    PageUp = "page-up": "move up one page",
    PageDown = "page-down": "move down one page",
    Top = "top": "go to the first row",
    Bottom = "bottom": "go to the last row",
    NextTab = "next-tab": "next detail tab",
    PrevTab = "prev-tab": "previous detail tab",
    TabPeers = "tab-peers": "peers tab",
    TabMarket = "tab-market": "market tab",
    TabPieces = "tab-pieces": "pieces tab",
    TabFiles = "tab-files": "files tab",
    TabTrackers = "tab-trackers": "trackers tab",
    FocusNext = "focus-next": "switch focus between the table and the detail pane",
    ViewTorrents = "view-torrents": "torrents view",
    ViewWallet = "view-wallet": "wallet view",
    ViewGraphs = "view-graphs": "rate graphs",
    ToggleMark = "toggle-mark": "mark or unmark the torrent for bulk commands",
    MarkAll = "mark-all": "mark every shown torrent",
    ClearMarks = "clear-marks": "clear marks, filter and messages",
    Filter = "filter": "filter by name, state:S or label:L",
    CommandLine = "command-line": "command line (add, pause, resume, rm, strategy, sort, limit, quit)",
    AddPrompt = "add": "add a .torrent path or magnet link",
    Pause = "pause": "pause the marked or selected torrents",
    Resume = "resume": "resume the marked or selected torrents",
    Remove = "remove": "remove the marked or selected torrents (asks first)",
    SortNext = "sort-next": "sort by the next column",
    SortReverse = "sort-reverse": "reverse the sort order",
    BuyerStrategy = "buyer-strategy": "pick the buyer strategy",
    SellerStrategy = "seller-strategy": "pick the seller strategy",
    PriceUp = "price-up": "raise the buyer's price parameter by 10 %",
    PriceDown = "price-down": "lower the buyer's price parameter by 10 %",
    FilePriority = "file-priority": "cycle the selected file's priority (files tab)",
}
