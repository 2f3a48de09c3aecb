#!/usr/bin/python3
"""libtorrent 2.0 (python3-libtorrent) as a test peer for bidtorrent's BEP 52 tests.

  lt_peer.py create v2|hybrid SRC OUT PIECE_LEN   make a torrent (no tracker)
  lt_peer.py seed TORRENT SAVE_DIR PORT           check SRC data, seed; prints "seeding"
  lt_peer.py leech TORRENT SAVE_DIR PORT PEER...  download from PEER (host:port); prints "done"
                                                  (TORRENT may be a magnet link)
  lt_peer.py v1seed TORRENT SAVE_DIR PORT         a minimal v1-only seeder; prints "seeding"

The v1 seeder stands in for v1-only clients in hybrid swarms: aria2 1.36 computes a wrong
info-hash for hybrid torrents and Transmission 3.00 cannot parse them. It speaks plain BEP 3
(no v2 bit, the v1 info-hash only), reads the v1 file list with its BEP 47 padding as zeros,
and serves one connection at a time.

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
    if torrent.startswith("magnet:"):
        # Metadata from the peers; for a v2 torrent the piece layers too, by hash requests.
        p = lt.parse_magnet_uri(torrent)
    else:
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


def v1seed(torrent, save, port):
    import hashlib
    import socket
    import struct

    raw = open(torrent, "rb").read()
    meta = lt.bdecode(raw)
    info = meta[b"info"]
    ih = hashlib.sha1(lt.bencode(info)).digest()
    plen = info[b"piece length"]
    name = info[b"name"].decode()
    files = []  # (path or None for padding, length)
    if b"files" in info:
        for f in info[b"files"]:
            pad = b"p" in f.get(b"attr", b"")
            path = os.path.join(save, name, *[c.decode() for c in f[b"path"]])
            files.append((None if pad else path, f[b"length"]))
    else:
        files.append((os.path.join(save, name), info[b"length"]))
    total = sum(l for _, l in files)
    npieces = (total + plen - 1) // plen

    def read(offset, length):
        out = b""
        pos = 0
        for path, flen in files:
            if offset < pos + flen and length > 0:
                start = offset - pos
                n = min(flen - start, length)
                if path is None:
                    out += bytes(n)
                else:
                    with open(path, "rb") as fh:
                        fh.seek(start)
                        out += fh.read(n)
                offset += n
                length -= n
            pos += flen
        return out

    def recv_exact(c, n):
        b = b""
        while len(b) < n:
            chunk = c.recv(n - len(b))
            if not chunk:
                raise EOFError
            b += chunk
        return b

    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", int(port)))
    srv.listen(4)
    say("seeding", port)
    bits = bytearray((npieces + 7) // 8)
    for i in range(npieces):
        bits[i // 8] |= 0x80 >> (i % 8)
    while True:
        c, _ = srv.accept()
        try:
            hs = recv_exact(c, 68)
            if hs[28:48] != ih:
                say("refused hash", hs[28:48].hex())
                c.close()
                continue
            c.sendall(b"\x13BitTorrent protocol" + bytes(8) + ih + b"-V10001-" + bytes(12))
            c.sendall(struct.pack(">IB", 1 + len(bits), 5) + bytes(bits))
            c.sendall(struct.pack(">IB", 1, 1))
            while True:
                (n,) = struct.unpack(">I", recv_exact(c, 4))
                if n == 0:
                    continue
                body = recv_exact(c, n)
                if body[0] == 6:
                    idx, begin, length = struct.unpack(">III", body[1:13])
                    data = read(idx * plen + begin, length)
                    c.sendall(struct.pack(">IBII", 9 + len(data), 7, idx, begin) + data)
        except (EOFError, OSError):
            c.close()


def main():
    cmd = sys.argv[1]
    if cmd == "create":
        create(*sys.argv[2:6])
    elif cmd == "seed":
        seed(*sys.argv[2:5])
    elif cmd == "v1seed":
        v1seed(*sys.argv[2:5])
    elif cmd == "leech":
        sys.exit(leech(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
