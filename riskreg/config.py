"""Configuration: defaults, then instance/config.py, then RISKREG_* variables, then test config."""

from __future__ import annotations

import os
import secrets
import shlex
import sys
from pathlib import Path
from typing import Any

from flask import Flask

from riskreg.db import LOCAL_TIMEZONE_NAME

# The known development key that production refuses (check_production_safety).
DEV_SECRET_KEY = "dev"  # noqa: S105  # nosec B105

DEFAULTS: dict[str, Any] = {
    # bandit B105 (low) flags this and MAIL_PASSWORD: None is no password; a missing key is
    # generated into the instance folder (load_config), a missing mail password means none.
    "SECRET_KEY": None,
    "ENV_NAME": "development",
    "SQLALCHEMY_DATABASE_URI": None,
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    # Whole request (answered with the Swedish 413 page); each upload has its own, smaller
    # limit checked by riskreg.uploads.check_upload while reading.
    "MAX_CONTENT_LENGTH": 50 * 1024 * 1024,
    "PLAN_IMPORT_MAX_BYTES": 10 * 1024 * 1024,
    # A population of some 300 000 payments as CSV; and one evidence file of a sampled item.
    "POPULATION_IMPORT_MAX_BYTES": 50 * 1024 * 1024,
    "EVIDENCE_MAX_BYTES": 10 * 1024 * 1024,
    # Every request that is no upload (url-encoded forms): werkzeug reads those whole.
    "MAX_FORM_BYTES": 1024 * 1024,
    "BABEL_DEFAULT_LOCALE": "sv",
    "BABEL_DEFAULT_TIMEZONE": LOCAL_TIMEZONE_NAME,
    "LANGUAGES": ["sv", "en"],
    # The language of work done outside a web request: command output and messages
    # (RISKREG_LANGUAGE=en). A request always uses its reader's language.
    "LANGUAGE": "sv",
    "WTF_CSRF_TIME_LIMIT": 8 * 3600,
    # Cookies: never readable by scripts, not sent on cross-site subrequests or POSTs, and
    # Secure (HTTPS only) in production. None means "decide by ENV_NAME": True in production,
    # False in development (plain http://localhost). Production refuses an explicit False
    # unless ALLOW_INSECURE_SESSION_COOKIE is also set (see check_production_safety).
    "SESSION_COOKIE_SECURE": None,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "ALLOW_INSECURE_SESSION_COOKIE": False,
    # A session unused for this long ends (the signed cookie carries its time; Flask checks it).
    "PERMANENT_SESSION_LIFETIME": 10 * 3600,
    # Behind a reverse proxy: how many proxies set X-Forwarded-For / -Proto / -Host / -Port /
    # -Prefix. 0 (the default) trusts none of these headers; see docs/deploy.md.
    "PROXY_FIX_X_FOR": 0,
    "PROXY_FIX_X_PROTO": 0,
    "PROXY_FIX_X_HOST": 0,
    "PROXY_FIX_X_PORT": 0,
    "PROXY_FIX_X_PREFIX": 0,
    "RATELIMIT_STORAGE_URI": "memory://",
    # Failed logins before a temporary lockout, per typed username and per client address
    # (riskreg/auth/throttle.py); rate-limit strings as Flask-Limiter writes them.
    "LOGIN_ACCOUNT_LIMIT": "5 per 15 minutes",
    "LOGIN_IP_LIMIT": "50 per 15 minutes",
    # How many processes serve the app, for servers other than gunicorn (whose worker count is
    # read from its command line): more than one requires a shared throttle store (Redis).
    "SERVER_PROCESSES": None,
    "BASE_URL": "http://localhost:5000",
    "MAIL_SERVER": "localhost",
    "MAIL_PORT": 25,
    "MAIL_USE_TLS": False,
    "MAIL_USE_SSL": False,
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_DEFAULT_SENDER": "riskreg@localhost",
    # Signed reports (riskreg/reports). None means the file `riskreg keys init` writes in
    # instance/keys/: signing.p12, its passphrase in `passphrase` (0600), ca.pem.
    "SIGNING_PKCS12": None,
    "SIGNING_PASSPHRASE": None,
    "SIGNING_TRUST_ROOTS": None,
    "TIMESTAMP_URL": None,  # an RFC 3161 timestamp service; none by default
    "REPORTS_DIR": None,  # where signed reports are stored; default instance/reports
    "REPORT_UPLOAD_MAX_BYTES": 20 * 1024 * 1024,  # largest PDF the verify page accepts
    # Signed checkpoints of the audit trail (riskreg/audit/checkpoint.py): where they are
    # written (default instance/audit-checkpoints), who gets them by e-mail (comma-separated),
    # and whether `reminders send` writes one when the newest is a day old.
    "AUDIT_CHECKPOINT_DIR": None,
    "AUDIT_CHECKPOINT_EMAILS": None,
    "AUDIT_CHECKPOINT_WITH_REMINDERS": True,
    # Single sign-on with OpenID Connect (riskreg/sso, docs/deploy.md). Off while OIDC_ISSUER
    # is None: the login page and everything else stay as they are.
    "OIDC_ISSUER": None,  # e.g. https://login.microsoftonline.com/<tenant>/v2.0
    "OIDC_CLIENT_ID": None,
    "OIDC_CLIENT_SECRET": None,
    "OIDC_SCOPE": "openid profile email offline_access",
    # Groups -> roles and units: a JSON object, or the path of a JSON file (riskreg/sso/mapping.py).
    "OIDC_GROUP_MAPPING": None,
    # The claim that becomes the username (Entra ID: the UPN, anna.svensson@region.se).
    "OIDC_USERNAME_CLAIM": "preferred_username",
    # How often a signed-on session asks the IdP (refresh token) whether the user may still
    # sign in; a refusal ends the session at that request.
    "OIDC_RECHECK_SECONDS": 300,
    # Clock difference tolerated when checking the ID token's exp/iat.
    "OIDC_CLOCK_SKEW_SECONDS": 60,
    # The redirect URI registered at the IdP; None: this site's /sso/callback.
    "OIDC_REDIRECT_URI": None,
    "OIDC_HTTP_TIMEOUT_SECONDS": 10,
    # False: no password login, except for the break-glass administrators (comma-separated
    # usernames of local admin accounts) for when the IdP is down.
    "LOCAL_LOGIN": True,
    "BREAK_GLASS_USERS": "",
}

