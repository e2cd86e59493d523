#!/usr/bin/python3
"""The soak run behind bench/soak.sh (read its header for the knobs).

One socksgate on loopback with auth = pam (pam_wrapper/pam_matrix, as the
integration tests log in) serves, for SOAK_SECS seconds: CONNECT echo
round trips of random sizes (some large enough to take and give back
pipes), UDP ASSOCIATE round trips, BIND with an inbound peer, logins with a
wrong password, clients that reset (SO_LINGER 0) in the middle of a
handshake or a transfer, a pool of idle sessions replaced over time, and a
SIGHUP every SOAK_RELOAD seconds. Every SOAK_SAMPLE seconds it records the
daemon's RSS, descriptors and threads; at the end it stops the load, waits
for the daemon to settle, and reports growth per hour after the warm-up."""
import hashlib
import os
import random
import signal
import socket
import struct
import sys
import threading
import time

import sgcmds
import sgtest

SECS = float(os.environ.get("SOAK_SECS", "1800"))
SAMPLE = float(os.environ.get("SOAK_SAMPLE", "5"))
RELOAD = float(os.environ.get("SOAK_RELOAD", "20"))
WARMUP = float(os.environ.get("SOAK_WARMUP", "180"))
IDLE = int(os.environ.get("SOAK_IDLE", "200"))
CSV = os.environ.get("SOAK_CSV", "")
USERS = {"soak%d" % i: "pw-%d" % i for i in range(8)}

stop = threading.Event()
counts = {}
counts_lock = threading.Lock()


def note(kind, ok=True):
    with counts_lock:
        k = kind if ok else kind + "_failed"
        counts[k] = counts.get(k, 0) + 1


def creds(rng):
    u = rng.choice(sorted(USERS))
    return {"user": u, "password": USERS[u]}


def reset(s):
    """Close with RST instead of FIN."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def do_connect(d, echo, rng):
    s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo.port, **creds(rng))
    with s:
        sgtest.check(rep == 0, "CONNECT reply 0x%02x" % rep)
        # Mostly small; one in eight large enough to take pipes both ways.
        n = rng.choice([1, 100, 3000, 20000]) if rng.random() < 0.875 else rng.randint(1, 4) << 20
        data = rng.randbytes(n)
        got = hashlib.sha256()
        t = threading.Thread(target=s.sendall, args=(data,))
        t.start()
        left = n
        s.settimeout(30)
        while left > 0:
            b = s.recv(min(left, 1 << 16))
            sgtest.check(b, "EOF after %d of %d bytes" % (n - left, n))
            got.update(b)
            left -= len(b)
        t.join(30)
        sgtest.check(got.hexdigest() == hashlib.sha256(data).hexdigest(), "echo corrupted")


def do_udp(d, uecho, rng):
    ctl, relay = sgcmds.associate(d, creds=creds(rng))
    with ctl, sgcmds.udp_socket() as cl:
        for _ in range(rng.randint(1, 5)):
            payload = rng.randbytes(rng.randint(1, 1400))
            cl.sendto(sgcmds.udp_header("127.0.0.1", uecho.port) + payload, relay)
            got = sgcmds.recv_dgram(cl)
            sgtest.check(got is not None, "no UDP answer")
            sgtest.check(sgcmds.parse_udp(got[0])[2] == payload, "UDP payload differs")


def do_bind(d, rng):
    s, rep, bh, bp = sgtest.socks_request(d, "127.0.0.1", 0, cmd=2, **creds(rng))
    with s:
        sgtest.check(rep == 0, "BIND reply 0x%02x" % rep)
        with socket.create_connection((bh, bp), timeout=10) as peer:
            rep, _, _ = sgtest.read_reply(s)
            sgtest.check(rep == 0, "second BIND reply 0x%02x" % rep)
            peer.sendall(b"from the peer")
            sgtest.check(sgtest.recv_exact(s, 13) == b"from the peer", "BIND data")
            s.sendall(b"to the peer")
            sgtest.check(sgtest.recv_exact(peer, 11) == b"to the peer", "BIND data back")


def do_bad_login(d, rng):
    s = sgtest.connect_proxy(d)
    with s:
        sgtest.check(sgtest.greet(s, b"\x02") == 2, "method")
        r = sgtest.userpass(s, rng.choice(sorted(USERS)), "wrong")
        sgtest.check(r[0] == 1 and r[1] != 0, "a wrong password got in")


def do_reset(d, echo, rng):
    if rng.random() < 0.5:
        s = sgtest.connect_proxy(d)
        s.sendall(b"\x05\x01\x02")	# greeting, then gone mid-handshake
        reset(s)
        return
    s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo.port, **creds(rng))
    sgtest.check(rep == 0, "CONNECT reply 0x%02x" % rep)
    s.sendall(rng.randbytes(rng.randint(1, 200000)))
    reset(s)


def load(d, echo, uecho, seed):
    rng = random.Random(seed)
    kinds = (["connect"] * 6 + ["udp"] * 2 + ["bind"] * 2 + ["bad_login"] + ["reset"] * 2)
    while not stop.is_set():
        kind = rng.choice(kinds)
        try:
            if kind == "connect":
                do_connect(d, echo, rng)
            elif kind == "udp":
                do_udp(d, uecho, rng)
            elif kind == "bind":
                do_bind(d, rng)
            elif kind == "bad_login":
                do_bad_login(d, rng)
            else:
                do_reset(d, echo, rng)
            note(kind)
        except (OSError, AssertionError) as e:
            note(kind, False)
            if not stop.is_set():
                sgtest.log("%s failed: %s" % (kind, e))


def idle_pool(d, echo, seed):
    """IDLE sessions held open; one replaced every 100 ms, so each lives
    about IDLE / 10 seconds and goes quiet (pipes and stack given back)."""
    rng = random.Random(seed)
    pool = []
    while not stop.is_set():
        try:
            if len(pool) >= IDLE:
                pool.pop(rng.randrange(len(pool))).close()
            s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo.port, **creds(rng))
            if rep == 0:
                s.sendall(b"x")
                sgtest.check(sgtest.recv_exact(s, 1) == b"x", "idle echo")
                pool.append(s)
            else:
                s.close()
            note("idle")
        except (OSError, AssertionError) as e:
            note("idle", False)
            sgtest.log("idle session failed: %s" % e)
        stop.wait(0.1)
    for s in pool:
        s.close()


def sample(pid):
    st = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "Threads"):
                st[k] = int(v.split()[0])
    return st["VmRSS"], len(os.listdir("/proc/%d/fd" % pid)), st["Threads"]


def slope_per_hour(pts):
    """Least-squares slope of (t, v) points, per hour."""
    n = len(pts)
    if n < 2:
        return 0.0
    mt = sum(t for t, _ in pts) / n
    mv = sum(v for _, v in pts) / n
    den = sum((t - mt) ** 2 for t, _ in pts)
    return 0.0 if den == 0 else 3600 * sum((t - mt) * (v - mv) for t, v in pts) / den


def settle(d, pid, want_fds, want_threads, timeout=90):
    """Waits for the load's sessions and the extra workers to be gone."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rss, fds, thr = sample(pid)
        if fds <= want_fds and thr <= want_threads:
            break
        time.sleep(1)
    return sample(pid)


