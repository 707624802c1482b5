"""What a model file says about itself: the rt_info ``model_info`` section, and Ultralytics' metadata.yaml.

Ultralytics exports (and OpenVINO's model_api) write into the IR's rt_info how the
network's images were prepared and its class names; an Ultralytics export folder also
holds ``metadata.yaml`` with the names, the task, the image size and whether the head is
end-to-end. All of it is optional: without it the contract's defaults hold, recognition
goes by shape alone and the names come from ``--labels``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import openvino as ov

from demo.core.errors import DemoError
from demo.core.names import shown
from demo.core.textfile import read_text
from demo.model.geometry import ResizePolicy

if TYPE_CHECKING:  # the contracts read what a model says about itself: this module must not import them
    from demo.model.contracts import Preprocessing

log = logging.getLogger(__name__)

SECTION = "model_info"
# model_api's names for the resize policies the demo implements.
RESIZE_TYPES = {
    "standard": ResizePolicy.STRETCH,
    "fit_to_window": ResizePolicy.FIT,
    "fit_to_window_letterbox": ResizePolicy.LETTERBOX,
}
BOOLEANS = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}
METADATA_FILE = "metadata.yaml"
SEGMENTATION_EXPORT = "yolo export model=yolo11n-seg.pt format=openvino"  # Ultralytics' command for a model here


@dataclass(frozen=True)
class ModelInfo:
    """The model's own statements; None (or no labels) where it says nothing."""

    policy: ResizePolicy | None = None
    reverse_channels: bool | None = None
    mean: tuple[float, ...] | None = None
    scale: tuple[float, ...] | None = None
    pad_value: float | None = None
    iou_threshold: float | None = None
    labels: tuple[str, ...] = ()
    task: str | None = None  # Ultralytics' task: segment, detect, pose, ...
    end2end: bool | None = None  # rows of final detections (one-to-one head, or exported with nms=True)
    image_size: tuple[int, int] | None = None  # (w, h) the model was exported for

    def preprocessing(self, defaults: Preprocessing) -> Preprocessing:
        """The contract's defaults, with whatever the model states in their place."""
        stated = {"policy": self.policy, "reverse_channels": self.reverse_channels, "mean": self.mean,
                  "scale": self.scale, "pad_value": self.pad_value}
        return replace(defaults, **{key: value for key, value in stated.items() if value is not None})


def read_model_info(model: ov.Model, path: Path) -> ModelInfo:
    """Read ``model_info`` from the model's rt_info, the class names from it or metadata.yaml beside the
    model, and the task, end2end and image size from metadata.yaml."""
    return model_info_of(model, str(path), read_metadata(path.parent / METADATA_FILE))


def model_info_of(model: ov.Model, path: str, metadata: ModelInfo = ModelInfo()) -> ModelInfo:
    """What the model's rt_info ``model_info`` says, with what ``metadata`` (its metadata.yaml) adds;
    ``path`` names the model in messages (a file, or a served model's address)."""
    def text(key: str) -> str | None:
        return model.get_rt_info([SECTION, key]).astype(str).strip() if model.has_rt_info([SECTION, key]) else None

    def numbers(key: str) -> tuple[float, ...] | None:
        value = text(key)
        if value is None:
            return None
        try:
            return tuple(float(part) for part in value.replace(",", " ").split())
        except ValueError:
            raise DemoError(f"{path}: rt_info {SECTION} {key} should be numbers, not {value!r}") from None

    reverse = text("reverse_input_channels")
    if reverse is not None and reverse.lower() not in BOOLEANS:
        raise DemoError(f"{path}: rt_info {SECTION} reverse_input_channels should be YES or NO, not {reverse!r}")
    pad_value, iou_threshold = numbers("pad_value"), numbers("iou_threshold")
    # Names cannot hold spaces in the space-separated list, so exporters write them as underscores.
    labels = tuple(name.replace("_", " ") for name in (text("labels") or "").split())
    return ModelInfo(policy=_resize_policy(text("resize_type"), path),
                     reverse_channels=None if reverse is None else BOOLEANS[reverse.lower()],
                     mean=numbers("mean_values"), scale=numbers("scale_values"),
                     pad_value=_single(pad_value, "pad_value", path),
                     iou_threshold=_single(iou_threshold, "iou_threshold", path),
                     labels=labels or metadata.labels, task=metadata.task, end2end=metadata.end2end,
                     image_size=metadata.image_size)


Entry = str | list[str] | dict[str, str]


