"""``Crons``: the named, recurring jobs an app declares in ``functions/crons.py``.

    from reactor import Crons, internal
    crons = Crons()
    crons.interval("purge sessions", minutes=10, ref=internal.sessions.purge)
    crons.cron("daily digest", "0 9 * * *", internal.digest.send, {})
    crons.weekly("report", day_of_week="monday", hour_utc=8, ref=internal.reports.send)

Cron strings have five fields (minute hour day-of-month month day-of-week)
and are read in UTC (SCH-10). ``CronSchedule`` does the time arithmetic: the
next run always follows the previous *scheduled* time, so runs never drift.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from croniter import croniter  # type: ignore[import-untyped]

from reactor.errors import InvalidValueError
from reactor.functions import function_path
from reactor.scheduler._errors import InvalidCronError
from reactor.values import check_value, normalize

__all__ = ["CronJob", "CronSchedule", "Crons"]

DAYS: Final = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_CATCH_UP_STEPS: Final = 10_000


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """Every ``interval_ms`` from the first run, or the times a cron string matches."""

    kind: Literal["interval", "cron"]
    interval_ms: float = 0.0
    expr: str = ""

    def to_value(self) -> dict[str, Any]:
        if self.kind == "interval":
            return {"kind": "interval", "ms": self.interval_ms}
        return {"kind": "cron", "cronExpr": self.expr}

    @classmethod
    def from_value(cls, value: dict[str, Any]) -> CronSchedule:
        if value["kind"] == "interval":
            return cls("interval", interval_ms=float(value["ms"]))
        return cls("cron", expr=str(value["cronExpr"]))

    def first(self, now_ms: float) -> float:
        """The first run of a newly deployed cron: an interval runs at once (SCH-10)."""
        return now_ms if self.kind == "interval" else self.next_after(now_ms)

    def next_after(self, t_ms: float) -> float:
        """The first scheduled time strictly after ``t_ms``."""
        if self.kind == "interval":
            return t_ms + self.interval_ms
        start = dt.datetime.fromtimestamp(t_ms / 1000, dt.UTC)
        following: dt.datetime = croniter(self.expr, start).get_next(dt.datetime)
        return following.timestamp() * 1000

    def catch_up(self, t_ms: float, now_ms: float) -> tuple[float, int]:
        """The first scheduled time after ``t_ms`` that is not before ``now_ms``, and how
        many scheduled times were passed over on the way (runs that are skipped)."""
        if self.kind == "interval":
            missed = max(0, math.ceil((now_ms - t_ms) / self.interval_ms) - 1)
            return t_ms + (missed + 1) * self.interval_ms, missed
        following, missed = self.next_after(t_ms), 0
        while following < now_ms:
            missed += 1
            if missed > _CATCH_UP_STEPS:  # down for years: stop counting, jump
                return self.next_after(now_ms - 1), missed
            following = self.next_after(following)
        return following, missed


@dataclass(frozen=True, slots=True)
class CronJob:
    name: str
    schedule: CronSchedule
    path: str
    """The target, as ``function_path`` gives it (checked against the app at sync)."""
    args: dict[str, Any] = field(default_factory=dict)


class Crons:
    """The crons of an app: ``crons = Crons()`` at the top of ``functions/crons.py``."""

    def __init__(self) -> None:
        self.jobs: dict[str, CronJob] = {}

    def interval(
        self,
        name: str,
        *,
        seconds: int | None = None,
        minutes: int | None = None,
        hours: int | None = None,
        ref: Any,
        args: dict[str, Any] | None = None,
    ) -> None:
        """Every so many seconds, minutes or hours (one of them, a positive integer);
        the first run is when the cron is deployed."""
        given = {"seconds": seconds, "minutes": minutes, "hours": hours}
        chosen = [(unit, n) for unit, n in given.items() if n is not None]
        if len(chosen) != 1:
            raise InvalidCronError(f"cron {name!r}: give exactly one of seconds, minutes, hours")
        unit, count = chosen[0]
        if isinstance(count, bool) or not isinstance(count, int) or count <= 0:
            raise InvalidCronError(f"cron {name!r}: {unit} must be an integer greater than 0")
        ms = count * {"seconds": 1_000, "minutes": 60_000, "hours": 3_600_000}[unit]
        self._add(name, CronSchedule("interval", interval_ms=float(ms)), ref, args)

    def cron(self, name: str, spec: str, ref: Any, args: dict[str, Any] | None = None) -> None:
        """At the times a five-field cron string matches, in UTC."""
        if not isinstance(spec, str) or len(spec.split()) != 5 or not croniter.is_valid(spec):
            raise InvalidCronError(
                f"cron {name!r}: {spec!r} is not a cron string of five fields "
                "(minute hour day-of-month month day-of-week)"
            )
        schedule = CronSchedule("cron", expr=" ".join(spec.split()))
        try:
            schedule.next_after(0.0)
        except Exception as exc:  # e.g. "0 0 31 2 *": valid syntax, never matches
            raise InvalidCronError(f"cron {name!r}: {spec!r} never matches ({exc})") from None
        self._add(name, schedule, ref, args)

    def hourly(
        self, name: str, *, minute_utc: int, ref: Any, args: dict[str, Any] | None = None
    ) -> None:
        self.cron(name, f"{_part(name, 'minute_utc', minute_utc, 0, 59)} * * * *", ref, args)

    def daily(
        self,
        name: str,
        *,
        hour_utc: int,
        minute_utc: int = 0,
        ref: Any,
        args: dict[str, Any] | None = None,
    ) -> None:
        at = _time_of_day(name, hour_utc, minute_utc)
        self.cron(name, f"{at} * * *", ref, args)

    def weekly(
        self,
        name: str,
        *,
        day_of_week: str,
        hour_utc: int,
        minute_utc: int = 0,
        ref: Any,
        args: dict[str, Any] | None = None,
    ) -> None:
        """On ``day_of_week`` ("sunday" ... "saturday")."""
        if not isinstance(day_of_week, str) or day_of_week.lower() not in DAYS:
            raise InvalidCronError(f"cron {name!r}: day_of_week must be one of {', '.join(DAYS)}")
        at = _time_of_day(name, hour_utc, minute_utc)
        self.cron(name, f"{at} * * {DAYS.index(day_of_week.lower())}", ref, args)

    def monthly(
        self,
        name: str,
        *,
        day: int,
        hour_utc: int,
        minute_utc: int = 0,
        ref: Any,
        args: dict[str, Any] | None = None,
    ) -> None:
        """On ``day`` (1-31) of each month; months without that day are skipped."""
        at = _time_of_day(name, hour_utc, minute_utc)
        self.cron(name, f"{at} {_part(name, 'day', day, 1, 31)} * *", ref, args)

    def _add(self, name: str, schedule: CronSchedule, ref: Any, args: Any) -> None:
        if not isinstance(name, str) or not name or not (name.isascii() and name.isprintable()):
            raise InvalidCronError(f"a cron name must be non-empty printable ASCII, got {name!r}")
        if name in self.jobs:
            raise InvalidCronError(f"Cron identifier registered twice: {name}")
        try:
            path = function_path(ref)
        except (TypeError, ValueError) as exc:
            raise InvalidCronError(f"cron {name!r}: {exc}") from None
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise InvalidCronError(f"cron {name!r}: args must be an object")
        try:
            value = normalize(args)
            check_value(value)
        except InvalidValueError as exc:
            raise InvalidCronError(f"cron {name!r}: args: {exc}") from None
        self.jobs[name] = CronJob(name, schedule, path, value)


def _time_of_day(name: str, hour_utc: int, minute_utc: int) -> str:
    """The minute and hour fields of a cron expression, checked."""
    minute = _part(name, "minute_utc", minute_utc, 0, 59)
    hour = _part(name, "hour_utc", hour_utc, 0, 23)
    return f"{minute} {hour}"


def _part(name: str, what: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidCronError(f"cron {name!r}: {what} must be an integer in {low}..{high}")
    return value
