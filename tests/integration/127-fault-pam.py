#!/usr/bin/python3
"""Injected faults: pam_start fails with PAM_BUF_ERR for logins.
Every CONNECT, BIND, UDP ASSOCIATE and login ends with a reply or a clean
close, nothing is left behind and a normal client is served afterwards
(sgfault.py)."""
import sgfault
import sgtest


def test():
    sgfault.scenario("pam_start:0.5", want=("pam_start",))


sgtest.main(test)
