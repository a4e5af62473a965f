#!/usr/bin/env python3
"""Rewards per second of one reward worker (any language), with this script as its broker.

    PYTHONPATH=proto/python python3 scripts/bench_reward_worker.py -- CMD ARGS...

CMD's arguments may contain {endpoint}, replaced by the broker endpoint this script binds
(tcp loopback). The worker gets WELCOME, then `--requests` REWARD_REQUESTs of `--images`
random images each, with every credit it grants kept busy; the figure counts the requests
after `--warmup` ones. Ends the worker with TERMINATE.
"""
import argparse, subprocess, sys, time

import numpy as np
import zmq

import shielddiff_pb2 as pb

parser = argparse.ArgumentParser()
parser.add_argument("--images", type=int, default=32)
parser.add_argument("--requests", type=int, default=200)
parser.add_argument("--warmup", type=int, default=10)
parser.add_argument("command", nargs=argparse.REMAINDER)
args = parser.parse_args()
command = [a for a in args.command if a != "--"]

context = zmq.Context()
router = context.socket(zmq.ROUTER)
router.setsockopt(zmq.LINGER, 0)
router.bind("tcp://127.0.0.1:*")
endpoint = router.getsockopt_string(zmq.LAST_ENDPOINT)
worker = subprocess.Popen([a.replace("{endpoint}", endpoint) for a in command], stderr=subprocess.DEVNULL)
sequence = 0


def send(identity, **payload):
    global sequence
    sequence += 1
    router.send_multipart([identity, pb.Envelope(protocol_version=1, sender="bench", sequence=sequence,
                                                 **payload).SerializeToString()])


def receive(kind):
    while True:
        if not router.poll(60_000):
            sys.exit(f"no {kind} from the worker within 60 s")
        identity, frame = router.recv_multipart()
        envelope = pb.Envelope.FromString(frame)
        if envelope.WhichOneof("payload") == "heartbeat":
            send(identity, heartbeat=pb.Heartbeat())
        elif envelope.WhichOneof("payload") == kind:
            return identity, envelope


identity, _ = receive("hello")
send(identity, welcome=pb.Welcome(run_id="bench", policy_version=1, heartbeat_interval_ms=1000, liveness=30))
_, ready = receive("ready")
credit = ready.ready.credit
rng = np.random.default_rng(0)
images = pb.Tensor(shape=[args.images, 3, 32, 32], data=rng.random(args.images * 3072, dtype=np.float32).tolist())
prompts = ["a large red circle in the center on a black background"] * args.images
total = args.warmup + args.requests
sent = done = 0
started = None
while done < total:
    while sent < total and sent - done < credit:
        sent += 1
        send(identity, reward_request=pb.RewardRequest(request_id=sent, images=images, prompts=prompts))
    receive("reward_result")
    done += 1
    if done == args.warmup:
        started = time.perf_counter()
elapsed = time.perf_counter() - started
send(identity, terminate=pb.Terminate(reason="bench over"))
receive("terminate_ack")
worker.wait(timeout=30)
print(f"{args.requests} requests of {args.images} images, credit {credit}: "
      f"{args.requests * args.images / elapsed:.0f} rewards/s ({elapsed / args.requests * 1000:.2f} ms per request)")
