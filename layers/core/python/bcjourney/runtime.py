"""What a handler needs from its environment: where the lake is, how to read a landing bucket, how to start
matching, and where ingest remembers what it already did. Built from environment variables on Lambda; tests hand
in their own (moto-backed) one, the lambda-mock pattern: the handler never builds a client the test cannot reach.

Environment:
  LAKE_URI                  s3://<lake bucket>[/prefix] on AWS, a folder on one machine (required)
  BCJOURNEY_BUCKET_ROOTS    JSON {bucket name: folder}: the embedded default's landing "buckets"
  MATCH_STATE_MACHINE_ARN   when set, ingest starts this state machine for the days it touched
  MATCH_DEBOUNCE_SECONDS    ingest's debounce window (bcjourney.match_runs): one execution per day and window for a
                            file of few days, merging the files of a window; unset, empty or 0: one per file
  IDEMPOTENCY_TABLE         when set, the DynamoDB table in which ingest records each S3 delivery it handled, so a
                            duplicate delivery is not ingested twice; unset or empty (the local runner): off
  DEAD_LETTER_QUEUE_URL     the SQS dead-letter queue the dead-letter handler sends each failed execution to
  PIPELINE_STATE_TABLE      the DynamoDB table of per-key applied events and per-day generations (bcjourney.state);
                            required with an S3 lake; with a folder lake the state is kept beside it (<lake>/_state)

This module also says which errors are worth another try (`transient_cause`) and names the one the match handler
raises for them (`TransientMatchError`): the state machine's Retry matches that class name.

Start-up (#17): importing this module imports neither pandas/pyarrow (the storage adapters) nor boto3; the lake is
opened on first use (`Runtime.lake`), so a handler that never reads it (freshness, with its state in DynamoDB) never
loads them. `make_tracer()` builds Powertools' Tracer only when tracing is on, so the X-Ray SDK is not imported
where nothing would be traced (tests, `sam local`, the local runner).
"""

from __future__ import annotations

import json
import os
import uuid
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from .state import STATE_FOLDER, DynamoDBState, LocalState, PipelineState

if TYPE_CHECKING:
    from .storage import Storage


class ConfigurationError(RuntimeError):
    pass


class TransientMatchError(Exception):
    """Matching a day failed for a reason that another attempt may not meet (storage throttled or unreachable, a
    file deleted between listing and reading it by a concurrent ingest). Step Functions retries errors of this name
    (statemachine/match_days.asl.json: ErrorEquals ["TransientMatchError"]); Lambda reports the class name as the
    errorType, so the name must not change."""


class DayBusyError(TransientMatchError):
    """Another run holds the write lease of a day being matched (bcjourney.state.DayBusy). Step Functions retries
    it on a longer schedule than other transient errors (ErrorEquals ["DayBusyError"]): the lease may be held as
    long as the holder's invocation may live. The name must not change either."""


# S3 (and AWS-wide) error codes that mean "not now" rather than "never". botocore has already retried them with
# backoff by the time they reach us; one more attempt minutes later, from the state machine, often succeeds.
TRANSIENT_ERROR_CODES = frozenset({
    "SlowDown", "ServiceUnavailable", "RequestTimeout", "RequestTimeoutException", "InternalError",
    "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException", "503", "500",
})
# Codes of an object that was there a moment ago. The match code reads only keys it has just listed, so a missing
# one was removed under it (an ingest compacting its parts into one file per day): the next attempt lists again.
VANISHED_OBJECT_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


