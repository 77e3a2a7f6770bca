"""The serving tests build their models once per module and run them in a server subprocess.

The suite-wide ``_clear_keras_session`` fixture (tests/conftest.py) costs
about a second per test on a busy machine and would only drop the
module-scoped models these tests share, so it is turned off here.
"""

import pytest


@pytest.fixture(autouse=True)
def _clear_keras_session():
    yield