def _yaml_entries(text: str) -> dict[str, Entry]:
    """The top-level keys of a simple YAML file as Ultralytics writes metadata.yaml: each a scalar,
    or the ``- value`` or indented ``key: value`` lines under it (a flow list ``[a, b]`` stays text)."""
    entries: dict[str, Entry] = {}
    key = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("- ") and key is not None:
            items = entries[key] if isinstance(entries[key], list) else []
            entries[key] = [*items, _unquote(stripped[2:])]
        elif ":" in stripped and not stripped.startswith("#"):
            name, _, value = stripped.partition(":")
            if line[0] in " \t" and key is not None:
                if not isinstance(entries[key], dict):
                    entries[key] = {}
                entries[key][name.strip()] = _unquote(value)
            else:
                key = name.strip()
                entries[key] = _unquote(value) or {}
    return entries


def _unquote(value: str) -> str:
    return value.strip().strip("'\"")


def read_metadata(path: Path) -> ModelInfo:
    """Names, task, end2end and image size from an Ultralytics metadata.yaml; nothing if it is absent."""
    if not path.is_file():
        return ModelInfo()
    entries = _yaml_entries(read_text(path, "model metadata"))
    names, args = (entry if isinstance(entry := entries.get(key), dict) else {} for key in ("names", "args"))
    in_order = [names.get(str(i)) for i in range(len(names))]
    task = entries.get("task")
    return ModelInfo(labels=tuple(in_order) if None not in in_order else (),
                     task=task if isinstance(task, str) and task else None,
                     end2end=_end2end(entries.get("end2end"), args.get("nms")),
                     image_size=_image_size(entries.get("imgsz")))


def _end2end(end2end: Entry | None, nms: str | None) -> bool | None:
    """Whether the outputs are rows of final detections: a one-to-one head (``end2end: true``) or an
    export with NMS built in (``nms: true``; YOLO26's own export says ``end2end: true, nms: false``)."""
    stated = [BOOLEANS.get(value.lower()) if isinstance(value, str) else None for value in (end2end, nms)]
    return True if True in stated else stated[0]


def _image_size(imgsz: Entry | None) -> tuple[int, int] | None:
    """Ultralytics' imgsz, [h, w] or one number, as (w, h); None unless it is one of those."""
    sizes = imgsz.strip("[]").replace(",", " ").split() if isinstance(imgsz, str) else imgsz or []
    if len(sizes) not in (1, 2) or not all(size.isdigit() for size in sizes):
        return None
    return int(sizes[-1]), int(sizes[0])


def _resize_policy(resize_type: str | None, path: str) -> ResizePolicy | None:
    if resize_type is None:
        return None
    if resize_type not in RESIZE_TYPES:
        log.warning("%s: rt_info resize_type %r is not one the demo implements (%s); using the default",
                    Path(path).name if "://" not in path else path, resize_type, ", ".join(RESIZE_TYPES))
    return RESIZE_TYPES.get(resize_type)


def _single(values: tuple[float, ...] | None, key: str, path: str) -> float | None:
    if values is not None and len(values) != 1:
        raise DemoError(f"{path}: rt_info {SECTION} {key} should be one number, not {len(values)}")
    return None if values is None else values[0]


def model_in_folder(folder: Path) -> Path:
    """The one .xml of a model folder, such as Ultralytics' ``yolo export format=openvino`` writes (NAME.xml,
    NAME.bin, metadata.yaml): the folder stands for that file. An export for another task is refused here, before
    any input or model opens."""
    try:
        models = sorted(path for path in folder.iterdir() if path.suffix.lower() == ".xml" and path.is_file())
    except OSError as error:
        raise DemoError(f"cannot read model folder '{shown(folder)}': {error.strerror or error}") from None
    if not models:
        raise DemoError(f"model folder '{shown(folder)}' holds no OpenVINO model (.xml): give -m a model file (.xml, "
                        f".onnx or .tflite) or a folder that `{SEGMENTATION_EXPORT}` wrote")
    if len(models) > 1:
        raise DemoError(f"model folder '{shown(folder)}' holds {len(models)} .xml models "
                        f"({', '.join(shown(path.name) for path in models)}): give -m the one to run, "
                        f"e.g. -m '{shown(models[0])}'")
    refuse_other_task(read_metadata(folder / METADATA_FILE).task, f"'{shown(folder)}'")
    return models[0]


def refuse_other_task(task: str | None, path: str) -> None:
    """A model whose metadata.yaml says it does another job (detect, pose, classify, obb) has no masks to give."""
    if task not in (None, "segment"):
        raise DemoError(f"{path}: this model has no masks: its metadata.yaml says task {task}, not segment; give a "
                        f"segmentation (-seg) model, such as the folder `{SEGMENTATION_EXPORT}` writes")
