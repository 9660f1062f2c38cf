"""The product's Prometheus metrics, all defined here (names start with ``chat_``; docs/operations.md says
what each one means and which alerts are worth setting).

Each process counts what it does itself: the web process its sockets, events and acks; a worker its tasks,
drains, jobs and calls to S3, SMTP and clamd. The embedded default runs the workers inside the web process,
so its ``/metrics`` holds everything. The prefork roles (media, exports) count in Prometheus's
multiprocess mode: ``PROMETHEUS_MULTIPROC_DIR`` is set before this module is imported, and the role's
exposition reads every child's files (``infra/metrics_server.py``).

Values that are a state of the system rather than a count (inbox backlog, review queue size) are read at
scrape time by collectors registered where the exposition is served, never kept up to date by hand.
"""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Latencies of one chat message: ms matter, seconds are an incident.
FAST = (.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10)
# Background jobs (a thumbnail, a PDF of a year): seconds to many minutes.
SLOW = (.1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)

# -- the web process ------------------------------------------------------------------------------------
# Its value is the count of sockets the web process holds (app/sockets.py sets its function).
SOCKETS_CONNECTED = Gauge("chat_sockets_connected", "Socket.IO connections open on this process, signed in.")
EVENTS_RECEIVED = Counter("chat_socket_events_received", "Socket.IO events received from clients, by name.",
                          ["event"])
EVENTS_SENT = Counter("chat_socket_events_sent", "Socket.IO events sent to rooms (by this process or through "
                      "the Redis message queue), by name.", ["event"])
ACK_SECONDS = Histogram("chat_ack_seconds", "From an event's arrival to its ack, in the web process, by name.",
                        ["event"], buckets=FAST)

# -- one message's way: accepted → stored → broadcast ---------------------------------------------------
STORE_SECONDS = Histogram("chat_message_store_seconds", "From a send's acceptance (its inbox entry) to its "
                          "message stored.", buckets=FAST)
BROADCAST_SECONDS = Histogram("chat_message_broadcast_seconds", "From a message stored to its message:new "
                              "handed to the message queue.", buckets=FAST)
DRAIN_LAG_SECONDS = Histogram("chat_drain_lag_seconds", "How long an inbox entry waited before a drain took "
                              "it.", buckets=FAST)

# -- tasks, by queue ------------------------------------------------------------------------------------
TASKS = Counter("chat_tasks", "Tasks finished, by queue, task and outcome (success, failure, retry, "
                "dead_letter).", ["queue", "task", "outcome"])
TASK_SECONDS = Histogram("chat_task_seconds", "Task run time, by queue and task.", ["queue", "task"],
                         buckets=SLOW)

# -- media and exports ----------------------------------------------------------------------------------
MEDIA_JOB_SECONDS = Histogram("chat_media_job_seconds", "Processing of one upload (scan, probe, thumbnails), by "
                              "kind of file.", ["kind"], buckets=SLOW)
MEDIA_FAILURES = Counter("chat_media_failures", "Uploads that failed processing, by error code.", ["code"])
EXPORT_JOB_SECONDS = Histogram("chat_export_job_seconds", "One export, from its start to its file stored, by "
                               "format.", ["format"], buckets=SLOW)
EXPORT_FAILURES = Counter("chat_export_failures", "Exports that failed, by error code.", ["code"])

# -- what the product depends on ------------------------------------------------------------------------
DEPENDENCY_ERRORS = Counter("chat_dependency_errors", "Failed calls to an outside service, by service (s3, "
                            "smtp, clamd) and operation.", ["service", "operation"])

# -- moderation and upkeep ------------------------------------------------------------------------------
REPAIR_FOUND = Counter("chat_repair_found", "Inconsistencies the repair job found, by kind.", ["kind"])
REPAIR_FIXED = Counter("chat_repair_fixed", "Inconsistencies the repair job fixed, by kind.", ["kind"])

# Read at scrape time (collectors, infra/metrics_server.py): chat_inbox_backlog (entries waiting in all
# inboxes), chat_inboxes_waiting (inboxes with entries), chat_inbox_dead_letters (entries no drain could
# read), chat_review_queue_size (pending review items).

# -- EXPOSITION: values read at scrape time (infra/metrics_server.py's collectors, registered by the web
# process, the one role always running), named here with their help; and what reading them costs. -------
INBOX_BACKLOG = ("chat_inbox_backlog", "Sends accepted and waiting in the conversations' inboxes, not stored yet.")
INBOXES_WAITING = ("chat_inboxes_waiting", "Conversation inboxes holding at least one waiting send.")
INBOX_DEAD_LETTERS = ("chat_inbox_dead_letters", "Inbox entries that could not be read, kept in the dead letters "
                      "(inbox:dead) for an operator.")
REVIEW_QUEUE_SIZE = ("chat_review_queue_size", "Review items pending a moderator's decision, in every group.")
COLLECTOR_ERRORS = Counter("chat_metrics_collector_errors", "Scrapes that went without a value read at scrape "
                           "time (its source did not answer), by collector (inbox, review_queue).", ["collector"])
