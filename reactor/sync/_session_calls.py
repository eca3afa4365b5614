"""A connection's mutations (one at a time, in arrival order) and actions (in parallel)."""

from __future__ import annotations

from collections import Counter, deque

from reactor.sync._messages import Action, Mutation
from reactor.sync._session_types import Identity, RunAction, RunMutation

__all__ = ["Calls"]


class Calls:
    """Mutations are queued and run one at a time (SEMANTICS.md FN-09), as the
    reference backend runs them; actions run as they come. Beyond ``max_in_flight``
    (queued or running, together) a request is refused, not queued."""

    def __init__(self, max_in_flight: int) -> None:
        self.max_in_flight = max_in_flight
        self._queue: deque[RunMutation] = deque()
        self._running: int | None = None
        self._actions: Counter[int] = Counter()
        """Running actions by request id; a client may reuse an id, and each run counts."""

    def in_flight(self) -> int:
        return len(self._queue) + (self._running is not None) + self._actions.total()

    def refusal(self, component_path: str | None) -> str | None:
        """Why a new request cannot be taken, if it cannot."""
        if component_path:
            return "componentPath is not supported by this server"
        if self.in_flight() >= self.max_in_flight:
            return (
                f"TooManyConcurrentRequests: a connection may have at most "
                f"{self.max_in_flight} mutations and actions in flight (max_in_flight)"
            )
        return None

    def mutation(
        self, msg: Mutation, identity: Identity | None, session_id: str
    ) -> RunMutation | None:
        """Queue a mutation; the command to run it if nothing else is running."""
        self._queue.append(
            RunMutation(msg.request_id, msg.udf_path, msg.args, identity, session_id)
        )
        return self._next()

    def mutation_done(self, request_id: int) -> RunMutation | None:
        """The running mutation finished; the command to run the next one, if any."""
        if self._running != request_id:
            raise RuntimeError(f"mutation {request_id} is not the one running")
        self._running = None
        return self._next()

    def _next(self) -> RunMutation | None:
        if self._running is not None or not self._queue:
            return None
        command = self._queue.popleft()
        self._running = command.request_id
        return command

    def action(self, msg: Action, identity: Identity | None) -> RunAction:
        self._actions[msg.request_id] += 1
        return RunAction(msg.request_id, msg.udf_path, msg.args, identity)

    def action_done(self, request_id: int) -> None:
        if self._actions[request_id] > 1:
            self._actions[request_id] -= 1
        else:
            self._actions.pop(request_id, None)
