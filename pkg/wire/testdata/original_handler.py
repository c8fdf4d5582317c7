#!/usr/bin/env python3
"""A handler written the way the original ScheduleZero's Python handlers are:
a pyzmq REP socket bound at its address serving one request at a time, a REQ
socket to the scheduler for register / ping (every 30 s, re-register when a
ping fails) and report_status "offline" on stop.

usage: original_handler.py SCHEDULER_ENDPOINT HANDLER_ADDRESS HANDLER_ID [MARKS]
It prints READY once registered and stops on SIGTERM or stdin EOF. With
MARKS (tests that count runs) each quick_aling appends the request's
execution_id to that file; its param "sleep" (seconds) makes it take
that long.
"""
import json
import signal
import sys
import threading
import time

import zmq

scheduler, address, handler_id = sys.argv[1:4]
marks = sys.argv[4] if len(sys.argv) > 4 else None
methods = ["quick_aling", "counter_test", "ping"]
ctx = zmq.Context()
counter = 0
stop = threading.Event()


def req_socket():
    s = ctx.socket(zmq.REQ)
    s.setsockopt(zmq.RCVTIMEO, 10000)
    s.setsockopt(zmq.SNDTIMEO, 10000)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(scheduler)
    return s


reg = req_socket()


def call(msg):
    global reg
    try:
        reg.send_string(json.dumps(msg))
        return json.loads(reg.recv_string())
    except zmq.ZMQError:
        reg.close()
        reg = req_socket()
        return None


def register():
    return call({"method": "register", "params": {
        "handler_id": handler_id, "address": address, "methods": methods}})


def pinger():
    while not stop.wait(30):
        r = call({"method": "ping"})
        if not r or not r.get("success"):
            register()


def serve():
    global counter
    rep = ctx.socket(zmq.REP)
    rep.setsockopt(zmq.LINGER, 0)
    rep.bind(address)
    poller = zmq.Poller()
    poller.register(rep, zmq.POLLIN)
    while not stop.is_set():
        if not dict(poller.poll(100)):
            continue
        try:
            req = json.loads(rep.recv_string())
        except ValueError as e:
            rep.send_string(json.dumps({"success": False, "error": str(e)}))
            continue
        method = req.get("method")
        params = req.get("params") or {}
        counter += 1
        if method == "ping":
            out = {"success": True, "message": "pong", "handler_id": handler_id}
        elif method == "quick_aling":
            time.sleep(float(params.get("sleep", 0)))
            if marks:
                with open(marks, "a") as f:
                    f.write("%s\n" % req.get("execution_id", ""))
            out = {"success": True, "status": "a-ling", "counter": counter}
        elif method == "counter_test":
            out = {"success": True, "status": "counted", "counter": counter,
                   "increment": params.get("increment", 1)}
        else:
            out = {"success": False, "error": "Unknown method: %s" % method}
        rep.send_string(json.dumps(out))
    rep.close()


def on_term(*_):
    stop.set()


signal.signal(signal.SIGTERM, on_term)
server = threading.Thread(target=serve, daemon=True)
server.start()
r = register()
if not r or not r.get("success"):
    print("REGISTER FAILED", r, flush=True)
    sys.exit(1)
print("READY", r.get("status"), flush=True)
threading.Thread(target=pinger, daemon=True).start()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
stop.wait()
server.join(2)
call({"method": "report_status", "params": {"handler_id": handler_id, "status": "offline"}})
reg.close()
ctx.term()
print("STOPPED", flush=True)
