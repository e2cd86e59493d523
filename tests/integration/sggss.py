"""An RFC 1961 SOCKS5 client on python3-gssapi (MIT krb5 underneath), since
no packaged SOCKS client completes the GSSAPI method: the greeting with
0x01, the context-token loop, the protection-level message (wrapped as the
RFC says, or the NEC variant's bare octet), then, on a protected session,
the request, the reply and every byte of data as encapsulated messages
(section 5). Also the setup the GSSAPI tests share: a realm with alice and
the gateway's service key, and a daemon configured for it. Every wait is
bounded."""

import contextlib
import hashlib
import os
import struct

import sgkrb5
import sgtest

NONE, INTEGRITY, CONFIDENTIALITY = 0, 1, 2
AUTH, PROTECTION, DATA, ABORT = 1, 2, 3, 0xFF
LOCAL_USER = "nobody"  # alice@REALM maps to it (auth_to_local_names): an account every Debian has


class Refused(Exception):
    """The server sent the abort message 0x01 0xff (or closed instead)."""


def map_names(realm, names):
    """Adds auth_to_local_names (principal name -> local account) to the
    realm's krb5.conf, which the daemon reads through KRB5_CONFIG."""
    with open(realm.krb5_conf) as f:
        text = f.read()
    kdc = "        kdc = 127.0.0.1:%d\n" % realm.port
    sgtest.check(kdc in text, "the realm's krb5.conf has no kdc line to add the names after")
    block = "        auth_to_local_names = {\n%s        }\n" % "".join(
        "            %s = %s\n" % kv for kv in names.items())
    with open(realm.krb5_conf, "w") as f:
        f.write(text.replace(kdc, kdc + block))


def setup_realm(realm, users=("alice",), password="alice-pw"):
    """alice (password alice-pw) mapped to LOCAL_USER, the gateway's
    rcmd/HOST key in realm.keytab, and a ticket for alice in realm.ccache."""
    for u in users:
        realm.addprinc(u, password=password)
    realm.addprinc("%s/%s" % (sgkrb5.SERVICE, realm.host))
    realm.ktadd("%s/%s" % (sgkrb5.SERVICE, realm.host))
    map_names(realm, {"alice": LOCAL_USER})
    realm.kinit(users[0], password)
    realm.activate()


def daemon_config(realm, methods="gssapi userpass", extra=()):
    return ["methods = " + methods, "gssapi_keytab = " + realm.keytab,
            "gssapi_hostname = " + realm.host, "auth_fail_delay = 0"] + list(extra)


def daemon_env(realm, pam_users=None):
    """The daemon's environment: the realm's krb5.conf, and a pam_matrix
    stack whose account step knows LOCAL_USER (and pam_users)."""
    users = {LOCAL_USER: "unused-password"}
    users.update(pam_users or {})
    env = sgtest.pam_wrapper_env(users)
    env.update(realm.env())
    return env


def frame(mtyp, token):
    return bytes([1, mtyp]) + struct.pack("!H", len(token)) + token


