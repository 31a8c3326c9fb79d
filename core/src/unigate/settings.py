"""The settings file: one TOML file, validated section by section with pydantic.

The kernel owns ``[server]``, ``[plugins]``, ``[logging]``, ``[protection]`` and
``[listeners.<name>]`` for every listener a plugin declares; each plugin owns the section
it names in ``unigate_settings_model``. Unknown keys and unknown sections are errors.
Every problem is reported as one line ``FILE: section.key: reason`` so an operator can
fix them all in one pass; nothing starts half-configured.
"""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from unigate_hookspecs.listeners import ListenerSpec, TLSMode


class StrictModel(BaseModel):
    """Base of every kernel settings model: unknown keys are errors, defaults validated."""

    model_config = ConfigDict(extra="forbid", validate_default=True, frozen=True)


class ServerSettings(StrictModel):
    """``[server]``: where the data lives and what the server is called."""

    data_dir: Path = Field(Path("unigate-data"), description="base directory of all mutable state")
    main_domain: str = Field(
        "", description="Main Domain name; empty = from the data directory, else the host name"
    )
    default_addresses: list[str] = Field(
        ["127.0.0.1"], description="addresses a listener binds when the file does not name it"
    )
    use_system_ports: bool = Field(
        False,
        description="bind ports below 1024 as declared; when false they become 8000+N (the manual's rule)",
    )
    shutdown_grace: float = Field(
        3.0, ge=0, le=600, description="seconds sessions get to finish on SIGTERM"
    )
    dns_servers: list[str] = Field(
        [], description='DNS resolvers ("addr" or "addr:port"); empty: the OS\'s'
    )
    certificate: Path | None = Field(
        None, description="PEM certificate chain; default: the data directory's"
    )
    private_key: Path | None = Field(
        None, description="PEM private key; default: the data directory's"
    )


class PluginsSettings(StrictModel):
    """``[plugins]``: which installed plugins load, and in which order hooks call them."""

    enabled: list[str] | None = Field(
        None, description="entry-point names to load; default: all installed"
    )
    order: list[str] = Field(
        [], description="plugins called first, in this order; the rest by name"
    )


class LoggingSettings(StrictModel):
    """``[logging]``: levels 0 (crash) .. 5 (all info), per component."""

    level: int = Field(3, ge=0, le=5, description="default level for every component")
    components: dict[str, int] = Field({}, description="per-component level, e.g. {SMTP = 5}")
    console: bool = Field(True, description="copy records to standard output")
    file: bool = Field(True, description="write SystemLogs/<date> files in the data directory")
    json_lines: bool = Field(False, description="write records as JSON lines (for log shippers)")
    queue_limit: int = Field(100_000, ge=100, description="records buffered before '***' overflow")

    @field_validator("components")
    @classmethod
    def _levels(cls, value: dict[str, int]) -> dict[str, int]:
        for name, level in value.items():
            if not 0 <= level <= 5:
                raise ValueError(f"level of {name} must be 0..5")
        return {name.upper(): level for name, level in value.items()}


def _check_address_list(lines: list[str]) -> list[str]:
    from unigate.addresslist import AddressList

    AddressList.parse("\n".join(lines))
    return lines


class ProtectionSettings(StrictModel):
    """``[protection]``: the manual's address lists (Protection, Network sections).

    Each list holds lines in the manual's Network Address List format: an address,
    ``A-B`` ranges, ``addr/bits``, a leading ``!`` to exclude, ``;`` comments.
    """

    client_addresses: list[str] = Field([], description="Client IP Addresses (trusted)")
    lan_addresses: list[str] = Field([], description="LAN IP Addresses")
    lan_as_clients: bool = Field(False, description="Process LAN IP Addresses as Clients")
    denied: list[str] = Field([], description="Denied addresses: closed before any exchange")
    blacklisted: list[str] = Field([], description="Blacklisted addresses")
    white_holes: list[str] = Field([], description="Unblacklistable (white hole) addresses")
    debug: list[str] = Field([], description="Debug addresses: every record logged")
    rbl: list[str] = Field([], description="DNSBL zones to query for non-client peers")
    rbl_timeout: float = Field(2.0, gt=0, le=30)
    temp_trust_minutes: int = Field(
        30, ge=0, description="read-then-send: trust after a POP/IMAP login"
    )
    temp_trust_limit: int = Field(100, ge=0)
    failed_logins: tuple[int, float] = Field(
        (10, 60.0), description="failures per address in seconds"
    )
    failed_logins_account: tuple[int, float] = Field((30, 20.0), description="failures per account")
    block_time: float = Field(
        600.0, ge=0, description="seconds a temporarily blocked address stays blocked"
    )
    cleartext_logins: Literal["always", "secure", "secure_or_trusted"] = Field(
        "secure_or_trusted",
        description="where clear-text passwords are accepted: always, only over TLS, or over TLS and "
        "from loopback and client addresses",
    )

    _lists = field_validator(
        "client_addresses", "lan_addresses", "denied", "blacklisted", "white_holes", "debug"
    )(_check_address_list)