def transient_cause(exc: BaseException, *, include_vanished: bool = True) -> BaseException | None:
    """The first transient error in `exc`'s chain (the error itself, its __cause__, its __context__, ...), or None.
    Storage adapters wrap botocore errors (StorageError from ClientError), hence the walk."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, (ConnectionError, HTTPClientError)):  # EndpointConnectionError, timeouts, resets
            return current
        if isinstance(current, ClientError):
            code = str(current.response.get("Error", {}).get("Code", ""))
            status = str(current.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
            if code in TRANSIENT_ERROR_CODES or status == "503":
                return current
            if include_vanished and code in VANISHED_OBJECT_CODES:
                return current
        stack.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return None


class Runtime:
    """What a handler needs from its environment. `lake` is a Storage (tests hand in their own), or opened from
    `lake_uri` the first time it is used (`from_environment`): a handler that never touches the lake does not load
    the storage adapters (pandas, pyarrow; awswrangler and a boto3 session for S3)."""

    def __init__(self, lake: Storage | None = None, bucket_roots: dict[str, str] | None = None,
                 state_machine_arn: str | None = None,
                 boto3_session: Any = None,  # a boto3.Session (moto-backed in tests); None: the default session
                 idempotency_table: str | None = None, dead_letter_queue_url: str | None = None,
                 state_table: str | None = None, *, lake_uri: str | None = None, match_debounce_seconds: int = 0,
                 clock: Callable[[], Any] | None = None):  # clock: an aware datetime now; None: the system's
        if lake is None and not lake_uri:
            raise TypeError("Runtime needs a lake (a Storage) or a lake_uri to open it from")
        self._lake = lake
        self.lake_uri = lake_uri
        self.bucket_roots: dict[str, str] = dict(bucket_roots or {})
        self.state_machine_arn = state_machine_arn
        self.boto3_session = boto3_session
        self.idempotency_table = idempotency_table
        self.dead_letter_queue_url = dead_letter_queue_url
        self.state_table = state_table
        self.match_debounce_seconds = match_debounce_seconds
        self.clock = clock
        self._idempotency_store: object | None = None
        self._state: PipelineState | None = None

    def __repr__(self) -> str:
        lake = self._lake if self._lake is not None else f"<not opened: {self.lake_uri}>"
        return (f"Runtime(lake={lake!r}, bucket_roots={self.bucket_roots!r}, state_machine_arn="
                f"{self.state_machine_arn!r}, idempotency_table={self.idempotency_table!r}, "
                f"dead_letter_queue_url={self.dead_letter_queue_url!r}, state_table={self.state_table!r}, "
                f"match_debounce_seconds={self.match_debounce_seconds!r})")

    @property
    def lake(self) -> Storage:
        if self._lake is None:
            from .storage import open_storage

            assert self.lake_uri  # __init__ holds one of the two
            self._lake = open_storage(self.lake_uri, boto3_session=self.boto3_session)
        return self._lake

    @lake.setter
    def lake(self, storage: Storage) -> None:
        self._lake = storage

    @classmethod
    def from_environment(cls, boto3_session: Any = None) -> "Runtime":
        from .match_runs import debounce_seconds

        lake_uri = os.environ.get("LAKE_URI")
        if not lake_uri:
            raise ConfigurationError("LAKE_URI is not set: it names the lake (s3://bucket or a folder)")
        roots = json.loads(os.environ.get("BCJOURNEY_BUCKET_ROOTS") or "{}")
        return cls(lake_uri=lake_uri, bucket_roots=roots,
                   state_machine_arn=os.environ.get("MATCH_STATE_MACHINE_ARN") or None,
                   boto3_session=boto3_session,
                   idempotency_table=os.environ.get("IDEMPOTENCY_TABLE") or None,
                   dead_letter_queue_url=os.environ.get("DEAD_LETTER_QUEUE_URL") or None,
                   state_table=os.environ.get("PIPELINE_STATE_TABLE") or None,
                   match_debounce_seconds=debounce_seconds(os.environ.get("MATCH_DEBOUNCE_SECONDS")))

    def landing(self, bucket: str) -> Storage:
        from .storage import open_storage

        return open_storage(self.bucket_roots.get(bucket, f"s3://{bucket}"), boto3_session=self.boto3_session)

    def client(self, service: str) -> Any:
        """A boto3 client from the injected session (moto in tests), or from the default one."""
        import boto3

        return (self.boto3_session or boto3.Session()).client(service)

    def idempotency_store(self) -> Any:
        """The Powertools DynamoDB persistence layer on IDEMPOTENCY_TABLE, or None when idempotency is off (no table:
        the local runner, which hands each file over exactly once). Built once per Runtime."""
        if not self.idempotency_table:
            return None
        if self._idempotency_store is None:
            from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

            kwargs = {"boto3_session": self.boto3_session} if self.boto3_session is not None else {}
            self._idempotency_store = DynamoDBPersistenceLayer(table_name=self.idempotency_table, **kwargs)
        return self._idempotency_store

    def pipeline_state(self) -> PipelineState:
        """Where event order and day generations are kept: the DynamoDB table, or a folder beside a local lake."""
        if self._state is None:
            if self.state_table:
                self._state = DynamoDBState(self.client("dynamodb"), self.state_table)
                return self._state
            from .storage import LocalStorage

            if isinstance(self.lake, LocalStorage):
                self._state = LocalState(self.lake.root / STATE_FOLDER)
            else:
                raise ConfigurationError("PIPELINE_STATE_TABLE is not set: an S3 lake keeps its state in DynamoDB")
        return self._state

    def start_matching(self, days: list[str], batch_id: str) -> dict[str, list[str]]:
        """Start the state machine that matches `days` (bcjourney.match_runs says how many executions, named how);
        returns the execution ARNs, {"started": [...], "merged": [...]}: merged are the starts Step Functions refused
        because the day's execution of this debounce window exists (it will match this file too). Both are empty
        when no state machine is configured or there are no days."""
        from .match_runs import plan_runs

        starts: dict[str, list[str]] = {"started": [], "merged": []}
        if not self.state_machine_arn or not days:
            return starts
        stepfunctions = self.client("stepfunctions")
        for run in plan_runs(days, batch_id, now=self._now(), window_seconds=self.match_debounce_seconds,
                             suffix=uuid.uuid4().hex[:16]):
            outcome, arn = self._start_run(stepfunctions, run.name, run.input)
            starts[outcome].append(arn)
        return starts

    def _now(self) -> Any:
        """The moment that picks a start's debounce window: the injected clock (tests), else the system's, in UTC."""
        from datetime import datetime, timezone

        return self.clock() if self.clock is not None else datetime.now(timezone.utc)

    def _start_run(self, stepfunctions: Any, name: str, execution_input: dict) -> tuple[str, str]:
        """("started" or "merged", the execution's ARN) for one StartExecution."""
        from datetime import datetime, timezone

        from botocore.exceptions import ClientError

        from .match_runs import execution_arn, returned_an_earlier_start

        assert self.state_machine_arn  # start_matching checked
        called_at = datetime.now(timezone.utc)  # Step Functions' time, not the injected clock: compared to startDate
        try:
            response = stepfunctions.start_execution(stateMachineArn=self.state_machine_arn, name=name,
                                                     input=json.dumps(execution_input))
        except ClientError as refused:
            if refused.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
                raise
            return "merged", execution_arn(self.state_machine_arn, name)  # another input: an earlier file's
        if returned_an_earlier_start(response["startDate"], called_at):  # the same input, still running
            return "merged", response["executionArn"]
        return "started", response["executionArn"]


# --- tracing --------------------------------------------------------------------------------------------------

F = TypeVar("F", bound=Callable[..., Any])


class UntracedTracer:
    """What a handler uses of Powertools' Tracer, for when tracing is off: each decorator returns the function
    itself, as a disabled Tracer's wrapper only calls through. Unlike a disabled `Tracer()`, building it imports
    nothing (the X-Ray SDK takes 0.2-0.4 s to import on its own) and changes no Tracer class-wide config."""

    disabled = True

    def __init__(self, service: str | None = None):
        self.service = service or os.getenv("POWERTOOLS_SERVICE_NAME")

    def capture_lambda_handler(self, lambda_handler: F | None = None, capture_response: bool | None = None,
                               capture_error: bool | None = None) -> Any:
        return lambda_handler if lambda_handler is not None else (lambda handler: handler)

    def capture_method(self, method: F | None = None, capture_response: bool | None = None,
                       capture_error: bool | None = None) -> Any:
        return method if method is not None else (lambda function: function)

    def put_annotation(self, key: str, value: Any) -> None:
        return None

    def put_metadata(self, key: str, value: Any, namespace: str | None = None) -> None:
        return None

    def patch(self, modules: Any = None) -> None:
        return None


def tracing_disabled() -> bool:
    """Powertools' own rule (so the two never disagree): POWERTOOLS_TRACE_DISABLED, or not on Lambda
    (no LAMBDA_TASK_ROOT), or on `sam local` / chalice local. On Lambda with `Tracing: Active`: False."""
    from aws_lambda_powertools.tracing.tracer import Tracer

    return bool(Tracer._is_tracer_disabled())


def make_tracer() -> Any:
    """The handlers' tracer: Powertools' Tracer (X-Ray) when tracing is on, as on Lambda; an `UntracedTracer` when
    it is off, where a `Tracer()` would import the X-Ray SDK only to disable it. Only botocore is patched: every
    call the handlers make leaves through it (boto3 and awswrangler alike), and patching all of the SDK's modules
    (requests, httplib, sqlite3, ...) costs about 0.05 s of every cold start for calls they never make."""
    if tracing_disabled():
        return UntracedTracer()
    from aws_lambda_powertools import Tracer

    return Tracer(patch_modules=("botocore",))
