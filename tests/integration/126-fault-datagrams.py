#!/usr/bin/python3
"""Injected faults: sendmsg/sendto fail with ENOBUFS and
recvmsg/recvfrom with ENOMEM on the UDP relay.
Every CONNECT, BIND, UDP ASSOCIATE and login ends with a reply or a clean
close, nothing is left behind and a normal client is served afterwards
(sgfault.py)."""
import sgfault
import sgtest


def test():
    sgfault.scenario("sendmsg:0.3,recvmsg:0.3", want=("sendmsg", "recvmsg"))


sgtest.main(test)
