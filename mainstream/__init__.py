"""mainstream: tag UN programmes against human rights criteria and publish audited DuckDB marts."""

__version__ = "0.1.0"
