"""python -m gitops_testbed up [--flux] [--argocd] | down | status | build [component ...]"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import build, stack
from .identity import server_kubeconfig
from .procs import TestbedError


def main(argv: list[str] | None = None) -> int:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--state", type=Path, default=stack.STATE, help="state dir (default %(default)s)")
    ap = argparse.ArgumentParser(prog="testbed", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    u = sub.add_parser("up", parents=[common], help="build what is missing, start in the background, wait until ready")
    for name in stack.ADDONS:
        u.add_argument(f"--{name}", action="store_true", help=f"also start {name}")
    sub.add_parser("down", parents=[common], help="stop everything the testbed started")
    sub.add_parser("status", parents=[common], help="what runs, versions, kubeconfigs")
    b = sub.add_parser("build", parents=[common], help="build (only what is missing)")
    b.add_argument("components", nargs="*")
    args = ap.parse_args(argv)
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    try:
        if args.cmd == "build":
            return build.main(args.components)
        if args.cmd == "down":
            stopped = stack.down(args.state)
            log(f"stopped {len(stopped)} process(es)" + (f": {', '.join(stopped)}" if stopped else ""))
            return 0
        if args.cmd == "status":
            print(stack.status(args.state))
            return 0
        plane = stack.up([a for a in stack.ADDONS if getattr(args, a)], args.state, log=log)
        sa = server_kubeconfig(plane)
        log(f"testbed up in {plane.info['start_s']} s; versions: " + ", ".join(
            f"{k} {v}" for k, v in plane.info.items() if k in ("kubernetes", "flux", "argocd")))  # fmt: skip
        log(f"server kubeconfig (ServiceAccount gitops-mcp, RBAC of deploy/kubernetes): {sa}")
        log(f"stop it with: scripts/testbed down{'' if args.state == stack.STATE else f' --state {args.state}'}")
        print(plane.admin_kubeconfig)
        return 0
    except (TestbedError, build.BuildError) as e:
        log(f"testbed: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
