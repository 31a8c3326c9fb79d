"""Hook family: settings -- a plugin contributes the pydantic model of its own section.

The settings file is one TOML file. The kernel owns ``[server]``, ``[plugins]``,
``[logging]``, ``[protection]`` and ``[listeners.<name>]`` (for every listener any plugin
declares). Each plugin owns one section named after it, validated by the model it
returns here. Unknown keys are errors everywhere, so give your model
``model_config = ConfigDict(extra="forbid")`` (the kernel enforces it when the model does not).
"""

from __future__ import annotations

from typing import Any

from unigate_hookspecs.markers import hookspec


@hookspec(historic=True)
def unigate_settings_model() -> tuple[str, Any] | None:
    """Declare the settings section this plugin owns.

    Called when: once at load time (historic), before the settings file is read.

    Params: none.

    Return: ``(section_name, PydanticModelClass)``, or None if the plugin has no settings.
    Every field needs a default: an absent section means "all defaults". Sync.

    Example::

        class HelloSettings(BaseModel):
            model_config = ConfigDict(extra="forbid")
            greeting: str = "hello"

        @hookimpl
        def unigate_settings_model():
            return ("hello", HelloSettings)
    """