# Short names used in the environment that map to Flask/extension keys.
ENV_ALIASES = {
    "DATABASE_URL": "SQLALCHEMY_DATABASE_URI",
}


class ConfigError(RuntimeError):
    """The configuration is unsafe or unusable; the app must not start."""


def instance_path_from_env(default: Path) -> Path:
    return Path(os.environ.get("RISKREG_INSTANCE_PATH", str(default))).resolve()


def load_config(app: Flask, test_config: dict[str, Any] | None) -> None:
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    for key, value in os.environ.items():
        if not key.startswith("RISKREG_") or key in ("RISKREG_INSTANCE_PATH",):
            continue
        name = key.removeprefix("RISKREG_")
        if name.startswith("TEST_"):
            continue
        app.config[ENV_ALIASES.get(name, name)] = _parse_env_value(value)
    if test_config:
        app.config.update(test_config)

    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        db_file = Path(app.instance_path) / "riskreg.sqlite3"
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{db_file}"
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(
        app.config["SQLALCHEMY_DATABASE_URI"]
    )
    if app.config.get("RATELIMIT_STORAGE_URI"):
        app.config["RATELIMIT_STORAGE_URI"] = app.config["RATELIMIT_STORAGE_URI"]
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _instance_secret_key(Path(app.instance_path))
    check_production_safety(app.config)
    check_throttle_store(app.config, server_processes(app.config))
    if app.config["SESSION_COOKIE_SECURE"] is None:
        app.config["SESSION_COOKIE_SECURE"] = app.config.get("ENV_NAME") == "production"
    app.config.setdefault("REMEMBER_COOKIE_SECURE", app.config["SESSION_COOKIE_SECURE"])


