"""The script an exec'd master runs: `python3 [-S] start_master.py` with KAISER_CONFIG (docs/runtime-protocol.md).

Kept to these three statements because a script is the one Python file the interpreter compiles from source at every
start (imported modules load from the .pyc files the build writes): when master.py itself was the script, compiling
its 260 lines left ~0.6 MB of freed parser and compiler memory dirty in every master, and a forked worker copied
most of the pages around it (issue 17: a 1-worker FastAPI vassal 0.64 MB less private dirty memory,
bench/asgi-pss-ab.py). The runtime host (host.py) imports master.py and calls `main(config)` in-process instead.
"""
import _kaiser_bootstrap  # noqa: F401  (first: registers the package `_kaiser`)
from _kaiser.master import main

main()
