"""The command line (``python -m demo``): flags turned into settings, the run that wires sources,
model, picture and outputs, several sources at once, the benchmark and ``eval``. The only part of
the package that sees argparse; the library never imports it.
"""
