"""The command line meets the neighbouring tools' habits: their spellings (Ultralytics' --conf, --iou and --source,
YOLOv5's --conf-thres and --classes 0 2, dashes for underscores) are taken; what it does not know, Ultralytics'
key=value included, is one "did you mean" line and exit code 2; --help names the other commands."""
from __future__ import annotations

import pytest
from helpers.running import run_demo

from demo.app import cli, flags
from demo.core.errors import UsageError

# What a command needs besides the flag tried, so that a parse gets as far as the flag.
REQUIRED = {"python -m demo eval": ["--annotations", "a.json", "--images", "."],
            "python -m demo export": ["model.xml", "repository"]}


def parsed(*argv: str):
    return flags.build_parser().parse_args(list(argv))


def refusal(*argv: str) -> str:
    with pytest.raises(UsageError) as raised:
        parsed(*argv)
    return str(raised.value)


def test_other_tools_spellings_fill_the_same_settings():
    ours = flags.model_settings(parsed("-t", "0.3", "--iou_threshold", "0.4", "--max_det", "5", "--classes", "0,2"))
    for theirs in (["--conf", "0.3", "--iou", "0.4", "--max-det", "5", "--classes", "0", "2"],  # Ultralytics'
                   ["--conf-thres", "0.3", "--iou-thres", "0.4", "--max-det", "5", "--classes", "[0,2]"]):  # YOLOv5's
        settings = flags.model_settings(parsed(*theirs))
        assert (settings.threshold, settings.iou_threshold, settings.max_det, settings.classes) == \
            (ours.threshold, ours.iou_threshold, ours.max_det, ours.classes) == (0.3, 0.4, 5, ("0", "2"))


def test_source_is_the_input_and_no_show_closes_the_window():
    args = parsed("--source", "clip.mp4", "--no-show", "--output-resolution", "320x240")

    assert (args.input, args.no_show, args.output_resolution) == (["clip.mp4"], True, (320, 240))


@pytest.mark.parametrize("command", flags.COMMANDS, ids=lambda command: command.name or "run")
def test_every_long_flag_is_taken_with_dashes_for_underscores(command):
    parser = command.parser()
    for group in command.groups:
        for flag in group.flags:
            for spelling in [name for name in flag.spellings if name.startswith("--") and "_" in name]:
                dashed = spelling.replace("_", "-")
                try:  # a switch is set; a flag that wants a value says so under its declared names
                    args, unknown = parser.parse_known_args([*REQUIRED.get(command.prog, []), dashed])
                except UsageError as error:
                    assert str(error).startswith(f"argument {'/'.join(flag.spellings)}: expected"), (dashed, error)
                else:
                    assert unknown == [] and getattr(args, flag.dest) not in (None, False), dashed


def test_messages_name_the_declared_spelling_whichever_was_typed():
    assert refusal("--output-resolution", "5") == \
        "argument --output_resolution: expected WIDTHxHEIGHT with both at least 1, got '5'"
    assert refusal("--conf", "2") == "argument -t/--prob_threshold: expected a probability between 0 and 1, got 2"


def test_a_prefix_of_a_flag_and_of_its_dashed_spelling_is_still_one_flag():
    assert parsed("--status").status_in_output is True  # --status_in_output and --status-in-output


@pytest.mark.parametrize(("given", "classes"), [
    (["person,car"], ("person", "car")), (["0", "2", "3"], ("0", "2", "3")), (["[0,2]"], ("0", "2")),
    (["0,2", "16"], ("0", "2", "16")), (["traffic light"], ("traffic light",))])
def test_classes_are_taken_comma_separated_apart_or_in_brackets(given, classes):
    assert flags.model_settings(parsed("--classes", *given, "-i", "clip.mp4")).classes == classes


