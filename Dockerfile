# syntax=docker/dockerfile:1
#
# downward-webhook image: a builder stage installs the package into a virtualenv; the runtime
# stage copies only that venv onto a slim Python base and runs as a numeric non-root user, so
# Kubernetes can verify runAsNonRoot without a runAsUser in the pod spec.
#
# Works with a read-only root filesystem: nothing is written at run time (bytecode is compiled
# at build time, PYTHONDONTWRITEBYTECODE stops further writes); the chart mounts an emptyDir
# at /tmp for anything that needs scratch space.
#
#   docker build -t ghcr.io/downward-io/downward-webhook:0.1.0 .

ARG PYTHON_VERSION=3.12

FROM python:${PYTHON_VERSION}-slim-bookworm AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
# Dependencies first (read from pyproject.toml), then the code: editing webhook/ does not
# reinstall the dependencies.
COPY pyproject.toml README.md ./
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
      > /tmp/requirements.txt \
 && /opt/venv/bin/pip install -r /tmp/requirements.txt
COPY webhook ./webhook
# pip compiles the bytecode here, so the read-only runtime never needs to write it.
RUN /opt/venv/bin/pip install --no-deps . \
 && /opt/venv/bin/downward-webhook --help >/dev/null

FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
LABEL org.opencontainers.image.title="downward-webhook" \
      org.opencontainers.image.description="Kubernetes mutating admission webhook: Downward API env vars, downwardAPI volume, kubectl-proxy ambassador" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# Only the venv: no pip cache, no sources, no build tools.
COPY --from=builder /opt/venv /opt/venv
# 65532 is the conventional "nonroot" UID/GID (distroless); no passwd entry is needed.
USER 65532:65532
WORKDIR /tmp
EXPOSE 8443
ENTRYPOINT ["downward-webhook"]
CMD ["serve"]
