"""Runs a pyzmq handler script unchanged over CURVE.

curve_wrap.py SCRIPT ARGS...   with SZ_CURVE_SERVERKEY, SZ_CURVE_SECRETKEY (Z85)

Every socket of zmq.Context() is a CURVE client of the scheduler's key:
what a handler of one's own does with three setsockopt lines.
"""
import os
import runpy
import sys

import zmq


class CurveContext(zmq.Context):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        secret = os.environb[b"SZ_CURVE_SECRETKEY"]
        self.setsockopt(zmq.CURVE_SERVERKEY, os.environb[b"SZ_CURVE_SERVERKEY"])
        self.setsockopt(zmq.CURVE_SECRETKEY, secret)
        self.setsockopt(zmq.CURVE_PUBLICKEY, zmq.curve_public(secret))


zmq.Context = CurveContext
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