class Client:
    """One connection to the daemon d speaking the GSSAPI method."""

    def __init__(self, d, host=sgkrb5.HOST, service=sgkrb5.SERVICE, timeout=10):
        import gssapi
        self.gssapi = gssapi
        self.s = sgtest.connect_proxy(d, timeout)
        self.timeout = timeout
        self.target = gssapi.Name("%s@%s" % (service, host),
                                  name_type=gssapi.NameType.hostbased_service)
        self.ctx = None
        self.level = None

    def close(self):
        self.s.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()
        return False

    def greet(self, methods=b"\x01"):
        return sgtest.greet(self.s, methods)

    def read_frame(self, mtyp):
        """The token of the next message of type mtyp; Refused on an abort
        or a close."""
        try:
            head = sgtest.recv_exact(self.s, 2, self.timeout)
        except (AssertionError, ConnectionResetError) as e:
            raise Refused("closed: %s" % e)
        if head == b"\x01\xff":
            raise Refused("abort message")
        sgtest.check(head == bytes([1, mtyp]), "expected message type %d, got %r" % (mtyp, head))
        n = struct.unpack("!H", sgtest.recv_exact(self.s, 2, self.timeout))[0]
        sgtest.check(n > 0, "a zero-length token")
        return sgtest.recv_exact(self.s, n, self.timeout)

    def establish(self, flags=None):
        """The context loop of section 3 with alice's ticket; raises
        Refused when the server aborts. A client that cannot even start
        (no ticket) sends the abort itself and raises the GSS error."""
        g = self.gssapi
        if flags is None:
            flags = [g.RequirementFlag.mutual_authentication, g.RequirementFlag.integrity,
                     g.RequirementFlag.confidentiality, g.RequirementFlag.replay_detection,
                     g.RequirementFlag.out_of_sequence_detection]
        self.ctx = g.SecurityContext(name=self.target, usage="initiate", flags=flags)
        try:
            token = self.ctx.step()
        except g.exceptions.GSSError:
            self.s.sendall(b"\x01\xff")
            raise
        while True:
            if token:
                self.s.sendall(frame(AUTH, token))
            if self.ctx.complete:
                return
            token = self.ctx.step(self.read_frame(AUTH))

    def protection(self, level, nec=False):
        """Asks for level (section 4); returns the level the server chose."""
        octet = bytes([level])
        self.s.sendall(frame(PROTECTION, octet if nec else self.ctx.wrap(octet, False).message))
        tok = self.read_frame(PROTECTION)
        answer = tok if nec else self.ctx.unwrap(tok).message
        sgtest.check(len(answer) == 1, "protection answer of %d bytes" % len(answer))
        self.level = answer[0]
        return self.level

    def login(self, level=NONE, nec=False):
        sgtest.check(self.greet() == 1, "the server did not choose GSSAPI")
        self.establish()
        return self.protection(level, nec)

    # Section 5: everything after the protection level, when protected.

    def protected(self):
        return self.level in (INTEGRITY, CONFIDENTIALITY)

    def send(self, data):
        if not self.protected():
            self.s.sendall(data)
            return
        conf = self.level == CONFIDENTIALITY
        limit = self.ctx.get_wrap_size_limit(65535, conf)
        out = bytearray()
        for i in range(0, len(data), limit):
            w = self.ctx.wrap(data[i:i + limit], conf)
            sgtest.check(w.encrypted == conf, "wrap gave encrypted=%r" % w.encrypted)
            out += frame(DATA, w.message)
            if len(out) > 1 << 20:
                self.s.sendall(out)
                out = bytearray()
        self.s.sendall(out)

    def recv_message(self):
        """The next piece of data from the server: one unwrapped message
        when protected (b"" at EOF between messages)."""
        if not self.protected():
            self.s.settimeout(self.timeout)
            return self.s.recv(1 << 16)
        self.s.settimeout(self.timeout)
        head = b""
        while len(head) < 4:
            d = self.s.recv(4 - len(head))
            if not d:
                sgtest.check(head == b"", "EOF inside a message header")
                return b""
            head += d
        sgtest.check(head[:2] == bytes([1, DATA]), "expected a data message, got %r" % head)
        tok = sgtest.recv_exact(self.s, struct.unpack("!H", head[2:])[0], self.timeout)
        u = self.ctx.unwrap(tok)
        sgtest.check(u.encrypted == (self.level == CONFIDENTIALITY),
                     "a message with encrypted=%r at level %d" % (u.encrypted, self.level))
        return u.message

    def recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            d = self.recv_message()
            sgtest.check(d, "EOF after %d of %d bytes" % (len(buf), n))
            buf += d
        return bytes(buf)

    def recv_all(self):
        buf = bytearray()
        while True:
            d = self.recv_message()
            if not d:
                return bytes(buf)
            buf += d

    def request(self, host, port, cmd=1):
        """A SOCKS5 request; returns (rep, bound_host, bound_port)."""
        self.send(b"\x05" + bytes([cmd]) + b"\x00" + sgtest.encode_addr(host, port))
        if not self.protected():
            return sgtest.read_reply(self.s, self.timeout)
        reply = self.recv_message()
        sgtest.check(len(reply) >= 10 and reply[0] == 5, "reply %r" % reply)
        if reply[3] == 1:
            import ipaddress
            return reply[1], str(ipaddress.IPv4Address(reply[4:8])), struct.unpack(
                "!H", reply[8:10])[0]
        return reply[1], None, None

    def shutdown_write(self):
        import socket
        self.s.shutdown(socket.SHUT_WR)


