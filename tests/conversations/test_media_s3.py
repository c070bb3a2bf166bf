"""Media on an S3-compatible bucket (DESK_MEDIA_STORAGE=s3): moto's S3 server is the bucket, reached
over HTTP by django-storages as MinIO would be. The bucket must hold ciphertext only."""

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from apps.conversations import services
from apps.conversations.media.receive import InboundMedia
from apps.conversations.media.retention import media_purge
from apps.conversations.media.store import attachment_read
from apps.conversations.models import Attachment
from project.settings.knowledge import DESK_MEDIA_S3_OPTIONS
from tests.knowledge.conftest import text_image
from tests.support.processes import free_port

BUCKET = "desk-media-test"


@pytest.fixture
def bucket(settings: Any) -> Iterator[Any]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    credentials = {"aws_access_key_id": "desk", "aws_secret_access_key": "desk-secret", "region_name": "us-east-1"}
    s3 = boto3.client("s3", endpoint_url=endpoint, **credentials)
    s3.create_bucket(Bucket=BUCKET)
    options = {
        **DESK_MEDIA_S3_OPTIONS,  # the production options, pointed at this bucket
        "bucket_name": BUCKET,
        "endpoint_url": endpoint,
        "access_key": "desk",
        "secret_key": "desk-secret",
        "region_name": "us-east-1",
    }
    s3_storage = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}
    settings.STORAGES = {**settings.STORAGES, "default": s3_storage}
    yield s3
    server.stop()


def objects(s3: Any) -> dict[str, bytes]:
    listed = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {item["Key"]: s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read() for item in listed}


def test_an_image_is_sealed_into_the_bucket_read_back_and_purged(bucket: Any, eager_tasks: None, settings: Any) -> None:
    data = text_image(["退货地址在哪里"])

    received = services.message_receive(
        channel="simulator",
        external_user_id="s3-customer",
        display_name="",
        channel_message_id="s3-1",
        body="[图片]",
        media=InboundMedia(kind="image", data=data),
    )

    attachment = Attachment.objects.get(message=received.message)
    assert attachment.status == Attachment.Status.STORED
    assert "退货地址" in attachment.ocr_text  # the worker read it back from the bucket
    assert attachment_read(attachment) == data
    (key, stored), *others = objects(bucket).items()
    assert not others
    assert key == attachment.file.name
    assert key.endswith(".bin")
    assert stored.startswith(b"DM1")
    assert b"IHDR" not in stored
    assert data[16:80] not in stored

    settings.DESK_MEDIA_RETENTION_DAYS = 1
    Attachment.objects.filter(pk=attachment.pk).update(created_at=attachment.created_at.replace(year=2020))
    assert media_purge() == 1
    assert objects(bucket) == {}
