"""Makes assets/sample_clip.avi: coloured shapes moving on gray, the project's own smoke-test clip.

Its colours are those the test suite's synthetic colour-blob models look for
(tests/helpers/synthetic.py), so a synthetic model finds every shape in every frame:
    python assets/make_sample_clip.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers.synthetic import Shape, draw_scene  # noqa: E402

WIDTH, HEIGHT, FRAMES, FPS = 640, 360, 30, 10
RED, GREEN, BLUE, YELLOW = (0, 0, 255), (0, 255, 0), (255, 0, 0), (0, 255, 255)


def shapes_at(step: int) -> list[Shape]:
    dx = 6 * step
    return [
        Shape.rect(RED, 20 + dx, 40, 120 + dx, 300),  # a "person" walking right
        Shape.ellipse(GREEN, (480, 100), (90, 50), angle=step * 3),  # a turning "car"
        Shape.polygon(BLUE, ((400, 340), (470, 200 - step), (540, 340))),  # a "dog"
        Shape.rect(YELLOW, 600 - dx, 150, 640 - dx // 2, 350),  # a second "person" walking in
    ]


def main() -> None:
    path = Path(__file__).resolve().parent / "sample_clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (WIDTH, HEIGHT))
    for step in range(FRAMES):
        frame, _ = draw_scene(WIDTH, HEIGHT, shapes_at(step))
        writer.write(frame)
    writer.release()
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
