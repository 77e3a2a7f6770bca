"""Runs ``tfgen serve`` in a subprocess for the serving tests, and talks to it."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from tests.helpers import REPO_ROOT

_URL_PATTERN = re.compile(r"at (http://[^/\s]+)/v1/models/")
_GRPC_PATTERN = re.compile(r"gRPC at (\S+):(\d+)")


class ServerProcess:
    """``python -m tfgen serve --port 0 --grpc-port 0 ...`` with its output in files under ``log_dir``.

    ``start()`` returns once the server printed its URL (it prints it after
    loading the model and binding the socket), so there is no port race.
    """

    def __init__(self, base_path, log_dir, *flags):
        self.base_path = str(base_path)
        self.log_dir = str(log_dir)
        self.flags = [str(flag) for flag in flags]
        self.process = None
        self.url = None
        self.grpc_port = None

    def start(self, timeout=180):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=REPO_ROOT)
        self._stdout = open(os.path.join(self.log_dir, "serve.stdout"), "w+")
        self._stderr = open(os.path.join(self.log_dir, "serve.stderr"), "w+")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tfgen", "serve", "--model-base-path", self.base_path, "--port", "0", "--grpc-port", "0",
             *self.flags],
            stdout=self._stdout, stderr=self._stderr, env=env, cwd=self.log_dir,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = _URL_PATTERN.search(self.output())
            if match:
                self.url = match.group(1)
                self.port = int(self.url.rsplit(":", 1)[1])
                grpc_match = _GRPC_PATTERN.search(self.output())
                self.grpc_port = int(grpc_match.group(2)) if grpc_match else None
                return self
            if self.process.poll() is not None:
                raise AssertionError(f"tfgen serve exited with {self.process.returncode}:\n{self.logs()}")
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"tfgen serve did not start within {timeout} s:\n{self.logs()}")

    def output(self):
        with open(self._stdout.name) as handle:
            return handle.read()

    def logs(self):
        with open(self._stderr.name) as handle:
            return f"STDOUT:\n{self.output()}\nSTDERR:\n{handle.read()[-5000:]}"

    def request(self, path, body=None, method=None, headers=None):
        """``(status, decoded JSON)`` of a request; ``body`` is a dict (sent as JSON) or bytes."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def predict(self, body, path_suffix=""):
        name = os.path.basename(self.base_path.rstrip("/"))
        return self.request(f"/v1/models/{name}{path_suffix}:predict", body)

    def signal_and_wait(self, signum, timeout=60):
        """Sends ``signum``; returns the exit status."""
        self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self._stdout.close()
            self._stderr.close()

    def stop(self):
        """Stops the server if it still runs (SIGTERM, then SIGKILL)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for handle in (getattr(self, "_stdout", None), getattr(self, "_stderr", None)):
            if handle is not None and not handle.closed:
                handle.close()


def port_is_free(port):
    """True when nothing listens on 127.0.0.1:``port`` and a new server could bind it."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except OSError:
        pass
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR, as servers (ours included) set it: binding then fails
        # only while a socket still listens on the port, not for TIME_WAIT.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
