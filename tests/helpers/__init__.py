"""What the tests share: graph-built models and scenes, servers they start on 127.0.0.1, and running the demo.

Imported as ``from helpers import synthetic`` or ``from helpers.running import run_demo``; no test module
imports another.
"""
