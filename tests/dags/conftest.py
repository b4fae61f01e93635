"""Airflow reads its configuration on first import: configure a throwaway Airflow home before the tests here."""

from __future__ import annotations

from tests import airflow_env

airflow_env.configure()
