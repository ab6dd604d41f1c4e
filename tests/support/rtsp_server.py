"""A real RTSP server for tests: Debian's gst-rtsp-server serving H.264 at rtsp://127.0.0.1:PORT/test.

Run it with Debian's Python, the only one that can import ``gi``:

    /usr/bin/python3 tests/support/rtsp_server.py PORT [MOUNT [ADDRESS [AUDIO]]]

AUDIO adds a sine tone: ``aac`` (RFC 3640, as most cameras) or ``pcmu`` (G.711).
It prints ``ready`` once it listens, serves over TCP and UDP, and stops on SIGTERM or SIGINT.
This file runs outside the project's virtualenv: it imports nothing from detektor or tests.
"""

from __future__ import annotations

import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

PIPELINE = (
    "( videotestsrc is-live=true ! video/x-raw,width=640,height=480,framerate=30/1"
    " ! videoconvert ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30"
    " ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )"
)
TONE = "audiotestsrc is-live=true ! audioconvert ! audioresample ! audio/x-raw,channels=1,rate="
AUDIO = {
    "aac": f"{TONE}48000 ! voaacenc ! rtpmp4gpay name=pay1 pt=97",
    "pcmu": f"{TONE}8000 ! mulawenc ! rtppcmupay name=pay1",
}


def main() -> None:
    port = int(sys.argv[1])
    mount = sys.argv[2] if len(sys.argv) > 2 else "/test"
    address = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"
    audio = sys.argv[4] if len(sys.argv) > 4 else "none"
    launch = PIPELINE if audio == "none" else f"{PIPELINE[:-2]} {AUDIO[audio]} )"
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(address)
    server.set_service(str(port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch)
    factory.set_shared(True)
    server.get_mount_points().add_factory(mount, factory)
    if server.attach(None) == 0:
        print(f"cannot listen on {address}:{port}", file=sys.stderr, flush=True)
        sys.exit(1)
    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print("ready", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
