"""gunicorn settings hook: `gunicorn -c python:riskreg.gunicorn_conf …` (docs/deploy.md).

The master process checks, before it forks any worker, that several workers do not each
count failed logins in their own memory (riskreg.config.check_throttle_store). The app makes
the same check when it starts from gunicorn's command line; this hook also sees a worker
count that comes from a config file, and stops the master with one clear message.
"""

from __future__ import annotations

from typing import Any


def on_starting(server: Any) -> None:
    from flask import Flask

    from riskreg import PROJECT_ROOT
    from riskreg.config import check_throttle_store, instance_path_from_env, load_config

    probe = Flask(
        "riskreg-config-check",
        instance_path=str(instance_path_from_env(PROJECT_ROOT / "instance")),
        instance_relative_config=True,
    )
    load_config(probe, {"SERVER_PROCESSES": 1})  # only the store; the count is gunicorn's
    check_throttle_store(probe.config, int(server.cfg.workers))
