#!/usr/bin/python3
"""libtorrent 2.0 (python3-libtorrent) as a test peer for bidtorrent's BEP 52 tests.

  lt_peer.py create v2|hybrid SRC OUT PIECE_LEN   make a torrent (no tracker)
  lt_peer.py seed TORRENT SAVE_DIR PORT           check SRC data, seed; prints "seeding"
  lt_peer.py leech TORRENT SAVE_DIR PORT PEER...  download from PEER (host:port); prints "done"

Loopback only: listens on 127.0.0.1, DHT, LSD, UPnP, NAT-PMP and uTP off. Runs until killed
(seed) or until the download completes (leech). Every line it prints is flushed at once so
the test can wait for it.
"""
import os
import sys
import time

import libtorrent as lt


def say(*a):
    print(*a, flush=True)


def session(port):
    s = lt.session({
        "listen_interfaces": "127.0.0.1:%d" % port,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": lt.alert.category_t.error_notification
        | lt.alert.category_t.status_notification,
    })
    return s


def create(kind, src, out, piece_len):
    fs = lt.file_storage()
    lt.add_files(fs, src)
    flags = lt.create_torrent.v2_only if kind == "v2" else 0
    ct = lt.create_torrent(fs, int(piece_len), flags=flags)
    lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(src)))
    with open(out, "wb") as f:
        f.write(lt.bencode(ct.generate()))
    say("created")


def add(s, torrent, save, seed_mode=False):
    p = lt.add_torrent_params()
    p.ti = lt.torrent_info(torrent)
    p.save_path = save
    h = s.add_torrent(p)
    return h


def log_alerts(s):
    for a in s.pop_alerts():
        if a.category() & lt.alert.category_t.error_notification:
            say("alert:", a.message())


def seed(torrent, save, port):
    s = session(int(port))
    h = add(s, torrent, save)
    said = False
    while True:
        log_alerts(s)
        st = h.status()
        if not said and st.is_seeding:
            say("seeding", s.listen_port())
            said = True
        time.sleep(0.1)


def leech(torrent, save, port, peers):
    s = session(int(port))
    h = add(s, torrent, save)
    deadline = time.time() + 120
    last = 0
    while time.time() < deadline:
        log_alerts(s)
        st = h.status()
        if st.is_seeding:
            say("done")
            return 0
        # Re-dial now and then: a refused first attempt must not end the test.
        if time.time() - last > 2:
            for peer in peers:
                host, p = peer.rsplit(":", 1)
                h.connect_peer((host, int(p)))
            last = time.time()
        time.sleep(0.1)
    say("timeout", h.status().progress)
    return 1


def main():
    cmd = sys.argv[1]
    if cmd == "create":
        create(*sys.argv[2:6])
    elif cmd == "seed":
        seed(*sys.argv[2:5])
    elif cmd == "leech":
        sys.exit(leech(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
