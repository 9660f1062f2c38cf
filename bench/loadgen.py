"""Load generator for the chat backend: throughput, mixed, typing, latency, connections and moderation scenarios.

One asyncio process drives everything: REST setup through aiohttp, clients through
``socketio.AsyncClient`` on the websocket transport only. Latency is send -> ``message:new`` at a
receiver of the same conversation, both stamped with ``time.perf_counter`` in this process and
matched by ``clientId``, so no clock needs to agree with the server's.

Scenarios (``--scenario all`` runs them in this order; ``--scenario mixed`` runs ``throughput`` first):

* ``throughput``  S senders keep at most ``--window`` unacknowledged sends each, for ``--warmup``
  then ``--duration`` seconds. Reported over the steady window only: messages delivered per second
  (distinct messages whose first ``message:new`` reached a receiver in the window), deliveries per
  second (every receiver counted), acks per second, and delivery latency percentiles.
* ``mixed``       the same closed loop, but of the events in each sender's window ``--reaction-share``
  (15 %) are ``reaction:add``/``reaction:remove`` on messages the sender has seen and ``--read-share``
  (15 %) are ``message:read`` up to the newest seq it has seen; the rest are sends. It runs right
  after a ``throughput`` run with the same parameters (``--scenario mixed`` runs both) and reports the
  drop in messages delivered per second against it.
* ``typing``      the same sockets; the receivers type (``typing:start``, then ``typing:stop``, every
  ``--typing-period`` s) in three phases on one server: nothing else going on; a light open-loop mixed
  load (``--typing-load-rate`` events/s); the mixed scenario's closed loop. Latency is emit -> arrival
  at each other socket of the conversation.
* ``latency``     an open-loop schedule at ``--rate`` msg/s spread round-robin over the senders;
  sends do not wait for acks. Latency is taken from the *scheduled* send time, so a generator that
  falls behind cannot hide queueing (coordinated omission); the worst schedule lag is reported.
* ``connections`` N idle authenticated sockets (no 1,024 cap), then messages must still round-trip.
  While the sockets connect, one client keeps sending to another at ``--storm-rate`` msg/s: live
  traffic must survive a connection storm too.
* ``moderation``  the ``throughput`` closed loop twice, each on a fresh server with the same parameters,
  on 500-character French messages (``bench/corpus.py``: clean ones, and at ``--hit-share`` (5 %) of the
  sends one hitting a ``mask`` or a ``flag`` rule, never ``block`` nor ``hold``): once with no filter rule,
  once with the 220 rules of ``bench/filters.py`` (200 word, 20 regex) created over REST on the group
  before the warm-up. Reports the drop in messages delivered per second (target <= 10 %) and the server's
  CPU per message; with ``--repeat`` the order alternates (none/rules, rules/none) and the median counts.
  Masked texts are checked by clientId: masked at every receiver with the rules, never without.

After sending stops, every scenario waits until each acknowledged message has reached every
receiver of its conversation (or nothing new arrived for ``--grace`` s) and then checks: exactly
once per receiver, no message from another conversation, seq increasing per receiver; then it reads
the history back over REST, so a missing delivery shows as stored-but-not-announced or never stored.
With reactions and reads, each acked change must reach every socket of its conversation once
(``message:updated``, ``message:read``); a typing event that has not arrived after
``--typing-timeout`` s is missing.

With ``--spawn`` each scenario gets a freshly started system (``python -m app`` with this
interpreter): the embedded store is in memory and grows with every message, and a backlog left by
one scenario must not be charged to the next. With ``--url`` all scenarios share that server.
A spawned server gets ``SEND_RATE_LIMIT=1000000/second`` (``SPAWN_ENV``; ``--server-env`` overrides it):
the default per-user flood limit, 30 sends per 10 s, would refuse most of a closed loop's sends. A server
started by hand for ``--url`` needs the same.

The pieces live in bench/load/: harness.py (servers, REST, clock, CPU meter), clients.py (sockets and
what they record), loops.py (closed and open loops), scenarios/ (one module each), checks.py,
compare.py, tables.py and report.py (percentiles, tables, result files; shared with the other bench
scripts). This file is the command line.

Usage: python bench/loadgen.py --spawn --scenario all --duration 15   (see bench/README.md)
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load.runner import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
