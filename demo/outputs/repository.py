"""``python -m demo export MODEL DIR``: an OpenVINO Model Server repository of one model, ready to serve.

The model is written as the demo would run it: its pre-processing embedded (u8 NHWC BGR frames of any
size in), and what the demo read about it (resize, channels, mean and scale, class names, NMS
threshold, the network's own input size) in its rt_info ``model_info`` section, which OVMS sends with
the model's metadata over REST. Beside it, OVMS's ``config.json``. Nothing already in DIR is replaced.
"""
from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import openvino as ov

from demo.core import files
from demo.core.errors import DemoError, UsageError
from demo.core.stopping import STOP
from demo.model.contracts import recognise
from demo.model.loading import prepare, preprocessing_of, read_local
from demo.model.model_info import RESIZE_TYPES, SECTION
from demo.model.segmenter import Settings, resolve
from demo.outputs.sinks import write_json

VERSION = "1"
CONFIG_FILE = "config.json"
REST_PORT, GRPC_PORT = 8000, 9000
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class RepositoryRequest:
    model: str | None  # a file or a catalogue name
    folder: Path
    name: str | None = None  # the served model's name; None: the model file's stem
    settings: Settings = Settings()


@dataclass(frozen=True)
class Repository:
    folder: Path
    name: str
    model: Path  # DIR/NAME/1/model.xml

    def docker_command(self) -> str:
        return (f"docker run --rm -p {REST_PORT}:{REST_PORT} -p {GRPC_PORT}:{GRPC_PORT} "
                f"-v {files.shown(self.folder.resolve())}:/models:ro openvino/model_server:latest "
                f"--config_path /models/{CONFIG_FILE} --rest_port {REST_PORT} --port {GRPC_PORT}")

    def binary_command(self) -> str:
        return (f"ovms --config_path {files.shown(self.folder.resolve() / CONFIG_FILE)} "
                f"--rest_port {REST_PORT} --port {GRPC_PORT}")

    def text(self) -> str:
        return "\n".join([
            f"wrote {files.shown(self.model)} (with its .bin) and {files.shown(self.folder / CONFIG_FILE)}",
            "start OpenVINO Model Server on it:",
            f"  {self.docker_command()}",
            f"  or: {self.binary_command()}",
            "then run the demo against it:",
            f"  python -m demo -m http://localhost:{REST_PORT}/v2/models/{self.name} -i VIDEO",
        ])


def served_name(request: RepositoryRequest, model_path: Path) -> str:
    name = request.name or model_path.stem
    if not _NAME.fullmatch(name):
        raise UsageError(f"--name {name!r}: a served model's name takes letters, digits, '.', '_' and '-' only")
    return name


def refuse_replacing(repository: Repository) -> None:
    """Nothing the user owns is replaced: DIR is a folder or new, neither it nor DIR/NAME is a link another
    user planted, and the version folder and config.json are not there yet (a link at one counts as there)."""
    folder = repository.folder
    for path in (folder, folder / repository.name):  # the folders the export writes into
        files.refuse_planted_link(path, "export")
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"export: '{files.shown(folder)}' is a file; give a new or empty folder")
    existing = [path for path in (repository.model.parent, folder / CONFIG_FILE) if path.exists() or path.is_symlink()]
    if existing:
        raise UsageError(f"{files.shown(existing[0])} already exists; export into a new or empty folder "
                         "(nothing there is replaced)")


def export(request: RepositoryRequest) -> Repository:
    """Read and recognise the model as the demo runs it, embed its pre-processing, write the repository."""
    resolved = resolve(request.model, request.settings)
    if resolved.path is None:
        raise UsageError("export: give a model file or name, not a served model's address")
    name = served_name(request, resolved.path)
    repository = Repository(request.folder, name, request.folder / name / VERSION / "model.xml")
    refuse_replacing(repository)
    model, info = read_local(ov.Core(), resolved.path)
    options = request.settings.load_options()
    contract = recognise(model, str(resolved.path), info, options.model_type)
    if contract.stateful:
        raise DemoError(f"{resolved.path}: a recurrent matting model keeps its states in the infer request; a "
                        "model server does not keep them between requests")
    preprocessing = preprocessing_of(contract, info, options.resize, resolved.facts.resize)
    width, height = prepare(model, contract, preprocessing, resolved.path)
    stated = {"embedded_processing": "YES", "orig_width": width, "orig_height": height,
              "resize_type": next(key for key, value in RESIZE_TYPES.items() if value == preprocessing.policy),
              "reverse_input_channels": "YES" if preprocessing.reverse_channels else "NO",
              "mean_values": " ".join(map(str, preprocessing.mean)),
              "scale_values": " ".join(map(str, preprocessing.scale)), "pad_value": preprocessing.pad_value}
    labels = info.labels or resolved.facts.labels
    if labels:
        stated["labels"] = " ".join(label.replace(" ", "_") for label in labels)
    if info.iou_threshold is not None:
        stated["iou_threshold"] = info.iou_threshold
    for key, value in stated.items():
        model.set_rt_info(str(value), [SECTION, key])
    write_repository(repository, model)
    return repository