def normalise_database_url(url: str) -> str:
    # Operators write postgres:// or postgresql://; we always talk to PostgreSQL via psycopg 3.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def check_production_safety(config: Any) -> None:
    if config.get("ENV_NAME") != "production":
        return
    if config.get("SECRET_KEY") in (None, "", DEV_SECRET_KEY):
        raise ConfigError("Production refuses to start with the development SECRET_KEY.")
    if config.get("DEBUG"):
        raise ConfigError("Production refuses to start with DEBUG enabled.")
    secure = config.get("SESSION_COOKIE_SECURE")
    if secure is not None and not secure and not config.get("ALLOW_INSECURE_SESSION_COOKIE"):
        raise ConfigError(
            "Production refuses SESSION_COOKIE_SECURE=False: the session cookie would travel "
            "over plain HTTP. Serve riskreg over HTTPS, or set ALLOW_INSECURE_SESSION_COOKIE "
            "as well if you really mean it."
        )


def check_throttle_store(config: Any, processes: int | None) -> None:
    """Refuse to serve from several processes with the login throttle counting in memory.

    Each process would count failed logins on its own: with 4 gunicorn workers an account was
    locked after 18 wrong passwords instead of 5, and an address after 161 instead of 50.
    """
    if not processes or processes <= 1 or not config.get("RATELIMIT_ENABLED", True):
        return
    store = str(config.get("RATELIMIT_STORAGE_URI") or "memory://")
    if store.startswith("memory://"):
        raise ConfigError(
            f"riskreg refuses to start {processes} server processes with the login throttle "
            "in memory (RATELIMIT_STORAGE_URI=memory://): each process would count failed "
            "logins on its own, so lockout would come only after processes × the limit. Set "
            "RISKREG_RATELIMIT_STORAGE_URI=redis://… (docs/deploy.md, section 6), or run one "
            "worker."
        )


def server_processes(config: Any) -> int | None:
    """How many processes serve the app, as far as can be told when it starts: the
    SERVER_PROCESSES setting (for servers other than gunicorn), else gunicorn's worker count
    from its command line, GUNICORN_CMD_ARGS, a config file given with -c, or WEB_CONCURRENCY.
    None when not under gunicorn and not configured."""
    configured = config.get("SERVER_PROCESSES")
    if configured:
        return int(configured)
    program = Path(sys.argv[0] if sys.argv else "")
    if not (program.name.startswith("gunicorn") or program.parent.name == "gunicorn"):
        return None  # `gunicorn …` or `python -m gunicorn …`
    return gunicorn_workers(sys.argv[1:])


def gunicorn_workers(argv: list[str]) -> int:
    """gunicorn's worker count for this command line (its own parser and precedence)."""
    from gunicorn.config import Config

    args = Config().parser().parse_args(
        shlex.split(os.environ.get("GUNICORN_CMD_ARGS", "")) + list(argv)
    )
    if args.workers:
        return int(args.workers)
    if args.config:
        workers = _workers_from_config_file(args.config)
        if workers:
            return workers
    return int(os.environ.get("WEB_CONCURRENCY") or 1)


def _workers_from_config_file(location: str) -> int | None:
    import importlib
    import runpy

    try:
        if location.startswith("python:"):
            namespace = vars(importlib.import_module(location.removeprefix("python:")))
        else:
            namespace = runpy.run_path(location.removeprefix("file:"))
    except Exception:  # gunicorn itself reports a broken config file
        return None
    workers = namespace.get("workers")
    return int(workers) if isinstance(workers, int | str) and str(workers).isdigit() else None


def _parse_env_value(value: str) -> Any:
    lowered = value.strip().lower()
    if lowered in ("true", "yes", "on"):
        return True
    if lowered in ("false", "no", "off"):
        return False
    if value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return value


def _instance_secret_key(instance: Path) -> str:
    """Generate the secret key once and keep it in the instance folder (never committed)."""
    key_file = instance / "secret_key"
    if key_file.exists():
        return key_file.read_text(encoding="ascii").strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # O_EXCL: if two processes start at once, the loser reads the winner's key.
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return key_file.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key)
    return key
