"""A child process of infra.embedded.cpu.CpuPool: runs the calls it reads on stdin, answers on stdout, until EOF."""
from __future__ import annotations

import importlib
import sys

from infra.embedded.cpu import lower_priority, read_frame, serve_only_the_parent, write_frame


def main() -> int:
    serve_only_the_parent(int(sys.argv[1]))
    lower_priority(idle=True)  # (chat p99 with 20 images or a PDF being processed: see bench/)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # anything the work prints must not corrupt the answer frames
    while True:
        try:
            module, name, args, kwargs = read_frame(stdin)
        except EOFError:
            return 0
        try:
            fn = importlib.import_module(module)
            for part in name.split("."):
                fn = getattr(fn, part)
            answer = (True, fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - the caller re-raises it
            answer = (False, exc)
        try:
            write_frame(stdout, answer)
        except Exception as exc:  # noqa: BLE001 - e.g. an unpicklable result or exception
            write_frame(stdout, (False, RuntimeError(f"{name}: could not send the result back: {exc!r}")))


if __name__ == "__main__":
    sys.exit(main())
