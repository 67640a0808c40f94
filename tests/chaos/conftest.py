"""The chaos suite runs on the integration tests' stack and fixtures (``make test-chaos``)."""

from tests.integration.conftest import base_settings, settings, worker  # noqa: F401  (fixtures)