@contextlib.contextmanager
def realm_and_daemon(methods="gssapi userpass", extra=(), pam_users=None):
    """A started realm set up by setup_realm() and a daemon for it."""
    sgkrb5.require()
    with sgkrb5.Realm() as realm:
        setup_realm(realm)
        with sgtest.Daemon(daemon_config(realm, methods, extra),
                           env=daemon_env(realm, pam_users)) as d:
            yield realm, d


def http_server(body):
    """A loopback HTTP/1.0 server answering every request with body."""
    def handler(c):
        data = b""
        while b"\r\n\r\n" not in data:
            d = c.recv(4096)
            if not d:
                return
            data += d
        c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    return sgtest.Server(handler)


# The bulk scenario of 131 and 132: through a protected session, BULK_SIZE
# bytes up to a sink that answers with their sha256 after the client's EOF,
# then BULK_SIZE bytes down from a source, the sha256 checked by the client.

BULK_SIZE = 16 << 20


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
    """Sends BULK_SIZE bytes (derived from a fixed seed) and closes."""
    block = hashlib.sha256(b"seed").digest() * 2048  # 64 KiB
    for _ in range(BULK_SIZE // len(block)):
        c.sendall(block)


def expected_down():
    block = hashlib.sha256(b"seed").digest() * 2048
    h = hashlib.sha256()
    for _ in range(BULK_SIZE // len(block)):
        h.update(block)
    return h.hexdigest()


def bulk(level):
    name = {INTEGRITY: "integrity", CONFIDENTIALITY: "confidentiality"}[level]
    data = os.urandom(BULK_SIZE)
    with realm_and_daemon(extra=["gssapi_protection = " + name]) as (realm, d), \
            sgtest.Server(sink_handler) as sink, \
            sgtest.Server(source_handler) as source:
        with Client(d, timeout=60) as c:
            sgtest.check(c.login(level) == level, "server did not agree to %s" % name)
            rep, _, _ = c.request("127.0.0.1", sink.port)
            sgtest.check(rep == 0, "CONNECT reply 0x%02x" % rep)
            c.send(data)
            c.shutdown_write()  # half-close: the sink answers after EOF
            answer = c.recv_all().decode()
        sgtest.check(answer == "%d %s" % (BULK_SIZE, sgtest.sha256(data)),
                     "up: the sink got %r" % answer)
        d.wait_log(r"session \d+ ")
        rec = d.last_session()
        sgtest.check(rec.get("protection") == name and rec.get("auth") == "gssapi",
                     "record: %r" % rec)
        sgtest.check(int(rec["up"]) == BULK_SIZE, "record counts %s bytes up" % rec["up"])

        n = len(d.sessions())
        with Client(d, timeout=60) as c:
            sgtest.check(c.login(level) == level, "server did not agree to %s" % name)
            rep, _, _ = c.request("127.0.0.1", source.port)
            sgtest.check(rep == 0, "CONNECT reply 0x%02x" % rep)
            got = c.recv_all()
        sgtest.check(len(got) == BULK_SIZE, "down: %d bytes of %d" % (len(got), BULK_SIZE))
        sgtest.check(sgtest.sha256(got) == expected_down(), "down: sha256 differs")
        d.wait_log(r"session \d+ ", count=n + 1)
        rec = d.last_session()
        sgtest.check(int(rec["down"]) == BULK_SIZE and rec.get("protection") == name,
                     "record: %r" % rec)
        sgtest.check(rec["reason"] is None, "record: %r" % rec)
