"""The rehearsal's output: one line per check, PASS / FAIL / LIMIT (an emulator limit), and a verdict."""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO


class CheckFailed(AssertionError):
    """A check's condition does not hold; the message says what was found instead."""


@dataclass
class Report:
    """Collects the checks of one rehearsal and prints each as it is decided."""

    stream: TextIO = field(default_factory=lambda: sys.stdout)
    passed: int = 0
    failed: list[str] = field(default_factory=list)
    limits: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def _line(self, status: str, name: str, detail: str = "") -> None:
        self.stream.write(f"{status:<5} {name}{': ' + detail if detail else ''}\n")
        self.stream.flush()

    def check(self, name: str, condition: bool, detail: str = "") -> bool:
        """Record one check; `detail` says what was found (printed on failure, or always when short)."""
        if condition:
            self.passed += 1
            self._line("PASS", name)
        else:
            self.failed.append(name)
            self._line("FAIL", name, detail)
        return condition

    def run(self, name: str, probe: Callable[[], str | None]) -> bool:
        """Run `probe`: it passes when it returns, fails when it raises (its message is the detail)."""
        try:
            note = probe()
        except CheckFailed as error:
            return self.check(name, False, str(error))
        except Exception as error:
            return self.check(name, False, f"{type(error).__name__}: {' '.join(str(error).split())[:400]}")
        self.passed += 1
        self._line("PASS", name, note or "")
        return True

    def limit(self, name: str, detail: str) -> None:
        """An emulator limit: what the emulator cannot show, and how the rehearsal covers it instead."""
        self.limits.append(name)
        self._line("LIMIT", name, detail)

    def note(self, text: str) -> None:
        self.stream.write(f"----- {text}\n")
        self.stream.flush()

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """A named stage: an unexpected error fails the stage (printed with its traceback tail)."""
        self.note(name)
        try:
            yield
        except Exception as error:
            tail = traceback.format_exc().strip().splitlines()[-3:]
            self.check(
                f"{name} (stage)", False, f"{type(error).__name__}: {error} | {' | '.join(tail)}"[:800]
            )

    def summary(self) -> int:
        seconds = time.monotonic() - self.started
        verdict = "FAILED" if self.failed else "PASSED"
        self.note(
            f"rehearsal {verdict}: {self.passed} passed, {len(self.failed)} failed, "
            f"{len(self.limits)} emulator limits, {seconds:.0f}s"
        )
        for name in self.failed:
            self.stream.write(f"  failed: {name}\n")
        return 1 if self.failed else 0


def expect(condition: bool, message: str) -> None:
    """Raise `CheckFailed(message)` unless `condition` holds (for use inside `Report.run` probes)."""
    if not condition:
        raise CheckFailed(message)
