"""Write the real programmes the benchmark generator resamples: bench/data/real_programmes.parquet and
bench/data/real_programme_codes.parquet.

    .venv/bin/python -m bench.real_sample ../shared/data/iati/un-agencies

Every IATI file in the folder is loaded by the project's own ingest (as a drop would be, into a throwaway home),
and the raw zone's rows (a programme's latest version) are written without their lineage columns, in order.
Run it again only when the sample changes: the benchmark reads the two files, never the shared folder.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
from pathlib import Path

import duckdb

from ingest.drops import ingest_file
from ingest.raw_zone import LINEAGE_FIELDS
from mainstream.home import Home

log = logging.getLogger("bench.real_sample")
DATA_DIR = Path(__file__).parent / "data"
REAL_PROGRAMMES = DATA_DIR / "real_programmes.parquet"
REAL_PROGRAMME_CODES = DATA_DIR / "real_programme_codes.parquet"


class RealSampleError(RuntimeError):
    """A file of the real sample could not be loaded whole."""


def write_real_sample(iati_folder: Path, data_dir: Path = DATA_DIR) -> tuple[int, int]:
    """Ingest every *.xml file of ``iati_folder`` and write its programmes and codes; return both row counts."""
    files = sorted(iati_folder.glob("*.xml"))
    if not files:
        raise FileNotFoundError(f"no IATI *.xml file in {iati_folder}")
    lineage = ", ".join(field.name for field in LINEAGE_FIELDS)
    with tempfile.TemporaryDirectory() as scratch:
        home = Home(Path(scratch) / "home").ensure()
        for source in files:
            # ingest_file moves what it loads into the archive: give it a copy.
            dropped = Path(scratch) / source.name
            shutil.copyfile(source, dropped)
            drop = ingest_file(dropped, home)
            if drop.state == "quarantined":
                # The throwaway home and its quarantine record go away with this function: say why here.
                raise RealSampleError(f"{source}: quarantined, so the sample would miss it: {drop.reason}")
            if drop.rows_rejected:
                log.warning("%s: %d rows rejected (%s)", source.name, drop.rows_rejected, drop.reason)
            log.info("%s: %s, %d rows", source.name, drop.state, drop.rows_loaded)
        data_dir.mkdir(parents=True, exist_ok=True)
        connection = duckdb.connect()
        for table in ("programmes", "programme_codes"):
            pattern = str(home.raw / table / "*.parquet")
            connection.execute(f"create view {table} as select * from read_parquet('{pattern}', union_by_name = true)")
        # A programme in several files keeps its latest version, as the pipeline's staging does.
        connection.execute(
            "create table latest as select programme_id, extract_id from programmes "
            "qualify row_number() over (partition by programme_id order by loaded_at desc, extract_id desc) = 1"
        )
        counts = []
        for table, target in (("programmes", REAL_PROGRAMMES.name), ("programme_codes", REAL_PROGRAMME_CODES.name)):
            relation = connection.sql(
                f"select {table}.* exclude ({lineage}) from {table} "
                "semi join latest using (programme_id, extract_id) order by all"
            )
            relation.write_parquet(str(data_dir / target), compression="zstd")
            counts.append(len(relation))
    return counts[0], counts[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("iati_folder", type=Path, help="folder of IATI activity XML files")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    programmes, codes = write_real_sample(args.iati_folder)
    log.info("wrote %d programmes and %d codes under %s", programmes, codes, DATA_DIR)


if __name__ == "__main__":
    main()
