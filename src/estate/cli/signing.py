"""``estate plugin keygen|sign|verify`` (offline) and ``estate signing-key …`` (the keyring).

keygen, sign and verify with ``--key`` need no service; verify without ``--key``
reads the service's keyring (``GET signing-keys/``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from . import local, plugins
from .client import FAILED, USAGE, api, fail
from .output import Column, Format, emit, fields, info, page, stdout
from .params import Output

keys_app = typer.Typer(
    help="The keyring plugin signatures are checked against.", no_args_is_help=True
)

Package = Annotated[Path, typer.Argument(help="Plugin folder or archive", metavar="PATH")]
KEY_COLUMNS: list[Column] = [
    ("key id", "key_id"),
    ("name", "name"),
    ("organization", "organization"),
    ("managed", "managed"),
    ("revoked", lambda k: k["revoked_reason"] if k["revoked_at"] else ""),
]


def register(root: typer.Typer, epilog: str) -> None:
    plugins.app.command("keygen")(keygen)
    plugins.app.command("sign")(sign)
    plugins.app.command("verify")(verify)
    keys_app.info.epilog = epilog
    root.add_typer(keys_app, name="signing-key")


def keygen(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the keys in", metavar="DIR")],
    name: Annotated[
        str, typer.Option(help="File name of the keys", metavar="NAME")
    ] = "estate-signing",
) -> None:
    """Make an Ed25519 key pair: NAME.pem (private, 0600), NAME.pub and NAME.pub.pem."""
    try:
        keys = local.keygen(out, name)
    except local.LocalError as exc:
        raise fail(str(exc), USAGE) from None
    stdout().print(Text(f"key id {keys.key_id}"))
    info(
        f"private key {keys.private} (keep it secret); public key {keys.public}, {keys.public_pem}"
    )


def sign(
    path: Package,
    key: Annotated[Path, typer.Option("--key", help="The private key (PEM)", metavar="FILE")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="For an archive: the signed archive to write"),
    ] = None,
) -> None:
    """Sign a plugin folder (writes its SIGNATURE) or archive (writes a signed copy)."""
    try:
        key_id, written = local.sign(path, key, output)
    except local.LocalError as exc:
        raise fail(str(exc), USAGE) from None
    stdout().print(Text(f"signed with key {key_id}: {written}"))


def verify(
    path: Package,
    key: Annotated[
        list[str] | None,
        typer.Option(
            "--key",
            help="A public key file (PEM or base64) to check with, instead of the service's "
            "keyring; repeatable",
            metavar="FILE",
        ),
    ] = None,
    output: Output = Format.table,
) -> None:
    """Check a plugin folder's or archive's files and signature; exit 1 unless valid."""
    keyring: list[dict[str, Any]] = []
    texts = []
    try:
        texts = [Path(k).read_text() for k in key or []]
    except OSError as exc:
        raise fail(f"{exc.filename}: {exc.strerror}", USAGE) from None
    if not texts:
        with api() as client:
            keyring = client.get("signing-keys/", page_size=1000)["results"]
    try:
        verified = local.verify(path, texts, keyring)
    except local.LocalError as exc:
        raise fail(str(exc), USAGE) from None
    answer = {
        "key": verified.key,
        "version": verified.version,
        "signature_status": verified.status,
        "trust": verified.trust,
        "checks": [{"check": c, "ok": ok, "detail": d} for c, ok, d in verified.checks],
    }
    emit(answer, output, _report)
    if verified.status != "valid":
        raise typer.Exit(FAILED)


def _report(answer: dict[str, Any]) -> Text:
    lines = [f"{answer['key']} {answer['version']}"]
    for check in answer["checks"]:
        mark = "✓" if check["ok"] else "✗"
        lines.append(
            f"{mark} {check['check']}" + (f": {check['detail']}" if check["detail"] else "")
        )
    lines.append(f"signature_status: {answer['signature_status']}, trust: {answer['trust']}")
    return Text("\n".join(lines))


@keys_app.command("import")
def import_key(
    name: Annotated[str, typer.Argument(help="What to call the key", metavar="NAME")],
    public: Annotated[
        Path, typer.Argument(help="The public key file (PEM or base64)", metavar="FILE")
    ],
    organization: Annotated[
        int | None,
        typer.Option(help="The organization whose key it is (default: installation-wide)"),
    ] = None,
    output: Output = Format.table,
) -> None:
    """Import a public key into the service's keyring."""
    try:
        text = public.read_text()
    except OSError as exc:
        raise fail(f"{public}: {exc.strerror}", USAGE) from None
    body = {"name": name, "public_key": text, "organization": organization}
    with api() as client:
        answer = client.post("signing-keys/", json=body)
    emit(answer, output, lambda a: fields(a, ["key_id", "name", "organization", "created_by"]))


@keys_app.command("list")
def list_keys(output: Output = Format.table) -> None:
    """The keys of the keyring you can see."""
    with api() as client:
        answer = client.get("signing-keys/", page_size=1000)
    emit(answer, output, lambda a: page(a, KEY_COLUMNS, "signing key(s)"))


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id", metavar="KEY_ID")],
    reason: Annotated[str, typer.Option(help="Why (kept with the key)", metavar="TEXT")],
    output: Output = Format.table,
) -> None:
    """Revoke a key: every version it signed is refused from its next start on."""
    with api() as client:
        answer = client.post(f"signing-keys/{key_id}/revoke/", json={"reason": reason})
    emit(
        answer,
        output,
        lambda a: fields(a, ["key_id", "revoked_at", "revoked_reason", "versions_revoked"]),
    )
