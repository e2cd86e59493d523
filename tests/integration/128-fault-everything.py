#!/usr/bin/python3
"""Injected faults: every call the shim knows fails now and then, at
once.
Every CONNECT, BIND, UDP ASSOCIATE and login ends with a reply or a clean
close, nothing is left behind and a normal client is served afterwards
(sgfault.py)."""
import sgfault
import sgtest


def test():
    sgfault.scenario("malloc:0.05,pipe2:0.1,socket:0.1,accept4:0.1,pthread_create:0.2,"
                     "getaddrinfo:0.2,splice:0.02,sendmsg:0.1,recvmsg:0.1,pam_start:0.3",
                     want=("malloc", "pam_start", "accept4"), rounds=10)


sgtest.main(test)
