"""What every stage's settings share: the profile they were resolved on, the profiles
themselves, and the settings of the stages they read, held once."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_serializer

from korflow.core.names import STAGES


class StageSettings(BaseModel):
    """A stage's settings. A field named after a stage (``corpus``) holds the settings of a
    stage this one reads: the resolver sets it to that stage's one resolved instance, the one
    the pipeline hands every stage that reads it, so no copy has to be kept equal by hand.
    Dumped (a run's ``config/flow.json``, ``--show-config``), each upstream appears once, by
    name beside this stage's own settings, without its own upstreams again."""

    model_config = ConfigDict(extra="forbid")

    # Each profile: overrides on the defaults below, naming only what it changes.
    PROFILES: ClassVar[dict[str, dict[str, Any]]] = {"quick": {}, "full": {}}

    profile: str = "full"

    @classmethod
    def reads(cls) -> tuple[str, ...]:
        """The stages whose settings this one holds, in the DAG's order."""
        return tuple(s for s in STAGES if s in cls.model_fields)

    @classmethod
    def upstream_defaults(cls, own: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Defaults this stage gives the stages it reads (``{"lm": {...}}``), from its own
        settings before validation; what a user gives those stages wins."""
        return {}

    @model_serializer(mode="wrap")
    def _each_upstream_once(self, handler):
        data = handler(self)
        for name in self.reads():
            if isinstance(data.get(name), dict):
                data[name] = {k: v for k, v in data[name].items() if k not in STAGES}
        return data
