"""Every command of the README and of docs/ runs as written, in a folder holding what a user following the docs
has: the project's assets/, models.lst and tests/, and the stand-ins that docs/README.md's conventions name for
"your own" photo, video, COCO data and exported models. A block that cannot run here names its need in a
``<!-- needs: ... -->`` comment just above it, and is skipped with that reason."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers.running import ROOT, SHARED

PAGES = [ROOT / "README.md", *sorted(page for page in (ROOT / "docs").glob("*.md") if page.name != "cli.md")]

# What the folder holds, by the names the docs use (docs/README.md, Conventions).
PROJECT_FILES = ("assets", "models.lst", "tests")
STAND_INS = {
    "street.png": SHARED / "media" / "images" / "enox_street.png",
    "video.mp4": SHARED / "media" / "one-by-one-person-detection.mp4",
    "photos": SHARED / "media" / "images",
    "coco": SHARED / "coco" / "icevision_samples",
    "yolo11n-seg_int8_openvino_model": SHARED / "models" / "yolo11n-seg_int8_openvino_model",
    "yolov8n-seg_saved_model": SHARED / "models" / "yolov8n-seg_int8_tflite",  # holds yolov8n-seg_int8.tflite
}

FENCE = re.compile(r"^(\s*)```(\w*)\s*$")
NEEDS = re.compile(r"^\s*<!--\s*needs:\s*(.*?)\s*-->\s*$")
# Flags whose value is a file or folder the run writes.
OUTPUT_FLAGS = ("-o", "--output", "--results", "--report", "--metrics", "--coco_results", "--save_masks",
                "--yolo_labels")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    language: str
    code: str
    needs: str  # "" when it runs here

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT).as_posix()}:{self.line}"


def blocks_of(page: Path) -> list[Block]:
    """The fenced bash and python blocks of a page, each with the need named just above it."""
    lines = page.read_text().splitlines()
    blocks, number = [], 0
    while number < len(lines):
        fence = FENCE.match(lines[number])
        if not fence:
            number += 1
            continue
        end = next(i for i in range(number + 1, len(lines)) if lines[i].strip() == "```")
        if fence.group(2) in ("bash", "python"):
            above = NEEDS.match(lines[number - 1]) if number else None
            code = textwrap.dedent("\n".join(lines[number + 1:end])) + "\n"
            blocks.append(Block(page, number + 1, fence.group(2), code, above.group(1) if above else ""))
        number = end + 1
    return blocks


BLOCKS = [block for page in PAGES for block in blocks_of(page)]


def sandbox(folder: Path) -> Path:
    for name in PROJECT_FILES:
        (folder / name).symlink_to(ROOT / name)
    for name, target in STAND_INS.items():
        if target.exists():
            (folder / name).symlink_to(target)
    return folder


def user_environment() -> dict[str, str]:
    """The test's Python first on PATH, so `python` and `pip` are this interpreter's; no display, so a window
    run says so in one line and goes on without one; the project's demo importable from any folder."""
    env = {key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT)
    return env


def commands(code: str) -> list[list[str]]:
    """Each shell command of a bash block as words, line continuations joined and comments left out."""
    return [shlex.split(line, comments=True) for line in code.replace("\\\n", " ").splitlines() if line.strip()]


def written_paths(block: Block) -> list[str]:
    """The files and folders a block says it writes: output flags' values, `> FILE`, cv2.imwrite's names."""
    if block.language == "python":
        return re.findall(r"imwrite\(\"([^\"]+)\"", block.code)
    paths = []
    for words in commands(block.code):
        for flag, value in zip(words, words[1:]):
            if flag in OUTPUT_FLAGS or flag == ">":
                paths.append(value)
    return paths


def exists(folder: Path, written: str) -> bool:
    """Whether a written path is there: a pattern (%03d, {source}) by one file it names, a folder by a file in it."""
    pattern = re.sub(r"%0?\d*d|\{source\}", "*", written)
    if pattern != written:
        return any(folder.glob(pattern))
    path = folder / written
    return path.is_file() or (path.is_dir() and any(path.iterdir()))


def stand_ins_missing(block: Block) -> list[str]:
    return [name for name, target in STAND_INS.items() if name in block.code and not target.exists()]


@pytest.mark.slow  # every block starts Python and OpenVINO at least once: 2 to 10 s each
@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: block.name)
def test_the_command_runs_as_written(block, tmp_path):
    if block.needs:
        pytest.skip(f"needs {block.needs}")
    if missing := stand_ins_missing(block):
        pytest.skip(f"needs the shared data beside the project ({SHARED}) for {', '.join(missing)}")
    folder = sandbox(tmp_path)
    run = ["bash", "-e", "-c", block.code] if block.language == "bash" else [sys.executable, "-c", block.code]

    done = subprocess.run(run, cwd=folder, env=user_environment(), capture_output=True, text=True, timeout=180,
                          stdin=subprocess.DEVNULL)

    assert done.returncode == 0, f"{block.name} failed:\n{block.code}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    assert "Traceback" not in done.stderr, done.stderr
    missing_outputs = [path for path in written_paths(block) if not exists(folder, path)]
    assert not missing_outputs, f"{block.name} did not write {missing_outputs}:\n{done.stderr[-3000:]}"


def test_every_page_has_commands_and_every_need_is_named():
    """A page's commands are what the test runs: a needs comment that names nothing would skip silently."""
    assert {block.page for block in BLOCKS} >= {ROOT / "README.md", ROOT / "docs" / "models.md"}
    assert all(block.needs.strip(" ,") for block in BLOCKS if block.needs != "")


def test_the_readme_gives_the_test_commands_ci_runs():
    """.ci/run ends with the README's full test command; the README also gives the quick tier."""
    ci_command = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    readme_commands = {" ".join(words) for block in blocks_of(ROOT / "README.md") for words in commands(block.code)}
    assert ci_command == "python -m pytest"
    assert {"python -m pytest", "python -m pytest -m not slow"} <= readme_commands


def test_the_readme_is_a_front_page():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250


def heading_anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors_of(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {heading_anchor(line.lstrip("#")) for line in text.splitlines() if re.match(r"#{1,6} ", line)}


@pytest.mark.parametrize("page", PAGES + [ROOT / "docs" / "cli.md"], ids=lambda page: page.relative_to(ROOT).as_posix())
def test_every_link_leads_to_a_file_and_heading_that_exist(page):
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
        if re.match(r"\w+://", target):
            continue
        file_part, _, anchor = target.partition("#")
        linked = (page.parent / file_part).resolve() if file_part else page
        if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in anchors_of(linked)):
            broken.append(target)
    assert not broken, f"{page.name}: {broken}"
