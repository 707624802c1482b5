"""Several sources open at once, each capturing what the libraries print on fd 2 while it opens: the captures
overlap, and afterwards fd 2 must be the terminal again and no line of the demo's own may be lost."""
from __future__ import annotations

import subprocess
import sys

from helpers.running import ROOT

OVERLAPPING = """
import logging, os, sys, threading
from demo.core.errors import configure_logging, native_stderr_captured
configure_logging()
log = logging.getLogger("demo")
first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
captured = {}

def first():
    with native_stderr_captured() as lines:
        first_in.set(); second_in.wait()
        os.write(2, b"library chatter 1\\n")
        log.info("opened the first source")
    captured["first"] = lines
    first_out.set()

def second():
    first_in.wait()
    with native_stderr_captured() as lines:
        second_in.set(); first_out.wait()
        os.write(2, b"library chatter 2\\n")
    captured["second"] = lines

threads = [threading.Thread(target=first), threading.Thread(target=second)]
[t.start() for t in threads]; [t.join() for t in threads]
log.info("after both")
print("error: the last line", file=sys.stderr)
print(sorted(captured["first"]), sorted(captured["second"]))
"""


def test_overlapping_captures_give_fd_2_back_and_keep_the_demos_own_lines():
    run = subprocess.run([sys.executable, "-c", OVERLAPPING], cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines() == ["[INFO] opened the first source", "[INFO] after both", "error: the last line"]
    assert run.stdout.strip() == "['library chatter 1'] ['library chatter 1', 'library chatter 2']"
