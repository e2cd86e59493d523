"""The bulk scenario of 131 and 132: through a protected GSSAPI session,
16 MiB up to a sink that answers with their sha256 after the client's EOF,
then 16 MiB down from a source with the sha256 checked by the client."""
import hashlib
import os

import sggss
import sgtest

SIZE = 16 << 20


def sink_handler(c):
    """Hashes everything until EOF, then sends the hex digest and closes."""
    h = hashlib.sha256()
    n = 0
    while True:
        d = c.recv(1 << 16)
        if not d:
            break
        h.update(d)
        n += len(d)
    c.sendall(("%d %s" % (n, h.hexdigest())).encode())


def source_handler(c):
    """Sends SIZE bytes (derived from a fixed seed) and closes."""
    block = hashlib.sha256(b"seed").digest() * 2048  # 64 KiB
    for _ in range(SIZE // len(block)):
        c.sendall(block)


def expected_down():
    block = hashlib.sha256(b"seed").digest() * 2048
    h = hashlib.sha256()
    for _ in range(SIZE // len(block)):
        h.update(block)
    return h.hexdigest()


def run(level):
    name = {sggss.INTEGRITY: "integrity", sggss.CONFIDENTIALITY: "confidentiality"}[level]
    data = os.urandom(SIZE)
    with sggss.realm_and_daemon() as (realm, d), sgtest.Server(sink_handler) as sink, \
            sgtest.Server(source_handler) as source:
        with sggss.Client(d, timeout=60) as c:
            sgtest.check(c.login(level) == level, "server did not agree to %s" % name)
            rep, _, _ = c.request("127.0.0.1", sink.port)
            sgtest.check(rep == 0, "CONNECT reply 0x%02x" % rep)
            c.send(data)
            c.shutdown_write()  # half-close: the sink answers after EOF
            answer = c.recv_all().decode()
        sgtest.check(answer == "%d %s" % (SIZE, sgtest.sha256(data)),
                     "up: the sink got %r" % answer)
        d.wait_log(r"session \d+ ")
        rec = d.last_session()
        sgtest.check(rec.get("protection") == name and rec.get("auth") == "gssapi",
                     "record: %r" % rec)
        sgtest.check(int(rec["up"]) == SIZE, "record counts %s bytes up" % rec["up"])

        n = len(d.sessions())
        with sggss.Client(d, timeout=60) as c:
            sgtest.check(c.login(level) == level, "server did not agree to %s" % name)
            rep, _, _ = c.request("127.0.0.1", source.port)
            sgtest.check(rep == 0, "CONNECT reply 0x%02x" % rep)
            got = c.recv_all()
        sgtest.check(len(got) == SIZE, "down: %d bytes of %d" % (len(got), SIZE))
        sgtest.check(sgtest.sha256(got) == expected_down(), "down: sha256 differs")
        d.wait_log(r"session \d+ ", count=n + 1)
        rec = d.last_session()
        sgtest.check(int(rec["down"]) == SIZE and rec.get("protection") == name,
                     "record: %r" % rec)
        sgtest.check(rec["reason"] is None, "record: %r" % rec)
