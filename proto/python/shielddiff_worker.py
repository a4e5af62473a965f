"""A ShieldDiff reward worker in Python: PROTOCOL.md section 5.2 over pyzmq.

    from shielddiff_worker import RewardWorker
    def score(images, prompts):            # images: float32 (B, 3, 32, 32) in [0, 1]
        return rewards, alignment, unsafe  # three length-B sequences, unsafe in [0, 1]
    RewardWorker("tcp://127.0.0.1:5558", score, instance_id="py-reward-0").run()

The worker connects a DEALER to the broker's backend, says HELLO, takes WELCOME's heartbeat
interval and liveness, grants READY(credit), answers every REWARD_REQUEST with one
REWARD_RESULT (or ERROR(INTERNAL) if scoring fails), heartbeats when it has sent nothing for
an interval, and reconnects with a doubling delay when the broker is silent for liveness
intervals or answers NOT_WELCOMED. TERMINATE is acknowledged and ends `run()`;
CONFIG_MISMATCH and UNSUPPORTED_VERSION raise `Misconfigured`.
"""
import math
import os
import signal
import sys
import time

import numpy as np
import zmq
from google.protobuf.message import DecodeError

import shielddiff_pb2 as pb

PROTOCOL_VERSION = 1
MAX_MESSAGE_BYTES = 64 << 20  # WireLimits.maxMessageBytes
IMAGE_SHAPE = (3, 32, 32)


class Misconfigured(Exception):
    """The broker refused this worker (CONFIG_MISMATCH or UNSUPPORTED_VERSION)."""


class BadRequest(Exception):
    """A REWARD_REQUEST that breaks PROTOCOL.md section 11."""


def images_of(request):
    """The request's images as a float32 (B, 3, 32, 32) array, after section 11's checks."""
    shape = tuple(request.images.shape)
    if len(shape) != 4 or shape[1:] != IMAGE_SHAPE or shape[0] < 1:
        raise BadRequest(f"images: shape {list(shape)}, expected [B, 3, 32, 32] with B >= 1")
    if len(request.images.data) != math.prod(shape):
        raise BadRequest(f"images: {len(request.images.data)} values for shape {list(shape)}")
    if len(request.prompts) != shape[0]:
        raise BadRequest(f"prompts: {len(request.prompts)} for {shape[0]} images")
    images = np.asarray(request.images.data, dtype=np.float32).reshape(shape)
    if not (np.all(images >= 0) and np.all(images <= 1)):  # also false for NaN
        raise BadRequest("images: values outside [0, 1]")
    return images


