"""Secrets in a source's address: the rule over the URL forms real cameras, relays and clouds use, and
``python -m demo`` on real streams with passwords in the user information, the path and the query, whose
secret must appear in none of stderr, stdout (-r), --results, --report and the output files' names."""
from __future__ import annotations

import json

import pytest
from helpers import synthetic
from helpers.running import one_error_line, run_demo
from helpers.stream_servers import free_port, http_server, rtsp_server, write_numbered_jpegs

from demo.app import many
from demo.core.names import redact

SECRET = "S3cr3tPw"

# (the address a user gives, what the demo shows of it)
CAMERA_FORMS = [
    # Hikvision, Axis, Tapo, Uniview...: the user information
    (f"rtsp://admin:{SECRET}@192.168.1.64:554/Streaming/Channels/101",
     "rtsp://***@192.168.1.64:554/Streaming/Channels/101"),
    # Dahua, Amcrest
    (f"rtsp://admin:{SECRET}@192.168.1.108:554/cam/realmonitor?channel=1&subtype=0",
     "rtsp://***@192.168.1.108:554/cam/realmonitor?channel=1&subtype=0"),
    (f"rtsp://{SECRET}@cam.local/stream", "rtsp://***@cam.local/stream"),  # a token as the user
    # A password typed with /, # or @ in it, unescaped: hidden whole
    (f"rtsp://admin:a/{SECRET}@cam.local/live", "rtsp://***@cam.local/live"),
    (f"rtsp://admin:a#{SECRET}@cam.local/live", "rtsp://***@cam.local/live"),
    (f"rtsp://admin:a@{SECRET}@cam.local/live", "rtsp://***@cam.local/live"),
    # XMEye and other cheap DVRs: KEY=VALUE pairs in the path
    (f"rtsp://192.168.1.10:554/user=admin&password={SECRET}&channel=1&stream=0.sdp?",
     "rtsp://192.168.1.10:554/user=***&password=***&channel=1&stream=0.sdp?"),
    (f"rtsp://cam.local/live;user=admin;password={SECRET}", "rtsp://cam.local/live;user=***;password=***"),
    # A secret's name as a path segment, its value the next one
    (f"http://cam.local/api/password/{SECRET}/stream.mjpg", "http://cam.local/api/password/***/stream.mjpg"),
    # Foscam, Reolink
    (f"http://192.168.1.20:88/cgi-bin/CGIStream.cgi?cmd=GetMJStream&usr=admin&pwd={SECRET}",
     "http://192.168.1.20:88/cgi-bin/CGIStream.cgi?cmd=GetMJStream&usr=***&pwd=***"),
    (f"rtmp://192.168.1.30/bcs/channel0_main.bcs?channel=0&stream=0&user=admin&password={SECRET}",
     "rtmp://192.168.1.30/bcs/channel0_main.bcs?channel=0&stream=0&user=***&password=***"),
    # Other keys secrets come in, in any case and percent-escaped
    (f"http://cam.local/video.mjpg?pw={SECRET}&power=1", "http://cam.local/video.mjpg?pw=***&power=1"),
    (f"http://cam.local/video.mjpg?PASSWD={SECRET}", "http://cam.local/video.mjpg?PASSWD=***"),
    (f"http://cam.local/video.mjpg?pass%77ord={SECRET}", "http://cam.local/video.mjpg?pass%77ord=***"),
    (f"https://relay.example/live.m3u8?token={SECRET}", "https://relay.example/live.m3u8?token=***"),
    (f"https://relay.example/live.m3u8?access_token={SECRET}&q=hd", "https://relay.example/live.m3u8?access_token=***&q=hd"),
    (f"https://relay.example/live.m3u8?apikey={SECRET}", "https://relay.example/live.m3u8?apikey=***"),
    (f"https://relay.example/live.m3u8#token={SECRET}", "https://relay.example/live.m3u8#token=***"),
    # Signed URLs: AWS S3, Google Cloud Storage, CloudFront, Azure
    (f"https://b.s3.eu-west-1.amazonaws.com/clip.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={SECRET}"
     f"%2F20260101%2Feu-west-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=3600"
     f"&X-Amz-Security-Token={SECRET}&X-Amz-Signature={SECRET}",
     "https://b.s3.eu-west-1.amazonaws.com/clip.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=***"
     "&X-Amz-Date=20260101T000000Z&X-Amz-Expires=3600&X-Amz-Security-Token=***&X-Amz-Signature=***"),
    (f"https://storage.googleapis.com/b/clip.mp4?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential={SECRET}"
     f"&X-Goog-Expires=900&X-Goog-Signature={SECRET}",
     "https://storage.googleapis.com/b/clip.mp4?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=***"
     "&X-Goog-Expires=900&X-Goog-Signature=***"),
    (f"https://d1.cloudfront.net/clip.mp4?Expires=1700000000&Signature={SECRET}&Key-Pair-Id={SECRET}",
     "https://d1.cloudfront.net/clip.mp4?Expires=1700000000&Signature=***&Key-Pair-Id=***"),
    (f"https://a.blob.core.windows.net/c/clip.mp4?sv=2022-11-02&sr=b&sp=r&sig={SECRET}",
     "https://a.blob.core.windows.net/c/clip.mp4?sv=2022-11-02&sr=b&sp=r&sig=***"),
    # Nothing secret: as given
    ("rtsp://192.168.1.64:554/Streaming/Channels/101", "rtsp://192.168.1.64:554/Streaming/Channels/101"),
    ("videos/password/clip.mp4", "videos/password/clip.mp4"),  # a file's name is no URL
]


