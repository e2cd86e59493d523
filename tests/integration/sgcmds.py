"""Helpers for the BIND and UDP ASSOCIATE tests: the RFC 1928 UDP header, a
UDP echo server, and the two authentication setups every scenario runs
under. Every wait is bounded."""

import ipaddress
import socket
import struct
import threading
import time

import sgtest

USER, PASSWORD = "alice", "s3cret word"


def auth_modes(pam=True):
    """(name, config lines, daemon env, socks_request credentials) for auth =
    none, and for PAM through pam_wrapper when pam is true."""
    yield "none", ["auth = none"], None, {}
    if pam:
        env = sgtest.pam_wrapper_env({USER: PASSWORD})
        yield "pam", ["auth = pam", "auth_fail_limit = 0"], env, {"user": USER,
                                                                    "password": PASSWORD}


def udp_header(host, port, frag=0):
    return b"\x00\x00" + bytes([frag]) + sgtest.encode_addr(host, port)


def parse_udp(data):
    """Splits a relayed datagram; returns (host, port, payload) and checks RSV/FRAG."""
    sgtest.check(len(data) >= 4, "datagram of %d bytes" % len(data))
    sgtest.check(data[:3] == b"\x00\x00\x00", "RSV/FRAG %r" % data[:3])
    atyp = data[3]
    if atyp == 1:
        host, rest = str(ipaddress.IPv4Address(data[4:8])), data[8:]
    elif atyp == 4:
        host, rest = str(ipaddress.IPv6Address(data[4:20])), data[20:]
    else:
        raise AssertionError("reply ATYP %r (the gateway answers with IP addresses)" % atyp)
    return host, struct.unpack("!H", rest[:2])[0], rest[2:]


def recv_dgram(s, timeout=5):
    """One datagram (data, source) or None when none comes in time."""
    s.settimeout(timeout)
    try:
        return s.recvfrom(70000)
    except socket.timeout:
        return None


def udp_socket(host="127.0.0.1", port=0):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((host, port))
    return s


class UdpEcho:
    """Echoes every datagram to its sender; remembers who sent what."""

    def __init__(self, host="127.0.0.1"):
        self.sock = udp_socket(host)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self.got = []
        self.stopped = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        self.sock.settimeout(0.2)
        while not self.stopped:
            try:
                data, src = self.sock.recvfrom(70000)
            except socket.timeout:
                continue
            except OSError:
                return
            self.got.append((data, src))
            try:
                self.sock.sendto(data, src)
            except OSError:
                pass

    def count(self):
        return len(self.got)

    def close(self):
        self.stopped = True
        self.thread.join(2)
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()
        return False


def associate(d, host="0.0.0.0", port=0, creds=None):
    """UDP ASSOCIATE; returns (control socket, (relay host, relay port))."""
    s, rep, bh, bp = sgtest.socks_request(d, host, port, cmd=3, **(creds or {}))
    sgtest.check(rep == 0, "UDP ASSOCIATE reply 0x%02x" % rep)
    sgtest.check(bp != 0, "relay port 0")
    return s, (bh, bp)


def port_refused(host, port, timeout=3):
    """True when a datagram to host:port draws ICMP port unreachable (a
    connected UDP socket then reports ECONNREFUSED)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.connect((host, port))
        s.settimeout(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                s.send(b"\x00\x00\x00" + sgtest.encode_addr("127.0.0.1", 9) + b"late")
                s.recv(100)
                return False
            except ConnectionRefusedError:
                return True
            except socket.timeout:
                return False
        return False
