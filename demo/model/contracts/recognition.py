"""Which contract a model fits, from its ports and what it says about itself; one line when none or several do."""
from __future__ import annotations

import openvino as ov

from demo.core.errors import DemoError
from demo.model.contracts.base import Contract, Misfit
from demo.model.contracts.maskrcnn import MaskRCNNContract
from demo.model.contracts.matting import MattingContract
from demo.model.contracts.plate import PlateMattingContract
from demo.model.contracts.ports import dims_of, port_name, rank_of, shape_text
from demo.model.contracts.recurrent import RecurrentMattingContract
from demo.model.contracts.two_input import TwoInputContract
from demo.model.contracts.yolact import YolactContract
from demo.model.contracts.yolo import YoloEnd2EndContract, YoloSegContract
from demo.model.model_info import ModelInfo, refuse_other_task

CONTRACTS: dict[str, type[Contract]] = {contract.kind: contract for contract in (
    MaskRCNNContract, TwoInputContract, YoloSegContract, YoloEnd2EndContract, YolactContract, MattingContract,
    RecurrentMattingContract, PlateMattingContract)}
MODEL_TYPES = tuple(CONTRACTS)


def describe_ports(ports: list[ov.Output]) -> str:
    return ", ".join(f"{port_name(p) or '<unnamed>'} {p.get_partial_shape()} "
                     f"{p.get_element_type().get_type_name()}" for p in ports)


def _found(model: ov.Model) -> str:
    return f"inputs [{describe_ports(model.inputs)}], outputs [{describe_ports(model.outputs)}]"


def _refuse_other_tasks(model: ov.Model, path: str, info: ModelInfo) -> None:
    """Models that say, or show, they are of a kind the demo does not run: one line instead of a
    search for a contract."""
    refuse_other_task(info.task, path)
    if len(model.inputs) == 1 and len(model.outputs) == 1 and rank_of(model.output(0)) == 3 \
            and dims_of(model.output(0))[0] == 1:
        raise DemoError(f"{path}: this model has no masks: its one output {shape_text(model.output(0))} is a detection "
                        "head's (boxes and class scores, no mask prototypes); use a segmentation (-seg) model")


def recognise(model: ov.Model, path: str, info: ModelInfo | None = None, model_type: str | None = None) -> Contract:
    """The one contract the model fits, or the one ``model_type`` names; else one line saying why not."""
    info = info or ModelInfo()
    if model_type is None:
        _refuse_other_tasks(model, path, info)
    fits, misfits = [], {}
    for kind, contract in CONTRACTS.items():
        if model_type not in (None, kind):
            continue
        try:
            found = contract.match(model, info)
        except Misfit as misfit:
            misfits[kind] = str(misfit)
            continue
        if found is not None:
            fits.append(found)
    if len(fits) == 1:
        return fits[0]
    if fits:
        kinds = [found.kind for found in fits]
        raise DemoError(f"{path}: ambiguous: the model fits the {' and the '.join(kinds)} contracts alike; "
                        f"choose one with --model_type {'|'.join(kinds)} ({_found(model)})")
    if model_type is not None:
        reason = misfits.get(model_type, f"expected {CONTRACTS[model_type].expected}")
        raise DemoError(f"{path}: not a {model_type} model: {reason}; {_found(model)}")
    if misfits:
        kinds_by_reason: dict[str, list[str]] = {}
        for kind, reason in misfits.items():
            kinds_by_reason.setdefault(reason, []).append(kind)
        reasons = "; ".join(f"as {' or '.join(kinds)}, {reason}" for reason, kinds in kinds_by_reason.items())
        raise DemoError(f"{path}: not a supported segmentation model: {reasons}; {_found(model)}")
    expected = "; or ".join(f"{kind}: {contract.expected}" for kind, contract in CONTRACTS.items())
    raise DemoError(f"{path}: not a supported segmentation model: {_found(model)}; expected {expected}")
