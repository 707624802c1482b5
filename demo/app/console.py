"""``ov-segment``, the command ``pip install`` makes: exactly ``python -m demo``."""
import runpy


def main() -> None:
    # The module itself, not a function of it: its order (stop handlers and OpenBLAS's threads set
    # before OpenCV and OpenVINO load) and its exit are the command's.
    runpy.run_module("demo", run_name="__main__", alter_sys=True)
