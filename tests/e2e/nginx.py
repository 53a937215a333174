"""nginx in front of Kefu webhook processes, as docs/scaling.md sets it up, on loopback.

Used by tests/e2e/test_scaling.py and benchmarks/bot_e2e.py --processes: the shipped
`deploy/nginx-kefu.conf` with only its TLS lines, ports and secret replaced, inside a minimal
nginx.conf whose paths are all in a scratch folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from bot.config import REPO_ROOT
from tests.e2e.emulator.ptb import free_port

SITE = REPO_ROOT / "deploy" / "nginx-kefu.conf"


class NginxMissing(RuntimeError):
    """nginx is not installed and cannot be (not root)."""


def nginx_binary() -> str:
    """nginx's path; installed with apt-get when missing and the tests run as root."""
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found:
        return found
    if os.geteuid() != 0:
        raise NginxMissing("nginx is not installed and this is not root: apt-get install nginx")
    subprocess.run(["apt-get", "install", "-y", "nginx"], check=True, capture_output=True)
    return "/usr/sbin/nginx"


def site_config(*, listen: int, upstreams: list[int], secret: str) -> str:
    """The shipped site file with only the TLS lines, the ports and the secret replaced."""
    text = SITE.read_text(encoding="utf-8")
    replacements = [
        (r"    listen 443 ssl;\n", f"    listen 127.0.0.1:{listen};\n"),
        (r"    ssl_certificate .*\n", ""),
        (r"    ssl_certificate_key .*\n", ""),
        (
            r"    server 127\.0\.0\.1:8443;\n    server 127\.0\.0\.1:8444;\n",
            "".join(f"    server 127.0.0.1:{port};\n" for port in upstreams),
        ),
        (r"CHANGE-ME-to-KEFU_WEBHOOK_SECRET", secret),
    ]
    for pattern, replacement in replacements:
        text, count = re.subn(pattern, replacement, text)
        assert count == 1, f"{pattern!r} not in {SITE}"
    return text


def main_config(prefix: Path, site: str) -> str:
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""{user}worker_processes 1;
error_log {prefix}/error.log warn;
pid {prefix}/nginx.pid;
events {{ worker_connections 512; }}
http {{
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    log_format upstream '$status $upstream_addr';
    access_log {prefix}/access.log upstream;
{site}
}}
"""


def wait_listening(port: int, *, seconds: float = 60.0) -> None:
    """Wait until something accepts connections on 127.0.0.1:`port`."""
    for _ in range(int(seconds / 0.1)):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {seconds} s")


@contextlib.contextmanager
def running_nginx(
    prefix: Path, *, processes: int, secret: str
) -> Iterator[tuple[int, list[int], Path]]:
    """nginx on a free loopback port in front of `processes` free upstream ports; yields (port,
    upstream ports, access log with each request's status and upstream)."""
    binary = nginx_binary()
    prefix.mkdir(parents=True)
    listen, upstreams = free_port(), [free_port() for _ in range(processes)]
    config = prefix / "nginx.conf"
    site = site_config(listen=listen, upstreams=upstreams, secret=secret)
    config.write_text(main_config(prefix, site), encoding="utf-8")
    checked = subprocess.run(
        [binary, "-t", "-p", str(prefix), "-c", str(config)], capture_output=True, check=False
    )
    if checked.returncode != 0:
        raise RuntimeError(checked.stderr.decode())
    process = subprocess.Popen(
        [binary, "-p", str(prefix), "-c", str(config), "-g", "daemon off;"],
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening(listen)
        yield listen, upstreams, prefix / "access.log"
    finally:
        process.send_signal(signal.SIGQUIT)
        process.wait(30)
