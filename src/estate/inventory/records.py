"""From a plugin's wire record to a resource row: validation, columns, content hash, diff.

The service validates every record with a msgspec schema (the same rules as the SDK's
``ResourceData``, enforced in C), hashes the record's raw JSON bytes, and keeps the
column values for the database. A test holds the schema and the SDK in agreement.

A state or relationship type outside the vocabulary (a plugin written for another
service) fails the strict schema; the record is then read again with those two
fields free, and settled as the SDK settles it (``settle_state``): the nearest state,
the plugin's word kept, a relationship type kept as given. The record lists those
words (``Record.words``) for the run's log. Records of Estate's own words never pay
for this second reading.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from hashlib import blake2b
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec

from inventory_providers.base import RELATIONSHIP_TYPES, STATES, ResourceValidationError
from inventory_providers.resource import settle_state
from inventory_providers.vocabulary import MAX_WORD_CHARS

from .. import taxonomy
from ..db.storable import INT_MAX, MAX_DEPTH, too_deep, unstorable

if TYPE_CHECKING:
    State = str
    RelationshipType = str
else:  # the SDK's sets are the one source of truth; msgspec checks them as literals
    State = Literal[tuple(sorted(STATES))]
    RelationshipType = Literal[tuple(sorted(RELATIONSHIP_TYPES))]
NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]
Count = Annotated[int, msgspec.Meta(ge=0, le=INT_MAX)]
Size = Annotated[float, msgspec.Meta(ge=0)]


class WireRelationship(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    target_ems_ref: NonEmpty
    relationship_type: RelationshipType


# Objects stay raw JSON: checked to be objects (or null) by their first byte, stored as
# the plugin sent them, decoded only when a change is diffed.
_NULL = msgspec.Raw(b"null")


class WireResource(msgspec.Struct, forbid_unknown_fields=True):
    """One resource as a plugin sends it; field order after ``ems_ref`` is DATA_COLUMNS."""

    ems_ref: NonEmpty | int
    resource_type_slug: NonEmpty
    name: str | None = None
    description: str | None = None
    canonical_id: str | None = None
    vendor_identifiers: msgspec.Raw = _NULL
    vendor_type: str | None = None
    state: State = "unknown"
    power_state: str | None = None
    boot_time: str | None = None
    region: str | None = None
    availability_zone: str | None = None
    cloud_tenant: str | None = None
    flavor: str | None = None
    cpu_count: Count | None = None
    memory_mb: Count | None = None
    disk_gb: Size | None = None
    ip_addresses: list[str] | None = None
    fqdn: str | None = None
    mac_addresses: list[str] | None = None
    os_type: str | None = None
    os_name: str | None = None
    properties: msgspec.Raw = _NULL
    provider_tags: msgspec.Raw = _NULL
    ansible_host: str | None = None
    ansible_connection: str | None = None
    inventory_group: str | None = None
    ems_created_on: str | None = None
    metrics: msgspec.Raw = _NULL
    relationships: list[WireRelationship] | None = None


# The second reading of a record that the strict schema refused: the same fields, but
# a state and relationship types that are any word (see the module's docstring).
Word = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_WORD_CHARS)]


class _WordRelationship(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    target_ems_ref: NonEmpty
    relationship_type: Word


_FREE = {"state": str, "relationships": list[_WordRelationship] | None}
_WordsResource = msgspec.defstruct(
    "WireResourceWithWords",
    [
        (f.name, _FREE.get(f.name, f.type))
        if f.required
        else (f.name, _FREE.get(f.name, f.type), f.default)
        for f in msgspec.structs.fields(WireResource)
    ],
    forbid_unknown_fields=True,
)
_WORDS_DECODER = msgspec.json.Decoder(_WordsResource)


# Columns filled from a record, in WireResource's order (``resource_type`` is the
# wire's ``resource_type_slug``); relationships live in their own table.
DATA_COLUMNS: tuple[str, ...] = (
    "resource_type",
    *(name for name in WireResource.__struct_fields__[2:] if name != "relationships"),
)
JSON_COLUMNS = frozenset(
    {
        "vendor_identifiers",
        "ip_addresses",
        "mac_addresses",
        "properties",
        "provider_tags",
        "metrics",
    }
)
# Dict columns whose changes are reported key by key ("properties.owner").
KEYED_COLUMNS = frozenset({"vendor_identifiers", "properties", "provider_tags", "metrics"})
_JSON_INDEXES = tuple(i for i, c in enumerate(DATA_COLUMNS) if c in JSON_COLUMNS)
_DECODER = msgspec.json.Decoder(WireResource)
_ENCODE = msgspec.json.encode
_LOCATION = re.compile(r" - at `\$\.?([^`]*)`$")

Relationships = tuple[tuple[str, str], ...]
Words = tuple[tuple[str, str, str], ...]


class Record:
    """One validated resource: ``ems_ref``, its row, content hash.

    ``row`` is what is bound to the database, in this order: ``ems_ref``, the
    DATA_COLUMNS values (JSON columns as JSON text, empty ones as None), the
    ``relationships`` column, the content hash. ``values`` and ``relationships``
    decode it back, for diffs.
    """

    __slots__ = ("content_hash", "ems_ref", "row", "words")

    def __init__(self, ems_ref: str, row: list[Any], content_hash: str, words: Words = ()) -> None:
        self.ems_ref = ems_ref
        self.row = row
        self.content_hash = content_hash
        # (field, the plugin's word, what was stored) for each word outside a vocabulary.
        self.words = words

    @property
    def values(self) -> tuple[Any, ...]:
        """Column values with JSON columns decoded (empty ones as None)."""
        return stored_values(self.row[1:-2])

    @property
    def relationships(self) -> Relationships:
        return stored_links(self.row[-2])

    def sql_values(self) -> list[Any]:
        """Column values with JSON columns serialised (empty ones as NULL)."""
        return self.row[1:-2]

    def links_json(self) -> str | None:
        """The ``relationships`` column: ``[[target_ems_ref, relationship_type], …]``."""
        links: str | None = self.row[-2]
        return links


# Indexes in a Record's row (ems_ref comes first).
_OBJECT_INDEXES = tuple(1 + i for i, c in enumerate(DATA_COLUMNS) if c in KEYED_COLUMNS)
_LIST_INDEXES = tuple(
    1 + i for i, c in enumerate(DATA_COLUMNS) if c in JSON_COLUMNS - KEYED_COLUMNS
)
_JSON_KINDS = {ord("["): "array", ord('"'): "str", ord("t"): "bool", ord("f"): "bool"}


# The content hash is personalised with the rules a record was checked by: bump
# RULES_VERSION whenever WireResource or to_record accept something else. A record
# whose hash equals the stored one is then the very bytes that passed these very
# rules, and a re-collection can skip checking it again (see Ingestor).
RULES_VERSION = b"records-3"  # 2: objects nested past MAX_DEPTH refused; 3: words settled


@functools.lru_cache(maxsize=64)
def rules_key(allowed_types: frozenset[str] | None) -> bytes:
    """The 16-byte blake2b personalisation for these rules and allowed types."""
    types = b"\0".join(sorted(t.encode() for t in allowed_types)) if allowed_types else b"*"
    return blake2b(RULES_VERSION + b"\0" + types, digest_size=16).digest()


def settled_key(key: bytes) -> bytes:
    """The personalisation of records that held words outside the vocabularies.

    Their hash never equals the one ``identify`` computes, so such a record is read
    (and its words noted in the run's log) in every run, not only when it changes.
    """
    return blake2b(key + b"settled", digest_size=16).digest()


def content_hash(data: Any, key: bytes) -> str:
    """The content hash of a record's raw JSON bytes under ``rules_key``."""
    return blake2b(data, digest_size=16, person=key).hexdigest()


class _Identity(msgspec.Struct):
    ems_ref: str | int


_IDENTITY = msgspec.json.Decoder(_Identity)


def identify(item: Any, key: bytes) -> tuple[str, str] | None:
    """``(ems_ref, content hash)`` of raw JSON bytes without checking anything else;
    None when the ems_ref cannot be read (``to_record`` will say why)."""
    if not isinstance(item, bytes | msgspec.Raw):
        return None
    try:
        ref = _IDENTITY.decode(item).ems_ref
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    return str(ref), content_hash(item, key)


def to_record(
    item: Any, allowed_types: frozenset[str] | None = None, *, nul_possible: bool = True
) -> Record:
    """Validate one wire record (raw JSON bytes or a dict).

    ``nul_possible=False`` skips looking for a NUL character, when the record's batch
    is known to hold none (see ``may_hold_nul``). Raises ``ResourceValidationError``
    naming the field.
    """
    data = item if isinstance(item, bytes | msgspec.Raw) else _ENCODE(item)
    words: Words = ()
    try:
        wire = _DECODER.decode(data)
    except msgspec.ValidationError:
        wire, words = _read_with_words(data)
    except msgspec.DecodeError:
        raise ResourceValidationError("resource", "is not a JSON object") from None
    if nul_possible and _NUL in (data if isinstance(data, bytes) else bytes(data)):
        _refuse_unstorable(data)
    slug = wire.resource_type_slug
    if not taxonomy.is_known(slug):
        raise ResourceValidationError("resource_type_slug", f"unknown resource type {slug!r}")
    if allowed_types is not None and slug not in allowed_types:
        raise ResourceValidationError(
            "resource_type_slug", f"type {slug!r} is not in the plugin's supported_resource_types"
        )
    row = list(msgspec.structs.astuple(wire))
    ref = row[0] = str(wire.ems_ref)
    for i in _OBJECT_INDEXES:
        text = bytes(row[i])
        if text[0] != 123:  # "{"
            if text == b"null":
                row[i] = None
                continue
            kind = _JSON_KINDS.get(text[0], "float" if b"." in text else "int")
            field = DATA_COLUMNS[i - 1]
            raise ResourceValidationError(field, f"expected `object | null`, got `{kind}`")
        # Only these raw objects can nest (msgspec typed the rest flat); one level
        # is the record's own, so each may hold MAX_DEPTH - 1 more.
        if too_deep(text, MAX_DEPTH - 1):
            raise ResourceValidationError(
                DATA_COLUMNS[i - 1], f"nested deeper than the {MAX_DEPTH} levels allowed"
            )
        row[i] = None if text == b"{}" else text.decode()
    for i in _LIST_INDEXES:
        value = row[i]
        row[i] = _ENCODE(value).decode() if value else None
    links = wire.relationships
    row[-1] = (
        _ENCODE([(r.target_ems_ref, r.relationship_type) for r in links]).decode()
        if links
        else None
    )
    key = rules_key(allowed_types)
    digest = content_hash(data, settled_key(key) if words else key)
    row.append(digest)
    return Record(ref, row, digest, words)


def _read_with_words(data: Any) -> tuple[Any, Words]:
    """A record the strict schema refused, read with a free state and relationship
    types and settled as ``ResourceData`` settles them; raises the reason it is refused.
    """
    try:
        wire: Any = _WORDS_DECODER.decode(data)  # a WireResource but for the two fields
    except msgspec.ValidationError as exc:
        raise _problem(str(exc)) from None
    words: list[tuple[str, str, str]] = []
    word = wire.state
    if word not in STATES:
        raw = bytes(wire.properties)
        properties = msgspec.json.decode(raw) if raw[:1] == b"{" else None
        state, wire.power_state, settled = settle_state(word, wire.power_state, properties)
        wire.state = state
        if settled is not properties and raw[:1] in (b"{", b"n"):  # an object or null
            wire.properties = msgspec.Raw(_ENCODE(settled))
        if word:
            words.append(("state", word, state))
    for link in wire.relationships or ():
        kind = link.relationship_type
        if kind not in RELATIONSHIP_TYPES:
            words.append(("relationship_type", kind, kind))
    return wire, tuple(words)


# A NUL character reaches JSON only escaped (raw control characters are not JSON).
_NUL = b"\\u0000"


def may_hold_nul(batch: Sequence[Any]) -> bool:
    """Whether a record of ``batch`` may hold a NUL character.

    JSON writes one only as an escape, and most batches hold no backslash at all:
    one ``memchr`` over the joined batch (≈ 0.09 µs a record) spares searching each
    record for the escape (≈ 0.8 µs: a copy and a substring search).
    """
    try:
        return b"\\" in b"".join(batch)
    except TypeError:  # dicts (in-process callers): each record is checked
        return True


def _refuse_unstorable(data: Any) -> None:
    """Raise for a NUL character anywhere in the record, naming its place.

    PostgreSQL stores none in text or jsonb: left in, the record would fail the
    insert of its whole batch. (The escape may also be an escaped backslash followed
    by ``u0000``, which is text like any other: only a real NUL is refused.)
    """
    problem = unstorable(msgspec.json.decode(data))
    if problem:
        where, what = problem
        raise ResourceValidationError(where or "resource", what)


def _problem(message: str) -> ResourceValidationError:
    match = _LOCATION.search(message)
    where = match.group(1) if match else ""
    text = message[: match.start()] if match else message
    if text.startswith("Object missing required field"):
        field = text.split("`")[1]
        return ResourceValidationError(f"{where}.{field}" if where else field, "is required")
    if text.startswith("Object contains unknown field"):
        field = text.split("`")[1]
        return ResourceValidationError(f"{where}.{field}" if where else field, "unknown field")
    return ResourceValidationError(where or "resource", text[0].lower() + text[1:])


def json_cells(row: list[Any]) -> list[Any]:
    """``row`` with its JSON text cells as ``msgspec.Raw``: they encode as JSON values."""
    out = list(row)
    for i in _JSON_INDEXES:
        if out[i] is not None:
            out[i] = msgspec.Raw(out[i].encode())
    return out


def stored_links(value: Any) -> Relationships:
    """The ``relationships`` column as read back from the database."""
    if isinstance(value, str | bytes):
        value = msgspec.json.decode(value)
    return tuple((target, kind) for target, kind in value or ())


def stored_values(row: Sequence[Any]) -> tuple[Any, ...]:
    """Column values as read back from the database, JSON parsed, empties as None."""
    values = list(row)
    for i in _JSON_INDEXES:
        if isinstance(values[i], str | bytes):
            values[i] = msgspec.json.decode(values[i])
        if not values[i]:
            values[i] = None
    return tuple(values)


def comparable(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """``values`` with empty JSON columns as None, as ``stored_values`` returns them."""
    out = list(values)
    for i in _JSON_INDEXES:
        if not out[i]:
            out[i] = None
    return tuple(out)


def diff(old: Sequence[Any], new: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """``{field: {"from": old, "to": new}}`` for every column that differs."""
    changes: dict[str, dict[str, Any]] = {}
    for column, before, after in zip(DATA_COLUMNS, old, new, strict=True):
        if before == after:
            continue
        if column in KEYED_COLUMNS and (before is None or isinstance(before, Mapping)):
            _diff_keys(column, before or {}, after or {}, changes)
        else:
            changes[column] = {"from": before, "to": after}
    return changes


def diff_relationships(old: Relationships, new: Relationships) -> dict[str, dict[str, Any]]:
    if sorted(old) == sorted(new):
        return {}
    return {"relationships": {"from": _edges(old), "to": _edges(new)}}


def _edges(links: Relationships) -> list[dict[str, str]]:
    return [{"target_ems_ref": t, "relationship_type": k} for t, k in links]


def _diff_keys(
    column: str, before: Mapping[str, Any], after: Mapping[str, Any], out: dict[str, Any]
) -> None:
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key) or (key in before) != (key in after):
            out[f"{column}.{key}"] = {"from": before.get(key), "to": after.get(key)}
