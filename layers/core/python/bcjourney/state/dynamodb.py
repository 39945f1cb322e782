"""The state in one DynamoDB table (PipelineStateTable, partition key `pk`): items `object#<key>` and `day#<day>`.
Every change is one conditional write, so concurrent Lambdas agree without any other lock."""

from __future__ import annotations

import json
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Iterator

from .port import AppliedObject, DayBusy, DayState


def _conditional_failed(exc: Exception) -> bool:
    response = getattr(exc, "response", None) or {}
    return response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DynamoDBState:
    def __init__(self, client: Any, table: str):
        self.client, self.table = client, table

    def _get(self, pk: str) -> dict | None:
        return self.client.get_item(TableName=self.table, Key={"pk": {"S": pk}}, ConsistentRead=True).get("Item")

    def applied(self, key: str) -> AppliedObject | None:
        item = self._get(f"object#{key}")
        return AppliedObject.from_item(json.loads(item["record"]["S"])) if item else None

    def record_applied(self, record: AppliedObject, previous: AppliedObject | None) -> bool:
        item = {"pk": {"S": f"object#{record.key}"}, "sequencer": {"S": record.sequencer},
                "record": {"S": json.dumps(record.as_item(), sort_keys=True)}}
        if previous is None:
            condition: dict = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {"ConditionExpression": "sequencer = :previous",
                         "ExpressionAttributeValues": {":previous": {"S": previous.sequencer}}}
        try:
            self.client.put_item(TableName=self.table, Item=item, **condition)
        except Exception as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def bump_days(self, days: list[str]) -> None:
        now = datetime.now(timezone.utc).isoformat()
        for day in days:
            self.client.update_item(TableName=self.table, Key={"pk": {"S": f"day#{day}"}},
                                    UpdateExpression="ADD generation :one SET bumped_at = :now",
                                    ExpressionAttributeValues={":one": {"N": "1"}, ":now": {"S": now}})

    @staticmethod
    def _day_state(day: str, item: dict | None) -> DayState:
        item = item or {}
        return DayState(day, int(item.get("generation", {}).get("N", 0)), int(item.get("committed", {}).get("N", 0)),
                        item.get("bumped_at", {}).get("S"))

    def day(self, day: str) -> DayState:
        return self._day_state(day, self._get(f"day#{day}"))

    def days(self) -> list[DayState]:
        pages = self.client.get_paginator("scan").paginate(
            TableName=self.table, FilterExpression="begins_with(pk, :day)",
            ExpressionAttributeValues={":day": {"S": "day#"}}, ConsistentRead=True)
        items = [item for page in pages for item in page.get("Items", [])]
        return sorted((self._day_state(item["pk"]["S"][4:], item) for item in items), key=lambda d: d.day)

    @contextmanager
    def commit_day(self, day: str, generation: int, lease_seconds: float) -> Iterator[bool]:
        key = {"pk": {"S": f"day#{day}"}}
        token, now = uuid.uuid4().hex, time.time()
        newest = "attribute_not_exists(generation)" if generation == 0 else "generation = :generation"
        values = {":token": {"S": token}, ":until": {"N": f"{now + lease_seconds:.3f}"}, ":now": {"N": f"{now:.3f}"}}
        if generation:
            values[":generation"] = {"N": str(generation)}
        try:
            self.client.update_item(
                TableName=self.table, Key=key, UpdateExpression="SET lease_token = :token, lease_until = :until",
                ConditionExpression=f"{newest} AND (attribute_not_exists(lease_until) OR lease_until < :now)",
                ExpressionAttributeValues=values)
        except Exception as exc:
            if not _conditional_failed(exc):
                raise
            if self.day(day).generation != generation:
                yield False
                return
            raise DayBusy(f"day {day} is being written by another run") from exc
        try:
            yield True
        except BaseException:
            self._release(key, token, committed=None)
            raise
        self._release(key, token, committed=generation)

    def _release(self, key: dict, token: str, committed: int | None) -> None:
        update = "REMOVE lease_token, lease_until"
        values: dict = {":token": {"S": token}}
        if committed is not None:
            update = "SET committed = :committed " + update
            values[":committed"] = {"N": str(committed)}
        try:
            self.client.update_item(TableName=self.table, Key=key, UpdateExpression=update,
                                    ConditionExpression="lease_token = :token", ExpressionAttributeValues=values)
        except Exception as exc:
            if not _conditional_failed(exc):  # the lease expired and was taken: the newer holder decides
                raise
