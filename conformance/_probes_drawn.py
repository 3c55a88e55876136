"""REQUEST-ANY-VALID: requests varying the canonical one, drawn by Hypothesis, each held to
every rule. Where they vary, and how, is the profile's ``[requests.vary]`` (``_vary.py``).

The requests are drawn first (no I/O), then sent side by side under the run's budget. Only
when one fails does Hypothesis replay the same draw (same seed, same order: the answers it
has seen are not asked again) and shrink the failing request, each smaller candidate a real
exchange, at most the depth's ``shrinks`` of them.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis.errors import HypothesisException

from ._budget import Sent
from ._model import Requirement
from ._probes import MUST, Checked, Probe, judged_or_not, probe, refusals, retried, shown, summary
from ._render import plural
from ._suite import failures
from ._transport import Transport
from ._vary import VaryPath, varied_requests
from ._rules import Verdict

__all__ = ["AnyValidRequest"]


def _key(body: Any) -> str:
    return json.dumps(body, sort_keys=True)


class _RequestFailed(Exception):
    pass


def _keep_hypothesis_out_of_cwd() -> None:
    """Hypothesis keeps a Unicode table it computes once (a second of CPU) under
    ``.hypothesis/`` in the current directory: a user's checkout, or a CI job's. Keep it in
    the user's cache directory instead, where every later run finds it."""
    from hypothesis.configuration import set_hypothesis_home_dir

    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(base):  # no home directory to speak of: a fresh one per run
        base = tempfile.mkdtemp(prefix="sse-conformance-")
    set_hypothesis_home_dir(os.path.join(base, "sse-conformance", "hypothesis"))


