"""Progress of a training run on stderr: a redrawn bar on a terminal, plain lines in logs and pipes.

On a terminal, one line redrawn at most every ``redraw_s`` seconds::

    [##########--------------------]  33.1%  epoch 6.62/20  step 4100  loss 0.4213  B 64  lr 0.05  12s ETA 24s

Elsewhere (a log file, a pipe, a batch job's stderr) a redrawn bar piles up into one endless line, so the
progress is written as one complete line per finished epoch, and every ``interval_s`` seconds within a long
epoch::

    epoch 7.00/20 (35.0%)  step 4340  loss 0.4102  B 64  lr 0.05  13.1s  ETA 24s  | train loss 0.3987  test acc 91.20%

The engine calls :meth:`Progress.update` after every update, :meth:`Progress.note` when it has synchronised
the batch losses from the device, :meth:`Progress.epoch_end` with each evaluation (the line of an epoch then
ends with the full training loss, test loss and accuracy, and the validation metrics when there is a split),
and :meth:`Progress.close` at the end. ``loss`` is the last synchronised batch loss; ``B`` the batch size the
algorithm chose (a batch cut short at an epoch end or by the budget is not shown as a change). The ETA is
the remaining samples at the average rate so far (``wall`` is the run's wall time, resumed runs included;
the rate is measured from this process's first update, so a resume does not distort it).
"""

from __future__ import annotations

import math
import sys
import time
from typing import IO

__all__ = ["Progress", "format_duration"]


