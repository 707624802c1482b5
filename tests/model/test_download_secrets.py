"""A mirror's address may carry credentials (user info, a token in its query): no message shows them."""
from __future__ import annotations

from helpers.running import one_error_line, run_demo


def test_a_mirror_with_credentials_that_cannot_be_reached_is_named_without_them(tmp_path):
    mirror = "http://admin:SECRET1@127.0.0.1:9/models?token=SECRET2"

    run = run_demo("download", "instance-segmentation-person-0007", "--output_dir", tmp_path / "models",
                   env={"OMZ_MIRROR": mirror})

    assert run.returncode == 1
    assert "SECRET" not in run.stderr + run.stdout
    assert one_error_line(run.stderr).startswith("error: cannot reach 127.0.0.1:9: ")
    assert "downloading http://***@127.0.0.1:9/models?token=***" in run.stderr
