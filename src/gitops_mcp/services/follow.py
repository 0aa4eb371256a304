"""Follow a pull/merge request to live: wait for its merge through the forge API, then for the
controller to apply the merge commit (``wait_for_sync`` with ``pull_request``).

A forge offers no watch to this server, so the merge is polled, first at once, then with a
back-off up to :data:`MAX_POLL_S`, never past the deadline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from gitops_mcp.clock import Clock
from gitops_mcp.git.forge import Forge, PullRef, parse_pull_ref
from gitops_mcp.settings import Settings

FIRST_POLL_S, MAX_POLL_S = 0.2, 5.0
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Merge:
    outcome: Literal["merged", "closed", "timeout"]
    sha: str | None
    message: str
    ref: PullRef
    body: str = ""


def wait_for_merge(
    settings: Settings, text: str, deadline: float, clock: Clock, progress: Progress | None = None
) -> Merge:
    """Poll the pull/merge request ``text`` until it is merged or closed, or ``deadline`` (of
    ``clock``) passed."""
    ref = parse_pull_ref(text, settings)
    start = clock.monotonic()
    delay = FIRST_POLL_S
    with Forge(ref.kind, settings) as forge:
        while True:
            st = forge.pull_state(ref)
            elapsed = clock.monotonic() - start
            if st.state == "merged" and st.merge_sha:
                msg = f"{ref.label} merged as {st.merge_sha[:12]}; waiting for the controller to apply it"
                if progress is not None:
                    progress(elapsed, msg)
                return Merge("merged", st.merge_sha, msg, ref, st.body)
            if st.state == "closed":
                return Merge("closed", None, f"{ref.label} was closed without merging: none of it will go live", ref)
            remaining = deadline - clock.monotonic()
            if remaining <= 0:
                return Merge("timeout", None, f"{ref.label} is still {st.state}: not merged before the timeout", ref)
            if progress is not None:
                progress(elapsed, f"waiting for {ref.label} to be merged ({st.state})")
            clock.sleep(min(delay, remaining))
            delay = min(delay * 2, MAX_POLL_S)