def write_repository(repository: Repository, model: ov.Model) -> None:
    """Written aside, then put in place: a full disk, a failure or Ctrl-C leaves DIR as it was (a DIR
    the export made is removed), so nothing blocks a retry."""
    made = _make_folder(repository.folder)
    try:
        _write_aside_and_put_in_place(repository, model)
    except BaseException:
        if made:
            with contextlib.suppress(OSError):  # not empty: something else was put there meanwhile
                repository.folder.rmdir()
        raise


def _make_folder(folder: Path) -> bool:
    """Whether the export made ``folder`` (with any missing parents)."""
    if folder.is_dir():
        return False
    try:
        folder.mkdir(parents=True)
    except OSError as error:
        raise DemoError(f"cannot make the folder {files.shown(folder)}: {files.reason(error)}") from None
    return True


def _write_aside_and_put_in_place(repository: Repository, model: ov.Model) -> None:
    """The whole repository in a hidden DIR/.NAME.XXXXXXXX.export, then moved into DIR by two renames that
    a stop cannot come between: it appears whole or not at all."""
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{repository.name}.", suffix=".export", dir=repository.folder))
    except OSError as error:
        raise DemoError(f"cannot write in {files.shown(repository.folder)}: {files.reason(error)}") from None
    try:
        staged = Repository(staging, repository.name, staging / repository.name / VERSION / "model.xml")
        _write_whole(staged, model, repository)
        with STOP.shielded():
            _put_in_place(staged, repository)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_whole(staged: Repository, model: ov.Model, repository: Repository) -> None:
    try:
        staged.model.parent.mkdir(parents=True)
        ov.save_model(model, staged.model, compress_to_fp16=False)
    except (OSError, RuntimeError) as error:
        cause = files.reason(error) if isinstance(error, OSError) else _save_failure(staged.model)
        raise DemoError(f"cannot write the model in {files.shown(repository.folder)}: {cause}; "
                        "nothing was put there") from None
    # A path relative to config.json's folder: the same file serves OVMS in a container (DIR mounted
    # at /models) and the ovms binary run here.
    config = {"model_config_list": [{"config": {"name": repository.name, "base_path": repository.name}}]}
    write_json(staged.folder / CONFIG_FILE, config, "the OVMS config", indent=2)


def _save_failure(model_file: Path) -> str:
    """OpenVINO's reason for a failed save is its stream's ("basic_ios::clear: iostream error"): a full
    disk is said so."""
    if files.free_bytes(model_file.parent) < files.FULL_DISK_BYTES:
        return os.strerror(errno.ENOSPC)
    return "OpenVINO could not save it"


def _put_in_place(staged: Repository, repository: Repository) -> None:
    """The model's folder (NAME, or NAME/1 into an existing NAME), then config.json; undone if the second fails."""
    served = repository.folder / repository.name
    new_name = not served.exists() and not served.is_symlink()
    placed, written = (served, staged.folder / repository.name) if new_name else \
        (repository.model.parent, staged.model.parent)
    config = repository.folder / CONFIG_FILE
    try:
        os.rename(written, placed)
    except OSError as error:
        raise DemoError(f"cannot put {files.shown(placed)} in place: {files.reason(error)}") from None
    try:
        if config.exists() or config.is_symlink():  # made meanwhile: it stays
            raise FileExistsError(errno.EEXIST, "it was made during the export")
        os.rename(staged.folder / CONFIG_FILE, config)
    except OSError as error:
        os.rename(placed, written)
        raise DemoError(f"cannot put {files.shown(config)} in place: {files.reason(error)}") from None
