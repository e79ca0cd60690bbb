"""The sandbox's rate limit: at most ``rate`` calls to an endpoint in any one-second window, as Chat counts them.

Chat documents a "maximum call frequency" per endpoint (200 calls a second on the recentcontact pages, 100 on
account_check and multiaccount_import) and answers 60007 past it. The sandbox holds it exactly, for calls that
arrive in parallel too: no half-open window ``[s, s + 1)`` of the clock holds more than ``rate`` accepted calls.
"""

import bisect
import time
from collections.abc import Callable

WINDOW_SECONDS = 1.0


class WindowLimiter:
    """Counts accepted calls per key (an endpoint) by the moment each arrived, on ``clock``.

    The handler threads reach the limiter in about, not exactly, the order their calls arrived, so a call may
    be counted after calls that arrived later than it. A call is therefore accepted only when *every* one-second
    window holding its moment stays within the rate, the windows that hold calls arrived after it included (a
    check of the second up to its moment alone lets a late-counted call overfill a later window). A call counted
    more than a second after it arrived is counted a second before the limiter's now: still between its arrival
    and its answer, and the calls that window needs are still remembered. The caller serialises calls to
    ``admit`` (the sandbox holds its lock).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._accepted: dict[str, list[float]] = {}

    def clear(self) -> None:
        self._accepted.clear()

    def admit(self, key: str, rate: int, arrived: float | None = None) -> float | None:
        """Count a call to ``key`` that arrived at ``arrived`` (the clock's now by default) if it fits: the moment
        it is counted at, or None (and not counted) when some one-second window holding it would go past
        ``rate``. A ``rate`` of 0 means no limit (nothing is counted)."""
        now = self.clock()
        moment = now if arrived is None else min(max(arrived, now - WINDOW_SECONDS), now)
        if not rate:
            return moment
        accepted = self._accepted.setdefault(key, [])
        # A call counted from here on has a moment after now - 1, so windows holding it start after now - 2.
        stale = bisect.bisect_right(accepted, now - 2 * WINDOW_SECONDS)
        if stale:
            del accepted[:stale]
        if self._fullest_window(accepted, moment) + 1 > rate:
            return None
        bisect.insort(accepted, moment)
        return moment

    @staticmethod
    def _fullest_window(accepted: list[float], moment: float) -> int:
        """The most calls of ``accepted`` (sorted) in any window ``[s, s + 1)`` that also holds ``moment``.

        A fullest window can be taken to start at a call: slide its start right up to the first call in it, and
        it loses none. So the windows to count start at each call in ``(moment - 1, moment]``, or at ``moment``.
        """
        first = bisect.bisect_right(accepted, moment - WINDOW_SECONDS)
        upto = bisect.bisect_right(accepted, moment)
        if upto == len(accepted):
            # Nothing arrived after this call (the usual case): the window from the first call after
            # moment - 1 holds every later call.
            return len(accepted) - first
        fullest = bisect.bisect_left(accepted, moment + WINDOW_SECONDS) - bisect.bisect_left(accepted, moment)
        for index in range(first, upto):
            start = accepted[index]
            fullest = max(fullest, bisect.bisect_left(accepted, start + WINDOW_SECONDS) - index)
        return fullest
