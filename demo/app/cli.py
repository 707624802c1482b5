"""Command line: the flags (see :mod:`demo.app.flags`) turned into a plan (:mod:`demo.app.plan`) and run
(:mod:`demo.app.runner`), or into another command's settings."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from demo.app import evaluate, flags, plan, runner
from demo.core.errors import DemoError, configure_logging, quiet_opencv
from demo.core.stopping import INTERRUPTED, INTERRUPTED_LINE, STDOUT_CLOSED, STOP, stdout_reader_gone
from demo.frames.sources import limit_image_pixels
from demo.model import download
from demo.outputs import repository


def run_segmentation(args: argparse.Namespace) -> None:
    """The default command: its plan made and checked, then run."""
    limit_image_pixels(args.max_image_pixels)
    runner.run(plan.build(args))


def run_evaluation(argv: list[str]) -> None:
    limit_image_pixels()
    evaluate.run(flags.eval_settings(flags.eval_parser().parse_args(argv)))


def run_download(argv: list[str]) -> None:
    download.download(flags.download_request(flags.download_parser().parse_args(argv)))


def run_export(argv: list[str]) -> None:
    print(repository.export(flags.repository_request(flags.repository_parser().parse_args(argv))).text())


# Commands other than the default run: `python -m demo NAME ...` calls SUBCOMMANDS[NAME](rest of argv).
SUBCOMMANDS: dict[str, Callable[[list[str]], None]] = {"eval": run_evaluation, "download": run_download,
                                                        "export": run_export}


def main(argv: list[str] | None = None) -> int:
    configure_logging()
    quiet_opencv()
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    STOP.install()  # again, for callers of main() other than `python -m demo`
    try:
        if argv and argv[0] in SUBCOMMANDS:
            SUBCOMMANDS[argv[0]](argv[1:])
        else:
            run_segmentation(flags.build_parser().parse_args(argv))
    except DemoError as error:
        if debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return interrupted()
    except Exception as error:  # noqa: BLE001 - a bug still gets one line; --debug shows the traceback
        if isinstance(error, BrokenPipeError) and stdout_reader_gone():
            return STDOUT_CLOSED  # the reader has what it wanted: nothing to report, as `seq 9 | head -1`
        if debug:
            raise
        print(f"error: unexpected {type(error).__name__}: {error} (run with --debug for the traceback)",
              file=sys.stderr)
        return 1
    return interrupted() if STOP.signal is not None else 0  # a signal in the clean-up of a finished run


def interrupted() -> int:
    print(INTERRUPTED_LINE, file=sys.stderr)
    return INTERRUPTED
