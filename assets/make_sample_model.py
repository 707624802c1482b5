"""Makes assets/sample_model.xml and .bin: the offline model of the smoke run and the Python example.

A person-0007-shaped Mask R-CNN (one 544x320 BGR input; labels, boxes and 224x224 masks out) built
with OpenVINO's graph API. It is no network: it finds the pure colours of assets/sample_clip.avi
(tests/helpers/synthetic.py's detectors), so its answers are known exactly. With COCO's class names,
the default: red and yellow are a person, green a car, blue a dog.
    python assets/make_sample_model.py [FOLDER]     (default: assets/)
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers.synthetic import DEFAULT_DETECTORS, person_0007_like  # noqa: E402


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    path = person_0007_like(folder / "sample_model.xml", DEFAULT_DETECTORS)
    print(f"wrote {path} and {path.with_suffix('.bin').name}")


if __name__ == "__main__":
    main()
