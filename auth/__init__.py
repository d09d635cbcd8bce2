"""The Looker session: captured once by `login`, kept encrypted, its key in the OS keyring.

keyring imports its macOS backend on every system, and that import looks for Apple's
frameworks through `ctypes.util.find_library`, which on Linux runs ldconfig, gcc and ld for
each of three (9 programs, 60 to 90 ms of every start, idle cycles included) before the import
fails and keyring passes the backend over. Outside macOS the import is made to fail at once;
keyring ends up with the same backends either way.
"""

import sys

if sys.platform != "darwin":
    sys.modules.setdefault("keyring.backends.macOS.api", None)  # type: ignore[assignment]
