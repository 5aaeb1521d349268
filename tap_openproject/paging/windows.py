"""Time windows for a parallel incremental read, planned from rank probes: pure functions, no I/O.

`offset` is a page number, so `pageSize=1&offset=k` is the k-th record of a sorted result: one cheap request per
window boundary. Ranks only size the windows; correctness comes from the time bounds, so rows that move meanwhile
change a window's size, never what it covers.
"""

from __future__ import annotations

Window = tuple[str, str]


def probe_ranks(total: int, page_size: int, span: int | None = None) -> list[int]:
    """The ranks to probe after the first page (`page_size` records): about `span` records apart (a page by
    default), up to the last record.

    Boundaries are a tenth of a span short of a span apart, so a window and its overlapping boundary second
    usually fit in one request.
    """
    span = span or page_size
    step = max(1, span - max(1, span // 10))
    return [*range(page_size + step, total, step), total]


def plan_windows(reached: str, probe_seconds: list[str | None]) -> list[Window]:
    """Closed windows [start, end] (whole seconds) from `reached` up to the newest probed second.

    Consecutive windows share their boundary second, so no record falls between two whatever precision the
    server compares at. Probes that found nothing (None) or did not move past the previous boundary are skipped.
    """
    windows: list[Window] = []
    start = reached
    for second in probe_seconds:
        if second and second > start:
            windows.append((start, second))
            start = second
    return windows
