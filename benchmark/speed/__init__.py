"""Speed and memory benchmarks (``avbench speed masks|bootstrap|run|scale``).

Targets live here, not in timed unit tests: each benchmark measures the fast path and its baseline side by side in
one run and prints the ratio, so the numbers mean the same on any machine.
"""
