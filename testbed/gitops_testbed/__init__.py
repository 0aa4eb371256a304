"""gitops_testbed: a real Kubernetes control plane with real Flux (and Argo CD) controllers, built from
the pinned Go wrapper modules in testbed/ and run as plain processes on 127.0.0.1.

Plain Python, not part of gitops_mcp. Use it with PYTHONPATH=testbed:

    python -m gitops_testbed up [--flux] [--argocd]   # or scripts/testbed up ...
    python -m gitops_testbed status | down | build [component ...]

Layout:
- build.py     COMPONENTS (wrapper module dir, Go packages, ldflags) -> binaries cached in
               ~/.cache/gitops-mcp/testbed/<component>-<hash>/bin; LAYERS: which components a layer needs.
- pki.py       envtest-style certificates and kubeconfigs (openssl CLI).
- procs.py     detached processes recorded in <state>/procs.json (logs in <state>/logs/), bounded waits.
- plane.py     etcd -> kube-apiserver (RBAC) -> KCM + scheduler -> kwok + one fake Node. Plane: state,
               binaries, admin kubeconfig, kubectl()/apply() helpers, info (versions) saved in plane.json.
- flux.py      start_flux(plane): Flux CRDs from GOMODCACHE, source/kustomize/helm-controller.
- identity.py  server_kubeconfig(plane): deploy/kubernetes' ServiceAccount + RBAC, a TokenRequest token.
- stack.py     up(addons) / down() / status() / diagnostics(); ADDONS registry.

Adding an add-on (how Argo CD plugs in):
1. build.py: add COMPONENTS["argocd"] = Component(module dir under testbed/, packages, binaries) and
   LAYERS["argocd"] = ("argocd", ...) naming every component it needs.
2. argocd.py: def start_argocd(plane: Plane) -> None. Start processes with plane.procs.start(name, cmd,
   env=..., cwd=...) (so `down` stops them), use free_port() for every port on 127.0.0.1, wait with
   procs.wait_until(check, what, timeout, proc) on a readiness check, apply objects with
   plane.apply(yaml), record versions in plane.info (e.g. plane.info["argocd"] = "v3.6.x") and finish
   with plane.layers.append("argocd"); plane.save().
3. stack.ADDONS already maps "argocd" to "gitops_testbed.argocd:start_argocd"; `up --argocd` then works
   (the CLI makes one flag per ADDONS entry), and so does the tests' fixture (tests/realcluster).
"""