class RewardWorker:
    """One reward worker; `score(images, prompts)` returns (rewards, alignment, unsafe)."""

    def __init__(self, endpoint, score, instance_id="py-reward-0", credit=1, heartbeat_ms=1000, liveness=3,
                 reconnect_ms=1000, reconnect_max_ms=32000, parent_pid=None, log=None):
        self.endpoint, self.score, self.instance_id, self.credit = endpoint, score, instance_id, credit
        self.heartbeat = heartbeat_ms / 1000  # until WELCOME says otherwise
        self.dead_after = self.heartbeat * liveness
        self.reconnect_first, self.reconnect_max = reconnect_ms / 1000, reconnect_max_ms / 1000
        self.reconnect_delay = self.reconnect_first
        self.parent_pid = parent_pid
        self.log = log or (lambda line: print(f"[{time.strftime('%H:%M:%S')} {instance_id}] {line}",
                                              file=sys.stderr, flush=True))
        self.context = zmq.Context()
        self.socket = None
        self.welcomed = False
        self.stop_requested = False
        self.scored = self.failed = self.rejected = 0
        self.last_error = {}  # (code) -> time: at most one ERROR per second and code

    # -- sockets --------------------------------------------------------------------------

    def connect(self):
        self.socket = self.context.socket(zmq.DEALER)  # no ROUTING_ID: a fresh identity per connection
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES + 1024)
        self.socket.connect(self.endpoint)
        self.sequence = 0
        self.welcomed = False
        self.last_heard = self.last_sent = time.monotonic()
        self.send(hello=pb.Hello(role=pb.ROLE_REWARD_WORKER, instance_id=self.instance_id, pid=os.getpid()))

    def disconnect(self, reason, delay):
        self.log(f"broker {reason}; reconnecting in {delay:g} s")
        self.socket.close(linger=0)
        self.socket = None
        self.reconnect_at = time.monotonic() + delay
        self.reconnect_delay = min(self.reconnect_delay * 2, self.reconnect_max)

    def send(self, **payload):
        self.sequence += 1
        envelope = pb.Envelope(protocol_version=PROTOCOL_VERSION, sender=self.instance_id, sequence=self.sequence,
                               **payload)
        try:
            self.socket.send(envelope.SerializeToString(), zmq.DONTWAIT)
            self.last_sent = time.monotonic()
        except zmq.Again:
            pass  # queue full: heartbeats and the broker's re-dispatch recover

    def send_error(self, code, detail, in_reply_to=0):
        now = time.monotonic()
        if now - self.last_error.get(code, -math.inf) < 1:
            return
        self.last_error[code] = now
        self.send(error=pb.Error(code=code, detail=detail, in_reply_to=in_reply_to))

    # -- the loop -------------------------------------------------------------------------

    def run(self):
        """Serves until TERMINATE ("terminated") or SIGINT/SIGTERM/parent death ("stopped")."""
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, lambda *_: setattr(self, "stop_requested", True))
        self.connect()
        try:
            while True:
                if self.socket is None:
                    if time.monotonic() >= self.reconnect_at:
                        self.connect()
                    else:
                        time.sleep(0.02)
                elif self.socket.poll(int(min(50, self.heartbeat * 500))):
                    if self.drain():
                        return "terminated"
                if self.stop_requested or (self.parent_pid and os.getppid() != self.parent_pid):
                    return "stopped"
                self.timers()
        finally:
            if self.socket is not None:
                self.socket.close(linger=0)
            self.context.term()

    def timers(self):
        if self.socket is None:
            return
        now = time.monotonic()
        if now - self.last_heard > self.dead_after:
            self.disconnect(f"silent for {self.dead_after:g} s", self.reconnect_delay)
        elif now - self.last_sent >= self.heartbeat:
            self.send(heartbeat=pb.Heartbeat(counters=[
                pb.Metric(name="requests_scored", value=self.scored),
                pb.Metric(name="requests_failed", value=self.failed),
                pb.Metric(name="messages_rejected", value=self.rejected)]))

    def drain(self):
        """Handles what is waiting; True once TERMINATE was acknowledged."""
        for _ in range(64):
            try:
                frames = self.socket.recv_multipart(zmq.DONTWAIT)
            except zmq.Again:
                return False
            self.last_heard = time.monotonic()
            if len(frames) != 1:
                self.rejected += 1
                self.log(f"dropped a message of {len(frames)} frames")
                continue
            envelope = pb.Envelope()
            try:
                envelope.ParseFromString(frames[0])
            except DecodeError as error:
                self.rejected += 1
                self.send_error(pb.Error.MALFORMED, f"envelope does not parse: {error}")
                continue
            if envelope.protocol_version != PROTOCOL_VERSION:
                self.rejected += 1
                self.send_error(pb.Error.UNSUPPORTED_VERSION,
                                f"protocol_version {envelope.protocol_version}; this worker speaks {PROTOCOL_VERSION}")
                continue
            if self.handle(envelope):
                return True
            if self.socket is None:
                return False  # disconnected
        return False

    def handle(self, envelope):
        kind = envelope.WhichOneof("payload")
        if kind == "welcome":
            welcome = envelope.welcome
            self.welcomed = True
            self.heartbeat = welcome.heartbeat_interval_ms / 1000
            self.dead_after = self.heartbeat * welcome.liveness
            self.reconnect_delay = self.reconnect_first
            self.log(f"welcomed by run {welcome.run_id}")
            self.send(ready=pb.Ready(credit=self.credit))
        elif kind == "reward_request" and self.welcomed:
            self.answer(envelope.reward_request, envelope.sequence)
        elif kind == "heartbeat" and self.welcomed:
            pass
        elif kind == "terminate" and self.welcomed:
            self.send(terminate_ack=pb.TerminateAck())
            self.log(f"TERMINATE ({envelope.terminate.reason}): acknowledged, exiting")
            return True
        elif kind == "error":
            code, detail = envelope.error.code, envelope.error.detail
            self.log(f"ERROR {pb.Error.Code.Name(code)} from the broker: {detail}")
            if code == pb.Error.NOT_WELCOMED:
                self.disconnect("does not know us", 0)
            elif code in (pb.Error.CONFIG_MISMATCH, pb.Error.UNSUPPORTED_VERSION):
                raise Misconfigured(f"{pb.Error.Code.Name(code)}: {detail}")
        elif kind is None:
            self.rejected += 1
            self.send_error(pb.Error.UNKNOWN_KIND, "payload kind unknown to this worker", envelope.sequence)
        else:
            self.rejected += 1
            state = "" if self.welcomed else " before WELCOME"
            self.send_error(pb.Error.UNEXPECTED, f"{kind} is not valid for a reward worker{state}", envelope.sequence)
        return False

    def answer(self, request, sequence):
        try:
            images = images_of(request)
        except BadRequest as error:
            self.rejected += 1
            self.send_error(pb.Error.MALFORMED, str(error), sequence)
            return
        try:
            rewards, alignment, unsafe = (np.asarray(a, dtype=np.float32).reshape(-1)
                                          for a in self.score(images, list(request.prompts)))
            count = len(request.prompts)
            if not (len(rewards) == len(alignment) == len(unsafe) == count):
                raise ValueError(f"score returned {len(rewards)}/{len(alignment)}/{len(unsafe)} values for {count} images")
            if not (np.all(np.isfinite(rewards)) and np.all(np.isfinite(alignment))
                    and np.all(unsafe >= 0) and np.all(unsafe <= 1)):
                raise ValueError("score returned non-finite rewards or alignment, or unsafe outside [0, 1]")
        except Exception as error:  # the user's scorer failed: the broker retries elsewhere
            self.failed += 1
            self.log(f"request {request.request_id} failed: {error}")
            self.send(error=pb.Error(code=pb.Error.INTERNAL, detail=f"scoring failed: {error}", in_reply_to=sequence))
            return
        self.scored += 1
        self.send(reward_result=pb.RewardResult(request_id=request.request_id, rewards=rewards.tolist(),
                                                alignment=alignment.tolist(), unsafe=unsafe.tolist()))


