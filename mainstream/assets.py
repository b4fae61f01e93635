"""The Airflow assets the DAGs share: what lands, what is loaded, what is published.

Built from ``MAINSTREAM_HOME`` when imported (by the DAG files at parse time and by the triggerer) without
touching the filesystem: only paths are computed here.

- ``landing_drops``: the ingest bucket. Its watcher claims each finished drop and emits one asset event
  with the claimed path; ``mainstream_ingest`` runs on it.
- ``raw_extracts``: the Parquet raw zone; ``mainstream_ingest`` emits it when it loaded new programmes,
  and ``mainstream_publish`` runs on it.
- ``published_marts``: the audited DuckDB file analysts open; ``mainstream_publish`` emits it.
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetWatcher

from mainstream.home import Home
from mainstream.watcher import LandingFileTrigger

#: Seconds between scans of landing/, and how long a file must be unchanged before it is claimed.
POLL_INTERVAL = 2.0
SETTLE_SECONDS = 1.0

home = Home.from_env()

landing_drops = Asset(
    name="mainstream_landing_drops",
    uri=home.landing.as_uri(),
    group="mainstream",
    watchers=[
        AssetWatcher(
            name="landing_watcher",
            trigger=LandingFileTrigger(
                landing_dir=str(home.landing),
                claimed_dir=str(home.claimed),
                poll_interval=POLL_INTERVAL,
                settle_seconds=SETTLE_SECONDS,
            ),
        )
    ],
)

raw_extracts = Asset(name="mainstream_raw_extracts", uri=home.raw.as_uri(), group="mainstream")

published_marts = Asset(name="mainstream_published_marts", uri=home.published_db.as_uri(), group="mainstream")
