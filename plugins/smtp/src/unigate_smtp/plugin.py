"""Hook implementations of the smtp plugin: listeners, settings, hooks, the SMTP module."""

from __future__ import annotations

from typing import Any

from unigate_hookspecs import ListenerSpec, TLSMode, hookimpl
from unigate_hookspecs.delivery import DeliveryModule
from unigate_smtp import hooks
from unigate_smtp.delivery import SmtpDelivery
from unigate_smtp.policy import SmtpState
from unigate_smtp.session import handler_for
from unigate_smtp.settings import SmtpSettings


@hookimpl
def unigate_addhooks(pluginmanager: Any) -> None:
    add_hooks(pluginmanager)


def add_hooks(pluginmanager: Any) -> None:
    """Publish ``smtp_helo``... once (idempotent: safe to call again)."""
    caller = getattr(pluginmanager.hook, "smtp_helo", None)
    if caller is None or not caller.has_spec():
        pluginmanager.add_hookspecs(hooks)


@hookimpl
def unigate_settings_model() -> tuple[str, type[SmtpSettings]]:
    return ("smtp", SmtpSettings)


@hookimpl
def unigate_listeners() -> list[ListenerSpec]:
    return [
        ListenerSpec(
            "smtp", 25, handler_for("smtp"), tls=TLSMode.STARTTLS, description="SMTP relay"
        ),
        ListenerSpec(
            "submission",
            587,
            handler_for("submission"),
            tls=TLSMode.STARTTLS,
            description="message submission (AUTH required)",
        ),
        ListenerSpec(
            "smtps", 465, handler_for("smtps"), tls=TLSMode.IMPLICIT, description="SMTP over TLS"
        ),
        ListenerSpec("lmtp", 24, handler_for("lmtp"), description="LMTP"),
    ]


def state_of(server: Any) -> SmtpState:
    """The plugin's per-server state, created on first use."""
    state = server.state.get("smtp")
    if state is None:
        add_hooks(server.pm)
        settings: SmtpSettings = server.settings.section("smtp")
        hostname = settings.hostname or server.objects.main_domain
        state = server.state["smtp"] = SmtpState(settings, hostname)
    return state


@hookimpl
def unigate_delivery_modules(server: Any) -> list[DeliveryModule]:
    state = state_of(server)
    state.delivery = SmtpDelivery(server, state.settings, state.hostname)
    return [state.delivery]


@hookimpl
def unigate_startup(server: Any) -> None:
    state_of(server)


@hookimpl
async def unigate_shutdown(server: Any) -> None:
    state = server.state.get("smtp")
    if state is not None and state.delivery is not None:
        await state.delivery.close_idle()
