"""``tfgen.serving.connections``: idle connections wait in one thread; workers start only for requests."""

import http.server
import socket
import threading
import time

from tfgen.serving import connections


class _Stub:
    """A parked connection: a socket, when it went idle, and whether it was closed."""

    def __init__(self, sock):
        self.sock, self.idle_since, self.closed = sock, time.monotonic(), threading.Event()

    def close(self):
        self.closed.set()
        self.sock.close()


def _wait(condition, seconds=10):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def test_a_parked_connection_is_dispatched_when_it_sends_and_closed_when_idle_too_long():
    dispatched = []
    parking = connections.Parking(dispatched.append, idle_timeout=0.5)
    try:
        pairs = [socket.socketpair() for _ in range(3)]
        stubs = [_Stub(server_end) for server_end, _ in pairs]
        for stub in stubs:
            parking.park(stub)
        pairs[1][1].sendall(b"GET / HTTP/1.1\r\n\r\n")
        assert _wait(lambda: dispatched == [stubs[1]])
        # The other two sent nothing: closed after the idle timeout; the dispatched one is not parked any more.
        assert _wait(lambda: stubs[0].closed.is_set() and stubs[2].closed.is_set(), seconds=5)
        assert not stubs[1].closed.is_set() and dispatched == [stubs[1]]
    finally:
        parking.close()
    for _, client_end in pairs:
        client_end.close()


def test_closing_the_parking_closes_what_waits_there():
    parking = connections.Parking(lambda connection: None, idle_timeout=60)
    server_end, client_end = socket.socketpair()
    stub = _Stub(server_end)
    parking.park(stub)
    time.sleep(0.1)
    parking.close()
    assert stub.closed.is_set() and client_end.recv(1) == b""
    parking.park(_Stub(socket.socketpair()[0]))  # after closing: closed at once, nothing hangs


def test_workers_start_a_thread_only_when_every_one_is_busy():
    workers = connections.Workers("test", spare_seconds=30)
    release, running = threading.Event(), []

    def busy():
        running.append(threading.current_thread().name)
        release.wait(10)

    for _ in range(3):
        workers.submit(busy)
    assert _wait(lambda: len(running) == 3) and workers.threads == 3
    release.set()
    time.sleep(0.2)
    done = threading.Event()
    for _ in range(3):  # one after another: the idle threads take them
        workers.submit(done.set)
        assert done.wait(5)
        done.clear()
    assert workers.threads == 3


def test_spare_workers_end_after_their_spare_time():
    workers = connections.Workers("spare", spare_seconds=0.2)
    done = threading.Event()
    workers.submit(done.set)
    assert done.wait(5)
    assert _wait(lambda: not [t for t in threading.enumerate() if t.name.startswith("spare-")], seconds=5)
    done.clear()
    workers.submit(done.set)  # a new thread when none is left
    assert done.wait(5) and workers.threads == 2


class _Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _read_response(reader):
    status = reader.readline()
    length = 0
    while True:
        line = reader.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return status, reader.read(length)


def test_a_connection_answers_pipelined_requests_in_order_and_stays_open():
    server_end, client_end = socket.socketpair()
    connection = connections.Connection(_Echo, server_end, ("test", 0), server=None)
    client_end.sendall(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n")
    assert connection.serve_ready_requests() is True  # both answered in one go, then idle
    reader = client_end.makefile("rb")
    assert _read_response(reader) == (b"HTTP/1.1 200 OK\r\n", b"/first")
    assert _read_response(reader) == (b"HTTP/1.1 200 OK\r\n", b"/second")
    client_end.sendall(b"GET /third HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert connection.serve_ready_requests() is False  # the client asked to close
    assert _read_response(reader) == (b"HTTP/1.1 200 OK\r\n", b"/third")
    connection.close()
    assert reader.read() == b""
