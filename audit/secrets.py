"""No unnamed file committed (item 2), a local repository's own git configuration (item 7), git
URL forms (hosts, credentials), and the search for a known secret in every artifact."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path
from typing import Any

from audit.harness import SECRETS, USER, Audit, git
from doubles.git_remote import RecordingServer
from doubles.listener import Listener

COMMIT = "no unnamed file committed"
SECRET = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: hunter2\n"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\n  namespace: web\ndata:\n  a: b\n"
BASE = {
    "README.md": "x\n",
    "kustomize/kustomization.yaml": "resources:\n  - cm.yaml\n",
    "kustomize/cm.yaml": CM.format("k"),
}
SPECS = [
    "*",
    ":/",
    ":(glob)**",
    "apps/s.y*",
    "apps/s?y*",
    ":(top)apps",
    ":!kustomize",
    ":(exclude)README.md",
    "apps",
    "apps/",
    ".",
    "./",
    ":(icase)APPS/SKY.YAML",
    "apps/[s]*.yaml",
    "**/*.yaml",
    "*.yaml",
    ":(glob)apps/*",
    ":(top,glob)**/s*",
    ":(attr:!x)apps",
    "apps/*",
    "apps\\*",
    "'apps/*'",
    "apps/s*",
    ":",
    ":(literal)*",
    "apps/sky.yaml/..",
    "apps/../apps/s.yaml",
    "./apps/s.yaml",
    "apps//s.yaml",
    ":(literal)apps/s.yaml",
    ":/apps/s.yaml",
    "apps/s.yaml ",
    "kustomize",
    "-A",
    "--all",
    "--",
    "-- apps/s.yaml",
    "apps/s.yaml\napps/sky.yaml",
]


def _all_files(a: Audit, name: str) -> dict[str, set[str]]:
    return {ref: a.remote_files(name, sha) for ref, sha in a.remote_refs(name).items()}


async def pathspecs(a: Audit, c: Any) -> None:
    """Every pathspec form, from a checkout (a plain Secret and a ConfigMap untracked beside
    tracked files) and by URL (two kept changes): the remote's refs never gain an unnamed file."""
    name = f"ps/{a.uid('p')}.git"
    url, work = a.seed(name, BASE)
    (work / "apps").mkdir()
    (work / "apps/s.yaml").write_text(SECRET, encoding="utf-8")
    (work / "apps/sky.yaml").write_text(CM.format("sky"), encoding="utf-8")
    (work / "README.md").write_text("changed, not named\n", encoding="utf-8")
    for mode in ("push", "pull_request"):
        for spec in SPECS:
            before = _all_files(a, name)
            ans = await a.call(
                c, "commit_and_push", {"repo_path": str(work), "paths": [spec], "message": "ps", "mode": mode}
            )
            after = _all_files(a, name)
            gained = sorted({f for fs in after.values() for f in fs} - {f for fs in before.values() for f in fs})
            readme = any("changed" in git(a.remote.root / name, "show", f"{r}:README.md", check=False) for r in after)
            staged = git(work, "diff", "--cached", "--name-only")
            ok = not gained and not readme and not staged and ans.answered
            a.record(COMMIT, f"local {mode} paths=[{spec!r}]", ok, f"gained {gained} staged {staged!r}: {ans}")
    # the positive control: the named file alone is committed, and the Secret named literally is refused
    ans = await a.call(c, "commit_and_push", {"repo_path": str(work), "paths": ["apps/sky.yaml"], "message": "one"})
    files = a.remote_files(name)
    a.record(
        COMMIT,
        "local: the one named file is pushed, alone",
        ans.ok and "apps/sky.yaml" in files and "apps/s.yaml" not in files,
        str(ans),
    )
    ans = await a.call(c, "commit_and_push", {"repo_path": str(work), "paths": ["apps/s.yaml"], "message": "secret"})
    a.record(
        COMMIT,
        "local: a plain Secret named literally is refused",
        not ans.ok and "apps/s.yaml" not in a.remote_files(name),
        str(ans),
    )
    # by URL: two kept changes; patterns deliver neither
    name = f"ps/{a.uid('u')}.git"
    url, _ = a.seed(name, BASE)
    for f in ("apps/sky.yaml", "apps/sun.yaml"):
        ans = await a.call(c, "write_manifests", {"repo_path": url, "output_path": f, "yaml": CM.format(f[5:8])})
        a.record(COMMIT, f"url: {f} kept (set-up)", ans.ok, str(ans))
    for spec in SPECS:
        before = _all_files(a, name)
        ans = await a.call(c, "commit_and_push", {"repo_path": url, "paths": [spec], "message": "ps"})
        after = _all_files(a, name)
        gained = sorted({f for fs in after.values() for f in fs} - {f for fs in before.values() for f in fs})
        a.record(COMMIT, f"url push paths=[{spec!r}]", not gained and ans.answered, f"gained {gained}: {ans}")
    ans = await a.call(c, "commit_and_push", {"repo_path": url, "paths": ["apps/sky.yaml"], "message": "one"})
    files = a.remote_files(name)
    a.record(
        COMMIT,
        "url: the one named kept file is pushed, alone",
        ans.ok and "apps/sky.yaml" in files and "apps/sun.yaml" not in files,
        str(ans),
    )


