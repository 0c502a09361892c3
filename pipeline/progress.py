"""Progress of a long run: a tqdm bar on a terminal, plain lines on stderr otherwise (logs, Lambda).

The one progress display of the ingestion, the sample generator and the ETL.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO


class Progress:
    """Counts finished steps (requests, objects); `enabled` draws a bar, otherwise prints a line every
    `every` steps (none with `every=0`)."""

    def __init__(
        self,
        total: int,
        *,
        enabled: bool,
        label: str,
        unit: str = "requests",
        every: int = 25,
        stream: TextIO | None = None,
    ):
        self.total = total
        self.done = 0
        self.label = label
        self.unit = unit
        self.every = every
        self.stream = stream or sys.stderr
        self._bar: Any = None
        if enabled:
            # tqdm is not part of the Lambda package: import it only when a bar is wanted.
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=label, unit=unit, file=self.stream, leave=True)

    def step(self, description: str = "") -> None:
        """One step finished (a request written, skipped or failed; an object loaded)."""
        self.done += 1
        if self._bar is not None:
            if description:
                self._bar.set_postfix_str(description, refresh=False)
            self._bar.update(1)
        elif self.every and (self.done == self.total or self.done % self.every == 0):
            print(
                f"{self.label}: {self.done}/{self.total} {self.unit} ({description})",
                file=self.stream,
                flush=True,
            )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