def main(score, argv=None):
    """Command line of a worker script: --endpoint, --instance, --credit, --parent-pid."""
    import argparse
    parser = argparse.ArgumentParser(description="A ShieldDiff reward worker (PROTOCOL.md 5.2).")
    parser.add_argument("--endpoint", default="tcp://127.0.0.1:5558", help="the broker's reward backend")
    parser.add_argument("--instance", default="py-reward-0", help="instance id, stable across restarts")
    parser.add_argument("--credit", type=int, default=1, help="requests held at once (READY credit)")
    parser.add_argument("--heartbeat-ms", type=int, default=1000, help="heartbeat interval until WELCOME")
    parser.add_argument("--liveness", type=int, default=3, help="missed intervals until WELCOME")
    parser.add_argument("--reconnect-ms", type=int, default=1000, help="first reconnect delay (doubles)")
    parser.add_argument("--reconnect-max-ms", type=int, default=32000, help="largest reconnect delay")
    parser.add_argument("--parent-pid", type=int, help="exit when this process is no longer the parent")
    args = parser.parse_args(argv)
    if args.credit < 1:
        parser.error(f"--credit {args.credit}: must be at least 1")
    worker = RewardWorker(args.endpoint, score, instance_id=args.instance, credit=args.credit,
                          heartbeat_ms=args.heartbeat_ms, liveness=args.liveness, reconnect_ms=args.reconnect_ms,
                          reconnect_max_ms=args.reconnect_max_ms, parent_pid=args.parent_pid)
    try:
        worker.run()
    except Misconfigured as error:
        sys.exit(f"the broker refused this worker: {error}")