def format_duration(seconds: float) -> str:
    """``12s``, ``3m05s``, ``2h07m``; ``?`` when unknown."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


class Progress:
    """Progress display of one run.

    Args:
        total_samples: the run's sample budget.
        n_train: training-set size (samples per epoch).
        enabled: False: draw nothing.
        stream: where to write (default ``sys.stderr``).
        terminal: draw a bar (True) or lines (False); default: whether ``stream`` is a terminal.
        interval_s: in line mode, the most seconds between two lines within an epoch.
        redraw_s: in bar mode, the least seconds between two redraws.
        width: characters of the bar.
        clock: a monotonic clock in seconds (tests pass a fake one).
    """

    def __init__(
        self,
        total_samples: int,
        n_train: int,
        *,
        enabled: bool = True,
        stream: IO[str] | None = None,
        terminal: bool | None = None,
        interval_s: float = 30.0,
        redraw_s: float = 0.2,
        width: int = 30,
        clock=time.monotonic,
    ) -> None:
        if not (isinstance(total_samples, int) and total_samples >= 1):
            raise ValueError(f"Invalid total_samples: {total_samples!r} (expected an integer >= 1)")
        if not (isinstance(n_train, int) and n_train >= 1):
            raise ValueError(f"Invalid n_train: {n_train!r} (expected an integer >= 1)")
        if not (interval_s > 0 and redraw_s >= 0):
            raise ValueError(f"Invalid interval_s: {interval_s!r} (expected a number > 0)")
        self.total, self.n_train, self.enabled = total_samples, n_train, enabled
        self.stream = stream if stream is not None else sys.stderr
        self.terminal = (
            bool(getattr(self.stream, "isatty", lambda: False)()) if terminal is None else terminal
        )
        self.interval_s, self.redraw_s, self.width, self.clock = interval_s, redraw_s, width, clock
        self._first_samples: int | None = None
        self._first_time = clock()
        self._last_write = clock()  # line mode: the first line after an epoch or an interval, not at once
        self._drawn_once = False
        self._last_epoch: int | None = None
        self._state: dict = {}
        self._written_samples: int | None = None
        self._closed = False
        self._due: dict | None = None  # line mode: the state of an epoch end whose line awaits epoch_end()
        self._eval: dict = {}  # the metrics of the last evaluation (epoch_end)
        self._batch: int | None = None  # the batch size the algorithm chose last

    # -- numbers ------------------------------------------------------------------------------------
    def _eta(self, samples: int) -> float:
        done = samples - (self._first_samples or 0)
        elapsed = self.clock() - self._first_time
        if done <= 0 or elapsed <= 0:
            return math.nan
        return (self.total - samples) * elapsed / done

    def _eval_text(self) -> str:
        e, parts = self._eval, []
        for key, name in (("train_loss", "train loss"), ("val_loss", "val loss"), ("test_loss", "test loss")):
            if isinstance(e.get(key), (int, float)):
                parts.append(f"{name} {e[key]:.4g}")
        for key, name in (("val_acc", "val acc"), ("test_acc", "test acc")):
            if isinstance(e.get(key), (int, float)):
                parts.append(f"{name} {100 * e[key]:.2f}%")
        return "  | " + "  ".join(parts) if parts else ""

    def _fields(self) -> str:
        s = self._state
        parts = [f"step {s['step']}"]
        if s.get("loss") is not None and isinstance(s["loss"], (int, float)):
            parts.append(f"loss {s['loss']:.4g}")
        if s.get("batch_size") is not None:
            parts.append(f"B {s['batch_size']}")
        if s.get("lr") is not None:
            parts.append(f"lr {s['lr']:.3g}")
        if s.get("wall") is not None:
            parts.append(f"{s['wall']:.1f}s")
        return "  ".join(parts)

    def _bar_text(self) -> str:
        samples = self._state["samples"]
        done = min(1.0, samples / self.total)
        filled = int(self.width * done)
        bar = "#" * filled + "-" * (self.width - filled)
        epochs = self.total / self.n_train
        return (
            f"[{bar}] {100 * done:5.1f}%  epoch {samples / self.n_train:.2f}/{epochs:g}  {self._fields()}  "
            f"ETA {format_duration(self._eta(samples))}{self._eval_text()}"
        )

    def _line_text(self, evaluated: bool = False) -> str:
        samples = self._state["samples"]
        epochs = self.total / self.n_train
        return (
            f"epoch {samples / self.n_train:.2f}/{epochs:g} ({100 * min(1.0, samples / self.total):.1f}%)  "
            f"{self._fields()}  ETA {format_duration(self._eta(samples))}"
            + (self._eval_text() if evaluated else "")
        )

    def _shown_batch(self, samples: int, batch_size: int | None) -> int | None:
        """The batch size to show: a batch cut short where an epoch or the budget ends is no decision of the
        algorithm, so the previous size stays on display."""
        cut = samples % self.n_train == 0 or samples >= self.total
        if batch_size is None or (cut and self._batch is not None and batch_size < self._batch):
            return self._batch
        self._batch = batch_size
        return batch_size

    # -- the engine's calls ---------------------------------------------------------------------------
    def update(
        self,
        *,
        samples: int,
        step: int,
        epoch: float | None = None,
        loss: float | None = None,
        batch_size: int | None = None,
        lr: float | None = None,
        wall: float | None = None,
    ) -> None:
        """Record the state after an update and draw when due.

        ``loss`` may be None (the engine syncs losses from the device only every few steps); the last known
        value is shown.
        """
        if not self.enabled or self._closed:
            return
        if self._first_samples is None:  # the rate is measured from the first update of this process
            self._first_samples, self._first_time = samples, self.clock()
        previous = self._state.get("loss")
        now = self.clock()
        if self._due is not None:  # the last epoch's line, when no epoch_end() came to complete it
            self._write_due(now)
        self._state = {
            "samples": samples,
            "step": step,
            "loss": previous if loss is None else loss,
            "batch_size": self._shown_batch(samples, batch_size),
            "lr": lr,
            "wall": wall,
        }
        completed = samples // self.n_train
        if self.terminal:
            if not self._drawn_once or now - self._last_write >= self.redraw_s:
                self._draw_bar(now)
            return
        if self._last_epoch is None:
            self._last_epoch = completed
        if completed > self._last_epoch or samples >= self.total:
            # Written by epoch_end() with the evaluation, or at the next update or close() without one.
            self._last_epoch = completed
            self._due = dict(self._state)
        elif now - self._last_write >= self.interval_s:
            self._write_line(now)

    def note(self, *, loss: float | None = None) -> None:
        """The last batch loss, once the engine has synchronised it from the device."""
        if self.enabled and not self._closed and loss is not None and self._state:
            self._state["loss"] = loss
            if self._due is not None:
                self._due["loss"] = loss

    def epoch_end(self, record: dict) -> None:
        """An evaluation (an ``epoch`` record of ``metrics.jsonl``): its metrics join the epoch's line (line
        mode) or the bar."""
        if not self.enabled or self._closed:
            return
        self._eval = dict(record)
        if self.terminal:
            if self._state:
                self._draw_bar(self.clock())
        elif self._due is not None:
            self._write_due(self.clock(), evaluated=True)

    def close(self) -> None:
        """Draw the final state (the bar ends with a newline; line mode writes the last line)."""
        if not self.enabled or self._closed:
            return
        self._closed = True
        if self._due is not None:
            self._write_due(self.clock())
        if not self._state:
            return
        if self.terminal:
            self._draw_bar(self.clock())
            self.stream.write("\n")
            self.stream.flush()
        elif self._written_samples != self._state["samples"]:
            self._write_line(self.clock())

    def _write_due(self, now: float, evaluated: bool = False) -> None:
        current, self._state = self._state, self._due
        self._due = None
        self._write_line(now, evaluated)
        self._state = current or self._state

    def _draw_bar(self, now: float) -> None:
        self._last_write = now
        self.stream.write("\r" + self._bar_text() + "\033[K")
        self.stream.flush()
        self._drawn_once = True

    def _write_line(self, now: float, evaluated: bool = False) -> None:
        self._last_write = now
        self._written_samples = self._state["samples"]
        self.stream.write(self._line_text(evaluated) + "\n")
        self.stream.flush()
