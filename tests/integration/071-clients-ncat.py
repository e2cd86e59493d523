#!/usr/bin/python3
"""Interop with Nmap's ncat (package ncat): `--proxy-type socks5` with no
authentication (an address, and a name with `--proxy-dns remote`), and with
`--proxy-auth user:pass` (RFC 1929) checked by PAM through pam_wrapper; a
wrong password is refused and the session records why."""
import sgtest


def ncat(tool, d, host, port, extra=(), data=b"hello via ncat\n"):
    return sgtest.run([tool, "--proxy", d.addr_str(), "--proxy-type", "socks5", "-w", "20"]
                      + list(extra) + [host, str(port)], input=data, timeout=30)


def test():
    tool = sgtest.require_tool("ncat")
    env = sgtest.pam_wrapper_env({"alice": "s3cret word"})
    with sgtest.echo_server() as echo, sgtest.Daemon(["auth = none"]) as d:
        r = ncat(tool, d, "127.0.0.1", echo.port)
        assert r.returncode == 0 and r.stdout == b"hello via ncat\n", r
        r = ncat(tool, d, "localhost", echo.port, ["--proxy-dns", "remote"])
        assert r.returncode == 0 and r.stdout == b"hello via ncat\n", r
        d.wait_log(r"session \d+ .*dest=localhost:\d+ .*reply=0x00")

    with sgtest.echo_server() as echo, sgtest.Daemon(
            ["auth = pam", "auth_fail_delay = 0", "auth_fail_limit = 0"], env=env) as d:
        r = ncat(tool, d, "127.0.0.1", echo.port, ["--proxy-auth", "alice:s3cret word"])
        assert r.returncode == 0 and r.stdout == b"hello via ncat\n", r
        r = ncat(tool, d, "127.0.0.1", echo.port, ["--proxy-auth", "alice:wrong"])
        assert r.returncode != 0 and r.stdout == b"", r
        recs = d.wait_log(r"session \d+ .*", count=2)
        sgtest.log("\n".join(recs))
        s = sorted(d.sessions(), key=lambda x: x["id"])
        assert s[0]["user"] == "alice" and s[0]["reply"].startswith("0x00"), s
        assert s[1]["user"] == "alice" and s[1]["reason"], s


sgtest.main(test)
