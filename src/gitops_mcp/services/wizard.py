"""The deployment wizard: sessions that detect, ask, preview, write, deliver and verify (the
delivery of a shown preview is :mod:`gitops_mcp.services.wizard_delivery`)."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from gitops_mcp.detection.models import PAGE_SIZE, Package
from gitops_mcp.errors import GitOpsError, ReadOnlyError, UserInputError
from gitops_mcp.manifests.write import write_manifest_file
from gitops_mcp.questions import Question
from gitops_mcp.services.prepare import Preparation
from gitops_mcp.services.repository import Repository
from gitops_mcp.services.shared import Shared
from gitops_mcp.services.wizard_delivery import SessionDelivery
from gitops_mcp.sessions import flow
from gitops_mcp.sessions.models import SessionState, SessionSummary, SessionView
from gitops_mcp.sessions.store import ConcurrentUpdateError, new_session_id
from gitops_mcp.settings import Settings

SAVE_ATTEMPTS = 5  # reads again after another call (another replica) stored a transition first
log = logging.getLogger("gitops_mcp.wizard")


class WizardService:
    """start_deployment, answer_questions, get_session, list_sessions, cancel_session."""

    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.prep = Preparation(shared)
        self.handover = SessionDelivery(shared)

    def start(
        self,
        principal: str,
        path: str,
        intent: str | None = None,
        provider: str | None = None,
        answers: Mapping[str, Any] | None = None,
        accept_defaults: bool = False,
    ) -> SessionView:
        """Open a session; answers given ahead (and ``accept_defaults``) carry it as far as they
        reach, up to the preview: delivery is answered only after the preview was shown."""
        if provider is not None:
            self.shared.registry.get(provider)
        given = dict(answers or {})
        self._check_ids(given)
        if "delivery" in given:
            raise UserInputError("answer delivery after the preview (answer_questions), not with start_deployment")
        repo = Repository.of(path)
        with repo.reading(self.shared) as directory:
            ctx = self.prep.context(directory, intent, provider)
            ctx.source_url = repo.url
            state = SessionState(
                id=new_session_id(), principal=principal, created_at=0, updated_at=0, expires_at=0, context=ctx
            )
            pending = {**({"provider": provider} if provider else {}), **given}
            env = self.prep.env(ctx)
            adv = flow.advance(state, pending, env, defaults_for=self._defaults(state, env) if accept_defaults else ())
            errors = dict(adv.errors)
            new = self._settle(adv.state, errors, env)
        self._check_open_sessions(principal)  # after the path is checked: a refused path touches no store
        state = self.shared.store.create(new)
        return self._view(state, errors, adv.ignored, include_packages=True, env=env)

    def _check_open_sessions(self, principal: str) -> None:
        """Refuse a new session while the caller has ``max_open_sessions`` open (done, cancelled
        and expired ones do not count); nothing is stored."""
        cap = self.shared.settings.max_open_sessions
        found = self.shared.store.summaries(principal, 1 << 30)
        if sum(s.status == "open" for s in found) >= cap:
            raise UserInputError(
                f"this caller has {cap} open sessions, the most allowed (GITOPS_MCP_MAX_OPEN_SESSIONS): "
                "finish or cancel_session some (list_sessions shows them) before starting another"
            )

    @contextlib.contextmanager
    def _here(self, state: SessionState) -> Iterator[SessionState]:
        """A session started from a git URL reads this server's cached clone of it (made again if
        evicted, or if another replica started the session), held in use (never evicted) while
        the block runs."""
        url, ctx = state.context.source_url, state.context
        if not (url and state.status == "open"):
            yield state
            return
        cache = self.shared.delivery.cache
        with cache.in_use(cache.destination(cache.remote(url))):
            root = str(cache.present(url).resolve())
            if ctx.repo_root != root:
                ctx.repo_root = ctx.scan_path = root
            yield state

    def _defaults(self, state: SessionState, env: flow.FlowEnv) -> set[str]:
        """What accept_defaults takes: every question up to the preview; the preview's own
        questions (delivery, wait, register, ...) are the user's to answer once they have seen it."""
        held = {q.id for q in flow.questions_for("preview", state.answers, state.context, env)}
        return flow.all_question_ids(self.shared.registry) - held - set(flow.PREVIEW_QUESTION_IDS)

    def _check_ids(self, answers: Mapping[str, Any]) -> None:
        known = flow.all_question_ids(self.shared.registry)
        unknown = sorted(k for k in answers if k not in known)
        if unknown:
            raise UserInputError(f"unknown question id(s): {', '.join(unknown)}; valid ids: {', '.join(sorted(known))}")

    def answer(
        self, principal: str, session_id: str, answers: Mapping[str, Any], accept_defaults: bool = False
    ) -> SessionView:
        """One transition. When another call stored one first (optimistic locking), the answers are
        applied again to what it stored: of two concurrent answers neither is lost."""
        for attempt in range(SAVE_ATTEMPTS):
            with self._here(self.shared.store.get(session_id, principal)) as state:
                if state.status != "open":
                    raise UserInputError(
                        f"session {session_id} is {state.status}; start a new one with start_deployment"
                    )
                self._check_ids(answers)
                env = self.prep.env(state.context)
                adv = flow.advance(
                    state, answers, env, defaults_for=self._defaults(state, env) if accept_defaults else ()
                )
                new, errors = adv.state, dict(adv.errors)
                new = self._settle(new, errors, env)
                try:
                    saved = self.shared.store.save(new)
                except ConcurrentUpdateError:
                    if attempt == SAVE_ATTEMPTS - 1:
                        raise
                    log.info("session %s: another call stored an answer first; applying these again on top", session_id)
                    continue
                return self._view(saved, errors, adv.ignored, env=env)
        raise AssertionError("unreachable")

    def _settle(self, state: SessionState, errors: dict[str, str], env: flow.FlowEnv) -> SessionState:
        """Build the preview once everything is answered, and deliver when delivery was chosen."""
        if state.step not in ("preview", "done"):
            state.preview = None
            return state
        key = preview_key(state.answers, self.shared.settings)
        if state.preview is None or state.preview_of != key:  # built once: delivery answers change nothing in it
            try:
                state.preview, state.preview_of = self.prep.preview(state, env), key
            except GitOpsError as exc:  # the target cannot be written (e.g. a symlink leaving the repository)
                return self._ask_again(state, errors, "output_path", str(exc))
        if state.step == "done" and "register" in errors:  # not delivered without the register asked for
            state.answers.pop("delivery", None)
            state.answers.pop("register", None)
            state.step = "preview"
        if state.step == "done" and state.shown != state.preview.digest():  # never delivered unseen: kept
            state.pending["delivery"] = state.answers.pop("delivery")
            state.step = "preview"
        if state.step != "done":
            state.shown = state.preview.digest() if state.status == "open" else state.shown
            if not state.context.delivery_options:
                state.status = "done"
            return state
        if not state.preview.validation.valid:
            return self._back_to_preview(
                state, errors, "the manifests are not valid: " + state.preview.validation.describe()
            )
        if state.context.source_url:
            return self._settle_remote(state, errors, state.context.source_url)
        try:
            written = self.handover.write_local(state)
        except GitOpsError as exc:
            return self._ask_again(state, errors, "output_path", str(exc))
        try:
            state.result = self.handover.deliver(state, written, Path(state.context.repo_root or "."))
        except GitOpsError as exc:
            return self._back_to_preview(
                state, errors, f"{exc} (the file is written in the working tree; answer delivery again to retry)"
            )
        state.status = "done"
        return state

    def _settle_remote(self, state: SessionState, errors: dict[str, str], url: str) -> SessionState:
        """Write and deliver in a fresh working tree of ``url`` at the remote's tip (the session's branch)."""
        assert state.preview is not None
        if self.shared.settings.read_only:
            raise ReadOnlyError("the server is read-only; nothing can be written")
        try:
            with self.shared.delivery.workspace(url, state.context.branch, state.principal) as ws:
                try:
                    written = write_manifest_file(ws.root, state.preview.output_path, state.preview.yaml)
                except GitOpsError as exc:
                    return self._ask_again(state, errors, "output_path", str(exc))
                state.result = self.handover.deliver(state, written, ws.root, ws.tip)
        except GitOpsError as exc:
            return self._back_to_preview(state, errors, f"{exc} (answer delivery again to retry)")
        state.status = "done"
        return state

    @staticmethod
    def _back_to_preview(state: SessionState, errors: dict[str, str], reason: str) -> SessionState:
        """Not delivered: the preview again, with delivery asked again for ``reason``."""
        errors["delivery"] = reason
        state.answers.pop("delivery", None)
        state.step = "preview"
        return state

    @staticmethod
    def _ask_again(state: SessionState, errors: dict[str, str], qid: str, reason: str) -> SessionState:
        """Take back the answer ``qid`` (and delivery), so the question is asked again with ``reason``."""
        errors[qid] = reason
        state.answers.pop("delivery", None)
        state.answers.pop(qid, None)
        state.step = "output"
        state.preview = None
        return state

    def get(self, principal: str, session_id: str) -> SessionView:
        with self._here(self.shared.store.get(session_id, principal)) as state:
            return self._view(state, {}, [])

    def list_sessions(self, principal: str, limit: int = 50) -> list[SessionSummary]:
        return self.shared.store.summaries(principal, limit)

    def cancel(self, principal: str, session_id: str) -> SessionView:
        for attempt in range(SAVE_ATTEMPTS):
            state = self.shared.store.get(session_id, principal)
            if state.status == "open":
                state.status = "cancelled"
                try:
                    state = self.shared.store.save(state)
                except ConcurrentUpdateError:
                    if attempt == SAVE_ATTEMPTS - 1:
                        raise
                    continue
            return self._view(state, {}, [])
        raise AssertionError("unreachable")

    def open_questions(self, view: SessionView) -> list[Question]:
        return view.questions

    def _view(
        self,
        state: SessionState,
        errors: Mapping[str, str],
        ignored: list[str],
        include_packages: bool = False,
        env: flow.FlowEnv | None = None,
    ) -> SessionView:
        env = env or self.prep.env(state.context)  # the request's own: its package checks are kept
        questions = flow.open_questions(state, env, errors) if state.status == "open" else []
        found = state.context.packages
        include_packages = include_packages and "package" not in state.answers  # else: chosen already
        nxt = self._next(state, questions)
        if include_packages and len(found) > PAGE_SIZE:
            nxt += f" {PAGE_SIZE} of {len(found)} packages shown; detect_packages pages through all."
        return SessionView(
            session_id=state.id,
            status=state.status,
            step=state.step,
            questions=questions,
            answers=dict(state.answers),
            errors=dict(errors),
            ignored=ignored,
            preview=state.preview if state.status != "cancelled" else None,
            result=state.result,
            packages=[_brief(p) for p in found[:PAGE_SIZE]] if include_packages else None,
            next=nxt,
            expires_at=state.expires_at,
        )

    def _next(self, state: SessionState, questions: list[Question]) -> str:
        if state.status == "cancelled":
            return "The session is cancelled. Start a new one with start_deployment."
        if state.status == "done" and state.result is not None:
            if state.result.action == "write":
                return (
                    f"{state.result.message} as previewed (result.diff shows only what differs from the preview). "
                    "Commit it with commit_and_push (mode push or pull_request)."
                )
            return f"{state.result.message}."
        if state.status == "done":
            return (
                "The server is read-only: nothing can be written. Copy preview.yaml into "
                f"{state.preview.output_path if state.preview else 'the repository'} yourself."
            )
        if state.step == "preview" and "delivery" in state.pending:  # held: see _settle
            held = f"Delivery {state.pending['delivery']!r} is held: the user has not seen this preview. "
            return held + "Show it to them, then call answer_questions again to deliver it (the answer is kept)."
        if state.step == "preview":
            valid = state.preview is not None and state.preview.validation.valid
            return (
                "Show the user preview.yaml (and preview.diff when it replaces a file), then answer 'delivery'."
                if valid
                else "The preview is not valid (see preview.validation); change the answers named."
            )
        ids = ", ".join(q.id for q in questions)
        return (
            f"Ask the user, then call answer_questions with {{id: value}} for: {ids}. "
            "Answers for later steps may be given ahead; accept_defaults=true takes the defaults shown."
        )


def preview_key(answers: Mapping[str, Any], settings: Settings) -> str:
    """What a preview is built from: the answers but the preview step's own (delivery, wait, ...),
    and this server's policy and schemas (another replica may judge the same answers otherwise)."""
    shaping = {k: v for k, v in answers.items() if k not in flow.PREVIEW_QUESTION_IDS}
    judged = [settings.policy.model_dump(mode="json"), str(settings.crd_dir)]
    return json.dumps([shaping, judged], sort_keys=True, default=str)


def _brief(p: Package) -> Package:
    """A detected package as the session shows it: what to choose by; the evidence is detect_packages'."""
    return p.model_copy(update={"evidence": [], "kinds": [], "custom_kinds": []})
