#!/usr/bin/python3
"""The GSSAPI benchmark of bench/run.sh (BENCH_GSSAPI=1): one socksgate on
loopback with methods = gssapi userpass none, a throwaway MIT KDC
(tests/integration/sgkrb5.py), and the same Python client for every row,
so the ratios compare the gateway's methods and not two clients:

  session rate: connect, greeting, [RFC 1929 login | RFC 1961 context with
      no protection], CONNECT, 64 B each way, close; no-auth, userpass
      (a pam_matrix account; the credential cache answers after the first
      login, as for returning users) and gssapi (the client's service
      ticket is cached: one AP-REQ per session, no KDC round trip);
  bulk: streams from a target to the client, plain (no-auth) and under
      GSSAPI confidentiality (every message gss_wrap'ed by the gateway and
      unwrapped by the client).

usage: bench/gssbench.py SOCKSGATE [SECS] [RATE_CONNS] [BULK_CONNS]
Prints a markdown table. Exit 0 measured, 1 failed, 77 packages missing."""

import multiprocessing
import os
import socket
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
os.environ.setdefault("TOP_SRCDIR", os.path.join(HERE, ".."))

BLOCK = os.urandom(1 << 16)


def serve(c):
    try:
        first = c.recv(64)
        if first[:1] == b"B":
            while True:
                c.sendall(BLOCK)
        else:
            c.sendall(b"r" * 64)
    except OSError:
        pass
    finally:
        c.close()


def target(lsock):
    """Rate target: reads 64 B, answers 64 B, closes. Bulk target (first
    byte 'B'): streams BLOCK until the client goes away. A thread each."""
    import threading
    while True:
        c, _ = lsock.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def session(port, tport, method, bulk_until=None):
    """One session; returns the bytes read (bulk) or 0."""
    import sggss
    import sgtest

    class D:  # what sgtest.connect_proxy reads of a Daemon
        host = "127.0.0.1"
    d = D()
    d.port = port
    c = sggss.Client(d, timeout=30)
    try:
        if method == "gssapi" or method == "gssapi-conf":
            level = sggss.CONFIDENTIALITY if method == "gssapi-conf" else sggss.NONE
            sgtest.check(c.login(level) == level, "level refused")
        elif method == "userpass":
            sgtest.check(c.greet(b"\x02") == 2, "no userpass")
            c.s.sendall(b"\x01\x05bench\x0abench-pass")
            sgtest.check(sgtest.recv_exact(c.s, 2) == b"\x01\x00", "login refused")
        else:
            sgtest.check(c.greet(b"\x00") == 0, "no method none")
        rep, _, _ = c.request("127.0.0.1", tport)
        sgtest.check(rep == 0, "reply %d" % rep)
        if bulk_until is None:
            c.send(b"q" * 64)
            sgtest.check(len(c.recv_exact(64)) == 64, "short answer")
            return 0
        c.send(b"B" * 64)
        n = 0
        while time.monotonic() < bulk_until:
            n += len(c.recv_message())
        return n
    finally:
        c.close()


def loop(args):
    port, tport, method, start, end, env = args
    os.environ.update(env)
    count = 0
    while time.monotonic() < end:
        session(port, tport, method)
        if time.monotonic() >= start:
            count += 1
    return count


def stream(args):
    port, tport, method, start, end, env = args
    os.environ.update(env)
    while time.monotonic() < start:
        time.sleep(0.01)
    return session(port, tport, method, bulk_until=end)


def measure(pool, fn, n, port, tport, method, secs, env, warmup=1.0):
    start = time.monotonic() + warmup
    end = start + secs
    results = pool.map(fn, [(port, tport, method, start, end, env)] * n)
    return sum(results) / secs


def main():
    if len(sys.argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    os.environ["SOCKSGATE"] = os.path.abspath(sys.argv[1])
    secs = float(sys.argv[2]) if len(sys.argv) > 2 else 8
    rate_conns = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    bulk_conns = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    import sgtest
    import sgkrb5
    try:
        import gssapi  # noqa: F401
    except ImportError:
        print("gssbench: python3-gssapi is not installed")
        return 77
    import sggss
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(512)
    tport = lsock.getsockname()[1]
    tpid = os.fork()
    if tpid == 0:
        target(lsock)
    lsock.close()
    rows = {}
    try:
        with sgkrb5.Realm() as realm:
            sggss.setup_realm(realm)
            env = sggss.daemon_env(realm, {"bench": "bench-pass"})
            conf = sggss.daemon_config(realm, "gssapi userpass none",
                                       ["gssapi_protection = none confidentiality",
                                        "log_level = notice", "workers_min = 16"])
            cenv = realm.env()
            with sgtest.Daemon(conf, env=env) as d, multiprocessing.Pool(
                    max(rate_conns, bulk_conns)) as pool:
                for m in ("none", "userpass", "gssapi"):
                    rows[("rate", m)] = measure(pool, loop, rate_conns, d.port, tport, m, secs,
                                                cenv)
                for m in ("none", "gssapi-conf"):
                    rows[("bulk", m)] = measure(pool, stream, bulk_conns, d.port, tport, m,
                                                secs, cenv) / 1e6
    finally:
        os.kill(tpid, 15)
        os.waitpid(tpid, 0)
    base_r, base_b = rows[("rate", "none")], rows[("bulk", "none")]
    print("| socksgate, same run, same client (python3-gssapi) | sessions/s | ÷ no-auth |"
          " bulk MB/s | ÷ no-auth |")
    print("|---|---:|---:|---:|---:|")
    print("| no-auth (method 0x00) | %.0f | 1.00 | %.0f | 1.00 |" % (base_r, base_b))
    print("| userpass (PAM, cached) | %.0f | %.2f | — | — |" % (
        rows[("rate", "userpass")], rows[("rate", "userpass")] / base_r))
    print("| gssapi, no protection | %.0f | %.2f | — | — |" % (
        rows[("rate", "gssapi")], rows[("rate", "gssapi")] / base_r))
    print("| gssapi, confidentiality | — | — | %.0f | %.2f |" % (
        rows[("bulk", "gssapi-conf")], rows[("bulk", "gssapi-conf")] / base_b))
    print()
    print("rate: %d loops, %gs after 1s warm-up, 64 B each way per session; bulk: %d streams "
          "down for %gs; %s CPUs shared by the Python clients, the target and the gateway."
          % (rate_conns, secs, bulk_conns, secs, os.cpu_count()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
