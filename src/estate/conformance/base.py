"""The ``base`` checks every plugin answers, and each profile's availability check."""

from __future__ import annotations

from typing import Any

from inventory_providers.profiles import PROFILE_NAMES, PROFILES, missing_actions

from ..registry.errors import InvalidPackage
from ..registry.install import define
from ..runtime.errors import PluginCallError, PluginRuntimeError
from .checks import Blocked, Failed, Skipped, check
from .harness import Harness, plugin_environment
from .session import Session, sample_params

GENERIC_VALIDATE = frozenset({"", "ok", "connected"})


@check("base.manifest.valid")
def manifest_valid(session: Session) -> str:
    """``manifest.yml`` passes the service's manifest rules (``registry/manifest.py``), as an
    upload is checked."""
    if session.target.manifest is None:
        raise Failed("; ".join(session.target.manifest_problems))
    return f"{session.target.key} {session.target.version}"


@check("base.define.describes_plugin")
def define_describes_plugin(session: Session) -> str:
    """``define``, run as at upload, finds the class the manifest names, with resource types
    of the taxonomy and actions that keep their profiles' definitions."""
    manifest = session.target.manifest
    if manifest is None:
        raise Blocked("not run: manifest.yml is not valid (base.manifest.valid)")
    environment = plugin_environment(
        session.target.plugin_dir,
        manifest,
        session.target.python,
        session.settings,
        session.state_dir,
    )
    # Claimed profiles are base.profiles.claimed_match_actions' to judge, separately.
    try:
        defined = define(
            environment, manifest.model_copy(update={"profiles": []}), session.settings
        )
    except InvalidPackage as exc:
        raise Failed(str(exc)) from None
    session.defined = defined
    session.harness = Harness(
        environment,
        defined.class_path,
        manifest,
        session.target.secret_keys,
        session.witness,
        session.settings,
    )
    return f"{defined.class_path}: {len(session.specs)} action(s) declared"


@check("base.handshake.valid")
def handshake_valid(session: Session) -> str:
    """The plugin starts as a confined child process, completes ``initialize`` with a
    protocol version the service speaks, names itself as the manifest does and reports
    the actions ``define`` reported."""
    process = session.plugin.process()
    try:
        info = process.start()
    except PluginRuntimeError as exc:
        raise Failed(f"the plugin did not start: {exc}") from None
    finally:
        process.stop()
    told_plugin = info.get("plugin")
    plugin: dict[str, Any] = told_plugin if isinstance(told_plugin, dict) else {}
    problems = []
    key = session.target.key
    if plugin.get("key") != key:
        problems.append(f"expected plugin.key {key!r}, seen {plugin.get('key')!r}")
    told = sorted(str(a.get("name")) for a in plugin.get("actions") or [] if isinstance(a, dict))
    if plugin.get("actions") is not None and told != sorted(session.specs):
        problems.append(f"expected the actions {sorted(session.specs)}, seen {told}")
    capabilities = info.get("capabilities") or {}
    if session.specs and not capabilities.get("action"):
        problems.append("declares actions, but its capabilities say action: false")
    if problems:
        raise Failed("; ".join(problems))
    session.memo["implemented"] = plugin.get("profiles") or []
    return f"protocol {info.get('protocol_version')}, SDK {info.get('sdk_version') or 'none'}"


@check("base.profiles.claimed_match_actions")
def profiles_match_actions(session: Session) -> str:
    """Every profile ``manifest.yml`` claims has all its required actions declared, and the
    plugin reports it implemented."""
    claimed = session.target.claimed
    session.plugin  # noqa: B018 - blocked without a plugin
    implemented: list[str] = session.memo.get("implemented") or []
    problems = []
    for profile in claimed:
        missing = missing_actions(profile, session.specs)
        if missing:
            problems.append(f"claims {profile!r} but does not declare {', '.join(missing)}")
        elif implemented and profile not in implemented:
            problems.append(f"claims {profile!r}; the handshake says it implements {implemented}")
    if problems:
        raise Failed("; ".join(problems))
    extra = [p for p in implemented if p not in claimed]
    said = f"claims {', '.join(claimed) or 'no profile'}"
    return said + (f"; implements but does not claim {', '.join(extra)}" if extra else "")


