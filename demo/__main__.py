"""``python -m demo``: the stop handlers come first, so that a signal while OpenVINO and OpenCV load stops cleanly too."""
import sys

from .stopping import INTERRUPTED, INTERRUPTED_LINE, STOP

STOP.install()
try:
    from .cli import main
except KeyboardInterrupt:
    print(INTERRUPTED_LINE, file=sys.stderr)
    STOP.exit(INTERRUPTED)
STOP.exit(main())