def main():
    env = sgtest.pam_wrapper_env(USERS)
    cfg = ["auth = pam", "auth_fail_limit = 0", "auth_fail_delay = 0",
           "bind_timeout = 10s"]
    with sgtest.echo_server() as echo, sgcmds.UdpEcho() as uecho, \
            sgtest.Daemon(cfg, env=env) as d:
        uecho.got = _Discard()
        pid = d.proc.pid
        time.sleep(1)
        rss0, fds0, thr0 = sample(pid)
        sgtest.log("start: rss %d KiB, %d descriptors, %d threads" % (rss0, fds0, thr0))
        threads = [threading.Thread(target=load, args=(d, echo, uecho, i), daemon=True)
                   for i in range(6)]
        threads.append(threading.Thread(target=idle_pool, args=(d, echo, 99), daemon=True))
        for t in threads:
            t.start()
        t0 = time.monotonic()
        pts = []
        next_reload = RELOAD
        out = open(CSV, "w") if CSV else None
        if out:
            out.write("t_s,rss_kib,fds,threads\n")
        while True:
            now = time.monotonic() - t0
            if now >= SECS:
                break
            if d.proc.poll() is not None:
                sgtest.log("the daemon died: exit %s" % d.proc.returncode)
                sys.exit(1)
            if now >= next_reload:
                d.signal(signal.SIGHUP)
                note("reload")
                next_reload += RELOAD
            rss, fds, thr = sample(pid)
            pts.append((now, rss, fds, thr))
            if out:
                out.write("%.0f,%d,%d,%d\n" % (now, rss, fds, thr))
                out.flush()
            time.sleep(min(SAMPLE, max(0.1, SECS - now)))
        stop.set()
        for t in threads:
            t.join(60)
        end = time.monotonic() - t0
        rss1, fds1, thr1 = settle(d, pid, fds0, thr0)
        after = [p for p in pts if p[0] >= WARMUP]
        sgtest.log("after the load (settled): rss %d KiB, %d descriptors, %d threads"
                   % (rss1, fds1, thr1))
        with counts_lock:
            sgtest.log("operations: " + ", ".join("%s %d" % kv for kv in sorted(counts.items())))
        print("soak: %.0f s of load, %d samples, growth per hour after %.0f s of warm-up:"
              % (end, len(pts), WARMUP))
        for i, name, unit in ((1, "RSS", "KiB"), (2, "descriptors", ""), (3, "threads", "")):
            vals = [p[i] for p in after] or [0]
            print("  %-11s %+9.1f %s/h  (under load: min %d, max %d, first %d, last %d)"
                  % (name, slope_per_hour([(p[0], p[i]) for p in after]), unit, min(vals),
                     max(vals), vals[0], vals[-1]))
        print("  at rest: before %d KiB, %d descriptors, %d threads; after %d KiB, "
              "%d descriptors, %d threads" % (rss0, fds0, thr0, rss1, fds1, thr1))
        failed = sum(v for k, v in counts.items() if k.endswith("_failed"))
        print("  operations %d, failed %d, reloads %d"
              % (sum(v for k, v in counts.items() if not k.endswith("_failed")), failed,
                 counts.get("reload", 0)))
        rc = d.stop()
        sgtest.check(rc == 0, "the daemon exited %r" % rc)
        ok = fds1 <= fds0 and thr1 <= thr0
        print("soak: %s" % ("no descriptor or thread left behind" if ok else
                            "DESCRIPTORS OR THREADS LEFT BEHIND"))
        return 0 if ok else 1


class _Discard(list):
    """UdpEcho keeps every datagram; the soak would grow with it."""

    def append(self, item):
        pass


if __name__ == "__main__":
    sys.exit(main())