def _script(path: Path, body: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


async def repo_git_config(a: Audit, c: Any) -> None:
    """Item 7, over HTTP (the default: a local repository's own configuration is not run): hooks,
    core.hooksPath, filter/diff drivers, fsmonitor, gpg.program, credential helpers; and rewrites
    (insteadOf, pushInsteadOf) to a host not allowed refused over both transports."""
    marks = a.victim(a.uid("marks-"), {})
    bin_ = a.root / "gitcfg-bin" / marks.name
    name = f"gc/{a.uid('g')}.git"
    _, work = a.seed(name, {**BASE, ".gitattributes": "*.yaml filter=evil diff=evil\n"})
    for hook in ("pre-commit", "commit-msg", "post-commit", "pre-push", "reference-transaction", "post-index-change"):
        _script(work / ".git/hooks" / hook, f'touch "{marks}/hook-{hook}"\ncat >/dev/null 2>&1; exit 0\n')
    hooks_path = bin_ / "hooks"
    _script(hooks_path / "pre-commit", f'touch "{marks}/hookspath"\nexit 0\n')
    settings = {
        "filter.evil.clean": _script(bin_ / "clean", f'touch "{marks}/filter"\ncat\n'),
        "filter.evil.process": _script(bin_ / "process", f'touch "{marks}/filter-process"\nexit 1\n'),
        "diff.evil.textconv": _script(bin_ / "textconv", f'touch "{marks}/textconv"\ncat "$1"\n'),
        "diff.external": _script(bin_ / "extdiff", f'touch "{marks}/diff-external"\n'),
        "core.fsmonitor": _script(bin_ / "fsmon", f'touch "{marks}/fsmonitor"\n'),
        "gpg.program": _script(bin_ / "gpg", f'touch "{marks}/gpg"\nexit 1\n'),
        "commit.gpgsign": "true",
        "credential.helper": "!" + _script(bin_ / "cred", f'touch "{marks}/credential"\n'),
        "core.sshCommand": _script(bin_ / "ssh", f'touch "{marks}/ssh"\n'),
    }
    for k, v in settings.items():
        git(work, "config", k, v)
    ans = await a.call(
        c, "write_manifests", {"repo_path": str(work), "output_path": "apps/cm.yaml", "yaml": CM.format("g")}
    )
    ans2 = await a.call(c, "commit_and_push", {"repo_path": str(work), "paths": ["apps/cm.yaml"], "message": "cfg"})
    ran = sorted(p.name for p in marks.iterdir())
    a.record(
        "item 7: repository git config",
        "http: nothing of the repository's own config ran",
        not ran,
        f"ran: {ran}; {ans}; {ans2}",
    )
    a.record(
        "item 7: repository git config",
        "http: the commit still lands (config ignored, not refused)",
        ans2.ok,
        str(ans2),
    )
    git(work, "config", "core.hooksPath", str(hooks_path))
    ans = await a.call(
        c, "write_manifests", {"repo_path": str(work), "output_path": "apps/cm2.yaml", "yaml": CM.format("h")}
    )
    ans = await a.call(c, "commit_and_push", {"repo_path": str(work), "paths": ["apps/cm2.yaml"], "message": "hp"})
    ran = sorted(p.name for p in marks.iterdir())
    a.record("item 7: repository git config", "http: core.hooksPath not run", not ran, f"ran: {ran}; {ans}")


async def rewrites(a: Audit, c: Any, transport: str) -> None:
    with Listener() as ear:
        for key in ("insteadOf", "pushInsteadOf"):
            name = f"rw/{a.uid('r')}.git"
            _, work = a.seed(name, BASE)
            git(work, "config", f"url.http://127.0.0.1:{ear.port}/.{key}", a.remote.url(""))
            before = a.remote_refs(name)
            await a.call(
                c, "write_manifests", {"repo_path": str(work), "output_path": "apps/x.yaml", "yaml": CM.format("x")}
            )
            ans = await a.call(
                c, "commit_and_push", {"repo_path": str(work), "paths": ["apps/x.yaml"], "message": "rw"}
            )
            ok = not ans.ok and ear.count == 0 and a.remote_refs(name) == before
            a.record(
                "item 7: repository git config",
                f"{transport}: {key} to a host not allowed refused",
                ok,
                f"listener {ear.count}; {ans}",
            )


def url_forms(a: Audit) -> list[str]:
    r, ear, rec = a.remote.port, a.ear.port, a.rec.port
    good = f"127.0.0.1:{r}"
    tail = "/org/apps.git"
    return [
        f"http://127.0.0.1:{ear}{tail}",
        f"https://127.0.0.1:{ear}{tail}",
        f"http://localhost:{r}{tail}",
        f"http://127.0.0.1:{r}@127.0.0.1:{ear}{tail}",
        f"http://{good}#@127.0.0.1:{ear}{tail}",
        f"http://127.0.0.1:{ear}\\@{good}{tail}",
        f"http://127.0.0.1:{ear}?@{good}{tail}",
        f"http://[::1]:{r}{tail}",
        f"http://2130706433:{ear}{tail}",
        f"http://0x7f.1:{ear}{tail}",
        f"http://127.1:{ear}{tail}",
        f"http://127.0.0.1.:{ear}{tail}",
        f"HTTP://127.0.0.1:{ear}{tail}",
        f" http://127.0.0.1:{ear}{tail}",
        f"http://127.0.0.1:{ear}{tail}\n[credential]",
        f"http://127.0.0.1%3a{ear}{tail}",
        f"http://127.0.0.1:{rec}{tail}",
        f"git://127.0.0.1:{ear}{tail}",
        f"ssh://127.0.0.1:{ear}{tail}",
        f"ssh://-oProxyCommand=touch%20/tmp/x@{good}{tail}",
        f"127.0.0.1:{ear}:org/apps.git",
        "git@127.0.0.1:org/apps.git",
        "file:///etc",
        f"file://{a.remote.root}/org/x.git",
        f"ext::sh -c touch% {a.outside}/ext",
        "fd::3",
        f"--upload-pack=touch {a.outside}/up",
        "-uhttp://x",
        f"http://{USER}:guess@127.0.0.1:{ear}{tail}",
        f"http://127.0.0.1:{ear}/{good}{tail}",
        f"http://{good}.127.0.0.1.nip.io:{ear}{tail}",
        f"http://127.0.0.1:{r}/../../../{tail}",
        f"http://127.0.0.1:{r}/%2e%2e/%2e%2e{tail}",
        f"http://127.0.0.1:{r}/org/apps.git/../../x.git",
        f"http://127.0.0.1:{r}/org/../../x.git",
        "https://github.com/org/repo.git",
        f"http://127.0.0.1:{ear}",
        f"http://127.0.0.1:{r}:{ear}{tail}",
        f"http://u:input-pass-5e3c0d@127.0.0.1:{ear}{tail}",
        f"http://u:input-pass-5e3c0d@{good}{tail}",
    ]


async def git_urls(a: Audit, c: Any) -> None:
    """Git URL forms as repo_path: nothing reaches a host not allowed (a listener and a recording
    server count every connection), no credential goes anywhere else, no command runs."""
    with Listener() as ear, RecordingServer() as rec:
        a.ear, a.rec = ear, rec
        forms = url_forms(a)
        for form in forms:
            for tool, args in (
                ("detect_packages", {"repo_path": form}),
                ("write_manifests", {"repo_path": form, "output_path": "apps/u.yaml", "yaml": CM.format("u")}),
            ):
                ans = await a.call(c, tool, args)
                a.record(
                    "git URL forms",
                    f"{tool} {form[:60]!r}",
                    ans.answered and ("input-pass-5e3c0d" not in ans.text),
                    str(ans),
                )
        a.record(
            "git URL forms",
            f"no connection to hosts not allowed ({len(forms)} forms x 2 tools)",
            ear.count == 0 and not rec.log,
            f"listener {ear.count}, recorder {len(rec.log)}",
        )
    leaked = [x for x in ("ext", "up") if (a.outside / x).exists()] + [x for x in ("/tmp/x",) if Path(x).exists()]
    a.record("git URL forms", "no command ran from a URL", not leaked, str(leaked))


def search(a: Audit) -> None:
    """Every artifact: answers, server logs, state and cache files, .git/config of every checkout
    and cached clone, every commit on the remote and in the cache, the audit log, forge requests."""
    arts: list[tuple[str, str]] = [(f"answer {i}", t) for i, t in enumerate(a.outputs)]
    arts += [(f"server log {i}", "".join(s.stderr)) for i, s in enumerate(a.servers)]
    arts += [(str(p.name), p.read_text(errors="replace")) for p in a.stdio_logs if p.exists()]
    for base in (a.home, a.roots):
        for p in base.rglob("*"):
            if p.is_file() and not p.is_symlink() and "/objects/" not in str(p) and p.stat().st_size < 64 << 20:
                arts.append((str(p.relative_to(a.root)), p.read_bytes().decode("utf-8", "replace")))
    repos = {p.parent for p in a.home.rglob("HEAD") if (p.parent / "objects").is_dir()}
    repos |= {p for p in a.remote.root.rglob("*.git") if p.is_dir()}
    repos |= {p for p in a.roots.rglob(".git") if p.is_dir()}
    for r in sorted(repos):
        log = subprocess.run(
            ["git", "log", "--all", "-p", "--format=%H %an %ae%n%B"],
            cwd=r,
            capture_output=True,
            text=True,
            errors="replace",
        )
        arts.append((f"commits of {r.relative_to(a.root)}", log.stdout))
    arts += [(f"forge request {i}", str(q.body) + str(q.path)) for i, q in enumerate(a.forge.requests)]
    found = [(n, s[:6]) for n, t in arts for s in (*SECRETS, "input-pass-5e3c0d") if s in t]
    a.record(
        "secrets never in an artifact",
        f"{len(arts)} artifacts searched for {len(SECRETS) + 1} secrets",
        not found,
        str(found[:10]),
    )
    sent = [q for q in a.remote.log if q.authorization and q.user is None]
    a.record("secrets never in an artifact", "the remote never got a wrong credential", not sent, str(sent[:3]))
