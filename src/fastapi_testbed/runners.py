"""anyio's test runner (its event loop) kept open while the ``anyio_backend`` fixture lives.

anyio's pytest plugin opens a runner when an async test or fixture needs one and closes it when
none is left: with only the plugin's fixtures, which are sync, every test got a new event loop
and closed it (0.3 to 0.5 ms a test on a 2-core machine), where a suite with one session-scoped
async fixture runs every test on one loop. The plugin takes a lease on the runner for as long
as the backend's fixture lives (module-scoped by default, session-scoped in most conftests), as
such a fixture would. Tasks a test leaves running are still cancelled when it ends.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

__all__ = ["AnyioRunnerKept"]


class AnyioRunnerKept:
    """Leases on anyio's runner, one per ``anyio_backend`` value set up, for one backend."""

    def __init__(self) -> None:
        self._backend: tuple[str, Any] | None = None
        self._leases: list[ExitStack] = []

    def hold(self, backend: object) -> ExitStack | None:
        """Keep anyio's runner for ``backend`` open until :meth:`end` is given the lease."""
        try:
            from anyio.pytest_plugin import extract_backend_and_options, get_runner
        except ImportError:  # another anyio: its runner's lifetime is left as it is
            return None
        try:
            name, options = extract_backend_and_options(backend)
        except TypeError:  # anyio reports the bad value itself
            return None
        if self._backend is not None and self._backend != (name, options):
            self.release()  # anyio would hand the other backend's runner to this one's tests
        lease = ExitStack()
        lease.enter_context(get_runner(name, options))
        self._backend = (name, options)
        self._leases.append(lease)
        return lease

    def end(self, lease: ExitStack) -> None:
        """The backend's fixture ended: its lease is given back."""
        if lease in self._leases:
            self._leases.remove(lease)
            if not self._leases:
                self._backend = None
        lease.close()

    def release(self) -> None:
        """Give every lease back: anyio closes the runner when nobody else holds it."""
        leases, self._leases, self._backend = self._leases, [], None
        for lease in reversed(leases):
            lease.close()
