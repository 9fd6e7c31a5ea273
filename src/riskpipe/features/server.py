"""``riskpipe feature-server``: Feast's own feature server (``feast serve``) started with our settings.

The server is Feast's (gunicorn + uvicorn worker + Feast's FastAPI app); this module only chooses how
it is started, because two of Feast's defaults cost the online path dearly (measured in
bench/bench_online.py, see feature_repo/README.md "Feature server"):

* **typeguard.** Feast decorates its classes with typeguard's ``@typechecked``; on every
  ``POST /get-online-features`` the server rebuilds the ``FeatureService`` from the registry proto
  (46 ``Field`` objects for ``credit_pd_v1``), and the runtime type checks of those constructors cost
  ~2.5 ms of CPU per request, more than the Redis read itself. typeguard documents that
  ``@typechecked`` is a no-op when Python runs optimised, so the server runs with
  ``PYTHONOPTIMIZE=1`` (``feature_server_optimize``). That also skips ``assert`` statements; Feast's
  are internal type narrowing, and the server tests run with the flag on.
* **worker recycling.** ``feast serve`` recycles its worker after 1,000 requests
  (``--max-requests 1000``): the worker closes its keep-alive connections mid-stream (a client sees
  "server disconnected") and, with one worker, no request is served while the new one loads the
  registry. ``feature_server_max_requests`` defaults to 0 (never recycle).

The access log is off (one log line per request on the hot path) unless asked for.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from riskpipe.errors import ConfigError
from riskpipe.features.config import DEFAULT_PROJECT, DEFAULT_REPO_PATH, write_feature_store_yaml
from riskpipe.settings import Settings, get_settings


def feast_executable() -> str:
    """The ``feast`` console script of this interpreter's environment (else the one on PATH)."""
    here = Path(sys.executable).with_name("feast")
    found = str(here) if here.exists() else shutil.which("feast")
    if not found:
        raise ConfigError("the `feast` command is not installed in this environment (pip install feast[redis])")
    return found


def feature_server_command(
    settings: Settings,
    *,
    host: str,
    port: int,
    repo_path: Path | None = None,
    environ: dict[str, str] | None = None,
) -> tuple[list[str], dict[str, str]]:
    """The ``feast serve`` argv and environment these settings ask for (nothing is started)."""
    repo = Path(repo_path or DEFAULT_REPO_PATH)
    argv = [feast_executable(), "-c", str(repo), "serve", "-h", host, "-p", str(port),
            "--workers", str(settings.feature_server_workers),
            "--max-requests", str(settings.feature_server_max_requests),
            "--keep-alive-timeout", str(settings.feature_server_keep_alive_s),
            "--registry_ttl_sec", str(settings.feature_server_registry_ttl_s)]
    if not settings.feature_server_access_log:
        argv.append("--no-access-log")
    env = dict(os.environ if environ is None else environ)
    if settings.feature_server_optimize:
        env["PYTHONOPTIMIZE"] = "1"
    else:
        env.pop("PYTHONOPTIMIZE", None)
    return argv, env


def run_feature_server(
    *,
    host: str,
    port: int,
    project: str = DEFAULT_PROJECT,
    repo_path: Path | None = None,
    settings: Settings | None = None,
) -> None:
    """Write ``feature_store.yaml`` from the settings, then become ``feast serve`` (exec, no return).

    Exec rather than a child process: signals (SIGTERM from a supervisor) reach gunicorn directly and
    its exit status is the command's.
    """
    settings = settings or get_settings()
    write_feature_store_yaml(settings, project, repo_path=repo_path)
    argv, env = feature_server_command(settings, host=host, port=port, repo_path=repo_path)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(argv[0], argv, env)
