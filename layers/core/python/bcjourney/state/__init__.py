"""Where the pipeline remembers order (see port.py): beside a folder lake, or in DynamoDB on AWS."""

from __future__ import annotations

from .dynamodb import DynamoDBState
from .local import LocalState
from .port import AppliedObject, DayBusy, DayState, PipelineState, is_newer, sequencer_key

STATE_FOLDER = "_state"

__all__ = ["AppliedObject", "DayBusy", "DayState", "DynamoDBState", "LocalState", "PipelineState", "STATE_FOLDER",
           "is_newer", "sequencer_key"]
