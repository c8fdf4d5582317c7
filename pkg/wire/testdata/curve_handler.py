#!/usr/bin/env python3
"""A pyzmq handler over CURVE, configured as docs/security.md tells a
handler of one's own: both of its sockets are CURVE clients of the
scheduler's public key, with the handler's key pair. The REQ socket dials
the scheduler's registration socket; the REP job socket binds, and the
scheduler dials it as CURVE server (libzmq lets a bound socket be the
CURVE client).

usage: curve_handler.py SCHEDULER_ENDPOINT BIND HANDLER_ID
with SZ_CURVE_SERVERKEY, SZ_CURVE_SECRETKEY (Z85) in the environment.

It prints "READY ADDRESS" once registered (ADDRESS is the job socket's
bound endpoint), or "REFUSED EVENT VALUE" when the registration's CURVE
handshake fails (a monitor event: libzmq reports the server's ERROR 400
as HANDSHAKE_FAILED_AUTH 400) and exits 1. It answers jobs until
stdin closes, then prints STOPPED.
"""
import json
import os
import sys
import threading

import zmq
import zmq.utils.monitor

scheduler, bind, handler_id = sys.argv[1:4]
secret = os.environb[b"SZ_CURVE_SECRETKEY"]
ctx = zmq.Context()


def curve_client(sock):
    sock.curve_serverkey = os.environb[b"SZ_CURVE_SERVERKEY"]
    sock.curve_secretkey = secret
    sock.curve_publickey = zmq.curve_public(secret)
    sock.linger = 0
    return sock


def finish(code):
    ctx.destroy(linger=0)
    sys.exit(code)


rep = curve_client(ctx.socket(zmq.REP))
rep.bind(bind)
address = rep.getsockopt_string(zmq.LAST_ENDPOINT)

reg = curve_client(ctx.socket(zmq.REQ))
failed = (zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
          | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
mon = reg.get_monitor_socket(failed)
reg.connect(scheduler)
reg.send_string(json.dumps({"method": "register", "params": {
    "handler_id": handler_id, "address": address, "methods": ["counter_test"]}}))

# The reply or a failed handshake, whichever comes first; 10 s at most.
poller = zmq.Poller()
poller.register(reg, zmq.POLLIN)
poller.register(mon, zmq.POLLIN)
ready = dict(poller.poll(10000))
if reg in ready:
    r = json.loads(reg.recv_string())
    if not r.get("success"):
        print("REGISTER FAILED", r, flush=True)
        finish(1)
elif mon in ready:
    ev = zmq.utils.monitor.recv_monitor_message(mon)
    print("REFUSED", zmq.Event(ev["event"]).name, ev["value"], flush=True)
    finish(1)
else:
    print("REGISTER FAILED timeout", flush=True)
    finish(1)
print("READY", address, flush=True)

stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
jobs = zmq.Poller()
jobs.register(rep, zmq.POLLIN)
while not stop.is_set():
    if not dict(jobs.poll(100)):
        continue
    req = json.loads(rep.recv_string())
    params = req.get("params") or {}
    rep.send_string(json.dumps({
        "success": True, "status": "counted", "execution_id": req.get("execution_id"),
        "increment": params.get("increment", 1)}))
print("STOPPED", flush=True)
finish(0)
