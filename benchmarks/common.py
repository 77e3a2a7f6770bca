"""Pieces every benchmark script shares: epoch timing and a description of the machine."""

import contextlib
import json
import os
import platform
import time

import keras
import tensorflow as tf

from tfgen import precision


class EpochTimer(keras.callbacks.Callback):
    """Wall seconds of every epoch of ``fit``; the first includes tracing."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)

    def steady_images_per_second(self, images_per_epoch):
        """Images per second over the epochs after the first (all of them if there is one)."""
        steady = self.seconds[1:] or self.seconds
        return images_per_epoch * len(steady) / sum(steady)


def machine():
    """Processor, core count, load average and library versions, for a result file."""
    return {
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        # What models built without a precision of the benchmark's compute in ("auto" or $TFGEN_PRECISION).
        "default_precision": precision.precision_name(precision.default_setting()),
    }


def write_result(result, path):
    """Writes a benchmark's result dict as indented JSON to ``path`` (folders created) and says so."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as handle:
        json.dump(result, handle, indent=2)
    print(f"wrote {path}")
    return result


def check_mergeable(reports, sources, benchmark, settings_key, protocol_keys):
    """Raises ``ValueError`` unless ``reports`` are all ``benchmark`` reports with equal protocol settings.

    Args:
        reports: loaded JSON reports (dicts); ``sources`` names each (file paths) for the messages.
        benchmark: the ``"benchmark"`` value every report must carry.
        settings_key: where a report keeps its settings (``"config"``, ``"settings"``).
        protocol_keys: the settings that must be equal for the numbers to be comparable.
    """
    if not reports:
        raise ValueError("a merge needs at least one report, got none")
    for report, source in zip(reports, sources):
        if report.get("benchmark") != benchmark:
            raise ValueError(f"{source} is not a {benchmark} report (benchmark={report.get('benchmark')!r})")
    reference, reference_source = reports[0][settings_key], sources[0]
    for report, source in zip(reports[1:], sources[1:]):
        for key in protocol_keys:
            if report[settings_key].get(key) != reference.get(key):
                raise ValueError(
                    f"cannot merge {source} into {reference_source}: {key} is {report[settings_key].get(key)!r} "
                    f"there and {reference.get(key)!r} here; merged reports must share {', '.join(protocol_keys)}"
                )


def merge_files(paths, output, merge):
    """Reads the reports in ``paths``; returns them and ``merge(reports, paths)``, for a ``--merge`` command.

    Stops with a clear message (``SystemExit``) when ``output`` is one of
    ``paths`` (a merge never overwrites an input) or when ``merge`` refuses the
    reports (its ``ValueError``).
    """
    if os.path.abspath(output) in {os.path.abspath(path) for path in paths}:
        raise SystemExit(f"--output {output} is one of the reports being merged; choose a new file")
    reports = []
    for path in paths:
        with open(path) as file:
            reports.append(json.load(file))
    try:
        return reports, merge(reports, list(paths))
    except ValueError as error:
        raise SystemExit(str(error)) from None


def train_step_flops(model, batch_shape):
    """FLOPs of one ``model.train_step`` on a float32 batch of ``batch_shape``, counted by TensorFlow's profiler.

    The step is traced (not run) into a graph and the profiler adds up the
    FLOP statistics TensorFlow registers per op (convolutions, matmuls and
    their gradients, elementwise ops), so penalties that differentiate twice
    (R1, R2, WGAN-GP) and augmentation are counted as they are built. The
    model must be compiled.
    """
    from tensorflow.python.profiler import model_analyzer, option_builder

    @tf.function
    def step(batch):
        return model.train_step(batch)

    graph = step.get_concrete_function(tf.TensorSpec(batch_shape, tf.float32)).graph
    options = option_builder.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return int(model_analyzer.profile(graph, options=options).total_float_ops)


CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def chromium_available():
    """True when Debian's chromium and chromium-driver and the selenium package are installed."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return False
    return os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)


@contextlib.contextmanager
def page_in_chromium(folder, timeout=120):
    """Serves ``folder`` on loopback and opens its ``index.html`` in headless Chromium.

    Yields a selenium WebDriver on the page once ``window.tfgenPage.ready``
    (the web export's hooks) has resolved; the page's error otherwise.
    Server and browser are stopped on exit.
    """
    import functools
    import http.server
    import threading

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=folder))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--force-device-scale-factor=1", "--window-size=1200,1000"):
        options.add_argument(argument)
    try:  # the server stops even when the browser does not start
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        try:
            driver.set_script_timeout(timeout)
            driver.get(f"http://127.0.0.1:{server.server_address[1]}/index.html")
            ready = driver.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                "const wait = () => window.tfgenPage ? window.tfgenPage.ready.then(() => done(true), (e) => done(String(e)))"
                " : setTimeout(wait, 50); wait();"
            )
            if ready is not True:
                raise RuntimeError(f"The page did not start: {ready}")
            yield driver
        finally:
            driver.quit()
    finally:
        server.shutdown()
        server.server_close()


def run_in_page(driver, expression, *arguments):
    """Awaits the JavaScript ``expression`` (which may use ``args``) in the page; returns its value."""
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1]; const args = Array.from(arguments).slice(0, -1);"
        f"Promise.resolve().then(() => {expression}).then(done, (e) => done({{error: String(e)}}));",
        *arguments,
    )
