"""The web front (Flask + Flask-SocketIO on eventlet): transport only.

Kept empty on purpose: ``python -m app`` imports this package before ``app.__main__`` can call
``eventlet.monkey_patch()``, which must come before anything else is imported.
"""
