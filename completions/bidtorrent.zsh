#compdef bidtorrent

autoload -U is-at-least

_bidtorrent() {
    typeset -A opt_args
    typeset -a _arguments_options
    local ret=1

    if is-at-least 5.2; then
        _arguments_options=(-s -S -C)
    else
        _arguments_options=(-s -C)
    fi

    local context curcontext="$curcontext" state line
    _arguments "${_arguments_options[@]}" : \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--theme=[Theme name (default, dusk, light, mono, or one in \$XDG_CONFIG_HOME/bidtorrent/themes) or a path to a theme file; overrides the config and NO_COLOR]:NAME:_default' \
'-d+[Download directory for torrents added in standalone mode \[default\: the config'\''s download_dir\]]:D:_files' \
'--dir=[Download directory for torrents added in standalone mode \[default\: the config'\''s download_dir\]]:D:_files' \
'--listen=[Address the standalone engine listens on for peers, a free port if taken \[default\: the config'\''s listen\]]:ADDR:_default' \
'--limit-down=[Global download limit for the standalone engine (e.g. 10M; 0 = unlimited) \[default\: the config'\''s\]]:RATE:_default' \
'--limit-up=[Global upload limit for the standalone engine (e.g. 512K; 0 = unlimited) \[default\: the config'\''s\]]:RATE:_default' \
'--refresh-ms=[How often to poll the engine, in milliseconds \[default\: 1000, or refresh_ms in config\]]:MS:_default' \
'*--add=[A .torrent file or magnet link to add at start (repeatable)]:TORRENT:_default' \
'--socket=[Control socket of the daemon (default\: \$XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)]:PATH:_files' \
'--timeout=[Seconds to wait for the daemon'\''s answer (default per command\: 30, add and rm 600, recheck 3600; 0 = no limit)]:SECS:_default' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'--standalone[Run the engine in this process even if a daemon is running]' \
'--no-dht[Do not join the DHT in standalone mode (overrides the config'\''s \`\[dht\] enabled\`)]' \
'--persist[Keep the standalone session (torrents, strategies, limits) in the data dir and restore it next time, as the daemon does; off by default, so standalone writes no session file]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
":: :_bidtorrent_commands" \
"*::: :->bidtorrent" \
&& ret=0
    case $state in
    (bidtorrent)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:bidtorrent-command-$line[1]:"
        case $line[1] in
            (tui)
_arguments "${_arguments_options[@]}" : \
'--theme=[Theme name (default, dusk, light, mono, or one in \$XDG_CONFIG_HOME/bidtorrent/themes) or a path to a theme file; overrides the config and NO_COLOR]:NAME:_default' \
'-d+[Download directory for torrents added in standalone mode \[default\: the config'\''s download_dir\]]:D:_files' \
'--dir=[Download directory for torrents added in standalone mode \[default\: the config'\''s download_dir\]]:D:_files' \
'--listen=[Address the standalone engine listens on for peers, a free port if taken \[default\: the config'\''s listen\]]:ADDR:_default' \
'--limit-down=[Global download limit for the standalone engine (e.g. 10M; 0 = unlimited) \[default\: the config'\''s\]]:RATE:_default' \
'--limit-up=[Global upload limit for the standalone engine (e.g. 512K; 0 = unlimited) \[default\: the config'\''s\]]:RATE:_default' \
'--refresh-ms=[How often to poll the engine, in milliseconds \[default\: 1000, or refresh_ms in config\]]:MS:_default' \
'*--add=[A .torrent file or magnet link to add at start (repeatable)]:TORRENT:_default' \
'--socket=[Control socket of the daemon (default\: \$XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)]:PATH:_files' \
'--timeout=[Seconds to wait for the daemon'\''s answer (default per command\: 30, add and rm 600, recheck 3600; 0 = no limit)]:SECS:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--standalone[Run the engine in this process even if a daemon is running]' \
'--no-dht[Do not join the DHT in standalone mode (overrides the config'\''s \`\[dht\] enabled\`)]' \
'--persist[Keep the standalone session (torrents, strategies, limits) in the data dir and restore it next time, as the daemon does; off by default, so standalone writes no session file]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(download)
_arguments "${_arguments_options[@]}" : \
'-d+[Directory to download into]:D:_files' \
'--dir=[Directory to download into]:D:_files' \
'--seed-ratio=[Keep seeding after completion until uploaded ≥ R × size, then exit]:R:_default' \
'--listen=[Address to listen on for peers (port 0 picks a free port)]:ADDR:_default' \
'--tracker-interval=[Override the tracker'\''s announce interval, in seconds]:S:_default' \
'*--peer=[Also connect to this peer (repeatable)]:ADDR:_default' \
'--limit-down=[Global download limit (e.g. 10M = 10 MiB/s; 0 = unlimited)]:RATE:_default' \
'--limit-up=[Global upload limit (e.g. 512K; 0 = unlimited)]:RATE:_default' \
'--max-peers=[Most peers to connect to]:N:_default' \
'--encryption=[Protocol encryption (MSE/PE)\: prefer, require, allow or off]:MODE:_default' \
'*--dht-bootstrap=[DHT bootstrap node (repeatable); without it the public routers and the nodes saved from the last run are used]:HOST:PORT:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--json[Print one JSON event object per line on stdout]' \
'--no-utp[Do not use uTP (BEP 29) for peers]' \
'--no-tcp[Do not use TCP for peers]' \
'--sequential[Download pieces in order (for streaming) instead of rarest first]' \
'(--dht-bootstrap)--no-dht[Do not use the DHT (BEP 5)]' \
'--lsd[Local service discovery (BEP 14)\: find peers on the LAN by multicast]' \
'--page-cache[Write verified pieces through the page cache instead of straight to the disk (O_DIRECT; see \`\[disk\] write_through\`)]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
':src -- A .torrent file or a magnet link:_default' \
&& ret=0
;;
(seed)
_arguments "${_arguments_options[@]}" : \
'-d+[Directory that holds the data]:D:_files' \
'--dir=[Directory that holds the data]:D:_files' \
'--listen=[Address to listen on for peers (port 0 picks a free port)]:ADDR:_default' \
'--tracker-interval=[Override the tracker'\''s announce interval, in seconds]:S:_default' \
'*--peer=[Also connect to this peer (repeatable)]:ADDR:_default' \
'--limit-down=[Global download limit (e.g. 10M = 10 MiB/s; 0 = unlimited)]:RATE:_default' \
'--limit-up=[Global upload limit (e.g. 512K; 0 = unlimited)]:RATE:_default' \
'--max-peers=[Most peers to connect to]:N:_default' \
'--encryption=[Protocol encryption (MSE/PE)\: prefer, require, allow or off]:MODE:_default' \
'*--dht-bootstrap=[Join the DHT through this bootstrap node (repeatable) and announce there; without it \`seed\` stays off the DHT]:HOST:PORT:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--json[Print one JSON event object per line on stdout]' \
'--no-utp[Do not use uTP (BEP 29) for peers]' \
'--no-tcp[Do not use TCP for peers]' \
'(--dht-bootstrap)--no-dht[Stay off the DHT (the default for \`seed\` without --dht-bootstrap; accepted as in \`download\`, so one script line works for both)]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
':torrent -- The .torrent file of the data:_files' \
&& ret=0
;;
(wallet)
_arguments "${_arguments_options[@]}" : \
'--ledger=[Ledger address HOST\:PORT (default\: the ledger used last, else 127.0.0.1\:7171)]:ADDR:_default' \
'--socket=[Control socket of the daemon that may hold this wallet (default as for \`ls\`)]:PATH:_files' \
'--timeout=[Seconds to wait for that daemon'\''s answer (default 30; 0 = no limit)]:SECS:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--json[Machine-readable JSON output (amounts in micro-tokens)]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
":: :_bidtorrent__subcmd__wallet_commands" \
"*::: :->wallet" \
&& ret=0

    case $state in
    (wallet)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:bidtorrent-wallet-command-$line[1]:"
        case $line[1] in
            (show)
_arguments "${_arguments_options[@]}" : \
'--ledger=[Ledger address HOST\:PORT (default\: the ledger used last, else 127.0.0.1\:7171)]:ADDR:_default' \
'--socket=[Control socket of the daemon that may hold this wallet (default as for \`ls\`)]:PATH:_files' \
'--timeout=[Seconds to wait for that daemon'\''s answer (default 30; 0 = no limit)]:SECS:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--offline[Do not contact the ledger; show the last known state]' \
'--cached[Do not contact the ledger; show the last known state]' \
'--json[Machine-readable JSON output (amounts in micro-tokens)]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(address)
_arguments "${_arguments_options[@]}" : \
'--ledger=[Ledger address HOST\:PORT (default\: the ledger used last, else 127.0.0.1\:7171)]:ADDR:_default' \
'--socket=[Control socket of the daemon that may hold this wallet (default as for \`ls\`)]:PATH:_files' \
'--timeout=[Seconds to wait for that daemon'\''s answer (default 30; 0 = no limit)]:SECS:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--json[Machine-readable JSON output (amounts in micro-tokens)]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(history)
_arguments "${_arguments_options[@]}" : \
'--since=[Only since then\: a duration back from now (7d, 12h, 30m) or a date (YYYY-MM-DD)]:WHEN:_default' \
'--limit=[Only the last N lines]:N:_default' \
'--ledger=[Ledger address HOST\:PORT (default\: the ledger used last, else 127.0.0.1\:7171)]:ADDR:_default' \
'--socket=[Control socket of the daemon that may hold this wallet (default as for \`ls\`)]:PATH:_files' \
'--timeout=[Seconds to wait for that daemon'\''s answer (default 30; 0 = no limit)]:SECS:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--detail[Every entry (each voucher) on its own line]' \
'--json[Machine-readable JSON output (amounts in micro-tokens)]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(export)
_arguments "${_arguments_options[@]}" : \
'--secret-key=[Also write the secret key (hex) to this new file, created owner-only]:FILE:_files' \
'--ledger=[Ledger address HOST\:PORT (default\: the ledger used last, else 127.0.0.1\:7171)]:ADDR:_default' \
'--socket=[Control socket of the daemon that may hold this wallet (default as for \`ls\`)]:PATH:_files' \
'--timeout=[Seconds to wait for that daemon'\''s answer (default 30; 0 = no limit)]:SECS:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--json[Machine-readable JSON output (amounts in micro-tokens)]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(open)
_arguments "${_arguments_options[@]}" : \
'--expiry-secs=[Lifetime of the channel in seconds]:SECS:_default' \
'--ledger=[Ledger address HOST\:PORT (default\: the ledger used last, else 127.0.0.1\:7171)]:ADDR:_default' \
'--socket=[Control socket of the daemon that may hold this wallet (default as for \`ls\`)]:PATH:_files' \
'--timeout=[Seconds to wait for that daemon'\''s answer (default 30; 0 = no limit)]:SECS:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--json[Machine-readable JSON output (amounts in micro-tokens)]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
':seller -- The seller'\''s public key (64 hex digits):_default' \
':amount -- Channel cap in tokens, e.g. 10 or 2.5:_default' \
&& ret=0
;;
(close)
_arguments "${_arguments_options[@]}" : \
'--ledger=[Ledger address HOST\:PORT (default\: the ledger used last, else 127.0.0.1\:7171)]:ADDR:_default' \
'--socket=[Control socket of the daemon that may hold this wallet (default as for \`ls\`)]:PATH:_files' \
'--timeout=[Seconds to wait for that daemon'\''s answer (default 30; 0 = no limit)]:SECS:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--json[Machine-readable JSON output (amounts in micro-tokens)]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
':channel -- Channel id, or any unique prefix of it (`wallet history` shows 8 hex digits):_default' \
&& ret=0
;;
(redeem)
_arguments "${_arguments_options[@]}" : \
'--ledger=[Ledger address HOST\:PORT (default\: the ledger used last, else 127.0.0.1\:7171)]:ADDR:_default' \
'--socket=[Control socket of the daemon that may hold this wallet (default as for \`ls\`)]:PATH:_files' \
'--timeout=[Seconds to wait for that daemon'\''s answer (default 30; 0 = no limit)]:SECS:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--json[Machine-readable JSON output (amounts in micro-tokens)]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(pay)
_arguments "${_arguments_options[@]}" : \
'--out=[Write the latest payment to FILE (atomically replaced) instead of stdout]:FILE:_files' \
'--repeat=[Pay this many times (a payment stream; each voucher supersedes the last)]:N:_default' \
'--interval-ms=[Pause between payments of a stream]:MS:_default' \
'--ledger=[Ledger address HOST\:PORT (default\: the ledger used last, else 127.0.0.1\:7171)]:ADDR:_default' \
'--socket=[Control socket of the daemon that may hold this wallet (default as for \`ls\`)]:PATH:_files' \
'--timeout=[Seconds to wait for that daemon'\''s answer (default 30; 0 = no limit)]:SECS:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--json[Machine-readable JSON output (amounts in micro-tokens)]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
':channel -- Channel id, or any unique prefix of it (`wallet history` shows 8 hex digits):_default' \
':amount -- Tokens to add to what the seller may redeem:_default' \
&& ret=0
;;
(accept)
_arguments "${_arguments_options[@]}" : \
'--ledger=[Ledger address HOST\:PORT (default\: the ledger used last, else 127.0.0.1\:7171)]:ADDR:_default' \
'--socket=[Control socket of the daemon that may hold this wallet (default as for \`ls\`)]:PATH:_files' \
'--timeout=[Seconds to wait for that daemon'\''s answer (default 30; 0 = no limit)]:SECS:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--json[Machine-readable JSON output (amounts in micro-tokens)]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
':file:_files' \
&& ret=0
;;
(payments)
_arguments "${_arguments_options[@]}" : \
'--ledger=[Ledger address HOST\:PORT (default\: the ledger used last, else 127.0.0.1\:7171)]:ADDR:_default' \
'--socket=[Control socket of the daemon that may hold this wallet (default as for \`ls\`)]:PATH:_files' \
'--timeout=[Seconds to wait for that daemon'\''s answer (default 30; 0 = no limit)]:SECS:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--json[Machine-readable JSON output (amounts in micro-tokens)]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(deposit)
_arguments "${_arguments_options[@]}" : \
'--ledger=[Ledger address HOST\:PORT (default\: the ledger used last, else 127.0.0.1\:7171)]:ADDR:_default' \
'--socket=[Control socket of the daemon that may hold this wallet (default as for \`ls\`)]:PATH:_files' \
'--timeout=[Seconds to wait for that daemon'\''s answer (default 30; 0 = no limit)]:SECS:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--json[Machine-readable JSON output (amounts in micro-tokens)]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
':amount -- Tokens, e.g. 10 or 2.5:_default' \
&& ret=0
;;
(withdraw)
_arguments "${_arguments_options[@]}" : \
'--to=[Chain address to pay (default\: this wallet'\''s chain address)]:ADDRESS:_default' \
'(--to)--retry=[Submit again the authorisation with this nonce (after a failed submission)]:NONCE:_default' \
'--ledger=[Ledger address HOST\:PORT (default\: the ledger used last, else 127.0.0.1\:7171)]:ADDR:_default' \
'--socket=[Control socket of the daemon that may hold this wallet (default as for \`ls\`)]:PATH:_files' \
'--timeout=[Seconds to wait for that daemon'\''s answer (default 30; 0 = no limit)]:SECS:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--json[Machine-readable JSON output (amounts in micro-tokens)]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
'::amount -- Tokens, e.g. 10 or 2.5:_default' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_bidtorrent__subcmd__wallet__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:bidtorrent-wallet-help-command-$line[1]:"
        case $line[1] in
            (show)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(address)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(history)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(export)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(open)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(close)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(redeem)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(pay)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(accept)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(payments)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(deposit)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(withdraw)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
;;
(ledger)
_arguments "${_arguments_options[@]}" : \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
":: :_bidtorrent__subcmd__ledger_commands" \
"*::: :->ledger" \
&& ret=0

    case $state in
    (ledger)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:bidtorrent-ledger-command-$line[1]:"
        case $line[1] in
            (serve)
_arguments "${_arguments_options[@]}" : \
'--listen=[Address to listen on]:ADDR:_default' \
'--db=[Ledger directory (default\: <data-dir>/ledger); created 0700 with admin.key inside]:DIR:_files' \
'--close-grace=[Seconds a seller keeps to redeem after a buyer closes an unexpired channel]:SECS:_default' \
'--store=[Store\: sled (in --db, the default) or postgres\://USER@HOST\:PORT/DB (keys stay in --db)]:URL:_default' \
'--rate-per-key=[Signed requests per account per second (0\: no limit)]:N:_default' \
'--max-connections=[Connections served at once]:N:_default' \
'--chain-rpc=[JSON-RPC URL of the chain node holding the vault (enables deposits and withdrawals)]:URL:_default' \
'--chain-id=[The chain'\''s id (EIP-155)]:ID:_default' \
'--vault=[The vault contract'\''s address]:ADDRESS:_default' \
'--token=[The token contract'\''s address]:ADDRESS:_default' \
'--confirmations=[Blocks a deposit must be buried under before it is credited]:N:_default' \
'--chain-from-block=[First block to read vault events from (the vault'\''s deployment block)]:N:_default' \
'--chain-poll-ms=[How often to poll the vault for confirmed events]:MS:_default' \
'--max-channels-per-key=[Live channels one key may have as payer, and as payee (0\: no limit)]:N:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--json[Print the listening event as JSON]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(migrate)
_arguments "${_arguments_options[@]}" : \
'--store=[]:URL:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--json[]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(bench)
_arguments "${_arguments_options[@]}" : \
'--ledger=[Ledger servers HOST\:PORT\[,HOST\:PORT...\] (clients move on when one stops answering)]:ADDRS:_default' \
'--clients=[]:N:_default' \
'--seconds=[]:S:_default' \
'--db=[Ledger directory holding admin.key (default\: <data-dir>/ledger)]:DIR:_files' \
'--admin-key=[Admin key file, instead of DIR/admin.key]:FILE:_files' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--by-op[Measure each operation alone (open, pay+accept, redeem), SECONDS each, instead of the mixed market cycle]' \
'--json[]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(mint)
_arguments "${_arguments_options[@]}" : \
'--db=[Ledger directory holding admin.key (default\: <data-dir>/ledger)]:DIR:_files' \
'--admin-key=[Admin key file, instead of DIR/admin.key]:FILE:_files' \
'--ledger=[]:ADDR:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--json[]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
':account:_default' \
':amount:_default' \
&& ret=0
;;
(audit)
_arguments "${_arguments_options[@]}" : \
'--ledger=[]:ADDR:_default' \
'--store=[Read this store (postgres\://…) instead of asking a server]:URL:_default' \
'--db=[Read the sled store in DIR (no server may be running on it)]:DIR:_files' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--json[]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_bidtorrent__subcmd__ledger__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:bidtorrent-ledger-help-command-$line[1]:"
        case $line[1] in
            (serve)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(migrate)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(bench)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(mint)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(audit)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
;;
(create)
_arguments "${_arguments_options[@]}" : \
'-o+[Where to write the .torrent]:OUT.torrent:_files' \
'--output=[Where to write the .torrent]:OUT.torrent:_files' \
'*-t+[Tracker announce URL; repeat for more, each becomes its own tier (BEP 12)]:URL:_default' \
'*--tracker=[Tracker announce URL; repeat for more, each becomes its own tier (BEP 12)]:URL:_default' \
'--piece-size=[Piece size in bytes or with K/M (16K, 1M); a power of two from 16 KiB to 64 MiB \[default\: chosen for about 1000-2000 pieces\]]:N:_default' \
'--comment=[Free-text comment stored in the torrent]:TEXT:_default' \
'--name=[Name of the torrent (default\: the file or directory name)]:NAME:_default' \
'*--web-seed=[Web seed\: an HTTP(S) URL serving the same files; repeat for more (BEP 19 url-list)]:URL:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--private[Mark the torrent private (BEP 27)\: peers only from its trackers, no DHT or PEX]' \
'--no-date[Leave out the creation date, so the same input always gives the same file]' \
'(--hybrid)--v2[Make a BitTorrent v2-only torrent (BEP 52); clients without v2 support cannot read it]' \
'--hybrid[Make a hybrid torrent\: v1 and v2 in one file, readable by every client (BEP 52)]' \
'--force[Overwrite OUT if it exists]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
':path -- File or directory to share:_files' \
&& ret=0
;;
(demo)
_arguments "${_arguments_options[@]}" : \
'--seeders=[Seeders in the swarm]:SEEDERS:_default' \
'--leechers=[Leechers in the swarm (one in three bids, alternately high and low; the rest do not)]:LEECHERS:_default' \
'--size=[Size of the shared payload (e.g. 8M)]:SIZE:_default' \
'--seed-upload=[Upload limit of each seeder, so the seeders are the bottleneck]:SEED_UPLOAD:_default' \
'--leech-upload=[Upload limit of each leecher (low, so the seeders stay the bottleneck)]:LEECH_UPLOAD:_default' \
'--keep=[Keep the payload and downloads in this directory instead of a temporary one]:DIR:_files' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--headless[No live table; print only the final report]' \
'--json[Print the report as JSON]' \
'--chain[Fund the peers through a local EVM chain instead of minting\: starts anvil, deploys a token and a vault, deposits, trades, then withdraws every balance back to the chain]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(daemon)
_arguments "${_arguments_options[@]}" : \
'--listen=[Address to listen on for peers (overrides the config'\''s \`listen\`; port 0 picks one)]:ADDR:_default' \
'--socket=[Control socket to create (default\: \$XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)]:PATH:_files' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--log-stderr[Also log to stderr (the log file is written as well unless the config turns it off)]' \
'--no-dht[Do not join the DHT (overrides the config'\''s \`\[dht\] enabled\`)]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(add)
_arguments "${_arguments_options[@]}" : \
'-d+[Download directory (default\: the config'\''s download_dir)]:D:_files' \
'--dir=[Download directory (default\: the config'\''s download_dir)]:D:_files' \
'*--peer=[Also dial this peer directly, IP\:PORT (repeatable)]:ADDR:_default' \
'--strategy=[Market strategy for these torrents\: a buyer strategy (off, fixed, auto, budget, target-rate) or a seller strategy (tit-for-tat, highest-bid, uniform-price, proportional, hybrid)]:NAME:_default' \
'*--param=[Strategy parameter for these torrents, e.g. price=0.05 (repeatable)]:K=V:_default' \
'*--label=[Label these torrents (repeatable)]:L:_default' \
'--seed-ratio=[Stop seeding these torrents at this upload ratio (their own limit; see \`seeding\`)]:RATIO:_default' \
'--socket=[Control socket of the daemon (default\: \$XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)]:PATH:_files' \
'--timeout=[Seconds to wait for the daemon'\''s answer (default per command\: 30, add and rm 600, recheck 3600; 0 = no limit)]:SECS:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--paused[Add without starting]' \
'--sequential[Download pieces in order (for streaming)]' \
'--wait[Show progress bars until the added torrents are complete]' \
'--json[Print JSON on stdout (stable field names, see RPC.md)]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
'*::sources -- .torrent files, magnet links, or `-` to read one per line from stdin:_default' \
&& ret=0
;;
(status)
_arguments "${_arguments_options[@]}" : \
'--socket=[Control socket of the daemon (default\: \$XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)]:PATH:_files' \
'--timeout=[Seconds to wait for the daemon'\''s answer (default per command\: 30, add and rm 600, recheck 3600; 0 = no limit)]:SECS:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--json[Print JSON on stdout (stable field names, see RPC.md)]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(ls)
_arguments "${_arguments_options[@]}" : \
'*--label=[Only torrents with this label (repeatable\: any of them)]:L:_default' \
'--socket=[Control socket of the daemon (default\: \$XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)]:PATH:_files' \
'--timeout=[Seconds to wait for the daemon'\''s answer (default per command\: 30, add and rm 600, recheck 3600; 0 = no limit)]:SECS:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--json[Print JSON on stdout (stable field names, see RPC.md)]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(info)
_arguments "${_arguments_options[@]}" : \
'--socket=[Control socket of the daemon (default\: \$XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)]:PATH:_files' \
'--timeout=[Seconds to wait for the daemon'\''s answer (default per command\: 30, add and rm 600, recheck 3600; 0 = no limit)]:SECS:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--json[Print JSON on stdout (stable field names, see RPC.md)]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
':torrent -- Torrent id or info-hash prefix (8+ hex digits):_default' \
&& ret=0
;;
(peers)
_arguments "${_arguments_options[@]}" : \
'--socket=[Control socket of the daemon (default\: \$XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)]:PATH:_files' \
'--timeout=[Seconds to wait for the daemon'\''s answer (default per command\: 30, add and rm 600, recheck 3600; 0 = no limit)]:SECS:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--json[Print JSON on stdout (stable field names, see RPC.md)]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
':torrent -- Torrent id or info-hash prefix (8+ hex digits):_default' \
&& ret=0
;;
(files)
_arguments "${_arguments_options[@]}" : \
'--socket=[Control socket of the daemon (default\: \$XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)]:PATH:_files' \
'--timeout=[Seconds to wait for the daemon'\''s answer (default per command\: 30, add and rm 600, recheck 3600; 0 = no limit)]:SECS:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--json[Print JSON on stdout (stable field names, see RPC.md)]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
':torrent -- Torrent id or info-hash prefix (8+ hex digits):_default' \
&& ret=0
;;
(prio)
_arguments "${_arguments_options[@]}" : \
'--socket=[Control socket of the daemon (default\: \$XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)]:PATH:_files' \
'--timeout=[Seconds to wait for the daemon'\''s answer (default per command\: 30, add and rm 600, recheck 3600; 0 = no limit)]:SECS:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--json[Print JSON on stdout (stable field names, see RPC.md)]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
':torrent -- Torrent id or info-hash prefix:_default' \
'*::args -- File numbers (as `files` shows them) or `all`, then the priority\: high, normal, low or skip (skip stops fetching the file):_default' \
&& ret=0
;;
(pause)
_arguments "${_arguments_options[@]}" : \
'--socket=[Control socket of the daemon (default\: \$XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)]:PATH:_files' \
'--timeout=[Seconds to wait for the daemon'\''s answer (default per command\: 30, add and rm 600, recheck 3600; 0 = no limit)]:SECS:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'()--all[Every torrent of the daemon]' \
'--json[Print JSON on stdout (stable field names, see RPC.md)]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
'*::torrents -- Torrent ids or info-hash prefixes (8+ hex digits):_default' \
&& ret=0
;;
(resume)
_arguments "${_arguments_options[@]}" : \
'--socket=[Control socket of the daemon (default\: \$XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)]:PATH:_files' \
'--timeout=[Seconds to wait for the daemon'\''s answer (default per command\: 30, add and rm 600, recheck 3600; 0 = no limit)]:SECS:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'()--all[Every torrent of the daemon]' \
'--json[Print JSON on stdout (stable field names, see RPC.md)]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
'*::torrents -- Torrent ids or info-hash prefixes (8+ hex digits):_default' \
&& ret=0
;;
(rm)
_arguments "${_arguments_options[@]}" : \
'--socket=[Control socket of the daemon (default\: \$XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)]:PATH:_files' \
'--timeout=[Seconds to wait for the daemon'\''s answer (default per command\: 30, add and rm 600, recheck 3600; 0 = no limit)]:SECS:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'()--all[Every torrent of the daemon]' \
'--json[Print JSON on stdout (stable field names, see RPC.md)]' \
'--delete-data[Also delete the downloaded files]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
'*::torrents -- Torrent ids or info-hash prefixes (8+ hex digits):_default' \
&& ret=0
;;
(recheck)
_arguments "${_arguments_options[@]}" : \
'--socket=[Control socket of the daemon (default\: \$XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)]:PATH:_files' \
'--timeout=[Seconds to wait for the daemon'\''s answer (default per command\: 30, add and rm 600, recheck 3600; 0 = no limit)]:SECS:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'()--all[Every torrent of the daemon]' \
'--json[Print JSON on stdout (stable field names, see RPC.md)]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
'*::torrents -- Torrent ids or info-hash prefixes (8+ hex digits):_default' \
&& ret=0
;;
(reannounce)
_arguments "${_arguments_options[@]}" : \
'--socket=[Control socket of the daemon (default\: \$XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)]:PATH:_files' \
'--timeout=[Seconds to wait for the daemon'\''s answer (default per command\: 30, add and rm 600, recheck 3600; 0 = no limit)]:SECS:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'()--all[Every torrent of the daemon]' \
'--json[Print JSON on stdout (stable field names, see RPC.md)]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
'*::torrents -- Torrent ids or info-hash prefixes (8+ hex digits):_default' \
&& ret=0
;;
(limit)
_arguments "${_arguments_options[@]}" : \
'--down=[Download rate, e.g. 10M or 512K; 0 = unlimited]:RATE:_default' \
'--up=[Upload rate, e.g. 1M; 0 = unlimited]:RATE:_default' \
'--socket=[Control socket of the daemon (default\: \$XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)]:PATH:_files' \
'--timeout=[Seconds to wait for the daemon'\''s answer (default per command\: 30, add and rm 600, recheck 3600; 0 = no limit)]:SECS:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--json[Print JSON on stdout (stable field names, see RPC.md)]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
'::torrent -- Torrent id or info-hash prefix; without it the global limits:_default' \
&& ret=0
;;
(strategy)
_arguments "${_arguments_options[@]}" : \
'*--param=[Strategy parameter, e.g. price=0.05, reserve_price=0.01, slots=6 (repeatable)]:K=V:_default' \
'--socket=[Control socket of the daemon (default\: \$XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)]:PATH:_files' \
'--timeout=[Seconds to wait for the daemon'\''s answer (default per command\: 30, add and rm 600, recheck 3600; 0 = no limit)]:SECS:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--json[Print JSON on stdout (stable field names, see RPC.md)]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
'*::args -- Torrent id or info-hash prefix (omit for the global strategies), then the strategy name to set (omit to show)\: `strategy`, `strategy 3`, `strategy proportional`, `strategy 3 fixed --param price=0.2`:_default' \
&& ret=0
;;
(label)
_arguments "${_arguments_options[@]}" : \
'--socket=[Control socket of the daemon (default\: \$XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)]:PATH:_files' \
'--timeout=[Seconds to wait for the daemon'\''s answer (default per command\: 30, add and rm 600, recheck 3600; 0 = no limit)]:SECS:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'()--clear[Remove every label]' \
'--json[Print JSON on stdout (stable field names, see RPC.md)]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
':torrent -- Torrent id or info-hash prefix, then its labels\: `label 3 tv hd`:_default' \
'*::labels -- The labels (they replace the torrent'\''s):_default' \
&& ret=0
;;
(seeding)
_arguments "${_arguments_options[@]}" : \
'--ratio=[Ratio limit\: a number, \`none\` (no limit) or, on a torrent, \`global\`]:R:_default' \
'--idle=[Idle limit in minutes without upload\: a number, \`none\` or, on a torrent, \`global\`]:MIN:_default' \
'--action=[At the limit\: \`stop\`, \`slow-to RATE\` or \`keep-while-earning PRICE\` (tokens per MiB); on a torrent also \`global\`]:ACTION:_default' \
'--socket=[Control socket of the daemon (default\: \$XDG_RUNTIME_DIR/bidtorrent/control.sock, or control.sock in the data dir when --data-dir is given or there is no runtime dir)]:PATH:_files' \
'--timeout=[Seconds to wait for the daemon'\''s answer (default per command\: 30, add and rm 600, recheck 3600; 0 = no limit)]:SECS:_default' \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'--json[Print JSON on stdout (stable field names, see RPC.md)]' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
'::torrent -- Torrent id or info-hash prefix; without it the global rules:_default' \
&& ret=0
;;
(config)
_arguments "${_arguments_options[@]}" : \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
":: :_bidtorrent__subcmd__config_commands" \
"*::: :->config" \
&& ret=0

    case $state in
    (config)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:bidtorrent-config-command-$line[1]:"
        case $line[1] in
            (path)
_arguments "${_arguments_options[@]}" : \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(default)
_arguments "${_arguments_options[@]}" : \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(check)
_arguments "${_arguments_options[@]}" : \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_bidtorrent__subcmd__config__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:bidtorrent-config-help-command-$line[1]:"
        case $line[1] in
            (path)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(default)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(check)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
;;
(completions)
_arguments "${_arguments_options[@]}" : \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
':shell:(bash elvish fish powershell zsh)' \
&& ret=0
;;
(man)
_arguments "${_arguments_options[@]}" : \
'--config=[Configuration file (default\: \$XDG_CONFIG_HOME/bidtorrent/config.toml)]:PATH:_files' \
'--data-dir=[Directory for state\: resume data, session, wallet (default\: \$XDG_DATA_HOME/bidtorrent)]:DIR:_files' \
'*-v[More log output (repeat for more)]' \
'*--verbose[More log output (repeat for more)]' \
'-q[Less output]' \
'--quiet[Less output]' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_bidtorrent__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:bidtorrent-help-command-$line[1]:"
        case $line[1] in
            (tui)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(download)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(seed)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(wallet)
_arguments "${_arguments_options[@]}" : \
":: :_bidtorrent__subcmd__help__subcmd__wallet_commands" \
"*::: :->wallet" \
&& ret=0

    case $state in
    (wallet)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:bidtorrent-help-wallet-command-$line[1]:"
        case $line[1] in
            (show)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(address)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(history)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(export)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(open)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(close)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(redeem)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(pay)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(accept)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(payments)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(deposit)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(withdraw)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
(ledger)
_arguments "${_arguments_options[@]}" : \
":: :_bidtorrent__subcmd__help__subcmd__ledger_commands" \
"*::: :->ledger" \
&& ret=0

    case $state in
    (ledger)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:bidtorrent-help-ledger-command-$line[1]:"
        case $line[1] in
            (serve)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(migrate)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(bench)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(mint)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(audit)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
(create)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(demo)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(daemon)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(add)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(status)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(ls)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(info)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(peers)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(files)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(prio)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(pause)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(resume)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(rm)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(recheck)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(reannounce)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(limit)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(strategy)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(label)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(seeding)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(config)
_arguments "${_arguments_options[@]}" : \
":: :_bidtorrent__subcmd__help__subcmd__config_commands" \
"*::: :->config" \
&& ret=0

    case $state in
    (config)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:bidtorrent-help-config-command-$line[1]:"
        case $line[1] in
            (path)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(default)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(check)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
(completions)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(man)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
}

(( $+functions[_bidtorrent_commands] )) ||
_bidtorrent_commands() {
    local commands; commands=(
'tui:Open the dashboard\: attach to a running daemon, or run the engine in this process' \
'download:Download one torrent in the foreground; exit 0 once every piece is verified' \
'seed:Verify the data of a torrent, then seed it until killed' \
'wallet:The wallet\: identity, balance, payment channels, vouchers, history' \
'ledger:Run and administer a ledger that escrows and settles payment channels' \
'create:Make a .torrent from a file or directory' \
'demo:A whole token market on 127.0.0.1\: embedded ledger, seeders, bidding and plain leechers' \
'daemon:Run the engine headless with its control socket (foreground; for systemd, tmux, ssh)' \
'add:Add .torrent files or magnet links to the running daemon (\`-\` reads one per line)' \
'status:Show the daemon\: pid, port, rates, limits, and whether the market trades' \
'ls:List the daemon'\''s torrents' \
'info:Show one torrent\: progress, files, trackers' \
'peers:Show the peers of one torrent (flags, rates, market bids and payments)' \
'files:Show the files of one torrent with their progress and priority' \
'prio:Set file priorities\: \`prio ID 0 2 skip\`, \`prio ID all normal\`' \
'pause:Pause torrents\: close their peers and stop announcing' \
'resume:Resume paused torrents' \
'rm:Remove torrents from the daemon (the data stays unless --delete-data)' \
'recheck:Hash the data of torrents again' \
'reannounce:Announce to the trackers now' \
'limit:Show or set rate limits, global or of one torrent' \
'strategy:Show or set the market'\''s buyer and seller strategies, global or of one torrent' \
'label:Set the labels of torrents (replacing theirs), or clear them with --clear' \
'seeding:Show or set seeding rules (ratio and idle limits, the action at the limit), global or of one torrent' \
'config:The configuration file\: where it is, its defaults, whether it is valid' \
'completions:Print shell completions (also committed under completions/)' \
'man:Print the man page (roff; the pages of every command are committed under man/)' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'bidtorrent commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__add_commands] )) ||
_bidtorrent__subcmd__add_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent add commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__completions_commands] )) ||
_bidtorrent__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent completions commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__config_commands] )) ||
_bidtorrent__subcmd__config_commands() {
    local commands; commands=(
'path:Print the path of the configuration file in use' \
'default:Print the full default configuration, every key commented' \
'check:Validate the configuration file; errors name the key and the line' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'bidtorrent config commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__config__subcmd__check_commands] )) ||
_bidtorrent__subcmd__config__subcmd__check_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent config check commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__config__subcmd__default_commands] )) ||
_bidtorrent__subcmd__config__subcmd__default_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent config default commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__config__subcmd__help_commands] )) ||
_bidtorrent__subcmd__config__subcmd__help_commands() {
    local commands; commands=(
'path:Print the path of the configuration file in use' \
'default:Print the full default configuration, every key commented' \
'check:Validate the configuration file; errors name the key and the line' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'bidtorrent config help commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__config__subcmd__help__subcmd__check_commands] )) ||
_bidtorrent__subcmd__config__subcmd__help__subcmd__check_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent config help check commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__config__subcmd__help__subcmd__default_commands] )) ||
_bidtorrent__subcmd__config__subcmd__help__subcmd__default_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent config help default commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__config__subcmd__help__subcmd__help_commands] )) ||
_bidtorrent__subcmd__config__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent config help help commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__config__subcmd__help__subcmd__path_commands] )) ||
_bidtorrent__subcmd__config__subcmd__help__subcmd__path_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent config help path commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__config__subcmd__path_commands] )) ||
_bidtorrent__subcmd__config__subcmd__path_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent config path commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__create_commands] )) ||
_bidtorrent__subcmd__create_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent create commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__daemon_commands] )) ||
_bidtorrent__subcmd__daemon_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent daemon commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__demo_commands] )) ||
_bidtorrent__subcmd__demo_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent demo commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__download_commands] )) ||
_bidtorrent__subcmd__download_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent download commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__files_commands] )) ||
_bidtorrent__subcmd__files_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent files commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help_commands] )) ||
_bidtorrent__subcmd__help_commands() {
    local commands; commands=(
'tui:Open the dashboard\: attach to a running daemon, or run the engine in this process' \
'download:Download one torrent in the foreground; exit 0 once every piece is verified' \
'seed:Verify the data of a torrent, then seed it until killed' \
'wallet:The wallet\: identity, balance, payment channels, vouchers, history' \
'ledger:Run and administer a ledger that escrows and settles payment channels' \
'create:Make a .torrent from a file or directory' \
'demo:A whole token market on 127.0.0.1\: embedded ledger, seeders, bidding and plain leechers' \
'daemon:Run the engine headless with its control socket (foreground; for systemd, tmux, ssh)' \
'add:Add .torrent files or magnet links to the running daemon (\`-\` reads one per line)' \
'status:Show the daemon\: pid, port, rates, limits, and whether the market trades' \
'ls:List the daemon'\''s torrents' \
'info:Show one torrent\: progress, files, trackers' \
'peers:Show the peers of one torrent (flags, rates, market bids and payments)' \
'files:Show the files of one torrent with their progress and priority' \
'prio:Set file priorities\: \`prio ID 0 2 skip\`, \`prio ID all normal\`' \
'pause:Pause torrents\: close their peers and stop announcing' \
'resume:Resume paused torrents' \
'rm:Remove torrents from the daemon (the data stays unless --delete-data)' \
'recheck:Hash the data of torrents again' \
'reannounce:Announce to the trackers now' \
'limit:Show or set rate limits, global or of one torrent' \
'strategy:Show or set the market'\''s buyer and seller strategies, global or of one torrent' \
'label:Set the labels of torrents (replacing theirs), or clear them with --clear' \
'seeding:Show or set seeding rules (ratio and idle limits, the action at the limit), global or of one torrent' \
'config:The configuration file\: where it is, its defaults, whether it is valid' \
'completions:Print shell completions (also committed under completions/)' \
'man:Print the man page (roff; the pages of every command are committed under man/)' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'bidtorrent help commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__add_commands] )) ||
_bidtorrent__subcmd__help__subcmd__add_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help add commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__completions_commands] )) ||
_bidtorrent__subcmd__help__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help completions commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__config_commands] )) ||
_bidtorrent__subcmd__help__subcmd__config_commands() {
    local commands; commands=(
'path:Print the path of the configuration file in use' \
'default:Print the full default configuration, every key commented' \
'check:Validate the configuration file; errors name the key and the line' \
    )
    _describe -t commands 'bidtorrent help config commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__config__subcmd__check_commands] )) ||
_bidtorrent__subcmd__help__subcmd__config__subcmd__check_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help config check commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__config__subcmd__default_commands] )) ||
_bidtorrent__subcmd__help__subcmd__config__subcmd__default_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help config default commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__config__subcmd__path_commands] )) ||
_bidtorrent__subcmd__help__subcmd__config__subcmd__path_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help config path commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__create_commands] )) ||
_bidtorrent__subcmd__help__subcmd__create_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help create commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__daemon_commands] )) ||
_bidtorrent__subcmd__help__subcmd__daemon_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help daemon commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__demo_commands] )) ||
_bidtorrent__subcmd__help__subcmd__demo_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help demo commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__download_commands] )) ||
_bidtorrent__subcmd__help__subcmd__download_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help download commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__files_commands] )) ||
_bidtorrent__subcmd__help__subcmd__files_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help files commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__help_commands] )) ||
_bidtorrent__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help help commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__info_commands] )) ||
_bidtorrent__subcmd__help__subcmd__info_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help info commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__label_commands] )) ||
_bidtorrent__subcmd__help__subcmd__label_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help label commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__ledger_commands] )) ||
_bidtorrent__subcmd__help__subcmd__ledger_commands() {
    local commands; commands=(
'serve:Run a ledger service (loopback by default)' \
'migrate:Prepare (or upgrade) a PostgreSQL database for \`ledger serve --store URL\`' \
'bench:Drive ledger servers with N concurrent wallets; print ops/s and p50/p99 latency' \
'mint:Mint AMOUNT tokens into ACCOUNT on a running ledger, signed with its admin key' \
'audit:Show a ledger'\''s id and books (minted = balances + escrowed)\: from a running ledger, or straight from its store with --store URL or --db DIR' \
    )
    _describe -t commands 'bidtorrent help ledger commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__ledger__subcmd__audit_commands] )) ||
_bidtorrent__subcmd__help__subcmd__ledger__subcmd__audit_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help ledger audit commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__ledger__subcmd__bench_commands] )) ||
_bidtorrent__subcmd__help__subcmd__ledger__subcmd__bench_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help ledger bench commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__ledger__subcmd__migrate_commands] )) ||
_bidtorrent__subcmd__help__subcmd__ledger__subcmd__migrate_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help ledger migrate commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__ledger__subcmd__mint_commands] )) ||
_bidtorrent__subcmd__help__subcmd__ledger__subcmd__mint_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help ledger mint commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__ledger__subcmd__serve_commands] )) ||
_bidtorrent__subcmd__help__subcmd__ledger__subcmd__serve_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help ledger serve commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__limit_commands] )) ||
_bidtorrent__subcmd__help__subcmd__limit_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help limit commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__ls_commands] )) ||
_bidtorrent__subcmd__help__subcmd__ls_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help ls commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__man_commands] )) ||
_bidtorrent__subcmd__help__subcmd__man_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help man commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__pause_commands] )) ||
_bidtorrent__subcmd__help__subcmd__pause_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help pause commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__peers_commands] )) ||
_bidtorrent__subcmd__help__subcmd__peers_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help peers commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__prio_commands] )) ||
_bidtorrent__subcmd__help__subcmd__prio_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help prio commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__reannounce_commands] )) ||
_bidtorrent__subcmd__help__subcmd__reannounce_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help reannounce commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__recheck_commands] )) ||
_bidtorrent__subcmd__help__subcmd__recheck_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help recheck commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__resume_commands] )) ||
_bidtorrent__subcmd__help__subcmd__resume_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help resume commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__rm_commands] )) ||
_bidtorrent__subcmd__help__subcmd__rm_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help rm commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__seed_commands] )) ||
_bidtorrent__subcmd__help__subcmd__seed_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help seed commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__seeding_commands] )) ||
_bidtorrent__subcmd__help__subcmd__seeding_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help seeding commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__status_commands] )) ||
_bidtorrent__subcmd__help__subcmd__status_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help status commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__strategy_commands] )) ||
_bidtorrent__subcmd__help__subcmd__strategy_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help strategy commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__tui_commands] )) ||
_bidtorrent__subcmd__help__subcmd__tui_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help tui commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__wallet_commands] )) ||
_bidtorrent__subcmd__help__subcmd__wallet_commands() {
    local commands; commands=(
'show:Show address, balance and channels, fresh from the ledger (fails if it cannot be reached; --offline shows the last known state)' \
'address:Print this wallet'\''s public key (its account on every ledger)' \
'history:Payments, earnings, mints, redemptions and refunds\: one line per channel and day (vouchers summed), local times, totals at the end' \
'export:Print the whole wallet as JSON (without the secret key)' \
'open:Escrow AMOUNT tokens for SELLER in a new payment channel' \
'close:Close a channel (seller\: redeem and close now; buyer\: refund after the grace period)' \
'redeem:Redeem the highest voucher of every incoming channel at the ledger' \
'pay:Pay AMOUNT more on an outgoing channel and emit a payment (certificate + voucher)' \
'accept:Accept payments from a buyer\: a file written by \`wallet pay\` or \`wallet payments\`, or \`-\` for stdin' \
'payments:Print the latest payment of every outgoing channel, one JSON line each (as \`wallet pay\` writes them)\: settles with a seller that missed the last vouchers (\`wallet accept\`)' \
'deposit:Lock AMOUNT tokens of this wallet'\''s chain address in the \`\[chain\]\` vault; the ledger credits them after its confirmations' \
'withdraw:Take AMOUNT tokens out to the chain\: the ledger debits them and signs an authorisation that this wallet submits to the \`\[chain\]\` vault' \
    )
    _describe -t commands 'bidtorrent help wallet commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__wallet__subcmd__accept_commands] )) ||
_bidtorrent__subcmd__help__subcmd__wallet__subcmd__accept_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help wallet accept commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__wallet__subcmd__address_commands] )) ||
_bidtorrent__subcmd__help__subcmd__wallet__subcmd__address_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help wallet address commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__wallet__subcmd__close_commands] )) ||
_bidtorrent__subcmd__help__subcmd__wallet__subcmd__close_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help wallet close commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__wallet__subcmd__deposit_commands] )) ||
_bidtorrent__subcmd__help__subcmd__wallet__subcmd__deposit_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help wallet deposit commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__wallet__subcmd__export_commands] )) ||
_bidtorrent__subcmd__help__subcmd__wallet__subcmd__export_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help wallet export commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__wallet__subcmd__history_commands] )) ||
_bidtorrent__subcmd__help__subcmd__wallet__subcmd__history_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help wallet history commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__wallet__subcmd__open_commands] )) ||
_bidtorrent__subcmd__help__subcmd__wallet__subcmd__open_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help wallet open commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__wallet__subcmd__pay_commands] )) ||
_bidtorrent__subcmd__help__subcmd__wallet__subcmd__pay_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help wallet pay commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__wallet__subcmd__payments_commands] )) ||
_bidtorrent__subcmd__help__subcmd__wallet__subcmd__payments_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help wallet payments commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__wallet__subcmd__redeem_commands] )) ||
_bidtorrent__subcmd__help__subcmd__wallet__subcmd__redeem_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help wallet redeem commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__wallet__subcmd__show_commands] )) ||
_bidtorrent__subcmd__help__subcmd__wallet__subcmd__show_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help wallet show commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__help__subcmd__wallet__subcmd__withdraw_commands] )) ||
_bidtorrent__subcmd__help__subcmd__wallet__subcmd__withdraw_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent help wallet withdraw commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__info_commands] )) ||
_bidtorrent__subcmd__info_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent info commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__label_commands] )) ||
_bidtorrent__subcmd__label_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent label commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__ledger_commands] )) ||
_bidtorrent__subcmd__ledger_commands() {
    local commands; commands=(
'serve:Run a ledger service (loopback by default)' \
'migrate:Prepare (or upgrade) a PostgreSQL database for \`ledger serve --store URL\`' \
'bench:Drive ledger servers with N concurrent wallets; print ops/s and p50/p99 latency' \
'mint:Mint AMOUNT tokens into ACCOUNT on a running ledger, signed with its admin key' \
'audit:Show a ledger'\''s id and books (minted = balances + escrowed)\: from a running ledger, or straight from its store with --store URL or --db DIR' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'bidtorrent ledger commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__ledger__subcmd__audit_commands] )) ||
_bidtorrent__subcmd__ledger__subcmd__audit_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent ledger audit commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__ledger__subcmd__bench_commands] )) ||
_bidtorrent__subcmd__ledger__subcmd__bench_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent ledger bench commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__ledger__subcmd__help_commands] )) ||
_bidtorrent__subcmd__ledger__subcmd__help_commands() {
    local commands; commands=(
'serve:Run a ledger service (loopback by default)' \
'migrate:Prepare (or upgrade) a PostgreSQL database for \`ledger serve --store URL\`' \
'bench:Drive ledger servers with N concurrent wallets; print ops/s and p50/p99 latency' \
'mint:Mint AMOUNT tokens into ACCOUNT on a running ledger, signed with its admin key' \
'audit:Show a ledger'\''s id and books (minted = balances + escrowed)\: from a running ledger, or straight from its store with --store URL or --db DIR' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'bidtorrent ledger help commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__ledger__subcmd__help__subcmd__audit_commands] )) ||
_bidtorrent__subcmd__ledger__subcmd__help__subcmd__audit_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent ledger help audit commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__ledger__subcmd__help__subcmd__bench_commands] )) ||
_bidtorrent__subcmd__ledger__subcmd__help__subcmd__bench_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent ledger help bench commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__ledger__subcmd__help__subcmd__help_commands] )) ||
_bidtorrent__subcmd__ledger__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent ledger help help commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__ledger__subcmd__help__subcmd__migrate_commands] )) ||
_bidtorrent__subcmd__ledger__subcmd__help__subcmd__migrate_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent ledger help migrate commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__ledger__subcmd__help__subcmd__mint_commands] )) ||
_bidtorrent__subcmd__ledger__subcmd__help__subcmd__mint_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent ledger help mint commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__ledger__subcmd__help__subcmd__serve_commands] )) ||
_bidtorrent__subcmd__ledger__subcmd__help__subcmd__serve_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent ledger help serve commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__ledger__subcmd__migrate_commands] )) ||
_bidtorrent__subcmd__ledger__subcmd__migrate_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent ledger migrate commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__ledger__subcmd__mint_commands] )) ||
_bidtorrent__subcmd__ledger__subcmd__mint_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent ledger mint commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__ledger__subcmd__serve_commands] )) ||
_bidtorrent__subcmd__ledger__subcmd__serve_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent ledger serve commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__limit_commands] )) ||
_bidtorrent__subcmd__limit_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent limit commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__ls_commands] )) ||
_bidtorrent__subcmd__ls_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent ls commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__man_commands] )) ||
_bidtorrent__subcmd__man_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent man commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__pause_commands] )) ||
_bidtorrent__subcmd__pause_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent pause commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__peers_commands] )) ||
_bidtorrent__subcmd__peers_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent peers commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__prio_commands] )) ||
_bidtorrent__subcmd__prio_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent prio commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__reannounce_commands] )) ||
_bidtorrent__subcmd__reannounce_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent reannounce commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__recheck_commands] )) ||
_bidtorrent__subcmd__recheck_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent recheck commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__resume_commands] )) ||
_bidtorrent__subcmd__resume_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent resume commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__rm_commands] )) ||
_bidtorrent__subcmd__rm_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent rm commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__seed_commands] )) ||
_bidtorrent__subcmd__seed_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent seed commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__seeding_commands] )) ||
_bidtorrent__subcmd__seeding_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent seeding commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__status_commands] )) ||
_bidtorrent__subcmd__status_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent status commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__strategy_commands] )) ||
_bidtorrent__subcmd__strategy_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent strategy commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__tui_commands] )) ||
_bidtorrent__subcmd__tui_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent tui commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__wallet_commands] )) ||
_bidtorrent__subcmd__wallet_commands() {
    local commands; commands=(
'show:Show address, balance and channels, fresh from the ledger (fails if it cannot be reached; --offline shows the last known state)' \
'address:Print this wallet'\''s public key (its account on every ledger)' \
'history:Payments, earnings, mints, redemptions and refunds\: one line per channel and day (vouchers summed), local times, totals at the end' \
'export:Print the whole wallet as JSON (without the secret key)' \
'open:Escrow AMOUNT tokens for SELLER in a new payment channel' \
'close:Close a channel (seller\: redeem and close now; buyer\: refund after the grace period)' \
'redeem:Redeem the highest voucher of every incoming channel at the ledger' \
'pay:Pay AMOUNT more on an outgoing channel and emit a payment (certificate + voucher)' \
'accept:Accept payments from a buyer\: a file written by \`wallet pay\` or \`wallet payments\`, or \`-\` for stdin' \
'payments:Print the latest payment of every outgoing channel, one JSON line each (as \`wallet pay\` writes them)\: settles with a seller that missed the last vouchers (\`wallet accept\`)' \
'deposit:Lock AMOUNT tokens of this wallet'\''s chain address in the \`\[chain\]\` vault; the ledger credits them after its confirmations' \
'withdraw:Take AMOUNT tokens out to the chain\: the ledger debits them and signs an authorisation that this wallet submits to the \`\[chain\]\` vault' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'bidtorrent wallet commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__wallet__subcmd__accept_commands] )) ||
_bidtorrent__subcmd__wallet__subcmd__accept_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent wallet accept commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__wallet__subcmd__address_commands] )) ||
_bidtorrent__subcmd__wallet__subcmd__address_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent wallet address commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__wallet__subcmd__close_commands] )) ||
_bidtorrent__subcmd__wallet__subcmd__close_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent wallet close commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__wallet__subcmd__deposit_commands] )) ||
_bidtorrent__subcmd__wallet__subcmd__deposit_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent wallet deposit commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__wallet__subcmd__export_commands] )) ||
_bidtorrent__subcmd__wallet__subcmd__export_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent wallet export commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__wallet__subcmd__help_commands] )) ||
_bidtorrent__subcmd__wallet__subcmd__help_commands() {
    local commands; commands=(
'show:Show address, balance and channels, fresh from the ledger (fails if it cannot be reached; --offline shows the last known state)' \
'address:Print this wallet'\''s public key (its account on every ledger)' \
'history:Payments, earnings, mints, redemptions and refunds\: one line per channel and day (vouchers summed), local times, totals at the end' \
'export:Print the whole wallet as JSON (without the secret key)' \
'open:Escrow AMOUNT tokens for SELLER in a new payment channel' \
'close:Close a channel (seller\: redeem and close now; buyer\: refund after the grace period)' \
'redeem:Redeem the highest voucher of every incoming channel at the ledger' \
'pay:Pay AMOUNT more on an outgoing channel and emit a payment (certificate + voucher)' \
'accept:Accept payments from a buyer\: a file written by \`wallet pay\` or \`wallet payments\`, or \`-\` for stdin' \
'payments:Print the latest payment of every outgoing channel, one JSON line each (as \`wallet pay\` writes them)\: settles with a seller that missed the last vouchers (\`wallet accept\`)' \
'deposit:Lock AMOUNT tokens of this wallet'\''s chain address in the \`\[chain\]\` vault; the ledger credits them after its confirmations' \
'withdraw:Take AMOUNT tokens out to the chain\: the ledger debits them and signs an authorisation that this wallet submits to the \`\[chain\]\` vault' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'bidtorrent wallet help commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__wallet__subcmd__help__subcmd__accept_commands] )) ||
_bidtorrent__subcmd__wallet__subcmd__help__subcmd__accept_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent wallet help accept commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__wallet__subcmd__help__subcmd__address_commands] )) ||
_bidtorrent__subcmd__wallet__subcmd__help__subcmd__address_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent wallet help address commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__wallet__subcmd__help__subcmd__close_commands] )) ||
_bidtorrent__subcmd__wallet__subcmd__help__subcmd__close_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent wallet help close commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__wallet__subcmd__help__subcmd__deposit_commands] )) ||
_bidtorrent__subcmd__wallet__subcmd__help__subcmd__deposit_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent wallet help deposit commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__wallet__subcmd__help__subcmd__export_commands] )) ||
_bidtorrent__subcmd__wallet__subcmd__help__subcmd__export_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent wallet help export commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__wallet__subcmd__help__subcmd__help_commands] )) ||
_bidtorrent__subcmd__wallet__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent wallet help help commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__wallet__subcmd__help__subcmd__history_commands] )) ||
_bidtorrent__subcmd__wallet__subcmd__help__subcmd__history_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent wallet help history commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__wallet__subcmd__help__subcmd__open_commands] )) ||
_bidtorrent__subcmd__wallet__subcmd__help__subcmd__open_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent wallet help open commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__wallet__subcmd__help__subcmd__pay_commands] )) ||
_bidtorrent__subcmd__wallet__subcmd__help__subcmd__pay_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent wallet help pay commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__wallet__subcmd__help__subcmd__payments_commands] )) ||
_bidtorrent__subcmd__wallet__subcmd__help__subcmd__payments_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent wallet help payments commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__wallet__subcmd__help__subcmd__redeem_commands] )) ||
_bidtorrent__subcmd__wallet__subcmd__help__subcmd__redeem_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent wallet help redeem commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__wallet__subcmd__help__subcmd__show_commands] )) ||
_bidtorrent__subcmd__wallet__subcmd__help__subcmd__show_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent wallet help show commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__wallet__subcmd__help__subcmd__withdraw_commands] )) ||
_bidtorrent__subcmd__wallet__subcmd__help__subcmd__withdraw_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent wallet help withdraw commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__wallet__subcmd__history_commands] )) ||
_bidtorrent__subcmd__wallet__subcmd__history_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent wallet history commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__wallet__subcmd__open_commands] )) ||
_bidtorrent__subcmd__wallet__subcmd__open_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent wallet open commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__wallet__subcmd__pay_commands] )) ||
_bidtorrent__subcmd__wallet__subcmd__pay_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent wallet pay commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__wallet__subcmd__payments_commands] )) ||
_bidtorrent__subcmd__wallet__subcmd__payments_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent wallet payments commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__wallet__subcmd__redeem_commands] )) ||
_bidtorrent__subcmd__wallet__subcmd__redeem_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent wallet redeem commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__wallet__subcmd__show_commands] )) ||
_bidtorrent__subcmd__wallet__subcmd__show_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent wallet show commands' commands "$@"
}
(( $+functions[_bidtorrent__subcmd__wallet__subcmd__withdraw_commands] )) ||
_bidtorrent__subcmd__wallet__subcmd__withdraw_commands() {
    local commands; commands=()
    _describe -t commands 'bidtorrent wallet withdraw commands' commands "$@"
}

if [ "$funcstack[1]" = "_bidtorrent" ]; then
    _bidtorrent "$@"
else
    compdef _bidtorrent bidtorrent
fi
