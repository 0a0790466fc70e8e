"""Named parameter sets (``quick``, ``full``), validated by pydantic, resolved once.

A profile is a plain dict of overrides on the defaults of a stage's settings model (its
``PROFILES``), so that a new option is added in one place (its model) and a profile names only
what it changes. ``stage_config(stage, profile, overrides)`` resolves a stage's settings at the
top (the CLI, a deployment, ``korflow reproduce``): each stage it reads (a field of its model
named after that stage) is resolved once, before it, and that one instance is handed to every
stage that reads it; the flows pass these objects down to the subflows they start, so nothing
is resolved twice and no copy is kept equal by hand.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from korflow.core.config.overrides import ConfigError, lists_where_expected, merge
from korflow.core.config.stage_settings import StageSettings
from korflow.core.names import STAGES
from korflow.core.secrets import hide
from korflow.core.stages import SPEC, load


def settings_model(stage: str) -> type[StageSettings]:
    """A stage's (or the pipeline's) settings model, as its spec names it."""
    return load(SPEC[stage].settings)


def stage_config(stage: str, profile: str, overrides: dict[str, Any] | None = None) -> Any:
    """A stage's (or the pipeline's) settings, resolved: what its flow takes as ``config``.
    ``overrides``: the stage's own settings and, by name, those of each stage it reads
    (``{"train": {...}, "corpus": {...}}``; a pipeline's: every stage's)."""
    given = _sections(stage, profile, overrides)
    resolved: dict[str, StageSettings] = {}
    for name in (*STAGES, "pipeline"):  # the DAG's order: each stage after those it reads
        if name in given:
            model = settings_model(name)
            reads = {upstream: resolved[upstream] for upstream in model.reads()}
            try:
                resolved[name] = resolve(model, profile, given[name], **reads)
            except ConfigError as exc:
                if name == stage:
                    raise
                where = f"pipeline stage {name}" if stage == "pipeline" else f"{stage}'s {name}"
                raise ConfigError(f"{where}: {exc}") from None
    return resolved[stage]


def resolve(
    model: type[StageSettings],
    profile: str,
    overrides: dict[str, Any] | None = None,
    **reads: StageSettings,
) -> StageSettings:
    """The profile's settings with overrides on top, validated; bad values get a clear message.
    ``reads``: the resolved settings of the stages ``model`` reads."""
    try:
        # URL credentials are kept aside and masked before anything logs these settings.
        return model.model_validate({**hide(_merged(model, profile, overrides)), **reads})
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(map(str, e['loc'])) or 'settings'}: "
            + e["msg"].removeprefix("Value error, ")
            for e in exc.errors()
        ]
        raise ConfigError(
            f"invalid {model.__name__} for profile {profile!r}:\n" + "\n".join(lines)
        ) from None


def _merged(model: type[StageSettings], profile: str, overrides: dict[str, Any] | None) -> dict:
    """The model's own defaults, then the profile's, then the overrides, unvalidated. From the
    defaults, a partial override of a nested setting (jamo.epochs=10) keeps the rest of that
    setting's defaults (jamo's n-gram range)."""
    if profile not in model.PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; choose from {sorted(model.PROFILES)}")
    defaults = model().model_dump(exclude=set(model.reads()))
    overrides = lists_where_expected(model, overrides or {})
    return merge(merge({**defaults, "profile": profile}, model.PROFILES[profile]), overrides)


def _sections(stage: str, profile: str, overrides: dict[str, Any] | None) -> dict[str, dict]:
    """``overrides`` split into the stage's own and, by name, each upstream stage's, with the
    defaults the stages that read an upstream give it, and each given once."""
    given = {stage: dict(overrides or {})}
    for upstream in settings_model(stage).reads():
        given[upstream] = dict(given[stage].pop(upstream, None) or {})
    for reader in list(given):  # what a stage asks of the stages it reads, unless they are told
        model = settings_model(reader)
        asked = model.upstream_defaults(_merged(model, profile, given[reader]))
        for upstream, defaults in asked.items():
            if upstream in given:
                given[upstream] = {**defaults, **given[upstream]}
    for name in list(given):
        _drop_copies(given, profile, name, given[name], where=name)
    return given


def _drop_copies(
    given: dict[str, dict], profile: str, name: str, settings: dict, where: str
) -> None:
    """Take out of ``settings`` (stage ``name``'s, found at ``where``) the upstream settings it
    repeats: records logged before settings held each upstream once repeat them throughout
    (``sentiment.embed.corpus``). A copy that resolves as the one given by name is dropped; one
    that differs is refused, since one stage of each kind feeds every stage that reads it."""
    for upstream in settings_model(name).reads():
        copy = settings.pop(upstream, None)
        if not copy:
            continue
        copy = dict(copy)
        _drop_copies(given, profile, upstream, copy, f"{where}.{upstream}")
        model = settings_model(upstream)
        if resolve(model, profile, copy) != resolve(model, profile, given[upstream]):
            raise ConfigError(
                f"{where}.{upstream} differs from {upstream}: one {upstream} stage feeds every "
                f"stage that reads it, so give its settings once, as {upstream}.*"
            )


def flow_settings(
    stage: str, profile: str, overrides: dict[str, Any] | None, config: StageSettings | None
) -> StageSettings:
    """What a flow runs on: ``config``, the settings resolved where the run started (the CLI,
    a pipeline, a stage starting its upstream stage), else ``profile`` with ``overrides`` (a
    deployment; a flow called from Python)."""
    if config is None:
        return stage_config(stage, profile, overrides)
    if overrides:
        raise ConfigError(f"the {stage} flow takes resolved settings or overrides, not both")
    return config
