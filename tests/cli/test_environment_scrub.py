"""The service keeps no secret where a plugin could find it: not in its environment."""

from pathlib import Path

import httpx

from served import serving

PASSWORD = "scrubbed-admin-password-4711"


def test_serve_leaves_no_secret_in_its_environment(tmp_path: Path) -> None:
    with serving(tmp_path, ESTATE_ADMIN_PASSWORD=PASSWORD) as service:
        environ = Path(f"/proc/{service.pid}/environ").read_bytes()

        assert PASSWORD.encode() not in environ
        assert b"PATH=" in environ  # the rest of the environment is as it was
        answer = httpx.get(
            f"{service.url}/api/inventory/v1/providers/", auth=("admin", PASSWORD), timeout=10
        )
        assert answer.status_code == 200, answer.text
