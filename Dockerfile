# gitops-mcp: streamable HTTP on port 8000, as a non-root user (10001), with git installed.
# Linted by hadolint in scripts/test; its stages are also run as a plain script in CI
# (scripts/image-check: a fresh venv, the server as a non-root user, /healthz), since no Docker
# engine exists there. deploy/kubernetes runs it with a read-only root filesystem.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/gitops-mcp \
 && /opt/gitops-mcp/bin/pip install --no-cache-dir --disable-pip-version-check .

FROM python:3.11-slim-bookworm
# Not pinned to Debian package versions (DL3008): bookworm's security updates replace them, and a
# pinned version that is no longer in the archive breaks the build; the base image tag pins the release.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 gitops \
 && useradd --create-home --uid 10001 --gid 10001 gitops \
 && mkdir -p /work && chown 10001:10001 /work
COPY --from=build /opt/gitops-mcp /opt/gitops-mcp
ENV PATH=/opt/gitops-mcp/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GITOPS_MCP_ALLOWED_ROOTS=/work \
    GITOPS_MCP_STATE_DIR=/home/gitops/.local/state/gitops-mcp \
    GITOPS_MCP_CACHE_DIR=/home/gitops/.cache/gitops-mcp
# Numeric, so that the kubelet can check runAsNonRoot without looking up a name.
USER 10001:10001
WORKDIR /work
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
# Binding 0.0.0.0 requires GITOPS_MCP_AUTH_TOKEN (the server refuses to start without it).
ENTRYPOINT ["gitops-mcp", "serve"]
CMD ["--transport", "http", "--host", "0.0.0.0", "--port", "8000"]
