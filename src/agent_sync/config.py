"""Settings: environment (`AGENT_SYNC_*`), then `.agent-sync.toml` at the repository root, then defaults."""

import os
from collections import namedtuple

from agent_sync.errors import UsageError

CONFIG_FILE = ".agent-sync.toml"
EDIT_POLICIES = ("advisory", "auto", "strict")


# A named tuple, not a dataclass: `dataclasses` imports `inspect`, which costs the hook path ~7 ms.
Spec = namedtuple("Spec", "kind default help choices minimum", defaults=((), None))


SPECS: dict[str, Spec] = {
    "stale_minutes": Spec(float, 15.0, "an agent silent this long is stale; its locks stop holding", minimum=0.1),
    "offline_minutes": Spec(float, 60.0, "an agent silent this long is offline", minimum=0.1),
    "lock_ttl_minutes": Spec(float, 60.0, "default lifetime of an explicit lock", minimum=0.1),
    "lease_ttl_minutes": Spec(float, 30.0, "lifetime of the edit lease the auto policy takes", minimum=0.1),
    "edit_policy": Spec(str, "auto", "advisory | auto | strict: what an edit without a lock does", EDIT_POLICIES),
    "broadcast_hours": Spec(float, 24.0, "how far back a newly joined agent still receives broadcasts", minimum=0),
    "hook_busy_ms": Spec(int, 250, "how long a hook waits for the database write lock before skipping", minimum=0),
    "busy_timeout_seconds": Spec(float, 10.0, "how long a command waits for the database write lock", minimum=0),
    "database_url": Spec(str, "", "empty for the embedded SQLite store; postgresql://USER@HOST:PORT/DATABASE for a "
                         "PostgreSQL server every clone shares (the password belongs in PGPASSFILE)"),
    "project": Spec(str, "", "the id every clone of this repository shares in a PostgreSQL database (commit it)"),
}


class Settings:
    """Effective settings as attributes, with where each one came from in `sources`."""

    def __init__(self):
        self.values: dict = {}
        self.sources: dict = {}

    def __getattr__(self, name):
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None


def shown(key: str, value):
    """A setting's value as it may be printed: database_url with its password, wherever the URL puts it
    (userinfo, or a query parameter however it is spelled, `pass%77ord` too), replaced by ***."""
    if key != "database_url" or not isinstance(value, str) or not value:
        return value
    if "://" not in value:
        return "(a connection string that is not a URL, not shown)"
    from urllib.parse import parse_qsl, quote, urlsplit

    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        port = f":{parts.port}" if parts.port else ""
        user = parts.username
    except ValueError:
        return "(an unreadable URL, not shown)"
    userinfo = f"{user}{':***' if parts.password is not None else ''}@" if user is not None else ""
    query = "&".join(f"{quote(k)}={'***' if k.strip().lower() == 'password' else quote(v)}"
                     for k, v in parse_qsl(parts.query, keep_blank_values=True))
    return f"{parts.scheme}://{userinfo}{host}{port}{parts.path}" + (f"?{query}" if query else "")


def _coerce(key: str, raw, where: str) -> object:
    spec = SPECS[key]
    try:
        if spec.kind is str:
            if not isinstance(raw, str):
                raise ValueError
            value = raw.strip()
        elif spec.kind is int:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError
            value = int(raw)
        else:
            if isinstance(raw, bool):
                raise ValueError
            value = float(raw)
    except (TypeError, ValueError):
        raise UsageError(f"{where}: {key} must be {spec.kind.__name__}, got {raw!r}") from None
    if spec.choices and value not in spec.choices:
        raise UsageError(f"{where}: {key} must be one of {', '.join(spec.choices)}, got {raw!r}")
    if spec.minimum is not None and value < spec.minimum:
        raise UsageError(f"{where}: {key} must be at least {spec.minimum}, got {raw!r}")
    return value


def _line_of(text: str, key: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("["):  # a table header: [key] or [[key]]
            if stripped.strip("[] ").strip('"') == key:
                return number
        elif stripped.split("=", 1)[0].strip().strip('"') == key:
            return number
    return 0


def _read_file(path: str) -> dict:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror})") from None
    import tomllib  # only when the file exists: it costs ~10 ms on the hook path

    text = data.decode("utf-8", "replace")
    try:
        parsed = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    result = {}
    for key, raw in parsed.items():
        where = f"{path}:{_line_of(text, key)}"
        if key not in SPECS:
            raise UsageError(f"{where}: unknown setting {key!r} (known: {', '.join(SPECS)})")
        result[key] = (_coerce(key, raw, where), where)
    return result


def load_settings(root: str, environ=None) -> Settings:
    environ = os.environ if environ is None else environ
    from_file = _read_file(os.path.join(root, CONFIG_FILE))
    settings = Settings()
    for key, spec in SPECS.items():
        env_name = "AGENT_SYNC_" + key.upper()
        if env_name in environ:
            settings.values[key] = _coerce(key, environ[env_name], f"environment {env_name}")
            settings.sources[key] = f"environment {env_name}"
        elif key in from_file:
            settings.values[key], settings.sources[key] = from_file[key]
        else:
            settings.values[key] = spec.default
            settings.sources[key] = "default"
    return settings
