#!/usr/bin/python3
"""Slow and hostile control clients stall nothing: one that sends nothing
and one that sends a byte a second are cut off at the request deadline with
a timeout answer while socksgatectl status from another client answers at
once and SOCKS sessions go on; with every client slot held, a new client
waits in the backlog and is served once a slot frees. Garbage of each kind
gets its error code and a close."""
import json
import socket
import threading
import time

import sgtest

REQUEST_DEADLINE = 3.0  # CONTROL_REQUEST_MS
SLOTS = 4               # CONTROL_CLIENTS_MAX


def control_conn(d):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(15)
    s.connect(d.control)
    return s


def answer_and_close(s):
    """The one JSON line the daemon sends, then EOF."""
    data = sgtest.recv_all(s, timeout=15)
    assert data.endswith(b"\n") and data.count(b"\n") == 1, data
    return json.loads(data)


def dripper(s, stop):
    for b in b"v1 status\n"[:-1]:
        if stop.is_set():
            return
        try:
            s.sendall(bytes([b]))
        except OSError:
            return
        time.sleep(1)


def check_slow_clients(d, echo):
    silent = control_conn(d)
    slow = control_conn(d)
    stop = threading.Event()
    t = threading.Thread(target=dripper, args=(slow, stop), daemon=True)
    t0 = time.monotonic()
    t.start()
    for _ in range(3):
        t1 = time.monotonic()
        st = d.ctl_json("status")
        assert st["ok"], st
        assert time.monotonic() - t1 < 1.5, "status waited on the slow clients"
        sgtest.echo_round_trip(d, echo.port, b"through the gateway")
    for s in (silent, slow):
        a = answer_and_close(s)
        took = time.monotonic() - t0
        assert a["ok"] is False and a["code"] == "timeout", a
        assert REQUEST_DEADLINE - 0.5 < took < REQUEST_DEADLINE + 3, took
        s.close()
    stop.set()
    t.join()


def check_backlog(d):
    held = [control_conn(d) for _ in range(SLOTS)]
    time.sleep(0.3)  # accepted: every slot is taken
    t0 = time.monotonic()
    st = d.ctl_json("status")
    took = time.monotonic() - t0
    assert st["ok"], st
    assert took < REQUEST_DEADLINE + 3, "the waiting client was not served: %.1f s" % took
    sgtest.log("served from the backlog after %.1f s" % took)
    for s in held:
        assert answer_and_close(s)["code"] == "timeout"
        s.close()


def check_garbage(d):
    cases = [
        (b"\x00\x01\x02garbage\n", "bad_request"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "bad_version"),
        (b"v1 frobnicate\n", "unknown_command"),
        (b"v1 kill id=abc\n", "bad_argument"),
        (b"A" * 5000, "too_long"),
        (b"\n", "bad_request"),
    ]
    for data, code in cases:
        s = control_conn(d)
        s.sendall(data)
        a = answer_and_close(s)
        assert a["ok"] is False and a["code"] == code and a["error"], (data[:20], a)
        s.close()
    # Gone before a whole request: nothing to answer, nothing breaks.
    s = control_conn(d)
    s.sendall(b"v1 sta")
    s.close()


def test():
    with sgtest.echo_server() as echo, sgtest.Daemon(["auth = none"]) as d:
        check_slow_clients(d, echo)
        check_backlog(d)
        check_garbage(d)
        assert d.ctl_json("status")["ok"]
        sgtest.echo_round_trip(d, echo.port, b"still serving")


sgtest.main(test)
