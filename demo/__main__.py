import os
import sys

from .cli import main
from .live import reading_threads_left

code = main()
if reading_threads_left():
    # A camera or stream read still blocked in OpenCV would abort the interpreter's shutdown
    # when it returns; everything the run wrote is closed by now, so end without that shutdown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
