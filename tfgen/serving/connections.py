"""Open connections without a thread each: the connection layer of ``tfgen serve``'s REST server.

The standard library's ``ThreadingHTTPServer`` gives every connection a
thread for its whole life, so a keep-alive connection that sends nothing
still holds one, and a thousand idle clients make a thousand threads that
slow the others. Here a connection holds a thread only while it has a request
to answer:

* :class:`Parking`: one thread waits (``selectors``: epoll, kqueue ...) on
  every connection between requests, hands each one that becomes readable
  to the workers, and closes those idle longer than ``idle_timeout``;
* :class:`Workers`: threads that answer requests, started when every one is
  busy (a slow client still cannot hold up the others) and ended after
  ``spare_seconds`` without work;
* :class:`Connection`: the request handler of one connection, kept across
  its requests (HTTP/1.1 keep-alive, pipelined requests included).

A worker that has answered a request waits a few milliseconds for the
connection's next one before parking it (``linger``), so a client sending
requests back to back is answered without the hand-over through the parking
thread; a new connection whose request has already arrived goes straight to
a worker. A connection that sends nothing is parked (at once, or after the
linger): it costs a file descriptor and a selector entry, not a thread.
"""

import collections
import logging
import queue
import select
import selectors
import socket
import threading
import time

logger = logging.getLogger("tfgen.serving")


class Connection:
    """One client connection and its request handler, reused for each request it sends.

    Args:
        handler_class: a ``http.server.BaseHTTPRequestHandler`` subclass.
        sock: the accepted socket.
        address: the client's address.
        server: the server (the handler's ``server``).
    """

    def __init__(self, handler_class, sock, address, server):
        self.sock = sock
        # Not handler_class(...): its __init__ would serve the whole connection in this thread.
        handler = handler_class.__new__(handler_class)
        handler.request, handler.client_address, handler.server = sock, address, server
        handler.setup()  # socket timeout, rfile and wfile
        self.handler = handler
        self.idle_since = time.monotonic()

    def serve_ready_requests(self):
        """Answers the request that arrived, and any already read behind it; True if the connection stays open."""
        handler = self.handler
        while True:
            handler.close_connection = True
            handler.handle_one_request()
            if handler.close_connection:
                return False
            if not self._has_buffered_request():
                self.idle_since = time.monotonic()
                return True

    def _has_buffered_request(self):
        """Whether bytes of a next (pipelined) request wait in the reader's buffer or the socket, without blocking."""
        timeout = self.sock.gettimeout()
        try:
            self.sock.settimeout(0.0)
            return bool(self.handler.rfile.peek(1))
        except (BlockingIOError, OSError, ValueError):
            return False
        finally:
            try:
                self.sock.settimeout(timeout)
            except OSError:
                pass

    def wait_readable(self, seconds):
        """Whether a request (or the client's close) arrives within ``seconds``."""
        try:
            poller = select.poll()  # no file descriptor of its own, unlike epoll
            poller.register(self.sock, select.POLLIN)
            return bool(poller.poll(1000 * seconds))
        except (OSError, ValueError):  # closed
            return True  # the next read says so

    def close(self):
        try:
            self.handler.finish()
        except OSError:  # the client went away; its unsent bytes do not matter
            pass
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self.sock.close()


class Workers:
    """Threads that run jobs: an idle one takes the next job, else a new thread starts.

    Threads left without work for ``spare_seconds`` end, so the pool is as
    large as the number of requests in progress at once, recently.
    """

    def __init__(self, name, spare_seconds=30.0):
        self.name = name
        self.spare_seconds = spare_seconds
        self._jobs = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._started = 0

    def submit(self, job):
        with self._lock:
            if self._idle:
                self._idle -= 1  # that idle thread takes it
                self._jobs.put(job)
                return
            self._started += 1
            number = self._started
        threading.Thread(target=self._run, args=(job,), name=f"{self.name}-{number}", daemon=True).start()

    def _run(self, job):
        while True:
            try:
                job()
            except Exception:  # noqa: BLE001  (a job's failure must not end the thread's service)
                logger.exception("a connection job failed")
            with self._lock:
                self._idle += 1
            try:
                job = self._jobs.get(timeout=self.spare_seconds)
            except queue.Empty:
                with self._lock:
                    try:  # a job submitted just as the wait ended counted on this thread
                        job = self._jobs.get_nowait()
                    except queue.Empty:
                        self._idle -= 1
                        return

    @property
    def threads(self):
        """Threads started so far (for tests and logs)."""
        return self._started


class Parking:
    """Waits on idle connections in one thread; hands a readable one to ``dispatch``.

    Args:
        dispatch: ``dispatch(connection)``, called in the parking thread when
            a parked connection becomes readable (a request, or its close).
        idle_timeout: seconds a connection may stay parked before it is closed.
    """

    def __init__(self, dispatch, idle_timeout):
        self.dispatch = dispatch
        self.idle_timeout = idle_timeout
        self._selector = selectors.DefaultSelector()
        self._arrivals = collections.deque()
        self._waker, self._wake_end = socket.socketpair()
        self._waker.setblocking(False)
        self._wake_end.setblocking(False)
        self._selector.register(self._wake_end, selectors.EVENT_READ)
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="tfgen-serve-parking", daemon=True)
        self._thread.start()

    def park(self, connection):
        """Waits for the connection's next request (from any thread); closes it if parking has closed."""
        if self._closed:
            connection.close()
            return
        self._arrivals.append(connection)
        self._wake()

    def _wake(self):
        try:
            self._waker.send(b"\0")
        except (BlockingIOError, OSError):  # already awake, or closing
            pass

    def _loop(self):
        parked = {}
        last_sweep = time.monotonic()
        while not self._closed:
            timeout = min(1.0, self.idle_timeout)
            for key, _ in self._selector.select(timeout):
                if key.fileobj is self._wake_end:
                    try:
                        while self._wake_end.recv(4096):
                            pass
                    except (BlockingIOError, OSError):
                        pass
                    continue
                connection = key.data
                self._selector.unregister(connection.sock)
                del parked[connection.sock]
                self.dispatch(connection)
            while self._arrivals:
                connection = self._arrivals.popleft()
                try:
                    self._selector.register(connection.sock, selectors.EVENT_READ, connection)
                except (ValueError, OSError):  # closed meanwhile
                    connection.close()
                    continue
                parked[connection.sock] = connection
            now = time.monotonic()
            if now - last_sweep < min(1.0, self.idle_timeout / 2):
                continue  # the idle sweep runs about once a second, not after every request
            last_sweep = now
            for sock, connection in list(parked.items()):
                if now - connection.idle_since > self.idle_timeout:
                    self._selector.unregister(sock)
                    del parked[sock]
                    connection.close()
        for connection in list(parked.values()) + list(self._arrivals):
            connection.close()
        self._selector.close()

    def close(self):
        """Closes every parked connection and stops the parking thread."""
        self._closed = True
        self._wake()
        self._thread.join(timeout=10)
        self._waker.close()
        self._wake_end.close()