@check("base.validate.good_credentials")
def validate_good_credentials(session: Session) -> str:
    """``validate`` with the given connection parameters answers ``ok``."""
    try:
        answer = session.plugin.validate(session.target.good)
    except PluginRuntimeError as exc:
        raise Failed(f"expected ok, validate failed: {exc.kind}: {exc}") from None
    if not isinstance(answer, dict) or answer.get("ok") is not True:
        raise Failed(f"expected {{'ok': true, ...}}, validate answered {answer!r}")
    message = str(answer.get("message") or "")
    if message.strip().lower() not in GENERIC_VALIDATE:
        session.platform = message
    return message or "ok"


@check("base.validate.bad_credentials")
def validate_bad_credentials(session: Session) -> str:
    """``validate`` with wrong credentials does not answer ``ok``, and the plugin says why:
    the error of ``validate`` (or, when it answers ``ok: false``, of a collection with
    the same credentials) is of kind ``unauthenticated``."""
    bad = session.target.bad
    if bad is None:
        raise Skipped(session.target.bad_reason)
    try:
        answer = session.plugin.validate(bad)
    except PluginCallError as exc:
        if exc.kind == "unauthenticated":
            return f"validate failed: unauthenticated: {exc}"
        raise Failed(f"expected kind unauthenticated, validate failed {exc.kind}: {exc}") from None
    if not isinstance(answer, dict) or answer.get("ok") is not False:
        raise Failed(f"expected ok: false with wrong credentials, validate answered {answer!r}")
    found = session.plugin.collect(bad)
    if found.error is None:
        raise Failed("validate refused the wrong credentials, but a collection with them completed")
    if found.error.kind != "unauthenticated":
        raise Failed(
            f"expected a collection with wrong credentials to fail unauthenticated, "
            f"it failed {found.error.kind}: {found.error}"
        )
    return f"validate: {answer.get('message')}; collect: unauthenticated"


@check("base.collect.completes")
def collect_completes(session: Session) -> str:
    """A collection runs to its end: no error, nothing rejected or reported incomplete,
    every resource it counted arrived, and it found at least one."""
    found = session.plugin.collect(session.target.good)
    session.first = found
    if found.error is not None:
        raise Failed(f"the collection failed: {found.error.kind}: {found.error}")
    arrived = len(found.records) + len(found.problems) + len(found.duplicates)
    problems = [
        f"the plugin rejected {len(found.rejected)} record(s): {found.rejected[:3]}"
    ] * bool(found.rejected)
    problems += [f"incomplete: {found.incomplete[:3]}"] * bool(found.incomplete)
    if found.count != arrived:
        problems.append(f"collect counted {found.count} resource(s), {arrived} arrived")
    if not arrived:
        problems.append("expected at least one resource, the collection found none")
    if problems:
        raise Failed("; ".join(problems))
    return f"{arrived} resource(s)"


@check("base.records.valid")
def records_valid(session: Session) -> str:
    """Every record passes the service's own validation (``inventory/records.py``): a type
    of the taxonomy among the plugin's ``supported_resource_types``, a state and
    relationship types of the vocabulary, fields of their types; and no ems_ref twice."""
    found = session.collection
    problems = found.problems + [f"a word outside the vocabulary: {w}" for w in found.words]
    problems += [f"ems_ref {ref!r} collected twice" for ref in found.duplicates]
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise Failed("; ".join(problems[:5]) + more)
    types = sorted({r.values[0] for r in found.records.values()})
    return f"{len(found.records)} valid record(s) of {', '.join(types)}"


@check("base.collect.stable_ems_refs")
def stable_ems_refs(session: Session) -> str:
    """A second collection, nothing changed in between, finds the same resources under the
    same ``ems_ref``s."""
    first = set(session.collection.records)
    second = set(session.collect().records)
    if first != second:
        gone, new = sorted(first - second), sorted(second - first)
        raise Failed(
            f"expected the same {len(first)} ems_ref(s); {len(gone)} of the first collection "
            f"are missing from the second (e.g. {gone[:3]}), {len(new)} are new (e.g. {new[:3]})"
        )
    return f"{len(first)} ems_ref(s) in both"


