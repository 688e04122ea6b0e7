from estate.registry.versions import semver_key


def test_semver_order_follows_the_spec() -> None:
    versions = [
        "1.10.0",
        "1.2.0",
        "1.2.0-rc.10",
        "1.0.0",
        "1.2.0-alpha",
        "1.2.0-rc.2",
        "2.0.0+build.5",
    ]
    ordered = sorted(versions, key=semver_key)
    assert ordered == [
        "1.0.0",
        "1.2.0-alpha",
        "1.2.0-rc.2",
        "1.2.0-rc.10",
        "1.2.0",
        "1.10.0",
        "2.0.0+build.5",
    ]


def test_build_metadata_does_not_order() -> None:
    assert semver_key("1.0.0+a") == semver_key("1.0.0+b") == semver_key("1.0.0")
