"""An RTSP server for the tests: GStreamer's RTSP server serving JPEG frames in real time.

Run by the system Python (``/usr/bin/python3``, which has python3-gi and
gir1.2-gst-rtsp-server-1.0), not the project's venv:

    /usr/bin/python3 tests/rtsp_server.py PORT FPS FRAME.jpg [FRAME.jpg ...]

serves the JPEG files, looped, as an MJPEG RTP stream at rtsp://127.0.0.1:PORT/stream and
prints "ready" once it listens. Each frame is stamped n / FPS and the stream is live, so the
server paces it in real time and a client that reads slowly loses frames, as from a camera.
"""
import sys
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


class LoopedFrames(GstRtspServer.RTSPMediaFactory):
    def __init__(self, frames: list[bytes], fps: int) -> None:
        super().__init__()
        self.frames, self.fps = frames, fps
        self.set_shared(True)
        self.set_launch(f"( appsrc name=frames is-live=true format=time do-timestamp=false "
                        f"caps=image/jpeg,framerate={fps}/1 ! jpegparse ! rtpjpegpay name=pay0 pt=26 )")
        self.connect("media-configure", self.configure)

    def configure(self, factory: object, media: GstRtspServer.RTSPMedia) -> None:
        source = media.get_element().get_child_by_name("frames")
        count = [0]

        def push(source: Gst.Element, length: int) -> None:
            number = count[0]
            buffer = Gst.Buffer.new_wrapped(self.frames[number % len(self.frames)])
            buffer.pts = buffer.dts = number * Gst.SECOND // self.fps
            buffer.duration = Gst.SECOND // self.fps
            count[0] += 1
            source.emit("push-buffer", buffer)

        source.connect("need-data", push)


def main() -> None:
    port, fps, paths = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    server.get_mount_points().add_factory("/stream", LoopedFrames([Path(p).read_bytes() for p in paths], fps))
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on port {port}")
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
