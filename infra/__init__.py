"""Shared infrastructure: settings, connections (MongoDB, Redis), the socket emitter, the message inbox."""
