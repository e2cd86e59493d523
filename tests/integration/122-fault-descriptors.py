#!/usr/bin/python3
"""Injected faults: pipe2 (the relay's pipes), socket (outbound,
BIND and UDP sockets) and accept4 (the listener) fail with EMFILE.
Every CONNECT, BIND, UDP ASSOCIATE and login ends with a reply or a clean
close, nothing is left behind and a normal client is served afterwards
(sgfault.py)."""
import sgfault
import sgtest


def test():
    sgfault.scenario("pipe2:0.5,socket:0.3,accept4:0.3", want=("pipe2", "socket", "accept4"))


sgtest.main(test)