@pytest.mark.parametrize(("argv", "line"), [
    (["--confidence", "0.5"], "unrecognized argument --confidence: did you mean --conf?"),
    (["--noshow"], "unrecognized argument --noshow: did you mean --no_show?"),
    (["--max-dett", "3"], "unrecognized argument --max-dett: did you mean --max-det?"),
    (["-conf", "0.4"], "unrecognized argument -conf: did you mean --conf?"),
    (["conf=0.5"], "unrecognized argument conf=0.5: did you mean --conf 0.5?"),
    (["source=video.mp4"], "unrecognized argument source=video.mp4: did you mean --source video.mp4?"),
    (["model=yolo11n-seg_openvino_model/"],
     "unrecognized argument model=yolo11n-seg_openvino_model/: did you mean --model yolo11n-seg_openvino_model/?"),
    (["show=False"], "unrecognized argument show=False: did you mean --no_show?"),
    (["show=True"], "unrecognized argument show=True: show is on unless --no_show is given: leave show=True out"),
    (["loop=True"], "unrecognized argument loop=True: did you mean --loop?"),
    (["loop=False"], "unrecognized argument loop=False: --loop is off unless given: leave loop=False out"),
    (["classes=[0,2]"], "unrecognized argument 'classes=[0,2]': did you mean --classes '[0,2]'?"),
    (["source=my clip.mp4"], "unrecognized argument 'source=my clip.mp4': did you mean --source 'my clip.mp4'?"),
    (["imgsz=320"], "unrecognized argument imgsz=320: python -m demo --help lists what it takes"),
    (["evl"], "unrecognized argument evl: did you mean the command eval? (python -m demo eval --help)"),
    (["val"], "unrecognized argument val: did you mean the command eval? (python -m demo eval --help)"),
    (["exprot"], "unrecognized argument exprot: did you mean the command export? (python -m demo export --help)"),
    (["video.mp4"], "unrecognized argument video.mp4: did you mean -i video.mp4?"),
    (["0"], "unrecognized argument 0: did you mean -i 0?"),
    (["rtsp://camera/stream"], "unrecognized argument rtsp://camera/stream: did you mean -i rtsp://camera/stream?"),
    (["predict"], ("unrecognized argument predict: the input is given with -i, and the commands are eval, download, "
                   "export (python -m demo --help)")),
], ids=lambda value: value[0] if isinstance(value, list) else "")
def test_what_the_run_does_not_take_is_one_did_you_mean_line(argv, line):
    assert refusal("-i", "clip.mp4", *argv) == line


def test_a_word_that_is_a_file_is_taken_for_an_input_not_a_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "evl").write_bytes(b"")

    assert refusal("evl") == "unrecognized argument evl: did you mean -i evl?"


def test_another_command_answers_for_its_own_flags():
    with pytest.raises(UsageError) as raised:
        flags.eval_parser().parse_args(["--annotations", "a.json", "--images", ".", "--limt", "5"])

    assert str(raised.value) == "unrecognized argument --limt: did you mean --limit?"


def test_help_names_the_other_commands_and_the_dashes():
    shown = run_demo("--help")

    assert shown.returncode == 0, shown.stderr
    assert "\ncommands (python -m demo NAME --help shows a command's flags):\n" \
        "  eval      COCO box and mask AP of a model, measured through the demo's own pipeline\n" \
        "  download  fetch Open Model Zoo models and the sample clip, checking size and checksum\n" \
        "  export    write an OpenVINO Model Server repository of MODEL into DIR\n" in shown.stdout
    assert [command.name for command in flags.COMMANDS[1:]] == list(cli.SUBCOMMANDS)
    # The other spellings are named once, not beside every flag.
    assert "-t PROB_THRESHOLD, --prob_threshold PROB_THRESHOLD" in shown.stdout
    assert "(also--conf,--conf_thres)" in "".join(shown.stdout.split())  # argparse wraps lines
    assert shown.stdout.count("--no-show") == 1
    assert shown.stdout.rstrip().endswith("Long flags are also taken with dashes for underscores: --no-show for "
                                          "--no_show.")


@pytest.mark.slow
@pytest.mark.parametrize(("argv", "line"), [
    (["conf=0.5"], "error: unrecognized argument conf=0.5: did you mean --conf 0.5?"),
    (["evl"], "error: unrecognized argument evl: did you mean the command eval? (python -m demo eval --help)"),
    (["eval", "--annotations", "a.json", "--images", ".", "--limt", "5"],
     "error: unrecognized argument --limt: did you mean --limit?"),
])
def test_the_did_you_mean_line_is_all_a_user_sees(argv, line):
    run = run_demo(*argv)

    assert run.returncode == 2
    assert run.stderr == line + "\n" and run.stdout == ""
