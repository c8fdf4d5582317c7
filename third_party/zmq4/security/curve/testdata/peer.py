"""A libzmq CURVE peer for the interoperability tests, through pyzmq.

peer.py server ENDPOINT SECRET      REP: binds, echoes "echo:" + each frame
peer.py client ENDPOINT SECRET SERVERKEY MESSAGE...
                                    REQ: sends the frames, prints the reply frames
Prints "ready ENDPOINT" once bound; keys are Z85.
"""
import sys

import zmq

role, endpoint, secret = sys.argv[1], sys.argv[2], sys.argv[3].encode()
ctx = zmq.Context()
public = zmq.curve_public(secret)
if role == "server":
    s = ctx.socket(zmq.REP)
    s.curve_server = True
    s.curve_secretkey = secret
    s.curve_publickey = public
    s.bind(endpoint)
    print("ready", s.getsockopt_string(zmq.LAST_ENDPOINT), flush=True)
    while True:
        frames = s.recv_multipart()
        s.send_multipart([b"echo:" + f for f in frames])
else:
    s = ctx.socket(zmq.REQ)
    s.curve_serverkey = sys.argv[4].encode()
    s.curve_secretkey = secret
    s.curve_publickey = public
    s.setsockopt(zmq.RCVTIMEO, 10000)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(endpoint)
    s.send_multipart([a.encode() for a in sys.argv[5:]])
    for f in s.recv_multipart():
        print(f.decode(), flush=True)
