#!/usr/bin/python3
"""Malformed input gets a clean close and a record with a reason, never a
crash: garbage, a SOCKS4 CONNECT and an HTTP request are closed without a
reply that looks like success; a greeting with no methods gets 0xFF; a domain
request with an empty name gets a failure reply and a close. Then 300 seeded
random byte strings (0..600 bytes) after a valid greeting: the daemon stays
up, and a normal client is served afterwards."""
import random
import socket
import struct
import threading
import time

import sgtest

FUZZ_CASES = 300
SEED = 1928


def send_and_collect(d, data, greet=False, timeout=5):
    """Sends data (after a greeting when asked), half-closes, and returns
    everything the gateway sent before it closed (EOF or reset)."""
    s = sgtest.connect_proxy(d)
    if greet:
        assert sgtest.greet(s) == 0
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
    except (ConnectionResetError, BrokenPipeError):
        pass
    s.settimeout(timeout)
    got = bytearray()
    try:
        while True:
            b = s.recv(4096)
            if not b:
                break
            got += b
    except (ConnectionResetError, BrokenPipeError):
        pass
    except socket.timeout:
        raise AssertionError("no close within %ds after %r" % (timeout, data[:40]))
    finally:
        s.close()
    return bytes(got)


def assert_no_success(got, what):
    assert not got.startswith(b"\x05\x00"), "%s: got a SOCKS5 success %r" % (what, got)
    assert not (len(got) >= 2 and got[1] == 0x5A), "%s: got a SOCKS4 grant %r" % (what, got)
    assert got == b"", "%s: unexpected reply bytes %r" % (what, got)


def normal_client(d, echo):
    s, rep, _, _ = sgtest.socks_request(d, "127.0.0.1", echo.port)
    assert rep == 0, "normal client: reply 0x%02x" % rep
    s.sendall(b"still alive")
    assert sgtest.recv_exact(s, 11) == b"still alive"
    s.close()


def loopback_addr(rng, echo_port):
    kind = rng.randrange(3)
    if kind == 0:
        return b"\x01\x7f\x00\x00\x01" + struct.pack("!H", echo_port)
    if kind == 1:
        return b"\x04" + socket.inet_pton(socket.AF_INET6, "::1") + struct.pack("!H", echo_port)
    return b"\x03\x09localhost" + struct.pack("!H", echo_port)


def fuzz_case(rng, echo_port):
    """A random request-shaped or shapeless string. Whatever would parse as a
    complete request with a known address type is pointed at the local echo
    server, so nothing ever leaves loopback (and no name goes to DNS)."""
    n = rng.randrange(0, 601)
    raw = bytearray(rng.getrandbits(8) for _ in range(n))
    style = rng.randrange(4)
    if style == 0 or n < 4:
        data = raw                                  # shapeless
    else:
        data = bytearray(b"\x05")
        data.append(rng.choice([0x00, 0x01, 0x02, 0x03, 0x04, 0x7f, 0xff]))
        data.append(rng.choice([0x00, 0x00, 0x01, 0xff]))
        data.append(rng.choice([0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0xff]))
        data += raw[4:]
        if style == 3:                              # truncated somewhere
            data = data[:rng.randrange(0, len(data) + 1)]
    # Keep it local: a complete request with a real address type is rewritten.
    if len(data) >= 4 and data[0] == 5 and data[3] in (1, 3, 4):
        atyp = data[3]
        alen = {1: 4, 4: 16}.get(atyp)
        if alen is None:
            alen = 1 + data[4] if len(data) > 4 else None
        if alen is not None and len(data) >= 4 + alen + 2 and not (atyp == 3 and data[4] == 0):
            if data[1] in (0x02, 0x03):
                # BIND and UDP ASSOCIATE are tested on their own; here they
                # could wait for peers that never come.
                data[1] = 0x01
            data = data[:3] + loopback_addr(rng, echo_port) + data[4 + alen + 2:]
    return bytes(data)


def test():
    with sgtest.echo_server() as echo, sgtest.Daemon(["auth = none",
                                                       "handshake_timeout = 2s"]) as d:
        nsess = 0

        got = send_and_collect(d, b"\x00\x13\x37 this is not a protocol \xff\xfe\x01" * 3)
        assert_no_success(got, "garbage")
        nsess += 1
        s4 = b"\x04\x01" + struct.pack("!H", echo.port) + b"\x7f\x00\x00\x01" + b"user\x00"
        got = send_and_collect(d, s4)
        assert_no_success(got, "SOCKS4 CONNECT")
        nsess += 1
        got = send_and_collect(d, b"GET / HTTP/1.1\r\nHost: example\r\n\r\n")
        assert_no_success(got, "HTTP GET")
        nsess += 1

        # nmethods = 0: nothing acceptable was offered.
        got = send_and_collect(d, b"\x05\x00")
        assert got == b"\x05\xff", "nmethods=0: got %r" % got
        nsess += 1

        # A domain name of length 0.
        s = sgtest.connect_proxy(d)
        assert sgtest.greet(s) == 0
        s.sendall(b"\x05\x01\x00\x03\x00" + struct.pack("!H", echo.port))
        rep, _, _ = sgtest.read_reply(s)
        assert rep != 0, "empty domain name: reply 0x00"
        assert sgtest.closed_by_peer(s, 5), "empty domain name: connection left open"
        s.close()
        nsess += 1

        normal_client(d, echo)
        nsess += 1

        d.wait_log(r"session \d+ ", count=nsess)
        recs = sorted(d.sessions(), key=lambda r: r["id"])
        names = ["garbage", "SOCKS4", "HTTP", "nmethods=0", "empty name"]
        for rec, what in zip(recs, names):
            assert rec["reason"], "%s: record without a reason: %r" % (what, rec)
            assert not rec["reply"].startswith("0x00"), "%s: %r" % (what, rec)
            sgtest.log("%s: %s" % (what, rec["reason"]))
        assert "SOCKS4" in recs[1]["reason"], recs[1]
        assert recs[5]["reply"].startswith("0x00"), recs[5]

        # Fuzz, a few clients at a time.
        rng = random.Random(SEED)
        cases = [fuzz_case(rng, echo.port) for _ in range(FUZZ_CASES)]
        errors = []
        lock = threading.Lock()
        todo = list(enumerate(cases))

        def worker():
            while True:
                with lock:
                    if not todo:
                        return
                    i, data = todo.pop()
                try:
                    send_and_collect(d, data, greet=True, timeout=10)
                except BaseException as e:  # collected below
                    with lock:
                        errors.append((i, data[:16], e))

        t0 = time.monotonic()
        threads = [threading.Thread(target=worker, daemon=True) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not any(t.is_alive() for t in threads), "fuzz clients stuck"
        assert d.proc.poll() is None, "socksgate died during the fuzz:\n" + d.log()
        assert not errors, "%d fuzz cases failed, first: %r" % (len(errors), errors[:3])
        nsess += FUZZ_CASES
        sgtest.log("%d fuzz cases in %.2fs" % (FUZZ_CASES, time.monotonic() - t0))

        normal_client(d, echo)
        nsess += 1
        d.wait_log(r"session \d+ ", count=nsess, timeout=15)
        assert len(d.sessions()) == nsess, "%d records for %d sessions" % (len(d.sessions()),
                                                                           nsess)
        assert d.proc.poll() is None, "socksgate died"


sgtest.main(test)
