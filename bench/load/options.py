"""The load generator's command line: every option, its default and the checks between them."""
from __future__ import annotations

import argparse

from bench.load.scenarios import SCENARIOS

DESCRIPTION = ("Load generator for the chat backend: throughput, mixed, typing, latency, connections and "
               "moderation scenarios.")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=DESCRIPTION,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--spawn", action="store_true", help="start `python -m app` per scenario and stop it after")
    target.add_argument("--url", help="an already running server, e.g. http://127.0.0.1:5000")
    p.add_argument("--scenario", choices=(*SCENARIOS, "all"), default="all")
    p.add_argument("--hit-share", type=float, default=0.05,
                   help="moderation: share of the sends whose text hits a mask or a flag rule (half each)")
    p.add_argument("--name", default="", help="prefix of the result files: results/<name>-<scenario>.json")
    p.add_argument("--duration", type=float, default=20.0, help="steady measurement window, seconds")
    p.add_argument("--warmup", type=float, default=3.0, help="load before the window that is not measured")
    p.add_argument("--senders", type=int, default=20)
    p.add_argument("--receivers", type=int, default=20)
    p.add_argument("--conversations", type=int, default=10)
    p.add_argument("--window", type=int, default=8, help="throughput: unacked sends allowed per sender")
    p.add_argument("--rate", type=float, default=200.0, help="latency: offered messages per second (all senders)")
    p.add_argument("--message-size", type=int, default=100, help="characters of content per message")
    p.add_argument("--grace", type=float, default=5.0,
                   help="after the last send, a message is lost once no delivery arrived for this long")
    p.add_argument("--drain-cap", type=float, default=180.0, help="longest wait for a backlog to drain")
    p.add_argument("--connections", type=int, default=1500, help="connections: sockets to open")
    p.add_argument("--conn-users", type=int, default=100, help="connections: distinct users sharing them")
    p.add_argument("--connect-concurrency", type=int, default=100, help="connections: handshakes in flight")
    p.add_argument("--hold", type=float, default=5.0, help="connections: idle seconds before counting")
    p.add_argument("--pings", type=int, default=20, help="connections: round trips with all sockets open")
    p.add_argument("--storm-rate", type=float, default=50.0,
                   help="connections: msg/s sent between two clients while the others connect (0: off)")
    p.add_argument("--reaction-share", type=float, default=0.15,
                   help="mixed, typing's load: share of the events that are reaction:add/remove")
    p.add_argument("--read-share", type=float, default=0.15,
                   help="mixed, typing's load: share of the events that are message:read")
    p.add_argument("--typing-period", type=float, default=1.5,
                   help="typing: each receiver sends typing:start then typing:stop every this many seconds")
    p.add_argument("--typing-load-rate", type=float, default=50.0,
                   help="typing: events/s of the light open-loop mixed load of the second phase")
    p.add_argument("--typing-timeout", type=float, default=3.0,
                   help="typing: a typing event not arrived after this long is missing")
    p.add_argument("--repeat", type=int, default=1,
                   help="run the scenarios this many rounds (results/<scenario>.r<N>.json) and summarise them")
    p.add_argument("--history", type=int, default=0,
                   help="spawn: messages already stored when the server starts (bench/seeded_app.py --grown)")
    p.add_argument("--worker-concurrency", type=int, default=0, help="spawn: WORKER_CONCURRENCY (0: server default)")
    p.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                   help="spawn: extra environment for the server (repeatable)")
    args = p.parse_args(argv)
    if args.senders < args.conversations or args.receivers < args.conversations:
        p.error("need at least one sender and one receiver per conversation (S >= C and R >= C)")
    if min(args.senders, args.receivers, args.conversations, args.window, args.repeat) < 1 \
            or min(args.rate, args.typing_load_rate) <= 0:
        p.error("senders, receivers, conversations, window, repeat and rates must be positive")
    if min(args.reaction_share, args.read_share) < 0 or args.reaction_share + args.read_share > 1:
        p.error("--reaction-share and --read-share must be >= 0 and add up to at most 1")
    if args.typing_period <= 0:
        p.error("--typing-period must be positive")
    if not 0 <= args.hit_share <= 1:
        p.error("--hit-share must be between 0 and 1")
    if args.history < 0 or (args.history and not args.spawn):
        p.error("--history needs --spawn (the history is written into the spawned server's store) and >= 0")
    return args
