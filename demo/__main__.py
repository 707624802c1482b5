import sys

try:
    from .cli import main
except ImportError as error:
    if "cannot open shared object file" not in str(error):
        raise
    # opencv-python, the GUI build, links the system's OpenGL and GLib even where no window is
    # wanted; a server or container without them fails here, before anything else can say why.
    print(f"error: a library the demo needs cannot load ({error}); on Debian/Ubuntu: "
          "apt install libgl1 libglib2.0-0 (or, on a machine without a display, pip install "
          "opencv-python-headless in place of opencv-python)", file=sys.stderr)
    sys.exit(1)

sys.exit(main())
