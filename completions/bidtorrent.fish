# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_bidtorrent_global_optspecs
    string join \n config= data-dir= v/verbose q/quiet theme= standalone d/dir= listen= limit-down= limit-up= no-dht persist refresh-ms= add= socket= timeout= h/help V/version
end

function __fish_bidtorrent_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_bidtorrent_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_bidtorrent_using_subcommand
    set -l cmd (__fish_bidtorrent_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -l theme -d 'Theme name (default, dusk, light, mono, or one in $XDG_CONFIG_HOME/bidtorrent/themes) or a path to a theme file; overrides the config and NO_COLOR' -r
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -s d -l dir -d 'Download directory for torrents added in standalone mode [default: the config\'s download_dir]' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -l listen -d 'Address the standalone engine listens on for peers, a free port if taken [default: the config\'s listen]' -r
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -l limit-down -d 'Global download limit for the standalone engine (e.g. 10M; 0 = unlimited) [default: the config\'s]' -r
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -l limit-up -d 'Global upload limit for the standalone engine (e.g. 512K; 0 = unlimited) [default: the config\'s]' -r
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -l refresh-ms -d 'How often to poll the engine, in milliseconds [default: 1000, or refresh_ms in config]' -r
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -l add -d 'A .torrent file or magnet link to add at start (repeatable)' -r
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -l socket -d 'Control socket of the daemon (default: $XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -l timeout -d 'Seconds to wait for the daemon\'s answer (default per command: 30, add and rm 600, recheck 3600; 0 = no limit)' -r
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -l standalone -d 'Run the engine in this process even if a daemon is running'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -l no-dht -d 'Do not join the DHT in standalone mode (overrides the config\'s `[dht] enabled`)'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -l persist -d 'Keep the standalone session (torrents, strategies, limits) in the data dir and restore it next time, as the daemon does; off by default, so standalone writes no session file'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -s V -l version -d 'Print version'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -f -a "tui" -d 'Open the dashboard: attach to a running daemon, or run the engine in this process'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -f -a "download" -d 'Download one torrent in the foreground; exit 0 once every piece is verified'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -f -a "seed" -d 'Verify the data of a torrent, then seed it until killed'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -f -a "wallet" -d 'The wallet: identity, balance, payment channels, vouchers, history'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -f -a "ledger" -d 'Run and administer a ledger that escrows and settles payment channels'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -f -a "create" -d 'Make a .torrent from a file or directory'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -f -a "demo" -d 'A whole token market on 127.0.0.1: embedded ledger, seeders, bidding and plain leechers'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -f -a "daemon" -d 'Run the engine headless with its control socket (foreground; for systemd, tmux, ssh)'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -f -a "add" -d 'Add .torrent files or magnet links to the running daemon (`-` reads one per line)'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -f -a "status" -d 'Show the daemon: pid, port, rates, limits, and whether the market trades'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -f -a "ls" -d 'List the daemon\'s torrents'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -f -a "info" -d 'Show one torrent: progress, files, trackers'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -f -a "peers" -d 'Show the peers of one torrent (flags, rates, market bids and payments)'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -f -a "files" -d 'Show the files of one torrent with their progress and priority'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -f -a "prio" -d 'Set file priorities: `prio ID 0 2 skip`, `prio ID all normal`'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -f -a "pause" -d 'Pause torrents: close their peers and stop announcing'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -f -a "resume" -d 'Resume paused torrents'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -f -a "rm" -d 'Remove torrents from the daemon (the data stays unless --delete-data)'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -f -a "recheck" -d 'Hash the data of torrents again'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -f -a "reannounce" -d 'Announce to the trackers now'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -f -a "limit" -d 'Show or set rate limits, global or of one torrent'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -f -a "strategy" -d 'Show or set the market\'s buyer and seller strategies, global or of one torrent'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -f -a "label" -d 'Set the labels of torrents (replacing theirs), or clear them with --clear'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -f -a "seeding" -d 'Show or set seeding rules (ratio and idle limits, the action at the limit), global or of one torrent'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -f -a "config" -d 'The configuration file: where it is, its defaults, whether it is valid'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -f -a "completions" -d 'Print shell completions (also committed under completions/)'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -f -a "man" -d 'Print the man page (roff; the pages of every command are committed under man/)'
complete -c bidtorrent -n "__fish_bidtorrent_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand tui" -l theme -d 'Theme name (default, dusk, light, mono, or one in $XDG_CONFIG_HOME/bidtorrent/themes) or a path to a theme file; overrides the config and NO_COLOR' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand tui" -s d -l dir -d 'Download directory for torrents added in standalone mode [default: the config\'s download_dir]' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand tui" -l listen -d 'Address the standalone engine listens on for peers, a free port if taken [default: the config\'s listen]' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand tui" -l limit-down -d 'Global download limit for the standalone engine (e.g. 10M; 0 = unlimited) [default: the config\'s]' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand tui" -l limit-up -d 'Global upload limit for the standalone engine (e.g. 512K; 0 = unlimited) [default: the config\'s]' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand tui" -l refresh-ms -d 'How often to poll the engine, in milliseconds [default: 1000, or refresh_ms in config]' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand tui" -l add -d 'A .torrent file or magnet link to add at start (repeatable)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand tui" -l socket -d 'Control socket of the daemon (default: $XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand tui" -l timeout -d 'Seconds to wait for the daemon\'s answer (default per command: 30, add and rm 600, recheck 3600; 0 = no limit)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand tui" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand tui" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand tui" -l standalone -d 'Run the engine in this process even if a daemon is running'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand tui" -l no-dht -d 'Do not join the DHT in standalone mode (overrides the config\'s `[dht] enabled`)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand tui" -l persist -d 'Keep the standalone session (torrents, strategies, limits) in the data dir and restore it next time, as the daemon does; off by default, so standalone writes no session file'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand tui" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand tui" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand tui" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand download" -s d -l dir -d 'Directory to download into' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand download" -l seed-ratio -d 'Keep seeding after completion until uploaded ≥ R × size, then exit' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand download" -l listen -d 'Address to listen on for peers (port 0 picks a free port)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand download" -l tracker-interval -d 'Override the tracker\'s announce interval, in seconds' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand download" -l peer -d 'Also connect to this peer (repeatable)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand download" -l limit-down -d 'Global download limit (e.g. 10M = 10 MiB/s; 0 = unlimited)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand download" -l limit-up -d 'Global upload limit (e.g. 512K; 0 = unlimited)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand download" -l max-peers -d 'Most peers to connect to' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand download" -l encryption -d 'Protocol encryption (MSE/PE): prefer, require, allow or off' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand download" -l dht-bootstrap -d 'DHT bootstrap node (repeatable); without it the public routers and the nodes saved from the last run are used' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand download" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand download" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand download" -l json -d 'Print one JSON event object per line on stdout'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand download" -l no-utp -d 'Do not use uTP (BEP 29) for peers'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand download" -l no-tcp -d 'Do not use TCP for peers'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand download" -l sequential -d 'Download pieces in order (for streaming) instead of rarest first'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand download" -l no-dht -d 'Do not use the DHT (BEP 5)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand download" -l lsd -d 'Local service discovery (BEP 14): find peers on the LAN by multicast'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand download" -l page-cache -d 'Write verified pieces through the page cache instead of straight to the disk (O_DIRECT; see `[disk] write_through`)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand download" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand download" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand download" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand seed" -s d -l dir -d 'Directory that holds the data' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand seed" -l listen -d 'Address to listen on for peers (port 0 picks a free port)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand seed" -l tracker-interval -d 'Override the tracker\'s announce interval, in seconds' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand seed" -l peer -d 'Also connect to this peer (repeatable)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand seed" -l limit-down -d 'Global download limit (e.g. 10M = 10 MiB/s; 0 = unlimited)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand seed" -l limit-up -d 'Global upload limit (e.g. 512K; 0 = unlimited)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand seed" -l max-peers -d 'Most peers to connect to' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand seed" -l encryption -d 'Protocol encryption (MSE/PE): prefer, require, allow or off' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand seed" -l dht-bootstrap -d 'Join the DHT through this bootstrap node (repeatable) and announce there; without it `seed` stays off the DHT' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand seed" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand seed" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand seed" -l json -d 'Print one JSON event object per line on stdout'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand seed" -l no-utp -d 'Do not use uTP (BEP 29) for peers'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand seed" -l no-tcp -d 'Do not use TCP for peers'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand seed" -l no-dht -d 'Stay off the DHT (the default for `seed` without --dht-bootstrap; accepted as in `download`, so one script line works for both)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand seed" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand seed" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand seed" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and not __fish_seen_subcommand_from show address history export open close redeem pay accept payments deposit withdraw help" -l ledger -d 'Ledger address HOST:PORT (default: the ledger used last, else 127.0.0.1:7171)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and not __fish_seen_subcommand_from show address history export open close redeem pay accept payments deposit withdraw help" -l socket -d 'Control socket of the daemon that may hold this wallet (default as for `ls`)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and not __fish_seen_subcommand_from show address history export open close redeem pay accept payments deposit withdraw help" -l timeout -d 'Seconds to wait for that daemon\'s answer (default 30; 0 = no limit)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and not __fish_seen_subcommand_from show address history export open close redeem pay accept payments deposit withdraw help" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and not __fish_seen_subcommand_from show address history export open close redeem pay accept payments deposit withdraw help" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and not __fish_seen_subcommand_from show address history export open close redeem pay accept payments deposit withdraw help" -l json -d 'Machine-readable JSON output (amounts in micro-tokens)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and not __fish_seen_subcommand_from show address history export open close redeem pay accept payments deposit withdraw help" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and not __fish_seen_subcommand_from show address history export open close redeem pay accept payments deposit withdraw help" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and not __fish_seen_subcommand_from show address history export open close redeem pay accept payments deposit withdraw help" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and not __fish_seen_subcommand_from show address history export open close redeem pay accept payments deposit withdraw help" -f -a "show" -d 'Show address, balance and channels, fresh from the ledger (fails if it cannot be reached; --offline shows the last known state)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and not __fish_seen_subcommand_from show address history export open close redeem pay accept payments deposit withdraw help" -f -a "address" -d 'Print this wallet\'s public key (its account on every ledger)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and not __fish_seen_subcommand_from show address history export open close redeem pay accept payments deposit withdraw help" -f -a "history" -d 'Payments, earnings, mints, redemptions and refunds: one line per channel and day (vouchers summed), local times, totals at the end'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and not __fish_seen_subcommand_from show address history export open close redeem pay accept payments deposit withdraw help" -f -a "export" -d 'Print the whole wallet as JSON (without the secret key)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and not __fish_seen_subcommand_from show address history export open close redeem pay accept payments deposit withdraw help" -f -a "open" -d 'Escrow AMOUNT tokens for SELLER in a new payment channel'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and not __fish_seen_subcommand_from show address history export open close redeem pay accept payments deposit withdraw help" -f -a "close" -d 'Close a channel (seller: redeem and close now; buyer: refund after the grace period)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and not __fish_seen_subcommand_from show address history export open close redeem pay accept payments deposit withdraw help" -f -a "redeem" -d 'Redeem the highest voucher of every incoming channel at the ledger'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and not __fish_seen_subcommand_from show address history export open close redeem pay accept payments deposit withdraw help" -f -a "pay" -d 'Pay AMOUNT more on an outgoing channel and emit a payment (certificate + voucher)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and not __fish_seen_subcommand_from show address history export open close redeem pay accept payments deposit withdraw help" -f -a "accept" -d 'Accept payments from a buyer: a file written by `wallet pay` or `wallet payments`, or `-` for stdin'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and not __fish_seen_subcommand_from show address history export open close redeem pay accept payments deposit withdraw help" -f -a "payments" -d 'Print the latest payment of every outgoing channel, one JSON line each (as `wallet pay` writes them): settles with a seller that missed the last vouchers (`wallet accept`)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and not __fish_seen_subcommand_from show address history export open close redeem pay accept payments deposit withdraw help" -f -a "deposit" -d 'Lock AMOUNT tokens of this wallet\'s chain address in the `[chain]` vault; the ledger credits them after its confirmations'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and not __fish_seen_subcommand_from show address history export open close redeem pay accept payments deposit withdraw help" -f -a "withdraw" -d 'Take AMOUNT tokens out to the chain: the ledger debits them and signs an authorisation that this wallet submits to the `[chain]` vault'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and not __fish_seen_subcommand_from show address history export open close redeem pay accept payments deposit withdraw help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from show" -l ledger -d 'Ledger address HOST:PORT (default: the ledger used last, else 127.0.0.1:7171)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from show" -l socket -d 'Control socket of the daemon that may hold this wallet (default as for `ls`)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from show" -l timeout -d 'Seconds to wait for that daemon\'s answer (default 30; 0 = no limit)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from show" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from show" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from show" -l offline -l cached -d 'Do not contact the ledger; show the last known state'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from show" -l json -d 'Machine-readable JSON output (amounts in micro-tokens)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from address" -l ledger -d 'Ledger address HOST:PORT (default: the ledger used last, else 127.0.0.1:7171)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from address" -l socket -d 'Control socket of the daemon that may hold this wallet (default as for `ls`)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from address" -l timeout -d 'Seconds to wait for that daemon\'s answer (default 30; 0 = no limit)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from address" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from address" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from address" -l json -d 'Machine-readable JSON output (amounts in micro-tokens)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from address" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from address" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from address" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from history" -l since -d 'Only since then: a duration back from now (7d, 12h, 30m) or a date (YYYY-MM-DD)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from history" -l limit -d 'Only the last N lines' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from history" -l ledger -d 'Ledger address HOST:PORT (default: the ledger used last, else 127.0.0.1:7171)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from history" -l socket -d 'Control socket of the daemon that may hold this wallet (default as for `ls`)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from history" -l timeout -d 'Seconds to wait for that daemon\'s answer (default 30; 0 = no limit)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from history" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from history" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from history" -l detail -d 'Every entry (each voucher) on its own line'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from history" -l json -d 'Machine-readable JSON output (amounts in micro-tokens)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from history" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from history" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from history" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from export" -l secret-key -d 'Also write the secret key (hex) to this new file, created owner-only' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from export" -l ledger -d 'Ledger address HOST:PORT (default: the ledger used last, else 127.0.0.1:7171)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from export" -l socket -d 'Control socket of the daemon that may hold this wallet (default as for `ls`)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from export" -l timeout -d 'Seconds to wait for that daemon\'s answer (default 30; 0 = no limit)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from export" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from export" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from export" -l json -d 'Machine-readable JSON output (amounts in micro-tokens)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from export" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from export" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from export" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from open" -l expiry-secs -d 'Lifetime of the channel in seconds' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from open" -l ledger -d 'Ledger address HOST:PORT (default: the ledger used last, else 127.0.0.1:7171)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from open" -l socket -d 'Control socket of the daemon that may hold this wallet (default as for `ls`)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from open" -l timeout -d 'Seconds to wait for that daemon\'s answer (default 30; 0 = no limit)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from open" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from open" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from open" -l json -d 'Machine-readable JSON output (amounts in micro-tokens)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from open" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from open" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from open" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from close" -l ledger -d 'Ledger address HOST:PORT (default: the ledger used last, else 127.0.0.1:7171)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from close" -l socket -d 'Control socket of the daemon that may hold this wallet (default as for `ls`)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from close" -l timeout -d 'Seconds to wait for that daemon\'s answer (default 30; 0 = no limit)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from close" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from close" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from close" -l json -d 'Machine-readable JSON output (amounts in micro-tokens)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from close" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from close" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from close" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from redeem" -l ledger -d 'Ledger address HOST:PORT (default: the ledger used last, else 127.0.0.1:7171)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from redeem" -l socket -d 'Control socket of the daemon that may hold this wallet (default as for `ls`)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from redeem" -l timeout -d 'Seconds to wait for that daemon\'s answer (default 30; 0 = no limit)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from redeem" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from redeem" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from redeem" -l json -d 'Machine-readable JSON output (amounts in micro-tokens)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from redeem" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from redeem" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from redeem" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from pay" -l out -d 'Write the latest payment to FILE (atomically replaced) instead of stdout' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from pay" -l repeat -d 'Pay this many times (a payment stream; each voucher supersedes the last)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from pay" -l interval-ms -d 'Pause between payments of a stream' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from pay" -l ledger -d 'Ledger address HOST:PORT (default: the ledger used last, else 127.0.0.1:7171)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from pay" -l socket -d 'Control socket of the daemon that may hold this wallet (default as for `ls`)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from pay" -l timeout -d 'Seconds to wait for that daemon\'s answer (default 30; 0 = no limit)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from pay" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from pay" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from pay" -l json -d 'Machine-readable JSON output (amounts in micro-tokens)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from pay" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from pay" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from pay" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from accept" -l ledger -d 'Ledger address HOST:PORT (default: the ledger used last, else 127.0.0.1:7171)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from accept" -l socket -d 'Control socket of the daemon that may hold this wallet (default as for `ls`)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from accept" -l timeout -d 'Seconds to wait for that daemon\'s answer (default 30; 0 = no limit)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from accept" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from accept" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from accept" -l json -d 'Machine-readable JSON output (amounts in micro-tokens)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from accept" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from accept" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from accept" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from payments" -l ledger -d 'Ledger address HOST:PORT (default: the ledger used last, else 127.0.0.1:7171)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from payments" -l socket -d 'Control socket of the daemon that may hold this wallet (default as for `ls`)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from payments" -l timeout -d 'Seconds to wait for that daemon\'s answer (default 30; 0 = no limit)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from payments" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from payments" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from payments" -l json -d 'Machine-readable JSON output (amounts in micro-tokens)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from payments" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from payments" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from payments" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from deposit" -l ledger -d 'Ledger address HOST:PORT (default: the ledger used last, else 127.0.0.1:7171)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from deposit" -l socket -d 'Control socket of the daemon that may hold this wallet (default as for `ls`)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from deposit" -l timeout -d 'Seconds to wait for that daemon\'s answer (default 30; 0 = no limit)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from deposit" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from deposit" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from deposit" -l json -d 'Machine-readable JSON output (amounts in micro-tokens)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from deposit" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from deposit" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from deposit" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from withdraw" -l to -d 'Chain address to pay (default: this wallet\'s chain address)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from withdraw" -l retry -d 'Submit again the authorisation with this nonce (after a failed submission)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from withdraw" -l ledger -d 'Ledger address HOST:PORT (default: the ledger used last, else 127.0.0.1:7171)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from withdraw" -l socket -d 'Control socket of the daemon that may hold this wallet (default as for `ls`)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from withdraw" -l timeout -d 'Seconds to wait for that daemon\'s answer (default 30; 0 = no limit)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from withdraw" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from withdraw" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from withdraw" -l json -d 'Machine-readable JSON output (amounts in micro-tokens)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from withdraw" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from withdraw" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from withdraw" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show address, balance and channels, fresh from the ledger (fails if it cannot be reached; --offline shows the last known state)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from help" -f -a "address" -d 'Print this wallet\'s public key (its account on every ledger)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from help" -f -a "history" -d 'Payments, earnings, mints, redemptions and refunds: one line per channel and day (vouchers summed), local times, totals at the end'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from help" -f -a "export" -d 'Print the whole wallet as JSON (without the secret key)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from help" -f -a "open" -d 'Escrow AMOUNT tokens for SELLER in a new payment channel'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from help" -f -a "close" -d 'Close a channel (seller: redeem and close now; buyer: refund after the grace period)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from help" -f -a "redeem" -d 'Redeem the highest voucher of every incoming channel at the ledger'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from help" -f -a "pay" -d 'Pay AMOUNT more on an outgoing channel and emit a payment (certificate + voucher)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from help" -f -a "accept" -d 'Accept payments from a buyer: a file written by `wallet pay` or `wallet payments`, or `-` for stdin'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from help" -f -a "payments" -d 'Print the latest payment of every outgoing channel, one JSON line each (as `wallet pay` writes them): settles with a seller that missed the last vouchers (`wallet accept`)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from help" -f -a "deposit" -d 'Lock AMOUNT tokens of this wallet\'s chain address in the `[chain]` vault; the ledger credits them after its confirmations'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from help" -f -a "withdraw" -d 'Take AMOUNT tokens out to the chain: the ledger debits them and signs an authorisation that this wallet submits to the `[chain]` vault'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand wallet; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and not __fish_seen_subcommand_from serve migrate bench mint audit help" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and not __fish_seen_subcommand_from serve migrate bench mint audit help" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and not __fish_seen_subcommand_from serve migrate bench mint audit help" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and not __fish_seen_subcommand_from serve migrate bench mint audit help" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and not __fish_seen_subcommand_from serve migrate bench mint audit help" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and not __fish_seen_subcommand_from serve migrate bench mint audit help" -f -a "serve" -d 'Run a ledger service (loopback by default)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and not __fish_seen_subcommand_from serve migrate bench mint audit help" -f -a "migrate" -d 'Prepare (or upgrade) a PostgreSQL database for `ledger serve --store URL`'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and not __fish_seen_subcommand_from serve migrate bench mint audit help" -f -a "bench" -d 'Drive ledger servers with N concurrent wallets; print ops/s and p50/p99 latency'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and not __fish_seen_subcommand_from serve migrate bench mint audit help" -f -a "mint" -d 'Mint AMOUNT tokens into ACCOUNT on a running ledger, signed with its admin key'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and not __fish_seen_subcommand_from serve migrate bench mint audit help" -f -a "audit" -d 'Show a ledger\'s id and books (minted = balances + escrowed): from a running ledger, or straight from its store with --store URL or --db DIR'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and not __fish_seen_subcommand_from serve migrate bench mint audit help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from serve" -l listen -d 'Address to listen on' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from serve" -l db -d 'Ledger directory (default: <data-dir>/ledger); created 0700 with admin.key inside' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from serve" -l close-grace -d 'Seconds a seller keeps to redeem after a buyer closes an unexpired channel' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from serve" -l store -d 'Store: sled (in --db, the default) or postgres://USER@HOST:PORT/DB (keys stay in --db)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from serve" -l rate-per-key -d 'Signed requests per account per second (0: no limit)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from serve" -l max-connections -d 'Connections served at once' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from serve" -l chain-rpc -d 'JSON-RPC URL of the chain node holding the vault (enables deposits and withdrawals)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from serve" -l chain-id -d 'The chain\'s id (EIP-155)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from serve" -l vault -d 'The vault contract\'s address' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from serve" -l token -d 'The token contract\'s address' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from serve" -l confirmations -d 'Blocks a deposit must be buried under before it is credited' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from serve" -l chain-from-block -d 'First block to read vault events from (the vault\'s deployment block)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from serve" -l chain-poll-ms -d 'How often to poll the vault for confirmed events' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from serve" -l max-channels-per-key -d 'Live channels one key may have as payer, and as payee (0: no limit)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from serve" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from serve" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from serve" -l json -d 'Print the listening event as JSON'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from serve" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from serve" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from serve" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from migrate" -l store -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from migrate" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from migrate" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from migrate" -l json
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from migrate" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from migrate" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from migrate" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from bench" -l ledger -d 'Ledger servers HOST:PORT[,HOST:PORT...] (clients move on when one stops answering)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from bench" -l clients -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from bench" -l seconds -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from bench" -l db -d 'Ledger directory holding admin.key (default: <data-dir>/ledger)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from bench" -l admin-key -d 'Admin key file, instead of DIR/admin.key' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from bench" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from bench" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from bench" -l by-op -d 'Measure each operation alone (open, pay+accept, redeem), SECONDS each, instead of the mixed market cycle'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from bench" -l json
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from bench" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from bench" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from bench" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from mint" -l db -d 'Ledger directory holding admin.key (default: <data-dir>/ledger)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from mint" -l admin-key -d 'Admin key file, instead of DIR/admin.key' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from mint" -l ledger -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from mint" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from mint" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from mint" -l json
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from mint" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from mint" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from mint" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from audit" -l ledger -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from audit" -l store -d 'Read this store (postgres://…) instead of asking a server' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from audit" -l db -d 'Read the sled store in DIR (no server may be running on it)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from audit" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from audit" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from audit" -l json
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from audit" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from audit" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from audit" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from help" -f -a "serve" -d 'Run a ledger service (loopback by default)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from help" -f -a "migrate" -d 'Prepare (or upgrade) a PostgreSQL database for `ledger serve --store URL`'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from help" -f -a "bench" -d 'Drive ledger servers with N concurrent wallets; print ops/s and p50/p99 latency'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from help" -f -a "mint" -d 'Mint AMOUNT tokens into ACCOUNT on a running ledger, signed with its admin key'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from help" -f -a "audit" -d 'Show a ledger\'s id and books (minted = balances + escrowed): from a running ledger, or straight from its store with --store URL or --db DIR'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ledger; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand create" -s o -l output -d 'Where to write the .torrent' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand create" -s t -l tracker -d 'Tracker announce URL; repeat for more, each becomes its own tier (BEP 12)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand create" -l piece-size -d 'Piece size in bytes or with K/M (16K, 1M); a power of two from 16 KiB to 64 MiB [default: chosen for about 1000-2000 pieces]' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand create" -l comment -d 'Free-text comment stored in the torrent' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand create" -l name -d 'Name of the torrent (default: the file or directory name)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand create" -l web-seed -d 'Web seed: an HTTP(S) URL serving the same files; repeat for more (BEP 19 url-list)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand create" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand create" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand create" -l private -d 'Mark the torrent private (BEP 27): peers only from its trackers, no DHT or PEX'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand create" -l no-date -d 'Leave out the creation date, so the same input always gives the same file'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand create" -l v2 -d 'Make a BitTorrent v2-only torrent (BEP 52); clients without v2 support cannot read it'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand create" -l hybrid -d 'Make a hybrid torrent: v1 and v2 in one file, readable by every client (BEP 52)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand create" -l force -d 'Overwrite OUT if it exists'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand create" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand create" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand create" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand demo" -l seeders -d 'Seeders in the swarm' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand demo" -l leechers -d 'Leechers in the swarm (one in three bids, alternately high and low; the rest do not)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand demo" -l size -d 'Size of the shared payload (e.g. 8M)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand demo" -l seed-upload -d 'Upload limit of each seeder, so the seeders are the bottleneck' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand demo" -l leech-upload -d 'Upload limit of each leecher (low, so the seeders stay the bottleneck)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand demo" -l keep -d 'Keep the payload and downloads in this directory instead of a temporary one' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand demo" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand demo" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand demo" -l headless -d 'No live table; print only the final report'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand demo" -l json -d 'Print the report as JSON'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand demo" -l chain -d 'Fund the peers through a local EVM chain instead of minting: starts anvil, deploys a token and a vault, deposits, trades, then withdraws every balance back to the chain'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand demo" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand demo" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand demo" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand daemon" -l listen -d 'Address to listen on for peers (overrides the config\'s `listen`; port 0 picks one)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand daemon" -l socket -d 'Control socket to create (default: $XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand daemon" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand daemon" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand daemon" -l log-stderr -d 'Also log to stderr (the log file is written as well unless the config turns it off)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand daemon" -l no-dht -d 'Do not join the DHT (overrides the config\'s `[dht] enabled`)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand daemon" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand daemon" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand daemon" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand add" -s d -l dir -d 'Download directory (default: the config\'s download_dir)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand add" -l peer -d 'Also dial this peer directly, IP:PORT (repeatable)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand add" -l strategy -d 'Market strategy for these torrents: a buyer strategy (off, fixed, auto, budget, target-rate) or a seller strategy (tit-for-tat, highest-bid, uniform-price, proportional, hybrid)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand add" -l param -d 'Strategy parameter for these torrents, e.g. price=0.05 (repeatable)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand add" -l label -d 'Label these torrents (repeatable)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand add" -l seed-ratio -d 'Stop seeding these torrents at this upload ratio (their own limit; see `seeding`)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand add" -l socket -d 'Control socket of the daemon (default: $XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand add" -l timeout -d 'Seconds to wait for the daemon\'s answer (default per command: 30, add and rm 600, recheck 3600; 0 = no limit)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand add" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand add" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand add" -l paused -d 'Add without starting'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand add" -l sequential -d 'Download pieces in order (for streaming)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand add" -l wait -d 'Show progress bars until the added torrents are complete'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand add" -l json -d 'Print JSON on stdout (stable field names, see RPC.md)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand add" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand add" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand add" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand status" -l socket -d 'Control socket of the daemon (default: $XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand status" -l timeout -d 'Seconds to wait for the daemon\'s answer (default per command: 30, add and rm 600, recheck 3600; 0 = no limit)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand status" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand status" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand status" -l json -d 'Print JSON on stdout (stable field names, see RPC.md)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand status" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand status" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand status" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ls" -l label -d 'Only torrents with this label (repeatable: any of them)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ls" -l socket -d 'Control socket of the daemon (default: $XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ls" -l timeout -d 'Seconds to wait for the daemon\'s answer (default per command: 30, add and rm 600, recheck 3600; 0 = no limit)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ls" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ls" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ls" -l json -d 'Print JSON on stdout (stable field names, see RPC.md)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ls" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ls" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand ls" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand info" -l socket -d 'Control socket of the daemon (default: $XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand info" -l timeout -d 'Seconds to wait for the daemon\'s answer (default per command: 30, add and rm 600, recheck 3600; 0 = no limit)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand info" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand info" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand info" -l json -d 'Print JSON on stdout (stable field names, see RPC.md)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand info" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand info" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand info" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand peers" -l socket -d 'Control socket of the daemon (default: $XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand peers" -l timeout -d 'Seconds to wait for the daemon\'s answer (default per command: 30, add and rm 600, recheck 3600; 0 = no limit)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand peers" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand peers" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand peers" -l json -d 'Print JSON on stdout (stable field names, see RPC.md)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand peers" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand peers" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand peers" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand files" -l socket -d 'Control socket of the daemon (default: $XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand files" -l timeout -d 'Seconds to wait for the daemon\'s answer (default per command: 30, add and rm 600, recheck 3600; 0 = no limit)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand files" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand files" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand files" -l json -d 'Print JSON on stdout (stable field names, see RPC.md)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand files" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand files" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand files" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand prio" -l socket -d 'Control socket of the daemon (default: $XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand prio" -l timeout -d 'Seconds to wait for the daemon\'s answer (default per command: 30, add and rm 600, recheck 3600; 0 = no limit)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand prio" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand prio" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand prio" -l json -d 'Print JSON on stdout (stable field names, see RPC.md)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand prio" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand prio" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand prio" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand pause" -l socket -d 'Control socket of the daemon (default: $XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand pause" -l timeout -d 'Seconds to wait for the daemon\'s answer (default per command: 30, add and rm 600, recheck 3600; 0 = no limit)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand pause" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand pause" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand pause" -l all -d 'Every torrent of the daemon'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand pause" -l json -d 'Print JSON on stdout (stable field names, see RPC.md)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand pause" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand pause" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand pause" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand resume" -l socket -d 'Control socket of the daemon (default: $XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand resume" -l timeout -d 'Seconds to wait for the daemon\'s answer (default per command: 30, add and rm 600, recheck 3600; 0 = no limit)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand resume" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand resume" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand resume" -l all -d 'Every torrent of the daemon'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand resume" -l json -d 'Print JSON on stdout (stable field names, see RPC.md)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand resume" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand resume" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand resume" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand rm" -l socket -d 'Control socket of the daemon (default: $XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand rm" -l timeout -d 'Seconds to wait for the daemon\'s answer (default per command: 30, add and rm 600, recheck 3600; 0 = no limit)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand rm" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand rm" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand rm" -l all -d 'Every torrent of the daemon'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand rm" -l json -d 'Print JSON on stdout (stable field names, see RPC.md)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand rm" -l delete-data -d 'Also delete the downloaded files'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand rm" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand rm" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand rm" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand recheck" -l socket -d 'Control socket of the daemon (default: $XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand recheck" -l timeout -d 'Seconds to wait for the daemon\'s answer (default per command: 30, add and rm 600, recheck 3600; 0 = no limit)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand recheck" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand recheck" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand recheck" -l all -d 'Every torrent of the daemon'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand recheck" -l json -d 'Print JSON on stdout (stable field names, see RPC.md)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand recheck" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand recheck" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand recheck" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand reannounce" -l socket -d 'Control socket of the daemon (default: $XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand reannounce" -l timeout -d 'Seconds to wait for the daemon\'s answer (default per command: 30, add and rm 600, recheck 3600; 0 = no limit)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand reannounce" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand reannounce" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand reannounce" -l all -d 'Every torrent of the daemon'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand reannounce" -l json -d 'Print JSON on stdout (stable field names, see RPC.md)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand reannounce" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand reannounce" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand reannounce" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand limit" -l down -d 'Download rate, e.g. 10M or 512K; 0 = unlimited' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand limit" -l up -d 'Upload rate, e.g. 1M; 0 = unlimited' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand limit" -l socket -d 'Control socket of the daemon (default: $XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand limit" -l timeout -d 'Seconds to wait for the daemon\'s answer (default per command: 30, add and rm 600, recheck 3600; 0 = no limit)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand limit" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand limit" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand limit" -l json -d 'Print JSON on stdout (stable field names, see RPC.md)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand limit" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand limit" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand limit" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand strategy" -l param -d 'Strategy parameter, e.g. price=0.05, reserve_price=0.01, slots=6 (repeatable)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand strategy" -l socket -d 'Control socket of the daemon (default: $XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand strategy" -l timeout -d 'Seconds to wait for the daemon\'s answer (default per command: 30, add and rm 600, recheck 3600; 0 = no limit)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand strategy" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand strategy" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand strategy" -l json -d 'Print JSON on stdout (stable field names, see RPC.md)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand strategy" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand strategy" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand strategy" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand label" -l socket -d 'Control socket of the daemon (default: $XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand label" -l timeout -d 'Seconds to wait for the daemon\'s answer (default per command: 30, add and rm 600, recheck 3600; 0 = no limit)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand label" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand label" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand label" -l clear -d 'Remove every label'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand label" -l json -d 'Print JSON on stdout (stable field names, see RPC.md)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand label" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand label" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand label" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand seeding" -l ratio -d 'Ratio limit: a number, `none` (no limit) or, on a torrent, `global`' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand seeding" -l idle -d 'Idle limit in minutes without upload: a number, `none` or, on a torrent, `global`' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand seeding" -l action -d 'At the limit: `stop`, `slow-to RATE` or `keep-while-earning PRICE` (tokens per MiB); on a torrent also `global`' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand seeding" -l socket -d 'Control socket of the daemon (default: $XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand seeding" -l timeout -d 'Seconds to wait for the daemon\'s answer (default per command: 30, add and rm 600, recheck 3600; 0 = no limit)' -r
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand seeding" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand seeding" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand seeding" -l json -d 'Print JSON on stdout (stable field names, see RPC.md)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand seeding" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand seeding" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand seeding" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand config; and not __fish_seen_subcommand_from path default check help" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand config; and not __fish_seen_subcommand_from path default check help" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand config; and not __fish_seen_subcommand_from path default check help" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand config; and not __fish_seen_subcommand_from path default check help" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand config; and not __fish_seen_subcommand_from path default check help" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand config; and not __fish_seen_subcommand_from path default check help" -f -a "path" -d 'Print the path of the configuration file in use'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand config; and not __fish_seen_subcommand_from path default check help" -f -a "default" -d 'Print the full default configuration, every key commented'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand config; and not __fish_seen_subcommand_from path default check help" -f -a "check" -d 'Validate the configuration file; errors name the key and the line'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand config; and not __fish_seen_subcommand_from path default check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand config; and __fish_seen_subcommand_from path" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand config; and __fish_seen_subcommand_from path" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand config; and __fish_seen_subcommand_from path" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand config; and __fish_seen_subcommand_from path" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand config; and __fish_seen_subcommand_from path" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand config; and __fish_seen_subcommand_from default" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand config; and __fish_seen_subcommand_from default" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand config; and __fish_seen_subcommand_from default" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand config; and __fish_seen_subcommand_from default" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand config; and __fish_seen_subcommand_from default" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand config; and __fish_seen_subcommand_from check" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand config; and __fish_seen_subcommand_from check" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand config; and __fish_seen_subcommand_from check" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand config; and __fish_seen_subcommand_from check" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand config; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "path" -d 'Print the path of the configuration file in use'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "default" -d 'Print the full default configuration, every key commented'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "check" -d 'Validate the configuration file; errors name the key and the line'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand completions" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand completions" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand completions" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand completions" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand completions" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand man" -l config -d 'Configuration file (default: $XDG_CONFIG_HOME/bidtorrent/config.toml)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand man" -l data-dir -d 'Directory for state: resume data, session, wallet (default: $XDG_DATA_HOME/bidtorrent)' -r -F
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand man" -s v -l verbose -d 'More log output (repeat for more)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand man" -s q -l quiet -d 'Less output'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand man" -s h -l help -d 'Print help'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and not __fish_seen_subcommand_from tui download seed wallet ledger create demo daemon add status ls info peers files prio pause resume rm recheck reannounce limit strategy label seeding config completions man help" -f -a "tui" -d 'Open the dashboard: attach to a running daemon, or run the engine in this process'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and not __fish_seen_subcommand_from tui download seed wallet ledger create demo daemon add status ls info peers files prio pause resume rm recheck reannounce limit strategy label seeding config completions man help" -f -a "download" -d 'Download one torrent in the foreground; exit 0 once every piece is verified'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and not __fish_seen_subcommand_from tui download seed wallet ledger create demo daemon add status ls info peers files prio pause resume rm recheck reannounce limit strategy label seeding config completions man help" -f -a "seed" -d 'Verify the data of a torrent, then seed it until killed'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and not __fish_seen_subcommand_from tui download seed wallet ledger create demo daemon add status ls info peers files prio pause resume rm recheck reannounce limit strategy label seeding config completions man help" -f -a "wallet" -d 'The wallet: identity, balance, payment channels, vouchers, history'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and not __fish_seen_subcommand_from tui download seed wallet ledger create demo daemon add status ls info peers files prio pause resume rm recheck reannounce limit strategy label seeding config completions man help" -f -a "ledger" -d 'Run and administer a ledger that escrows and settles payment channels'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and not __fish_seen_subcommand_from tui download seed wallet ledger create demo daemon add status ls info peers files prio pause resume rm recheck reannounce limit strategy label seeding config completions man help" -f -a "create" -d 'Make a .torrent from a file or directory'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and not __fish_seen_subcommand_from tui download seed wallet ledger create demo daemon add status ls info peers files prio pause resume rm recheck reannounce limit strategy label seeding config completions man help" -f -a "demo" -d 'A whole token market on 127.0.0.1: embedded ledger, seeders, bidding and plain leechers'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and not __fish_seen_subcommand_from tui download seed wallet ledger create demo daemon add status ls info peers files prio pause resume rm recheck reannounce limit strategy label seeding config completions man help" -f -a "daemon" -d 'Run the engine headless with its control socket (foreground; for systemd, tmux, ssh)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and not __fish_seen_subcommand_from tui download seed wallet ledger create demo daemon add status ls info peers files prio pause resume rm recheck reannounce limit strategy label seeding config completions man help" -f -a "add" -d 'Add .torrent files or magnet links to the running daemon (`-` reads one per line)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and not __fish_seen_subcommand_from tui download seed wallet ledger create demo daemon add status ls info peers files prio pause resume rm recheck reannounce limit strategy label seeding config completions man help" -f -a "status" -d 'Show the daemon: pid, port, rates, limits, and whether the market trades'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and not __fish_seen_subcommand_from tui download seed wallet ledger create demo daemon add status ls info peers files prio pause resume rm recheck reannounce limit strategy label seeding config completions man help" -f -a "ls" -d 'List the daemon\'s torrents'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and not __fish_seen_subcommand_from tui download seed wallet ledger create demo daemon add status ls info peers files prio pause resume rm recheck reannounce limit strategy label seeding config completions man help" -f -a "info" -d 'Show one torrent: progress, files, trackers'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and not __fish_seen_subcommand_from tui download seed wallet ledger create demo daemon add status ls info peers files prio pause resume rm recheck reannounce limit strategy label seeding config completions man help" -f -a "peers" -d 'Show the peers of one torrent (flags, rates, market bids and payments)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and not __fish_seen_subcommand_from tui download seed wallet ledger create demo daemon add status ls info peers files prio pause resume rm recheck reannounce limit strategy label seeding config completions man help" -f -a "files" -d 'Show the files of one torrent with their progress and priority'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and not __fish_seen_subcommand_from tui download seed wallet ledger create demo daemon add status ls info peers files prio pause resume rm recheck reannounce limit strategy label seeding config completions man help" -f -a "prio" -d 'Set file priorities: `prio ID 0 2 skip`, `prio ID all normal`'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and not __fish_seen_subcommand_from tui download seed wallet ledger create demo daemon add status ls info peers files prio pause resume rm recheck reannounce limit strategy label seeding config completions man help" -f -a "pause" -d 'Pause torrents: close their peers and stop announcing'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and not __fish_seen_subcommand_from tui download seed wallet ledger create demo daemon add status ls info peers files prio pause resume rm recheck reannounce limit strategy label seeding config completions man help" -f -a "resume" -d 'Resume paused torrents'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and not __fish_seen_subcommand_from tui download seed wallet ledger create demo daemon add status ls info peers files prio pause resume rm recheck reannounce limit strategy label seeding config completions man help" -f -a "rm" -d 'Remove torrents from the daemon (the data stays unless --delete-data)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and not __fish_seen_subcommand_from tui download seed wallet ledger create demo daemon add status ls info peers files prio pause resume rm recheck reannounce limit strategy label seeding config completions man help" -f -a "recheck" -d 'Hash the data of torrents again'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and not __fish_seen_subcommand_from tui download seed wallet ledger create demo daemon add status ls info peers files prio pause resume rm recheck reannounce limit strategy label seeding config completions man help" -f -a "reannounce" -d 'Announce to the trackers now'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and not __fish_seen_subcommand_from tui download seed wallet ledger create demo daemon add status ls info peers files prio pause resume rm recheck reannounce limit strategy label seeding config completions man help" -f -a "limit" -d 'Show or set rate limits, global or of one torrent'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and not __fish_seen_subcommand_from tui download seed wallet ledger create demo daemon add status ls info peers files prio pause resume rm recheck reannounce limit strategy label seeding config completions man help" -f -a "strategy" -d 'Show or set the market\'s buyer and seller strategies, global or of one torrent'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and not __fish_seen_subcommand_from tui download seed wallet ledger create demo daemon add status ls info peers files prio pause resume rm recheck reannounce limit strategy label seeding config completions man help" -f -a "label" -d 'Set the labels of torrents (replacing theirs), or clear them with --clear'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and not __fish_seen_subcommand_from tui download seed wallet ledger create demo daemon add status ls info peers files prio pause resume rm recheck reannounce limit strategy label seeding config completions man help" -f -a "seeding" -d 'Show or set seeding rules (ratio and idle limits, the action at the limit), global or of one torrent'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and not __fish_seen_subcommand_from tui download seed wallet ledger create demo daemon add status ls info peers files prio pause resume rm recheck reannounce limit strategy label seeding config completions man help" -f -a "config" -d 'The configuration file: where it is, its defaults, whether it is valid'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and not __fish_seen_subcommand_from tui download seed wallet ledger create demo daemon add status ls info peers files prio pause resume rm recheck reannounce limit strategy label seeding config completions man help" -f -a "completions" -d 'Print shell completions (also committed under completions/)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and not __fish_seen_subcommand_from tui download seed wallet ledger create demo daemon add status ls info peers files prio pause resume rm recheck reannounce limit strategy label seeding config completions man help" -f -a "man" -d 'Print the man page (roff; the pages of every command are committed under man/)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and not __fish_seen_subcommand_from tui download seed wallet ledger create demo daemon add status ls info peers files prio pause resume rm recheck reannounce limit strategy label seeding config completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and __fish_seen_subcommand_from wallet" -f -a "show" -d 'Show address, balance and channels, fresh from the ledger (fails if it cannot be reached; --offline shows the last known state)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and __fish_seen_subcommand_from wallet" -f -a "address" -d 'Print this wallet\'s public key (its account on every ledger)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and __fish_seen_subcommand_from wallet" -f -a "history" -d 'Payments, earnings, mints, redemptions and refunds: one line per channel and day (vouchers summed), local times, totals at the end'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and __fish_seen_subcommand_from wallet" -f -a "export" -d 'Print the whole wallet as JSON (without the secret key)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and __fish_seen_subcommand_from wallet" -f -a "open" -d 'Escrow AMOUNT tokens for SELLER in a new payment channel'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and __fish_seen_subcommand_from wallet" -f -a "close" -d 'Close a channel (seller: redeem and close now; buyer: refund after the grace period)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and __fish_seen_subcommand_from wallet" -f -a "redeem" -d 'Redeem the highest voucher of every incoming channel at the ledger'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and __fish_seen_subcommand_from wallet" -f -a "pay" -d 'Pay AMOUNT more on an outgoing channel and emit a payment (certificate + voucher)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and __fish_seen_subcommand_from wallet" -f -a "accept" -d 'Accept payments from a buyer: a file written by `wallet pay` or `wallet payments`, or `-` for stdin'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and __fish_seen_subcommand_from wallet" -f -a "payments" -d 'Print the latest payment of every outgoing channel, one JSON line each (as `wallet pay` writes them): settles with a seller that missed the last vouchers (`wallet accept`)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and __fish_seen_subcommand_from wallet" -f -a "deposit" -d 'Lock AMOUNT tokens of this wallet\'s chain address in the `[chain]` vault; the ledger credits them after its confirmations'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and __fish_seen_subcommand_from wallet" -f -a "withdraw" -d 'Take AMOUNT tokens out to the chain: the ledger debits them and signs an authorisation that this wallet submits to the `[chain]` vault'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and __fish_seen_subcommand_from ledger" -f -a "serve" -d 'Run a ledger service (loopback by default)'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and __fish_seen_subcommand_from ledger" -f -a "migrate" -d 'Prepare (or upgrade) a PostgreSQL database for `ledger serve --store URL`'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and __fish_seen_subcommand_from ledger" -f -a "bench" -d 'Drive ledger servers with N concurrent wallets; print ops/s and p50/p99 latency'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and __fish_seen_subcommand_from ledger" -f -a "mint" -d 'Mint AMOUNT tokens into ACCOUNT on a running ledger, signed with its admin key'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and __fish_seen_subcommand_from ledger" -f -a "audit" -d 'Show a ledger\'s id and books (minted = balances + escrowed): from a running ledger, or straight from its store with --store URL or --db DIR'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "path" -d 'Print the path of the configuration file in use'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "default" -d 'Print the full default configuration, every key commented'
complete -c bidtorrent -n "__fish_bidtorrent_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "check" -d 'Validate the configuration file; errors name the key and the line'
