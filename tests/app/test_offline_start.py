"""Without the network, a run that would download its model or the sample clip says in its one line what to give
instead. The mirrors point at a closed local port: never the internet."""
from __future__ import annotations

import pytest
from helpers.running import SHARED, one_error_line, run_demo
from helpers.stream_servers import free_port

MODEL = "a model with -m (a model file or an Ultralytics export folder; docs/models.md says how to get one)"
PHOTO = SHARED / "media" / "images" / "darknet_dog.jpg"
EXPORT_FOLDER = SHARED / "models" / "yolo11n-seg_int8_openvino_model"


@pytest.fixture
def offline(tmp_path) -> tuple[dict[str, str], str]:
    """An environment whose downloads meet a closed port and whose caches are empty, and the line's start."""
    port = free_port()
    mirror = f"http://127.0.0.1:{port}"
    env = {"OMZ_MIRROR": mirror, "DEMO_MEDIA_MIRROR": mirror, "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "DEMO_MODELS_DIR": str(tmp_path / "models")}
    return env, f"error: cannot reach 127.0.0.1:{port}: Connection refused (offline?); without the network, give "


@pytest.mark.slow
@pytest.mark.parametrize(("argv", "needed"), [
    ([], f"{MODEL} and an input with -i"),
    (["-i", PHOTO], MODEL),
    (["-m", EXPORT_FOLDER], "an input with -i"),
], ids=["no_arguments", "no_model", "no_input"])
def test_an_offline_run_says_what_to_give_instead(offline, argv, needed):
    env, start = offline

    run = run_demo(*argv, env=env)  # the plan fails before any window would open

    assert run.returncode == 1
    assert one_error_line(run.stderr) == start + needed