class ListenerSettings(StrictModel):
    """``[listeners.<name>]``: sockets and limits of one declared listener."""

    bind: list[str] | None = Field(
        None, description='"host:port" entries; [] turns the listener off'
    )
    tls: TLSMode | None = Field(
        None, description="none | starttls | implicit | external; default: the plugin's"
    )
    max_connections: int = Field(1000, ge=1)
    max_per_address: int = Field(20, ge=1, description="Limit Connections from same Address")
    max_non_clients: int | None = Field(None, ge=1, description="limit for non-client addresses")
    reserve_for_clients: int = Field(0, ge=0, description="Reserve Connections for Clients")
    grant: list[str] = Field([], description="only these addresses may connect (empty: anyone)")
    deny: list[str] = Field([], description="these addresses may not connect")

    _lists = field_validator("grant", "deny")(_check_address_list)

    @field_validator("bind")
    @classmethod
    def _binds(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            for item in value:
                parse_bind(item)
        return value


def parse_bind(text: str) -> tuple[str, int]:
    """Parse ``host:port`` / ``[v6]:port`` into (host, port); ValueError on anything else."""
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            raise ValueError(f"{text!r}: expected [address]:port")
    else:
        host, sep, port = text.rpartition(":")
        if not sep:
            raise ValueError(f"{text!r}: expected address:port")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host not in ("", "*", "localhost"):
            raise ValueError(f"{text!r}: {host!r} is not an IP address") from None
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{text!r}: port must be a number 0..65535")
    return (host or "0.0.0.0", int(port))


def _queue_model() -> type[BaseModel]:
    from unigate.queue.settings import QueueSettings

    return QueueSettings


KERNEL_SECTIONS: dict[str, type[BaseModel]] = {
    "server": ServerSettings,
    "plugins": PluginsSettings,
    "logging": LoggingSettings,
    "protection": ProtectionSettings,
    "queue": _queue_model(),
}


class SettingsError(Exception):
    """The settings file has problems; ``problems`` holds one ``FILE: key: reason`` line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class Settings:
    """The validated settings: kernel sections, listeners, and every plugin's section."""

    source: str
    server: ServerSettings = field(default_factory=ServerSettings)
    plugins: PluginsSettings = field(default_factory=PluginsSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    protection: ProtectionSettings = field(default_factory=ProtectionSettings)
    queue: Any = field(default_factory=lambda: _queue_model()())
    listeners: dict[str, ListenerSettings] = field(default_factory=dict)
    sections: dict[str, BaseModel] = field(default_factory=dict)

    def section(self, name: str) -> Any:
        """A plugin's validated section (its model's defaults when absent from the file)."""
        return self.sections[name]

    def listener(self, name: str) -> ListenerSettings:
        """The settings of a declared listener (defaults when the file does not name it)."""
        return self.listeners.get(name) or ListenerSettings()


def read_toml(path: Path | None) -> tuple[str, dict[str, Any]]:
    """Read the raw TOML file; (source name, data). A syntax error becomes a SettingsError."""
    if path is None:
        return ("<defaults>", {})
    source = str(path)
    try:
        with open(path, "rb") as handle:
            return (source, tomllib.load(handle))
    except FileNotFoundError:
        raise SettingsError([f"{source}: file not found"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError([f"{source}: {exc}"]) from None


def plugins_section(source: str, raw: Mapping[str, Any]) -> PluginsSettings:
    """Validate ``[plugins]`` alone: it decides what to load before the rest can be checked."""
    problems: list[str] = []
    model = _validate(source, "plugins", PluginsSettings, raw.get("plugins", {}), problems)
    if problems:
        raise SettingsError(problems)
    return model  # type: ignore[return-value]


def validate(
    source: str,
    raw: Mapping[str, Any],
    *,
    listeners: Iterable[ListenerSpec],
    plugin_models: Mapping[str, type[BaseModel]],
) -> Settings:
    """Validate the whole file; raise SettingsError listing every problem."""
    problems: list[str] = []
    result = Settings(source=source)
    declared = {spec.name for spec in listeners}
    for name, model in KERNEL_SECTIONS.items():
        value = _validate(source, name, model, raw.get(name, {}), problems)
        if value is not None:
            setattr(result, name, value)
    raw_listeners = raw.get("listeners", {})
    if not isinstance(raw_listeners, Mapping):
        problems.append(f"{source}: listeners: must be a table of [listeners.<name>] sections")
        raw_listeners = {}
    for name, body in raw_listeners.items():
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            problems.append(
                f"{source}: listeners.{name}: no plugin declares this listener (declared: {known})"
            )
            continue
        value = _validate(source, f"listeners.{name}", ListenerSettings, body, problems)
        if value is not None:
            result.listeners[name] = value  # type: ignore[assignment]
    for name, model in plugin_models.items():
        if name in KERNEL_SECTIONS or name == "listeners":
            problems.append(f"{source}: {name}: a plugin declares a section the kernel owns")
            continue
        if not model.model_config.get("extra"):
            model.model_config["extra"] = "forbid"
            model.model_rebuild(force=True)
        value = _validate(source, name, model, raw.get(name, {}), problems)
        if value is not None:
            result.sections[name] = value
    known_sections = set(KERNEL_SECTIONS) | {"listeners"} | set(plugin_models)
    for name in raw:
        if name not in known_sections:
            problems.append(
                f"{source}: {name}: unknown section (no kernel part or enabled plugin owns it)"
            )
    if problems:
        raise SettingsError(problems)
    return result


def _validate(
    source: str, section: str, model: type[BaseModel], body: Any, problems: list[str]
) -> BaseModel | None:
    if not isinstance(body, Mapping):
        problems.append(f"{source}: {section}: must be a table")
        return None
    try:
        return model.model_validate(dict(body))
    except ValidationError as exc:
        for error in exc.errors():
            location = ".".join(str(part) for part in (section, *error["loc"]))
            reason = error["msg"]
            if error["type"] == "extra_forbidden":
                reason = "unknown key"
            problems.append(f"{source}: {location}: {reason}")
        return None
