"""The development secrets the repository ships are refused outside the development profile
(``contract.settings.refuse_development_secrets``): by the worker and the source adapters, through
the CLI too, before anything connects anywhere."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from contract.settings import (
    DEV_HMAC_KEY,
    InsecureSettings,
    PrivacySettings,
    Settings,
    refuse_development_secrets,
    settings_env,
)
from producers.privacy import Pseudonymiser

CCCD = "079095001234"


def production(**privacy: object) -> Settings:
    return Settings().model_copy(update={"profile": "production", "privacy": PrivacySettings(**privacy)})


def test_the_development_profile_accepts_the_built_in_key() -> None:
    settings = Settings().model_copy(update={"profile": "development"})
    refuse_development_secrets(settings, "the worker")
    assert Pseudonymiser.from_settings(settings).ref(CCCD) == Pseudonymiser(DEV_HMAC_KEY).ref(CCCD)


@pytest.mark.parametrize("given", [{}, {"hmac_key": SecretStr(DEV_HMAC_KEY)}])
def test_production_refuses_the_built_in_key_and_says_what_to_set(given: dict) -> None:
    with pytest.raises(InsecureSettings, match="DONGBO_PRIVACY_HMAC_KEY_FILE") as err:
        refuse_development_secrets(production(**given), "the worker")
    assert "the worker" in str(err.value) and "production" in str(err.value)
    with pytest.raises(InsecureSettings):
        Pseudonymiser.from_settings(production(**given))


def test_production_takes_the_key_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "hmac.key"
    secret.write_text("  the-city-key\n")  # as a secret store mounts it: blanks around are not the key
    settings = production(hmac_key_file=secret)
    refuse_development_secrets(settings, "the worker")
    assert Pseudonymiser.from_settings(settings).ref(CCCD) == Pseudonymiser("the-city-key").ref(CCCD)
    # A child process is told where the file is, never the key.
    env = settings_env(settings)
    assert env["DONGBO_PRIVACY_HMAC_KEY_FILE"] == str(secret) and env["DONGBO_PROFILE"] == "production"
    assert not any("the-city-key" in v for v in env.values())


def test_the_file_wins_even_when_it_holds_the_development_key(tmp_path: Path) -> None:
    secret = tmp_path / "hmac.key"
    secret.write_text(DEV_HMAC_KEY)
    with pytest.raises(InsecureSettings, match="development"):
        refuse_development_secrets(production(hmac_key=SecretStr("other"), hmac_key_file=secret), "x")


@pytest.mark.parametrize("content", [None, "", "  \n"])
def test_a_missing_or_empty_key_file_is_a_clear_error(tmp_path: Path, content: str | None) -> None:
    secret = tmp_path / "hmac.key"
    if content is not None:
        secret.write_text(content)
    with pytest.raises(InsecureSettings, match=str(secret)):
        Pseudonymiser.from_settings(production(hmac_key_file=secret))


@pytest.mark.parametrize("command", [["worker"], ["simulate", "--dossiers", "1", "--dry-run", "--quiet"]])
def test_the_cli_refuses_to_start_in_production_with_the_development_key(command: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DONGBO_")}
    # Nothing listens there: the refusal comes before any connection is tried.
    env |= {"DONGBO_PROFILE": "production", "DONGBO_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    done = subprocess.run([sys.executable, "-m", "dongbo", *command], env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode != 0
    assert "DONGBO_PRIVACY_HMAC_KEY_FILE" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
