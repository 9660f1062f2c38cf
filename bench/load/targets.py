"""The load generator's targets, and what counts as a quiet machine when judging a run against them."""
from __future__ import annotations

TARGETS = {"throughput_msgs_per_s_min": 500.0, "latency_p99_ms_max": 50.0, "latency_offered_rate": 200.0,
           "mixed_message_drop_percent_max": 20.0, "typing_p99_ms_max": 20.0,
           "moderation_message_drop_percent_max": 10.0}
# The moderation summary also gives the rounds in which every other process of the machine used less than
# this much of a core during both measurements.
QUIET_OTHERS_PERCENT = 25.0
# A chat latency window is disturbed when other processes (with the hypervisor's steal, which /proc/stat
# counts as busy) took more than this share of a core: at 14-25 % the baseline p99 was seen 2-4 times its
# quiet value, which makes any ratio against it meaningless.
CHAT_QUIET_OTHERS_PERCENT = 10.0