@check("base.action.unknown_ems_ref_not_found")
def unknown_ems_ref_not_found(session: Session) -> str:
    """Every action on resources, asked to act on an ems_ref the platform does not have,
    fails ``not_found``: never a silent success."""
    specs = {n: s for n, s in session.specs.items() if s.get("applies_to") != ["provider"]}
    if not specs:
        raise Skipped("the plugin declares no action on resources")
    session.plugin  # noqa: B018 - blocked without a plugin
    ref = session.name("missing")
    wrong = []
    for name, spec in sorted(specs.items()):
        error = session.call_error(name, ref, sample_params(spec))
        if error is None:
            wrong.append(f"{name} succeeded")
        elif error.kind != "not_found":
            wrong.append(f"{name} failed {error.kind}: {error}")
    if wrong:
        raise Failed(f"expected not_found for the unknown ems_ref {ref!r}; " + "; ".join(wrong))
    return f"{len(specs)} action(s) answered not_found"


@check("base.action.undeclared_unsupported")
def undeclared_unsupported(session: Session) -> str:
    """An action the plugin does not declare (a made-up name, and a standard action it
    leaves out), on a resource and on the provider, fails ``unsupported``: never a
    silent no-op."""
    standard = [a.name for p in PROFILE_NAMES for a in PROFILES[p].actions]
    names = [session.name("undeclared").replace("-", "_")]
    names += [n for n in standard if not session.declared(n)][:1]
    ref = next(iter(session.collection.records))
    wrong = []
    for name in names:
        for target in (ref, None):
            error = session.call_error(name, target, {})
            where = f"on {target}" if target else "on the provider"
            if error is None:
                wrong.append(f"{name} {where} succeeded")
            elif error.kind != "unsupported":
                wrong.append(f"{name} {where} failed {error.kind}: {error}")
    if wrong:
        raise Failed("expected unsupported; " + "; ".join(wrong))
    return f"{', '.join(names)}: unsupported"


@check("base.secrets.absent", last=True)
def secrets_absent(session: Session) -> str:
    """No secret value of the connection (``password``, every parameter the manifest marks
    ``secret``; the wrong ones too) appears in anything the plugin said during the whole
    run: log lines, stdout and stderr, errors and their tracebacks, events, action
    results, records."""
    public = session.target.public_secrets
    aside = f"; {public} secret value(s) not looked for: words of manifest.yml" if public else ""
    if not session.target.secret_values:
        raise Skipped(f"the connection parameters hold no secret value to look for{aside}")
    leaks = list(dict.fromkeys(session.witness.leaks))
    if leaks:
        raise Failed(f"expected no secret value anywhere; one appears in {', '.join(leaks)}")
    return f"none in {session.witness.seen} message(s){aside}"


def _availability(profile: str) -> None:
    @check(f"{profile}.availability.consistent")
    def consistent(session: Session) -> str:
        """The plugin offers each of the profile's declared actions for a resource of every
        type it applies to (and the provider-level ones for the provider), each with
        whether it is available now, and a reason whenever it is not."""
        return offers_consistent(session, profile)

    consistent.__name__ = f"{profile}_availability_consistent"


def offers_consistent(session: Session, profile: str) -> str:
    mine = {n: s for n, s in session.specs.items() if s.get("profile") == profile}
    if not mine:
        raise Failed(f"the plugin declares no action of profile {profile!r}")
    found = session.collection
    problems: list[str] = []
    subjects: list[tuple[str, dict[str, Any] | None]] = []
    for kind in sorted({t for s in mine.values() for t in s["applies_to"]} - {"provider"}):
        refs = found.refs_of([kind])
        if refs:
            subjects.append((kind, found.resource(refs[0])))
    if any(s["applies_to"] == ["provider"] for s in mine.values()):
        subjects.append(("provider", None))
    closed = 0
    for kind, resource in subjects:
        offers = session.offers(resource)
        where = resource["ems_ref"] if resource else "the provider"
        for name, spec in mine.items():
            if kind not in spec["applies_to"]:
                continue
            offer = offers.get(name)
            if offer is None:
                problems.append(f"{name} is declared for {kind} but not offered for {where}")
            elif not offer.get("available", True):
                closed += 1
                if not offer.get("reason"):
                    problems.append(f"{name} is not available for {where} and says no reason")
    if problems:
        raise Failed("; ".join(problems))
    if not subjects:
        raise Skipped("no collected resource of a type the profile's actions apply to")
    return f"{len(mine)} action(s) offered on {len(subjects)} subject(s); {closed} unavailable, each with a reason"


for _profile in PROFILE_NAMES:
    _availability(_profile)
