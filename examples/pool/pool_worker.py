#!/usr/bin/env python3
"""A corefork pool worker in Python (docs/jobs.md, "Pools (protocol)"): one
request per line on stdin, {"id":N,"input":...}; one answer per line on
stdout, {"id":N,"output":...} or {"id":N,"error":"..."}. Put your work in
handle(). stdout is the protocol: log to sys.stderr, never print()."""
import json
import sys


def handle(value):
    """value: the request body as a string, or its parsed JSON."""
    n = int(value["n"] if isinstance(value, dict) else value)
    if not 0 <= n <= 45:
        raise ValueError(f"bad n: {value!r}")
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


for line in sys.stdin.buffer:  # bytes: no dependence on the locale's encoding
    request = json.loads(line)
    try:  # any failure of handle() fails only its run
        answer = json.dumps({"id": request["id"], "output": handle(request["input"])})
    except Exception as err:
        answer = json.dumps({"id": request["id"], "error": str(err) or repr(err)})
    sys.stdout.write(answer + "\n")  # ASCII only: json.dumps escapes the rest
    sys.stdout.flush()