@pytest.mark.parametrize(("given", "shown"), CAMERA_FORMS)
def test_the_rule_hides_every_secret_in_the_forms_cameras_use(given, shown):
    assert redact(given) == shown


@pytest.mark.parametrize("given", [given for given, _ in CAMERA_FORMS])
def test_a_source_name_made_from_an_address_has_no_secret(given):
    assert SECRET not in many.source_names([given])[0]


def test_source_names_from_a_path_with_credentials_keep_the_host():
    assert many.source_names([f"rtsp://cam.local:554/user=admin&password={SECRET}&channel=1&stream=0.sdp"]) == [
        "cam.local_554_user_password_channel_1_st"]  # 40 characters


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return synthetic.person_0007_like(tmp_path_factory.mktemp("model") / "blobs.xml", synthetic.DEFAULT_DETECTORS)


@pytest.mark.slow
def test_secrets_of_several_streams_are_in_no_output(model, tmp_path):
    """An RTSP stream with a password in its user information and query, an MJPEG stream over HTTP with
    one in its path (XMEye's form) and query: measured, printed, written, reported."""
    frames = write_numbered_jpegs(tmp_path / "served")
    outputs = tmp_path / "out"
    outputs.mkdir()
    results, report = tmp_path / "results.jsonl", tmp_path / "report.json"
    with rtsp_server(frames, 30) as rtsp, http_server(frames[0].parent, 30) as http:
        rtsp_url = rtsp.url.replace("rtsp://", f"rtsp://admin:{SECRET}@") + f"?password={SECRET}"
        http_url = http.url + f"user=admin&password={SECRET}&channel=1&stream=0.sdp?pw={SECRET}&sig={SECRET}"
        run = run_demo("-m", model, "-i", rtsp_url, "-i", http_url, "--benchmark", "-niter", "30", "-r",
                       "--results", results, "--report", report, "-o", f"{outputs}/", timeout=300)
    assert run.returncode == 0, run.stderr
    written = [path.name for path in outputs.iterdir()]
    sources = {record["source"] for record in map(json.loads, results.read_text().splitlines())}
    assert len(written) == 2 and len(sources) == 2 and len(json.loads(report.read_text())["sources"]) == 2
    assert f"stream '{rtsp.url.replace('rtsp://', 'rtsp://***@')}?password=***'" in run.stderr
    for text in (run.stderr, run.stdout, results.read_text(), report.read_text(), *written):
        assert SECRET not in text


@pytest.mark.parametrize("address", [
    f"rtsp://admin:{SECRET}@127.0.0.1:{{port}}/user=admin&password={SECRET}&channel=1&stream=0.sdp",
    f"http://127.0.0.1:{{port}}/video.cgi?usr=admin&pwd={SECRET}",
    f"ftp://admin:{SECRET}@127.0.0.1:{{port}}/clip.mp4",  # a scheme the demo does not read
])
def test_a_stream_that_does_not_open_is_one_line_without_its_secret(model, address):
    run = run_demo("-m", model, "-i", address.format(port=free_port()), "--no_show", "--open_timeout", "2")
    assert run.returncode == 1
    line = one_error_line(run.stderr)
    assert "***" in line and SECRET not in line


def test_several_sources_one_of_which_fails_name_it_without_its_secret(model, tmp_path):
    clip = synthetic.write_ffv1_video(tmp_path / "clip.mkv", [synthetic.draw_scene(160, 120, [])[0]] * 3)
    run = run_demo("-m", model, "-i", clip, "-i", f"rtsp://127.0.0.1:{free_port()}/user=admin&password={SECRET}",
                   "--no_show", "-r", "--open_timeout", "2")
    assert run.returncode == 1
    assert SECRET not in run.stderr and SECRET not in run.stdout
    assert "source 127.0.0.1_" in run.stderr and "password=***" in run.stderr
