"""A live progress line on stderr, driven by the fit callback (iteration, loss, |g|, time)."""
import sys
import time


class Progress:
    """Callable for ``ngd.fit(..., callback=)``: shows ``method iter loss |g| elapsed`` on one
    self-overwriting stderr line once the run has taken longer than ``delay`` seconds, and
    only when ``enabled`` and the stream is a terminal. Never writes to stdout."""

    def __init__(self, enabled=True, stream=None, delay=1.0, interval=0.1,
                 clock=time.perf_counter):
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = bool(enabled) and bool(isatty and isatty())
        self.delay = delay
        self.interval = interval
        self.clock = clock
        self.start = clock()
        self.last = None
        self.width = 0

    def __call__(self, snapshot):
        if not self.enabled:
            return
        now = self.clock()
        elapsed = now - self.start
        if elapsed < self.delay or (self.last is not None and now - self.last < self.interval):
            return
        self.last = now
        text = (f"{snapshot.get('method', '?'):<6} iter {snapshot.get('n_iter', 0):>5}  "
                f"loss {snapshot.get('loss', float('nan')):.10g}  "
                f"|g| {snapshot.get('grad_norm', float('nan')):.2e}  {elapsed:7.1f} s")
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()
        self.width = len(text)

    def close(self):
        """Erase the line (if one was drawn)."""
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0
