"""Fixtures for tests that start real processes (tests/core/processes.py)."""

from __future__ import annotations

import pytest

from tests.core.processes import ProcessSite, leftovers, wait_for


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory):
    """One migrated SQLite database per session; each test works on a copy."""
    site = ProcessSite(tmp_path_factory.mktemp("template"))
    site.run("migrate", "--noinput", timeout=300)
    return site.db


@pytest.fixture
def process_site(tmp_path, migrated_db):
    """A fresh site; every process a test starts is killed (whole process group) at teardown,
    and the test fails if any process of the site survives that."""
    sites: list[ProcessSite] = []

    def make(**env) -> ProcessSite:
        data_dir = tmp_path / f"site{len(sites)}"
        data_dir.mkdir()
        site = ProcessSite(data_dir, migrated_db, **env)
        sites.append(site)
        return site

    yield make
    for site in sites:
        site.stop_all()
    for site in sites:
        # Children of a killed parent get their PR_SET_PDEATHSIG signal and need a moment.
        left = wait_for(lambda site=site: not leftovers(site.data_dir), 15, 0.2) or leftovers(site.data_dir)
        assert left is True, left
