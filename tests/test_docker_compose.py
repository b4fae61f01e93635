"""The production compose file: one JWT secret, API secret key and Fernet key for every Airflow service, no
credentials in the file, and every variable it requires described in .env.example."""

from __future__ import annotations

import re

import yaml

from mainstream.home import PROJECT_ROOT

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
SHARED = ["AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY", "AIRFLOW__CORE__FERNET_KEY"]


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def test_every_airflow_service_shares_secrets_read_from_the_environment() -> None:
    services = _compose()["services"]
    airflow = {name: service for name, service in services.items() if name.startswith("airflow-")}
    assert len(airflow) >= 6
    for name, service in airflow.items():
        environment = service["environment"]
        for key in SHARED:
            assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", str(environment.get(key))), (name, key)
        assert len({str(service["environment"][key]) for key in SHARED}) == len(SHARED)
    values = {key: {str(service["environment"][key]) for service in airflow.values()} for key in SHARED}
    assert all(len(found) == 1 for found in values.values()), "one value per secret across services"


def test_no_credentials_are_written_in_the_file() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    assert "airflow:airflow@" not in text
    assert "change-me-please" not in text
    services = _compose()["services"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith("${")
    assert services["minio"]["environment"]["MINIO_ROOT_PASSWORD"].startswith("${")
    init = services["airflow-init"]["environment"]
    assert init["_AIRFLOW_WWW_USER_PASSWORD"].startswith("${")
    assert "commented" not in text.split("x-airflow-common")[0], "MinIO is a profile, not a commented service"


def test_env_example_names_every_required_variable_and_env_is_ignored() -> None:
    lines = COMPOSE.read_text(encoding="utf-8").splitlines()
    required = set(
        re.findall(r"\$\{([A-Z_]+):\?", "\n".join(line for line in lines if not line.lstrip().startswith("#")))
    )
    example = (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8")
    defined = set(re.findall(r"^([A-Z_]+)=", example, flags=re.MULTILINE))
    assert required and required <= defined
    assert re.search(r"^/?\.env$", (PROJECT_ROOT / ".gitignore").read_text(encoding="utf-8"), flags=re.MULTILINE)
