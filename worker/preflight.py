"""What can be known, cheaply and before any memo is touched, to be wrong with this machine or
the settings: the data dir cannot be written, a product's notebook is missing or has no
`parameters` cell, there is no Jupyter kernel to run it in.

Each is a `SetupError`: the cycle stops before claiming any memo, a person is told once, and the
memos are answered once it is fixed. (Chromium is proven when it starts; a failure there stands
the memo in hand down the same way.)
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from core.errors import SetupError
from worker.settings import Settings


def preflight(settings: Settings) -> None:
    from notebooks import runner

    writable(settings.data_dir)
    for product in settings.notebook.products:
        runner.prepare(product.notebook, settings.notebook.result)
    kernel_available()


def writable(data_dir: Path) -> None:
    """The state, summaries and traces all live in the data dir."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, probe = tempfile.mkstemp(dir=data_dir, prefix=".write-check-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise SetupError(
            f"the data dir {data_dir} cannot be written ({exc.strerror or exc})",
            setting="CREDITBOT_DATA_DIR",
        ) from None


def kernel_available() -> None:
    from jupyter_client.kernelspec import NoSuchKernel

    from notebooks import runner

    try:
        runner.KernelSpecs().get_kernel_spec(runner.KERNEL)
    except NoSuchKernel:
        raise SetupError(
            f"no Jupyter kernel named {runner.KERNEL!r} to run the notebooks in: install "
            "ipykernel in CreditBot's Python (`pip install ipykernel`)"
        ) from None
