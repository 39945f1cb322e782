"""Both storage adapters pass the same contract: the local folder and S3 (awswrangler on moto)."""

import boto3
import pyarrow as pa
import pytest
from bcjourney.storage import LocalStorage, StorageError, open_storage
from bcjourney.storage.s3 import S3Storage
from moto import mock_aws

SCHEMA = pa.schema([("a", pa.int64()), ("b", pa.string())])


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    if request.param == "local":
        yield open_storage(str(tmp_path / "root"))
        return
    with mock_aws():
        session = boto3.Session(region_name="eu-west-1")
        session.client("s3").create_bucket(Bucket="lake", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        yield open_storage("s3://lake/prefix", boto3_session=session)


def test_open_storage_picks_the_adapter_by_scheme(tmp_path):
    assert isinstance(open_storage(str(tmp_path)), LocalStorage)
    assert isinstance(open_storage(f"file://{tmp_path}"), LocalStorage)
    assert isinstance(open_storage("s3://bucket"), S3Storage)


def test_bytes_round_trip_and_stream(storage):
    storage.write_bytes("a/b.csv", b"x;y\n1;2\n")
    assert storage.read_bytes("a/b.csv") == b"x;y\n1;2\n"
    with storage.open_read("a/b.csv") as stream:
        assert stream.read() == b"x;y\n1;2\n"
    assert storage.exists("a/b.csv") and not storage.exists("a/c.csv")


def test_listing_is_relative_sorted_and_by_prefix(storage):
    for key in ("curated/x/dt=2024-04-02/p.parquet", "curated/x/dt=2024-04-01/p.parquet", "other/z", "curatedness"):
        storage.write_bytes(key, b"1")
    assert storage.list_keys("curated/") == ["curated/x/dt=2024-04-01/p.parquet", "curated/x/dt=2024-04-02/p.parquet"]
    assert storage.list_keys("curated/x/dt=2024-04-01/") == ["curated/x/dt=2024-04-01/p.parquet"]
    assert storage.list_keys("missing/") == []
    storage.delete(["other/z"])
    assert "other/z" not in storage.list_keys("")


def test_parquet_round_trip_keeps_types_and_concatenates(storage):
    storage.write_parquet("t/1.parquet", pa.table({"a": [1, None], "b": ["x", None]}, schema=SCHEMA))
    storage.write_parquet("t/2.parquet", pa.table({"a": [3], "b": ["z"]}, schema=SCHEMA))
    frame = storage.read_parquet(storage.list_keys("t/"), SCHEMA)
    assert frame["a"].tolist()[0] == 1 and frame["a"].isna().tolist() == [False, True, False]
    assert frame["b"].tolist()[2] == "z"
    table = storage.read_table(storage.list_keys("t/"), SCHEMA)
    assert table.schema == SCHEMA and table.column("a").to_pylist() == [1, None, 3]


def test_no_files_gives_an_empty_frame_with_the_schema(storage):
    frame = storage.read_parquet([], SCHEMA)
    assert list(frame.columns) == ["a", "b"] and len(frame) == 0


def test_a_missing_object_raises_storage_error(storage):
    with pytest.raises(StorageError):
        storage.open_read("nope.csv")
    with pytest.raises(StorageError):
        storage.read_bytes("nope.csv")


def test_a_local_key_cannot_escape_the_root(tmp_path):
    with pytest.raises(StorageError):
        LocalStorage(tmp_path / "root").read_bytes("../secret")


def test_s3_reads_the_version_an_event_names():
    with mock_aws():
        session = boto3.Session(region_name="eu-west-1")
        s3 = session.client("s3")
        s3.create_bucket(Bucket="landing", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        s3.put_bucket_versioning(Bucket="landing", VersioningConfiguration={"Status": "Enabled"})
        first = s3.put_object(Bucket="landing", Key="k.csv", Body=b"first")["VersionId"]
        s3.put_object(Bucket="landing", Key="k.csv", Body=b"second")
        storage = open_storage("s3://landing", boto3_session=session)
        with storage.open_read("k.csv", first) as stream:
            assert stream.read() == b"first"
        with storage.open_read("k.csv") as stream:
            assert stream.read() == b"second"
