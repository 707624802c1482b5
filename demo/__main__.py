"""``python -m demo``: the stop handlers and the log format come first, before OpenVINO and OpenCV load,
so that a signal during the load stops cleanly and what they log on import looks like the demo's own."""
import contextlib
import sys


def share_malloc_arenas() -> None:
    """glibc's malloc gives threads arenas of their own (up to 8 a core) and keeps what each freed: with one
    reader thread per input, a -i @list of 60 photos held about 300 MB more than the same photos as a folder.
    Two arenas keep that near the folder's; the big buffers are few, so threads seldom wait for one."""
    if sys.platform != "linux":
        return
    import ctypes

    arena_max = -8  # M_ARENA_MAX in glibc's malloc.h
    with contextlib.suppress(AttributeError):  # a C library without mallopt (musl)
        ctypes.CDLL(None).mallopt(arena_max, 2)


share_malloc_arenas()

from demo.core.errors import configure_logging
from demo.core.stopping import INTERRUPTED, INTERRUPTED_LINE, STOP

STOP.install()
try:  # from the moment the handlers are in, a stop is one line, even during the log set-up
    configure_logging()
    from demo.app.cli import main
    from demo.core import files
    from demo.frames.live import reading_threads_left
except KeyboardInterrupt:
    print(INTERRUPTED_LINE, file=sys.stderr)
    STOP.exit(INTERRUPTED)
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
files.remove_aliases()  # before an exit that may skip the interpreter's own clean-up
# A camera or stream read still blocked in OpenCV would abort the interpreter's shutdown when it
# returns; everything the run wrote is closed by now, so such an exit skips that shutdown.
STOP.exit(code, abandon_threads=reading_threads_left())