@probe
class AnyValidRequest(Probe):
    requirements = (
        Requirement(
            "REQUEST-ANY-VALID",
            MUST,
            "Requests varying the canonical one where a client may vary it all get a conforming stream "
            "(own requests, drawn by Hypothesis)",
            "profile request schema and [requests.vary]",
        ),
    )

    bodies: list[Any] | None = None  # drawn by prepare(); None: nothing to send (the finding says why)
    strategy: Any = None

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.sent: list[Sent[Checked]] = []
        self.seen: dict[str, list[Verdict] | None] = {}  # by request: its failures, None if not judged
        self._client: Transport | None = None

    def prepare(self) -> None:
        found = self.findings["REQUEST-ANY-VALID"]
        ctx = self.ctx
        n = ctx.settings.examples
        if n == 0:
            found.not_applicable = "turned off with --sse-examples 0 (or --sse-depth quick)"
            return
        profile = ctx.profile
        if not profile.vary:
            found.not_applicable = f"profile {profile.name} names nothing to vary ([requests.vary] in profile.toml)"
            return
        _keep_hypothesis_out_of_cwd()
        self.strategy = varied_requests(profile.request_schema, profile.vary, ctx.body,
                                        profile.request_validator.is_valid)
        if self.strategy is None:
            found.not_applicable = (f"the canonical request has none of the places [requests.vary] names "
                                    f"({', '.join(profile.vary)})")
            return
        gave_up: list[str] = []
        self.bodies = self._draw(self.strategy, n, gave_up)
        if not self.bodies:
            reason = gave_up[0] if gave_up else "no request drawn"
            found.not_applicable = f"Hypothesis could not draw a request varying the canonical one ({reason})"
            self.bodies = None

    async def run(self) -> None:
        bodies = self.bodies
        if bodies is None:
            return
        # The client stays open for follow_up(), which may shrink a failure with it.
        client = self._client = await self.client().__aenter__()
        try:
            self.sent = await asyncio.gather(*(self.checked(client, "drawn", body) for body in bodies))
        except BaseException:
            self._client = None
            await client.__aexit__(None, None, None)
            raise
        for body, s in zip(bodies, self.sent):
            self.seen[_key(body)] = self._failures(s)

    async def follow_up(self) -> None:
        client = self._client
        if client is None:
            return
        try:
            await self._judge(client)
        finally:
            await client.__aexit__(None, None, None)

    def _failures(self, s: Sent[Checked]) -> list[Verdict] | None:
        """The failures of a sent request, None if it could not be judged."""
        return None if s.result is None or s.refused else failures(s.result[1], self.ctx.settings.strict)

    async def _judge(self, client: Transport) -> None:
        found, ctx, bodies, sent = self.findings["REQUEST-ANY-VALID"], self.ctx, self.bodies or [], self.sent
        judged = sum(v is not None for v in self.seen.values())
        failing = [(body, f) for body in bodies if (f := self.seen[_key(body)])]
        if failing and ctx.settings.depth.shrinks:
            loop = asyncio.get_running_loop()
            failing = await asyncio.to_thread(self._shrink, loop, client, self.strategy,
                                              ctx.settings.examples, self.seen) or failing
        found.notes.extend(n for n in (retried(sent, "drawn requests"), refusals(sent, "drawn requests")) if n)
        varied = [p for p in ctx.profile.vary if any(VaryPath(p).places(ctx.body))]
        drawn = f"{plural(judged, 'request')} drawn, varying {', '.join(varied)} (seed {ctx.settings.seed})"
        if failing:
            found.notes.append(drawn)
            body, failed = min(failing, key=lambda f: len(_key(f[0])))
            found.fail(
                f"a request varying the canonical one did not get a conforming stream; smallest failing request "
                f"{shown(body)} (reproduce with --sse-seed {ctx.settings.seed}): {summary(failed)}",
                expected="a conforming stream",
                received=", ".join(v.requirement.id for v in failed),
            )
        elif judged_or_not(found, sent, "drawn requests"):
            found.notes.append(drawn)

    def _hypothesis(self, n: int, phases: tuple[Phase, ...]) -> Any:
        def decorate(test: Any) -> Any:
            return settings(
                max_examples=n,
                deadline=None,
                database=None,
                phases=phases,
                suppress_health_check=list(HealthCheck),
                report_multiple_bugs=False,
                verbosity=Verbosity.quiet,
            )(seed(self.ctx.settings.seed)(test))

        return decorate

    def _draw(self, strategy: Any, n: int, gave_up: list[str]) -> list[Any]:
        """The requests, in the order Hypothesis draws them with the run's seed."""
        bodies: dict[str, Any] = {}

        @self._hypothesis(n, (Phase.generate,))
        @given(strategy)
        def collect(body: Any) -> None:
            bodies.setdefault(_key(body), body)

        try:
            collect()
        except HypothesisException as exc:  # e.g. Unsatisfiable: nothing valid to draw
            gave_up.append(f"{type(exc).__name__}: {str(exc)[:200]}")
        return list(bodies.values())

    def _shrink(
        self, loop: asyncio.AbstractEventLoop, client: Transport, strategy: Any, n: int,
        seen: dict[str, list[Verdict] | None],
    ) -> list[tuple[Any, list[Verdict]]]:
        """Replay the draw and let Hypothesis shrink the first failing request; each request
        it has not seen yet is a real exchange, at most the depth's ``shrinks`` of them."""
        failing: list[tuple[Any, list[Verdict]]] = []
        left = self.ctx.settings.depth.shrinks

        @self._hypothesis(n, (Phase.generate, Phase.shrink))
        @given(strategy)
        def one(body: Any) -> None:
            nonlocal left
            key = _key(body)
            if key not in seen:
                if left <= 0:
                    return  # shrinking budget spent: keep the smallest failure found so far
                left -= 1
                seen[key] = self._failures(
                    asyncio.run_coroutine_threadsafe(self.checked(client, "shrink", body), loop).result())
            failed = seen[key]
            if failed:
                failing.append((body, failed))
                raise _RequestFailed

        try:
            one()
        except (_RequestFailed, ExceptionGroup):
            pass  # the failures are recorded in `failing`
        except HypothesisException:
            pass  # the draw worked once; whatever stops a replay, the failures seen stand
        return failing
