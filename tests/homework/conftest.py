from tests.courses.fixtures import School, run_on_commit, school  # noqa: F401 - shared fixtures
