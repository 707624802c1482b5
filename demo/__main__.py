"""``python -m demo``: the stop handlers and the log format come first, before OpenVINO and OpenCV load,
so that a signal during the load stops cleanly and what they log on import looks like the demo's own."""
import sys

from .errors import configure_logging
from .stopping import INTERRUPTED, INTERRUPTED_LINE, STOP

STOP.install()
configure_logging()
try:
    from .cli import main
except KeyboardInterrupt:
    print(INTERRUPTED_LINE, file=sys.stderr)
    STOP.exit(INTERRUPTED)
STOP.exit(main())
