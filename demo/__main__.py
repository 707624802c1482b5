import os
import sys

try:
    from .cli import main
    from .live import reading_threads_left
except ImportError as error:
    if "cannot open shared object file" not in str(error):
        raise
    # opencv-python, the GUI build, links the system's OpenGL and GLib even where no window is
    # wanted; a server or container without them fails here, before anything else can say why.
    print(f"error: a library the demo needs cannot load ({error}); on Debian/Ubuntu: "
          "apt install libgl1 libglib2.0-0 (or, on a machine without a display, pip install "
          "opencv-python-headless in place of opencv-python)", file=sys.stderr)
    sys.exit(1)

code = main()
if reading_threads_left():
    # A camera or stream read still blocked in OpenCV would abort the interpreter's shutdown
    # when it returns; everything the run wrote is closed by now, so end without that shutdown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
