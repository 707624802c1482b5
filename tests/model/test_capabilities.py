"""Contracts say what their kind of model can do; the model is prepared one way wherever it runs.

Loading, serving and exporting ask a contract for its capabilities (states kept in the request, an
alpha matte rather than instances, a plate taken as a second image) instead of asking which class it
is, and ``python -m demo export`` prepares a model with the same ``prepare()`` as a local run.
"""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import openvino as ov
import pytest
from helpers import synthetic
from helpers.running import ROOT, run_demo

from demo.model.contracts import recognise
from demo.model.model_info import SECTION, read_model_info

PLATE_HW = (240, 320)
BUILDERS = {
    "yolo": lambda path: synthetic.build_yolo_seg_model(path, synthetic.DEFAULT_DETECTORS),
    "matting": synthetic.build_matting_model,
    "recurrent-matting": lambda path: synthetic.build_recurrent_matting_model(path, static_hw=PLATE_HW),
    "plate-matting": lambda path: synthetic.build_plate_matting_model(path, PLATE_HW),
}
# kind: (stateful, soft_output, plate_input, extra_image_inputs)
CAPABILITIES = {
    "yolo": (False, False, None, ()),
    "matting": (False, True, None, ()),
    "recurrent-matting": (True, True, None, ()),
    "plate-matting": (False, True, 1, (1,)),
}


@pytest.mark.parametrize("kind", CAPABILITIES)
def test_each_kind_of_model_declares_what_it_can_do(tmp_path, kind):
    path = BUILDERS[kind](tmp_path / "model.xml")
    model = ov.Core().read_model(path)
    contract = recognise(model, str(path), read_model_info(model, path))
    assert contract.kind == kind
    assert (contract.stateful, contract.soft_output, contract.plate_input,
            contract.extra_image_inputs) == CAPABILITIES[kind]


def contract_type_checks(source: Path) -> list[str]:
    """``isinstance``/``issubclass`` calls in ``source`` that name a contract class."""
    found = []
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in ("isinstance", "issubclass") and len(node.args) == 2:
            names = [n.id if isinstance(n, ast.Name) else n.attr for n in ast.walk(node.args[1])
                     if isinstance(n, (ast.Name, ast.Attribute))]
            found += [f"{source.relative_to(ROOT)}:{node.lineno} {name}" for name in names
                      if name.endswith("Contract")]
    return found


def test_no_module_outside_the_contracts_asks_which_contract_a_model_has():
    contracts = ROOT / "demo" / "model" / "contracts"
    sources = [path for path in (ROOT / "demo").rglob("*.py") if contracts not in path.parents]
    assert len(sources) > 20  # the scan reached the library
    assert [check for path in sources for check in contract_type_checks(path)] == []


def test_an_exported_two_image_model_prepares_the_plate_as_it_prepares_the_frame(tmp_path):
    """Exported, both inputs take u8 BGR images of any size, fitted alike: where the plate differs from
    the frame by 155 the matte is opaque, where it is the frame's own it is clear."""
    model = synthetic.build_plate_matting_model(tmp_path / "bgm.xml", PLATE_HW)
    done = run_demo("export", model, tmp_path / "repo", "--name", "bgm")
    assert done.returncode == 0, done.stderr
    exported = ov.Core().read_model(tmp_path / "repo" / "bgm" / "1" / "model.xml")
    assert [port.get_element_type() for port in exported.inputs] == [ov.Type.u8, ov.Type.u8]
    stated = {key: exported.get_rt_info([SECTION, key]).astype(str) for key in ("orig_width", "orig_height")}
    assert stated == {"orig_width": str(PLATE_HW[1]), "orig_height": str(PLATE_HW[0])}

    frame = np.full((120, 160, 3), 100, np.uint8)  # half the network's size each way: the fit stretches it
    plate = frame.copy()
    plate[30:90, 40:120] = (100, 100, 255)  # differs by 155 in one channel: opaque (64 or more)
    alpha = ov.Core().compile_model(exported, "CPU")({0: frame[np.newaxis], 1: plate[np.newaxis]})[0][0, 0]
    assert alpha.shape == PLATE_HW
    assert alpha[120, 160] == pytest.approx(1.0)  # the block's middle, in network pixels
    assert alpha[10, 10] == pytest.approx(0.0) and alpha[230, 310] == pytest.approx(0.0)
