"""What one run of the suite shares across its checks, and the steps they are made of.

Actions are run as the service runs them: the resource's stored record (its last
collection) is offered to the plugin's ``actions`` first, and an action that is not
offered or not available is refused, as the API refuses it (404 / 409). Its effect is
then read from the next collection, targeted at the resource's type as the action
job's refresh is. The session remembers what it changed (power states, sizes,
snapshots, resources it created) and puts it back at the end of each profile.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..config import Settings
from ..registry.install import Defined
from ..runtime.errors import PluginCallError, PluginRuntimeError
from .checks import Blocked, Failed, Skipped
from .harness import Collection, Harness, Witness, offered_record
from .target import Target

PICK_LIMIT = 25
"""Resources asked about (``actions``) when picking one to act on."""
SAMPLE = {"string": "estate-conformance", "integer": 1, "number": 1.0, "boolean": False}
RESTORED = ("state", "cpu_count", "memory_mb")


class Session:
    """The run's shared state: the plugin's processes, what it declared, what changed."""

    def __init__(self, target: Target, settings: Settings, state_dir: Path) -> None:
        self.target = target
        self.settings = settings
        self.state_dir = state_dir
        self.witness = Witness(target.secret_values)
        self.harness: Harness | None = None
        self.defined: Defined | None = None
        self.first: Collection | None = None
        self.platform = target.good.endpoint or target.key
        self.token = secrets.token_hex(3)
        self.memo: dict[str, Any] = {}
        self.originals: dict[str, dict[str, Any]] = {}
        self.created: dict[str, str] = {}
        self.snapshots: list[tuple[str, str]] = []

    # -- what the plugin is -------------------------------------------------------------

    @property
    def plugin(self) -> Harness:
        if self.harness is None:
            raise Blocked("not run: the plugin could not be defined (base.define.describes_plugin)")
        return self.harness

    @property
    def collection(self) -> Collection:
        if self.first is None or self.first.error is not None:
            raise Blocked("not run: no collection completed (base.collect.completes)")
        return self.first

    @property
    def specs(self) -> dict[str, dict[str, Any]]:
        actions = (self.defined.metadata.get("actions") if self.defined else None) or []
        return {a["name"]: a for a in actions if isinstance(a, dict) and a.get("name")}

    def declared(self, name: str) -> bool:
        return name in self.specs

    def name(self, what: str) -> str:
        """A name for something the suite makes, unique to this run."""
        return f"estate-conformance-{what}-{self.token}"

    # -- calling the plugin ---------------------------------------------------------------

    def call(self, method: str, params: dict[str, Any]) -> Any:
        return self.plugin.call(method, params, self.target.good)

    def offers(self, resource: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
        """The actions the plugin offers for ``resource`` (None: the provider), by name."""
        record = offered_record(resource) if resource is not None else None
        try:
            answer = self.call("actions", {"resource": record})
        except PluginRuntimeError as exc:
            raise Failed(f"the plugin did not answer 'actions': {exc.kind}: {exc}") from None
        items = answer.get("actions") if isinstance(answer, dict) else None
        if not isinstance(items, list):
            raise Failed(f"the plugin answered 'actions' with {answer!r}, not {{'actions': [...]}}")
        return {
            a["name"]: a for a in items if isinstance(a, dict) and isinstance(a.get("name"), str)
        }

    def act(
        self, name: str, resource: dict[str, Any] | None, params: dict[str, Any] | None = None
    ) -> Any:
        """Run ``name`` on ``resource`` (None: the provider) as the service would; its result."""
        self.require(name)
        offer = self.offers(resource).get(name)
        where = f"on {resource['ems_ref']}" if resource is not None else "on the provider"
        if offer is None:
            raise Failed(f"{name} is declared but not offered {where}")
        if not offer.get("available", True):
            raise Failed(
                f"{name} is not available {where}: {offer.get('reason') or 'no reason given'}"
            )
        ref = resource["ems_ref"] if resource is not None else None
        try:
            answer = self.call("action", {"name": name, "ems_ref": ref, "params": params or {}})
        except PluginRuntimeError as exc:
            raise Failed(f"{name} {where} did not complete: {exc.kind}: {exc}") from None
        return answer.get("result") if isinstance(answer, dict) else None

    def require(self, name: str) -> None:
        if not self.declared(name):
            raise Skipped(f"needs the action {name}, which the plugin does not declare")

    def call_error(
        self, name: str, ref: str | None, params: dict[str, Any]
    ) -> PluginCallError | None:
        """Run an action straight over the wire (no offer asked); its error, or None."""
        try:
            self.call("action", {"name": name, "ems_ref": ref, "params": params})
        except PluginCallError as exc:
            return exc
        return None

    # -- reading the platform -------------------------------------------------------------

    def collect(self, types: Iterable[str] | None = None) -> Collection:
        found = self.plugin.collect(self.target.good, types)
        if found.error is not None:
            raise Failed(f"the collection failed: {found.error.kind}: {found.error}")
        return found

    def observe(self, resource: dict[str, Any], after: str) -> dict[str, Any]:
        """The resource as the next collection (of its type) shows it."""
        ref, kind = resource["ems_ref"], resource["resource_type_slug"]
        seen = self.collect([kind]).resource(ref)
        if seen is None:
            raise Failed(f"the collection after {after} does not hold {ref} any more")
        return seen

    def pick(self, actions: list[str], prefer: tuple[str, ...] = ("running",)) -> dict[str, Any]:
        """A resource every one of ``actions`` applies to and is available on now."""
        for name in actions:
            self.require(name)
        types = set.intersection(*(set(self.specs[n]["applies_to"]) for n in actions))
        found = self.collect()
        candidates = [
            r
            for ref in found.refs_of(types)
            if ref not in self.created and (r := found.resource(ref)) is not None
        ]
        candidates.sort(
            key=lambda r: (
                r.get("state") not in prefer,
                prefer.index(r["state"]) if r.get("state") in prefer else 0,
            )
        )
        reasons: list[str] = []
        for resource in candidates[:PICK_LIMIT]:
            offers = self.offers(resource)
            closed = [n for n in actions if not offers.get(n, {}).get("available", False)]
            if not closed:
                return resource
            reasons.append(
                f"{resource['ems_ref']}: {closed[0]} {offers.get(closed[0], {}).get('reason') or 'not offered'}"
            )
        moved = self._moved_to(prefer[0], candidates[:1], actions)
        if moved is not None:
            return moved
        seen = "; ".join(reasons[:3]) or f"no resource of type {', '.join(sorted(types))} collected"
        raise Skipped(f"no resource to run {', '.join(actions)} on ({seen})")

    def _moved_to(
        self, state: str, candidates: list[dict[str, Any]], actions: list[str]
    ) -> dict[str, Any] | None:
        """A candidate brought to the preferred ``state`` with the core actions, when that
        makes ``actions`` available (a platform that clones only stopped VMs); or None."""
        for resource in candidates:
            if resource.get("state") == state or resource.get("state") not in (
                "running",
                "stopped",
            ):
                continue
            try:
                moved = self.ensure(resource, state)
            except (Failed, Skipped):
                return None
            offers = self.offers(moved)
            if all(offers.get(n, {}).get("available", False) for n in actions):
                return moved
        return None

    # -- changing it, and putting it back ---------------------------------------------------

    def remember(self, resource: dict[str, Any]) -> None:
        self.originals.setdefault(resource["ems_ref"], dict(resource))

    def ensure(self, resource: dict[str, Any], state: str) -> dict[str, Any]:
        """``resource`` brought to ``state`` (running or stopped) with power_on / power_off."""
        if resource.get("state") == state:
            return resource
        name = "power_on" if state == "running" else "power_off"
        if not self.declared(name):
            raise Skipped(f"needs {resource['ems_ref']} {state}, and the plugin has no {name}")
        self.remember(resource)
        self.act(name, resource)
        seen = self.observe(resource, name)
        if seen.get("state") != state:
            raise Failed(
                f"{name} (to prepare the check) left {resource['ems_ref']} {seen.get('state')!r}"
            )
        return seen

    def converge(
        self,
        name: str,
        resource: dict[str, Any],
        expect: dict[str, Any],
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Run ``name`` and check that the next collection shows ``expect``; the record."""
        self.remember(resource)
        self.act(name, resource, params)
        seen = self.observe(resource, name)
        wrong = {k: v for k, v in expect.items() if seen.get(k) != v}
        if wrong:
            shown = ", ".join(f"{k} {v!r}" for k, v in wrong.items())
            got = ", ".join(f"{k} {seen.get(k)!r}" for k in wrong)
            raise Failed(
                f"expected {shown} after {name} on {resource['ems_ref']}; the next collection shows {got}"
            )
        return seen

    def created_by(
        self,
        name: str,
        params: dict[str, Any],
        source: dict[str, Any] | None,
        types: Iterable[str] | None,
    ) -> dict[str, Any]:
        """Run a creating action; the record of the one new resource the next collection
        holds (the one of the given name, where several are new)."""
        before = set(self.collect(types).records)
        result = self.act(name, source, params)
        after = self.collect(types)
        new = [after.resource(ref) or {} for ref in after.records if ref not in before]
        if not new:
            raise Failed(
                f"{name} completed ({_short(result)}), but the next collection holds no new resource"
            )
        made = next((r for r in new if r.get("name") == params.get("name")), new[0])
        self.created[made["ems_ref"]] = made["resource_type_slug"]
        return made

    def restore(self) -> list[str]:
        """Put back what the checks changed; what could not be put back."""
        left: list[str] = []
        for ref, name in reversed(self.snapshots):
            if self.call_error("snapshot_delete", ref, {"snapshot": name}) is not None:
                left.append(f"snapshot {name} of {ref}")
        self.snapshots.clear()
        for ref in list(self.created):
            if not self.declared("delete") or self.call_error("delete", ref, {}) is not None:
                left.append(f"resource {ref}")
            del self.created[ref]
        for original in list(self.originals.values()):
            left += self._put_back(original)
        self.originals.clear()
        return left

    def _put_back(self, original: dict[str, Any]) -> list[str]:
        ref = original["ems_ref"]
        try:
            now = self.collect([original["resource_type_slug"]]).resource(ref)
        except Failed:
            return [f"the state of {ref}"]
        if now is None:
            return [f"resource {ref} (gone)"]
        sizes = {
            k: original[k]
            for k in ("cpu_count", "memory_mb")
            if now.get(k) != original.get(k) and original.get(k)
        }
        if sizes and self.declared("resize"):
            params = {"cpu": sizes["cpu_count"]} if "cpu_count" in sizes else {}
            params |= {"memory_mb": sizes["memory_mb"]} if "memory_mb" in sizes else {}
            if self.call_error("resize", ref, params) is not None:
                return [f"the size of {ref}"]
        want = original.get("state")
        if want in ("running", "stopped") and now.get("state") != want:
            name = "power_on" if want == "running" else "power_off"
            if not self.declared(name) or self.call_error(name, ref, {}) is not None:
                return [f"the power state of {ref}"]
        return []


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """``field: old → new`` for every field of a resource's record that differs
    (``metrics`` aside: they are measurements, expected to move)."""
    return [
        f"{key}: {_short(before.get(key), 60)} → {_short(after.get(key), 60)}"
        for key in sorted(set(before) | set(after))
        if key != "metrics" and before.get(key) != after.get(key)
    ]


def sample_params(spec: dict[str, Any]) -> dict[str, Any]:
    """A value for each of an action's parameters: its first choice, or one of its type,
    so that only the resource it names can be wrong."""
    params: dict[str, Any] = {}
    for param in spec.get("params") or []:
        choices = param.get("choices")
        kind = param.get("type", "string")
        params[param["name"]] = (
            choices[0] if choices else SAMPLE.get(kind, {} if kind == "dict" else [])
        )
    return params


def mentions(value: Any, texts: Iterable[str | None]) -> bool:
    """Whether ``value`` holds one of ``texts`` anywhere (as a string, or a dict key)."""
    wanted = {t for t in texts if t}
    if isinstance(value, str):
        return value in wanted
    if isinstance(value, dict):
        return any(k in wanted or mentions(v, wanted) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(mentions(item, wanted) for item in value)
    return False


def _short(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
