#!/usr/bin/python3
"""Interop with httpx's SOCKS5 support (python3-httpx + python3-socksio, an
independent sans-I/O SOCKS implementation): an HTTP GET through the gateway
with no authentication and with username/password checked by PAM."""
import sgtest


def test():
    try:
        import httpx
        import socksio  # noqa: F401  (httpx needs it for socks5:// proxies)
    except ImportError as e:
        sgtest.skip("python3-httpx / python3-socksio not installed (%s)" % e)
    env = sgtest.pam_wrapper_env({"alice": "s3cret"})

    def http(c):
        c.recv(4096)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")

    with sgtest.Server(http) as web, sgtest.Daemon(["auth = none"]) as d, sgtest.Daemon(
            ["auth = pam", "auth_fail_delay = 0", "auth_fail_limit = 0"], env=env) as dp:
        url = "http://127.0.0.1:%d/" % web.port
        for proxy in ("socks5://" + d.addr_str(), "socks5://alice:s3cret@" + dp.addr_str()):
            with httpx.Client(proxies=proxy, timeout=20) as c:
                r = c.get(url)
            assert r.status_code == 200 and r.text == "hello", (proxy, r, r.text)
        d.wait_log(r"session \d+ .*reply=0x00")
        dp.wait_log(r"session \d+ .*user=alice .*reply=0x00")
        try:
            with httpx.Client(proxies="socks5://alice:nope@" + dp.addr_str(), timeout=20) as c:
                c.get(url)
            raise AssertionError("a wrong password got through")
        except (httpx.ProxyError, httpx.TransportError):
            pass
        dp.wait_log(r"session \d+ .*user=alice .*reason=")


sgtest.main(test)
