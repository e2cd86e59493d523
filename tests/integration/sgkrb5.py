"""A throwaway MIT Kerberos realm for the GSSAPI tests: a KDC on a free
loopback port with its database, stash, krb5.conf and kdc.conf under a
temporary directory, principals made with kadmin.local, keytabs and ticket
caches of the test's own. Nothing outside the directory is touched: the
realm is found through KRB5_CONFIG and KRB5_KDC_PROFILE, never /etc.
Every wait is bounded; the KDC and the directory go at exit.

    with sgkrb5.Realm() as realm:
        realm.addprinc("alice", password="pw")
        realm.addprinc("rcmd/gateway.socksgate.test")       # random key
        keytab = realm.ktadd("rcmd/gateway.socksgate.test")
        realm.kinit("alice", "pw")                          # into realm.ccache
        env = realm.env()        # for the daemon (KRB5_CONFIG, KRB5_KTNAME)
        realm.activate()         # the same in os.environ, for python3-gssapi
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time

import sgtest

REALM = "SOCKSGATE.TEST"
HOST = "gateway.socksgate.test"  # the gateway's host name in service principals
SERVICE = "rcmd"                  # RFC 1961's and curl's service name
TOOLS = ("krb5kdc", "kdb5_util", "kadmin.local", "kinit", "kdestroy", "klist")


def require():
    """Skips (77) unless the KDC, the client tools and python3-gssapi are
    installed; returns the gssapi module."""
    for tool in TOOLS:
        if shutil.which(tool) is None and not os.path.exists(os.path.join("/usr/sbin", tool)):
            sgtest.skip(tool + " is not installed (Debian: krb5-kdc, krb5-user)")
    try:
        import gssapi  # noqa: F401 (python3-gssapi)
    except ImportError:
        sgtest.skip("python3-gssapi is not installed")
    import gssapi
    return gssapi


def _tool(name):
    path = shutil.which(name)
    if path is None:
        path = os.path.join("/usr/sbin", name)
    return path


def _free_port_both():
    """A port free for TCP and UDP on 127.0.0.1 (the KDC listens on both)."""
    for _ in range(50):
        port = sgtest.free_port()
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port
    raise AssertionError("no port free for both TCP and UDP")


class Realm:
    def __init__(self, realm=REALM, host=HOST):
        self.realm = realm
        self.host = host
        self.dir = tempfile.mkdtemp(prefix="sgkrb5-")
        os.chmod(self.dir, 0o755)  # the daemon may run as another user
        self.port = _free_port_both()
        self.krb5_conf = os.path.join(self.dir, "krb5.conf")
        self.kdc_conf = os.path.join(self.dir, "kdc.conf")
        self.ccache = "FILE:" + os.path.join(self.dir, "ccache")
        self.keytab = os.path.join(self.dir, "gateway.keytab")
        self.kdc_log = os.path.join(self.dir, "kdc.log")
        self.proc = None
        self._write_conf()

    def _write_conf(self):
        with open(self.krb5_conf, "w") as f:
            f.write(f"""[libdefaults]
    default_realm = {self.realm}
    dns_lookup_kdc = false
    dns_lookup_realm = false
    dns_canonicalize_hostname = false
    rdns = false
    udp_preference_limit = 1
    ticket_lifetime = 1h
    forwardable = false

[realms]
    {self.realm} = {{
        kdc = 127.0.0.1:{self.port}
        admin_server = 127.0.0.1:{self.port + 1}
    }}

[domain_realm]
    .socksgate.test = {self.realm}
    socksgate.test = {self.realm}
    localhost = {self.realm}
""")
        os.chmod(self.krb5_conf, 0o644)
        with open(self.kdc_conf, "w") as f:
            f.write(f"""[kdcdefaults]
    kdc_listen = 127.0.0.1:{self.port}
    kdc_tcp_listen = 127.0.0.1:{self.port}

[realms]
    {self.realm} = {{
        database_name = {self.dir}/principal
        key_stash_file = {self.dir}/stash
        acl_file = {self.dir}/kadm5.acl
        kdc_listen = 127.0.0.1:{self.port}
        kdc_tcp_listen = 127.0.0.1:{self.port}
        max_life = 1h
        max_renewable_life = 0
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
    }}

[logging]
    kdc = FILE:{self.kdc_log}
""")
        open(os.path.join(self.dir, "kadm5.acl"), "w").close()

    def env(self, ccache=None, keytab=None):
        """The environment a process of this realm needs: the daemon takes
        KRB5_CONFIG (and KRB5_KTNAME when keytab is given), a client takes
        KRB5CCNAME."""
        e = {
            "KRB5_CONFIG": self.krb5_conf,
            "KRB5_KDC_PROFILE": self.kdc_conf,
            "KRB5CCNAME": ccache or self.ccache,
        }
        if keytab is not None:
            e["KRB5_KTNAME"] = "FILE:" + keytab
        return e

    def activate(self, ccache=None):
        """Puts env() into os.environ, for python3-gssapi in this process."""
        os.environ.update(self.env(ccache))

    def _run(self, cmd, input=None, check=True, timeout=30):
        p = subprocess.run(cmd, input=input, capture_output=True, timeout=timeout,
                           env=dict(os.environ, **self.env()))
        if check and p.returncode != 0:
            raise AssertionError("%s: exit %d: %s" % (" ".join(cmd), p.returncode,
                                                       (p.stderr or p.stdout).decode(errors="replace")))
        return p

    def start(self):
        self._run([_tool("kdb5_util"), "create", "-s", "-r", self.realm, "-P", "sgkrb5-master"])
        self.proc = subprocess.Popen([_tool("krb5kdc"), "-n", "-r", self.realm],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     env=dict(os.environ, **self.env()))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("krb5kdc exited: " + self.proc.stderr.read().decode(errors="replace"))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("krb5kdc did not listen on port %d" % self.port)

    def kadmin(self, query):
        return self._run([_tool("kadmin.local"), "-r", self.realm, "-q", query])

    def principal(self, name):
        return name if "@" in name else name + "@" + self.realm

    def addprinc(self, name, password=None):
        """A principal with the password, or with a random key (services)."""
        key = "-pw %s" % password if password is not None else "-randkey"
        self.kadmin("addprinc %s %s" % (key, self.principal(name)))
        return self.principal(name)

    def ktadd(self, name, keytab=None):
        """Exports name's keys (a new key version) into keytab (default:
        self.keytab), readable by the daemon; returns the keytab's path."""
        keytab = keytab or self.keytab
        self.kadmin("ktadd -k %s %s" % (keytab, self.principal(name)))
        os.chmod(keytab, 0o644)
        return keytab

    def kinit(self, name, password, ccache=None):
        """Gets a ticket for name into ccache (default: self.ccache)."""
        p = subprocess.run([_tool("kinit"), self.principal(name)], input=(password + "\n").encode(),
                           capture_output=True, timeout=30,
                           env=dict(os.environ, **self.env(ccache)))
        if p.returncode != 0:
            raise AssertionError("kinit %s: %s" % (name, p.stderr.decode(errors="replace")))

    def kdestroy(self, ccache=None):
        subprocess.run([_tool("kdestroy")], capture_output=True, timeout=30,
                       env=dict(os.environ, **self.env(ccache)))

    def close(self):
        if self.proc is not None:
            sgtest.terminate(self.proc)
            self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *a):
        self.close()
