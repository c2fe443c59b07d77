"""Real servers on loopback for the tests: a pgstac STAC API, a SeaweedFS S3 store, nginx with
Range requests. The session fixtures that start them are in ``tests/conftest.py``."""

from tests.helpers.servers.http import RangeRequest, RangeServer, range_servers
from tests.helpers.servers.pgstac import CLOUD_COVER_QUERYABLE, PgstacServer, running_pgstac
from tests.helpers.servers.s3 import S3Server, running_s3

__all__ = [
    "CLOUD_COVER_QUERYABLE",
    "PgstacServer",
    "RangeRequest",
    "RangeServer",
    "S3Server",
    "range_servers",
    "running_pgstac",
    "running_s3",
]
