"""``serve --tls-wait``: a first install waits for the kubelet to fill the Secret volume."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from webhook.server.run import wait_for_files


def test_waits_until_the_files_appear(tmp_path: Path) -> None:
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    threading.Timer(0.3, lambda: (cert.write_text("c"), key.write_text("k"))).start()
    start = time.monotonic()
    wait_for_files((cert, key), timeout=10, poll=0.05)
    assert cert.exists() and key.exists()
    assert 0.25 < time.monotonic() - start < 5


def test_gives_up_after_the_timeout(tmp_path: Path) -> None:
    start = time.monotonic()
    wait_for_files((tmp_path / "never",), timeout=0.3, poll=0.05)
    assert 0.25 < time.monotonic() - start < 2
