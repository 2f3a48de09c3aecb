# A libtorrent peer for the integration tests (Debian python3-libtorrent): one torrent, seeding
# or leeching, on 127.0.0.1 or ::1 only, with DHT, LSD, UPnP, NAT-PMP and PEX off. Settings come
# as one JSON argument. It prints one line per event on stdout:
#   listening PORT        once the session is up
#   seeding               the data is checked (seeder) or complete (leecher)
#   peer ADDR rc4=0|1 utp=0|1   a connected peer, whenever the set changes
# A leecher exits 0 once complete.
import json
import sys
import time

import libtorrent as lt

cfg = json.loads(sys.argv[1])
forced = lt.enc_policy.forced if cfg.get("encryption") == "forced" else lt.enc_policy.enabled
settings = {
    "listen_interfaces": "%s:%d" % (cfg["iface"], cfg["port"]),
    "enable_dht": False,
    "enable_lsd": False,
    "enable_upnp": False,
    "enable_natpmp": False,
    "out_enc_policy": forced,
    "in_enc_policy": forced,
    "allowed_enc_level": lt.enc_level.rc4 if cfg.get("encryption") == "forced" else lt.enc_level.both,
    "enable_outgoing_tcp": cfg.get("tcp", True),
    "enable_incoming_tcp": cfg.get("tcp", True),
    "enable_outgoing_utp": cfg.get("utp", True),
    "enable_incoming_utp": cfg.get("utp", True),
    "allow_multiple_connections_per_ip": True,
    "announce_to_all_trackers": False,
    "alert_mask": 0,
}
ses = lt.session(settings)
atp = lt.add_torrent_params()
atp.ti = lt.torrent_info(cfg["torrent"])
atp.save_path = cfg["save_path"]
atp.flags &= ~lt.torrent_flags.auto_managed
atp.flags &= ~lt.torrent_flags.paused
h = ses.add_torrent(atp)
print("listening %d" % ses.listen_port(), flush=True)

announced = False
last_peers = None
last_dial = 0.0
while True:
    st = h.status()
    if st.is_seeding and not announced:
        print("seeding", flush=True)
        announced = True
        if not cfg.get("seed"):
            sys.exit(0)
    now = time.time()
    if now - last_dial > 2:
        last_dial = now
        for ip, port in cfg.get("peers", []):
            h.connect_peer((ip, port))
    peers = sorted(
        "peer %s:%d rc4=%d utp=%d"
        % (
            p.ip[0],
            p.ip[1],
            1 if p.flags & lt.peer_info.rc4_encrypted else 0,
            # utp_socket (bit 17) is not exported by the Python bindings.
            1 if int(p.flags) & (1 << 17) else 0,
        )
        for p in h.get_peer_info()
    )
    if peers != last_peers:
        for line in peers:
            print(line, flush=True)
        last_peers = peers
    time.sleep(0.05)
