#!/usr/bin/env python3
"""The latency mode of bench/run.sh: how long the first byte of a server that
speaks first (an SSH/SMTP/IMAP banner) takes to reach the client.

  latency.py serve PORT             a banner server on 127.0.0.1:PORT
  latency.py measure --target PORT [--proxy HOST:PORT] [--count N]

measure opens N sessions one after the other; through a SOCKS5 proxy (no
authentication) it times from the CONNECT reply to the banner's first byte,
without one from the TCP connect to it. Prints one key=value line:
mode=latency count= p50_ms= p90_ms= p99_ms= mean_ms= errors=."""
import socket
import statistics
import struct
import sys
import threading
import time

BANNER = b"SSH-2.0-bench\r\n"


def serve(port):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(512)

    def one(c):
        try:
            c.sendall(BANNER)
            c.settimeout(10)
            c.recv(1)
        except OSError:
            pass
        finally:
            c.close()
    while True:
        c, _ = ls.accept()
        threading.Thread(target=one, args=(c,), daemon=True).start()


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            raise OSError("closed")
        buf += d
    return buf


def one_session(target, proxy):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        if proxy is None:
            s.connect(("127.0.0.1", target))
            t0 = time.perf_counter()
        else:
            s.connect(proxy)
            s.sendall(b"\x05\x01\x00")
            if recv_exact(s, 2) != b"\x05\x00":
                raise OSError("method refused")
            s.sendall(b"\x05\x01\x00\x01" + socket.inet_aton("127.0.0.1") +
                      struct.pack("!H", target))
            head = recv_exact(s, 4)
            if head[1] != 0:
                raise OSError("reply 0x%02x" % head[1])
            recv_exact(s, {1: 6, 4: 18}.get(head[3], 6))
            t0 = time.perf_counter()
        recv_exact(s, 1)
        return (time.perf_counter() - t0) * 1000
    finally:
        s.close()


def measure(argv):
    target, proxy, count = None, None, 200
    it = iter(argv)
    for a in it:
        if a == "--target":
            target = int(next(it))
        elif a == "--proxy":
            h, p = next(it).rsplit(":", 1)
            proxy = (h, int(p))
        elif a == "--count":
            count = int(next(it))
        else:
            sys.exit("latency.py: unknown argument %s" % a)
    if target is None:
        sys.exit("latency.py: --target PORT is needed")
    ms, errors = [], 0
    for _ in range(count):
        try:
            ms.append(one_session(target, proxy))
        except OSError:
            errors += 1
    if not ms:
        sys.exit("latency.py: no session worked")
    ms.sort()
    q = statistics.quantiles(ms, n=100) if len(ms) > 1 else [ms[0]] * 99
    print("mode=latency count=%d p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f mean_ms=%.3f errors=%d" % (
        len(ms), statistics.median(ms), q[89], q[98], statistics.mean(ms), errors))


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    elif len(sys.argv) >= 2 and sys.argv[1] == "measure":
        measure(sys.argv[2:])
    else:
        sys.exit(__doc__)
