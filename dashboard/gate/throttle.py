"""Sign-in attempts throttled per client address and per user name, in the sign-in service's memory.

Nothing here waits: an attempt is either checked at once or refused at once with the seconds until the
next one may be checked (an address has one attempt checked at a time; the service asks for the verdict
and takes the turn with no await in between, so parallel requests from one address cannot all pass). So the right password never waits behind anyone else's failures, and a
guesser gains nothing from parallel requests:

- **per address**: after a failure, the address's next attempt may come 1 s later, then 2, 4, ... up
  to `MAX_ADDRESS_DELAY_SECONDS`, doubling with each failure of the last `WINDOW_SECONDS`;
- **per user name**: once a name has had `USER_NAME_FAILURES` failures in the window (guesses from
  many addresses), it is checked only for addresses with no failure in the window: each guessing
  address gets one guess per window, while its owner, who has not failed, is checked at once.

The state is bounded: entries older than the window are dropped, and at most `MAX_TRACKED` addresses and
names are kept (the oldest go first).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

WINDOW_SECONDS = 300.0
MAX_ADDRESS_DELAY_SECONDS = 60.0
USER_NAME_FAILURES = 10
MAX_TRACKED = 10_000


@dataclass(frozen=True)
class Verdict:
    """Whether an attempt may be checked now; if not, after how many seconds, and why."""

    allowed: bool
    retry_after: float = 0.0
    reason: str = ""


class Throttle:
    """Failed sign-ins of the last minutes by client address and by user name."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._by_address: OrderedDict[str, list[float]] = OrderedDict()
        self._by_name: OrderedDict[str, list[float]] = OrderedDict()
        self._checking: set[str] = set()

    def verdict(self, address: str, username: str) -> Verdict:
        """Whether an attempt from `address` for `username` may be checked now (see `checking`)."""
        now = self._clock()
        if address in self._checking:
            return Verdict(False, 1.0, "an attempt from this address is being checked")
        failures = self._recent(self._by_address, address, now)
        if failures:
            wait = failures[-1] + min(2.0 ** (len(failures) - 1), MAX_ADDRESS_DELAY_SECONDS) - now
            if wait > 0:
                return Verdict(False, wait, "too many failed attempts from this address")
        if failures and len(self._recent(self._by_name, username, now)) >= USER_NAME_FAILURES:
            return Verdict(
                False, failures[0] + WINDOW_SECONDS - now, "too many failed attempts for this user name"
            )
        return Verdict(True)

    @contextmanager
    def checking(self, address: str) -> Iterator[None]:
        """Hold the address's one turn while its attempt is checked: parallel guesses get none."""
        self._checking.add(address)
        try:
            yield
        finally:
            self._checking.discard(address)

    def failed(self, address: str, username: str) -> None:
        """Note one failed attempt now."""
        now = self._clock()
        for table, key in ((self._by_address, address), (self._by_name, username)):
            table[key] = [*self._recent(table, key, now), now]
            table.move_to_end(key)
            while len(table) > MAX_TRACKED:
                table.popitem(last=False)

    def _recent(self, table: OrderedDict[str, list[float]], key: str, now: float) -> list[float]:
        times = [at for at in table.get(key, ()) if now - at < WINDOW_SECONDS]
        if times:
            table[key] = times
        else:
            table.pop(key, None)
        return times
