"""The SAM stack, rebuilt on moto from template.yaml (no Docker, no AWS), for the tests in tests/aws/.

No tests here: helpers and the `stack` fixture (tests/aws/conftest.py hands it to the tests). What it builds, with the
names, settings and environment variables read from template.yaml (intrinsics resolved by a small resolver below):

  - the landing and lake buckets (versioned as in the template), the landing bucket's ObjectCreated and
    ObjectRemoved notifications to the ingest function (per prefix, from the function's S3 events), so a put_object
    or delete_object runs ingest as on AWS;
  - the idempotency and pipeline state tables (key schemas, TTL from the template), the dead-letter queue;
  - the ingest, match and dead-letter functions (their app.py as the deployment package, the template's
    environment), run in-process: moto's LambdaFunction._invoke_lambda, which would start a Docker container, is
    patched to call our handler with a Runtime built from the function's template environment and its own
    moto-backed boto3 session (the lambda-mock pattern of aws-samples/serverless-test-samples);
  - the match_days state machine from statemachine/match_days.asl.json with its DefinitionSubstitutions
    (${MatchFunctionArn}, ${DeadLetterFunctionArn}, ${DeadLetterQueueUrl}, ${BackfillStateMachineArn}) substituted,
    executed by moto's Step Functions interpreter (mock_aws(config={"stepfunctions": {"execute_state_machine": True}}));
  - the backfill_days state machine from statemachine/backfill_days.asl.json, substituted likewise, as
    `moto_item_batcher` rewrites it: moto's ASL parser does not know ItemBatcher (see there);
  - the Glue database and tables exactly as the template declares them;
  - `stack.match_s3`: S3 errors injected into the match function's own session (S3Faults), to test retries;
  - `stack.clock`: the time ingest reads for its debounce windows and match_days' Wait state waits for
    (SimulatedClock); ingest's window is 0 (one execution per file) until a test calls `stack.debounce()`.

S3 event notifications are made what S3 sends for a versioned bucket (s3_events_as_on_aws, active in both
fixtures): every record carries the object's `versionId` and a `sequencer` (moto sends neither; ours increase
through the test process, so a later event of a key is newer), and a delete marker created by delete_object sends
ObjectRemoved:DeleteMarkerCreated (moto sends nothing for it), with no size or eTag, as S3 does.

What moto does not do, and how the tests deal with it: it runs no Lambda async retries or OnFailure destinations
(a dead letter from ingest is built in the shape of events/dlq_message_ingest.json), no Athena queries (the
Glue tables are read back with awswrangler instead), and its Retry really sleeps (the sleep is patched and recorded).
Its states:startExecution integration hands the Task's parameters to boto3 as written (StateMachineArn, Name,
Input), which boto3 refuses (its names are stateMachineArn, name, input), and answers boto3's names (executionArn,
startDate) where AWS answers ExecutionArn and StartDate: `sfn_integration_as_on_aws` translates both ways.
Its Wait with a Timestamp or TimestampPath sleeps in real time until that moment (0 s when it is past), which it
compares with datetime.now(), the machine's naive local time (right only where that is UTC): the stack patches it to
wait on `stack.clock` instead (`waits_on_clock`). Its StartExecution of a name already used answers as AWS does: the
running execution when the input is the same, else ExecutionAlreadyExists.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import io
import itertools
import json
import os
import re
import threading
import time
import traceback
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable
from unittest import mock

import boto3
import pytest
import yaml
from bcjourney.runtime import Runtime
from bcjourney_tools.local.handlers import LocalLambdaContext
from moto import mock_aws
from moto.awslambda.models import LambdaFunction
from moto.s3 import notifications as s3_notifications
from moto.s3.models import FakeDeleteMarker, S3Backend
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEventException
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
    StateTaskServiceSfn,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import Timestamp

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
ASL = REPO / "statemachine" / "match_days.asl.json"
BACKFILL_ASL = REPO / "statemachine" / "backfill_days.asl.json"
ACCOUNT = "123456789012"  # moto's default account
REGION = "eu-west-1"


# ---------------------------------------------------------------------------------------------------------------------
# template.yaml: load with the CloudFormation short tags, resolve the intrinsics the tests need
# ---------------------------------------------------------------------------------------------------------------------
class CfnLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """YAML loader that turns `!Ref X` into {"Ref": "X"} and `!Sub ...` into {"Fn::Sub": ...}, etc."""


def _cfn_tag(loader: CfnLoader, suffix: str, node: yaml.Node) -> dict:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


def _mapping_without_duplicates(loader: CfnLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    keys = [loader.construct_object(k, deep=deep) for k, _ in node.value]
    duplicates = sorted({k for k in keys if keys.count(k) > 1}, key=str)
    if duplicates:  # CloudFormation refuses them; PyYAML would silently keep the last one
        raise yaml.constructor.ConstructorError(None, None, f"duplicate keys {duplicates}", node.start_mark)
    return yaml.constructor.SafeConstructor.construct_mapping(loader, node, deep=deep)


CfnLoader.add_multi_constructor("!", _cfn_tag)
CfnLoader.construct_mapping = _mapping_without_duplicates


_template_cache: dict[tuple, dict] = {}


def load_template() -> dict:
    """template.yaml as a dict (a fresh copy; parsed once per version of the file)."""
    stat = TEMPLATE.stat()
    version = (stat.st_mtime_ns, stat.st_size)
    if version not in _template_cache:
        _template_cache.clear()
        _template_cache[version] = yaml.load(TEMPLATE.read_text(), Loader=CfnLoader)
    return copy.deepcopy(_template_cache[version])


def parameter_defaults(template: dict) -> dict[str, Any]:
    values = {}
    for name, spec in template["Parameters"].items():
        default = spec.get("Default")
        if spec["Type"] == "CommaDelimitedList" and isinstance(default, str):
            default = [v.strip() for v in default.split(",")]
        values[name] = default
    return values


def resolve(value: Any, names: dict[str, Any]) -> Any:
    """Resolve Ref, Fn::GetAtt, Fn::Sub and Fn::Join against `names` ({"Logical": ref value,
    "Logical.Attr": attribute value, parameters, pseudo parameters})."""
    if isinstance(value, list):
        return [resolve(v, names) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"}:
        return names[value["Ref"]]
    if set(value) == {"Fn::GetAtt"}:
        logical, attribute = value["Fn::GetAtt"]
        return names[f"{logical}.{attribute}"]
    if set(value) == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        parts = resolve(parts, names)
        return separator.join(str(p) for p in parts)
    if set(value) == {"Fn::Sub"}:
        text, extra = (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]
        scope = {**names, **resolve(extra, names)}

        def substitute(match: re.Match) -> str:
            if match.group(1):  # ${!Literal} stays ${Literal}
                return "${" + match.group(2) + "}"
            return str(scope[match.group(2)])

        return re.sub(r"\$\{(!?)([^}]*)\}", substitute, text)
    return {k: resolve(v, names) for k, v in value.items()}


def function_env(template: dict, logical: str, names: dict[str, Any]) -> dict[str, str]:
    """A function's environment as Lambda would set it: Globals, then the function's own variables."""
    env = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    env.update(template["Resources"][logical]["Properties"].get("Environment", {}).get("Variables", {}))
    return {k: str(v) for k, v in resolve(env, names).items()}


def glue_table_inputs(template: dict, names: dict[str, Any]) -> dict[str, dict]:
    """TableInput of every AWS::Glue::Table in the template, resolved, by table name."""
    tables = {}
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Glue::Table":
            table_input = resolve(resource["Properties"]["TableInput"], names)
            tables[table_input["Name"]] = table_input
    return tables


def projection_pattern(location_template: str) -> re.Pattern:
    """`s3://b/x/partner=${partner}/dt=${dt}/` -> a regex matching a key's folder, one group per projected column."""
    pattern, last = "", 0
    for match in re.finditer(r"\$\{(\w+)\}", location_template):
        pattern += re.escape(location_template[last:match.start()]) + f"(?P<{match.group(1)}>[^/]+)"
        last = match.end()
    return re.compile(pattern + re.escape(location_template[last:]))


# ---------------------------------------------------------------------------------------------------------------------
# Handlers and data
# ---------------------------------------------------------------------------------------------------------------------
_loaded = 0


def load_handler(name: str):
    """functions/<name>/app.py as a fresh module (its globals, e.g. RUNTIME, are per test)."""
    global _loaded
    _loaded += 1
    spec = importlib.util.spec_from_file_location(f"test_aws_fn_{name}_{_loaded}", REPO / "functions" / name / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def deployment_zip(name: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(REPO / "functions" / name / "app.py", "app.py")
    return buffer.getvalue()


# Two days of clicks, registrations 1-3 s after most of them, one before midnight registered after it.
CLICKS = """id;session_id;country_name;is_mobile;ui_element;created_at;measurement_category
1;10;Hungary;1;broker-name-link;2024-04-01 10:00:00;01bestca/02notrel/03notrel
2;11;Germany;0;popularity-box-whole-row-link;2024-04-01 11:30:00;01review/02notrel/03review
3;12;France;0;broker-name-link;2024-04-01 15:45:10;01bestca/02notrel/03notrel
4;13;Spain;1;dynamic score top broker list row;2024-04-01 23:59:59;01homepa/02notrel/03notrel
5;14;Italy;0;broker-name-link;2024-04-02 09:12:00;01review/02notrel/03review
6;15;Austria;1;broker-name-link;2024-04-02 18:00:00;01bestca/02notrel/03notrel
"""
REGISTRATIONS = """timestamp,country_residency,ip_country,important_score
1711965601,,Hungary,42
1711971002,,Germany,0
1711986312,,France,77
1712016001,,Spain,5
1712049121,,Italy,60
"""
MAPPING = """page_category;measurement_category
Best brokers;01bestca/02notrel/03notrel
Broker reviews - general;01review/02notrel/03review
Home page;01homepa/02notrel/03notrel
"""
LANDING = {"reference/page_category_mapping.csv": MAPPING, "conversions/clicks 2024-04-01.csv": CLICKS,
           "broker/acme/registrations.csv": REGISTRATIONS}


# ---------------------------------------------------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------------------------------------------------
def client_error(code: str, operation: str = "ListObjectsV2", status: int = 503) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": f"simulated {code}"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, operation)


class S3Faults:
    """Errors that the next S3 calls of one boto3 session raise: S3 having a bad minute, as one function sees it.
    Raised from botocore's before-call hook (the way aws-sdk-pandas' moto tests fail a call), so each error travels
    through awswrangler and the storage adapter exactly as a real one would (after botocore's own retries)."""

    def __init__(self, session: boto3.Session):
        self._session = session
        self._errors: list[Exception] = []
        self._lock = threading.Lock()
        self.raised: list[tuple[str, str]] = []  # (operation, error code)
        session.events.register("before-call.s3", self._before_call, unique_id="test-s3-faults")

    def fail_next(self, *errors: Exception) -> None:
        with self._lock:
            self._errors.extend(errors)

    def heal(self) -> None:
        with self._lock:
            self._errors.clear()

    def close(self) -> None:
        self.heal()
        self._session.events.unregister("before-call.s3", unique_id="test-s3-faults")

    def _before_call(self, model, **kwargs) -> None:
        with self._lock:
            error = self._errors.pop(0) if self._errors else None
        if error is not None:
            self.raised.append((model.name, getattr(error, "response", {}).get("Error", {}).get("Code", "")))
            raise error


# ---------------------------------------------------------------------------------------------------------------------
# S3 notifications as S3 sends them for a versioned bucket
# ---------------------------------------------------------------------------------------------------------------------
_sequencers = itertools.count(1)


def next_sequencer() -> str:
    """An S3-style sequencer (hex; a later event of a key has a greater one), lower than those of events/*.json, so
    an event file invoked after the upload it names is the newer event, as when it is sent after the upload."""
    return f"{next(_sequencers):018X}"


_moto_s3_event = s3_notifications._get_s3_event


def _s3_event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict:
    marker = isinstance(key, FakeDeleteMarker)  # moto's builder reads size and eTag, which a marker has not
    event = _moto_s3_event(event_name, bucket, SimpleNamespace(name=key.name, etag="", size=0) if marker else key,
                           notification_id)
    obj = event["Records"][0]["s3"]["object"]
    if marker:
        del obj["size"], obj["eTag"]
    if bucket.is_versioned and key.version_id not in (None, "null"):
        obj["versionId"] = key.version_id
    obj["sequencer"] = next_sequencer()
    return event


_moto_set_delete_marker = S3Backend._set_delete_marker


def _set_delete_marker_and_notify(self: S3Backend, bucket_name: str, key_name: str) -> FakeDeleteMarker:
    marker = _moto_set_delete_marker(self, bucket_name, key_name)
    s3_notifications.send_event(self.account_id, s3_notifications.S3NotificationEvent
                                .OBJECT_REMOVED_DELETE_MARKER_CREATED_EVENT, self.get_bucket(bucket_name), marker)
    return marker


@contextlib.contextmanager
def s3_events_as_on_aws():
    """Patch moto's S3 notifications into what S3 sends: versionId and sequencer on every record, and an
    ObjectRemoved:DeleteMarkerCreated event when delete_object adds a delete marker."""
    with mock.patch.object(s3_notifications, "_get_s3_event", _s3_event), \
            mock.patch.object(S3Backend, "_set_delete_marker", _set_delete_marker_and_notify):
        yield


# ---------------------------------------------------------------------------------------------------------------------
# Step Functions' own integration (states:startExecution) as AWS names its fields
# ---------------------------------------------------------------------------------------------------------------------
_moto_sfn_service_task = StateTaskServiceSfn._eval_service_task


def _sfn_service_task_as_on_aws(self, env, resource_runtime_part, normalised_parameters, state_credentials):
    boto_parameters = {key[:1].lower() + key[1:]: value for key, value in normalised_parameters.items()}
    _moto_sfn_service_task(self, env, resource_runtime_part, boto_parameters, state_credentials)
    response = env.stack.pop()
    env.stack.append({key[:1].upper() + key[1:]: value.isoformat() if hasattr(value, "isoformat") else value
                      for key, value in response.items()})


@contextlib.contextmanager
def sfn_integration_as_on_aws():
    """Patch moto's states:startExecution integration to take and give the field names AWS's does."""
    with mock.patch.object(StateTaskServiceSfn, "_eval_service_task", _sfn_service_task_as_on_aws):
        yield


# ---------------------------------------------------------------------------------------------------------------------
# Time: ingest's debounce windows and match_days' Wait state read one clock, which the tests move
# ---------------------------------------------------------------------------------------------------------------------
WAIT_REAL_SECONDS = 60  # how long (real time) a Wait may block on a clock no test moves before it fails


class SimulatedClock:
    """The time the ingest function reads (its Runtime's clock, which picks a start's debounce window) and the time
    match_days' Wait states wait for. It moves only when a test moves it: the test says when a window closes, and a
    Wait until a moment not reached yet holds its execution's thread meanwhile, as a waiting execution on AWS."""

    def __init__(self, start: datetime):
        self._now = start
        self._moved = threading.Condition()

    def now(self) -> datetime:
        with self._moved:
            return self._now

    def set(self, moment: datetime) -> datetime:
        with self._moved:
            self._now = moment
            self._moved.notify_all()
        return moment

    def advance(self, seconds: float) -> datetime:
        return self.set(self.now() + timedelta(seconds=seconds))

    def wait_until(self, moment: datetime, timeout: float) -> bool:
        with self._moved:
            return self._moved.wait_for(lambda: self._now >= moment, timeout)


def waits_on_clock(stack: "Stack") -> Callable:
    """A replacement for moto's Timestamp(Path) wait: the same checks of the timestamp (failing the execution with
    States.Runtime when it is not an ISO-8601 UTC time), then it records the timestamp in `stack.waits` and blocks
    until `stack.clock` reaches it (instead of sleeping in real time), and tells moto to wait 0 s more."""

    def wait_seconds(self: Timestamp, env: Any) -> int:
        self.string.eval(env=env)
        timestamp = env.stack.pop()
        moment = self._from_timestamp_string(timestamp=timestamp)  # naive, read from its "Z": UTC
        if moment is None:
            raise FailureEventException(self._create_failure_event(env, timestamp))
        stack.waits.append(timestamp)
        if not stack.clock.wait_until(moment.replace(tzinfo=timezone.utc), WAIT_REAL_SECONDS):
            raise TimeoutError(f"the stack's clock did not reach {timestamp} in {WAIT_REAL_SECONDS} s")
        return 0

    return wait_seconds


# ---------------------------------------------------------------------------------------------------------------------
# The stack
# ---------------------------------------------------------------------------------------------------------------------
class ProcessKilled(BaseException):
    """Raised inside a handler by a test: the Lambda runtime dies there (out of memory, the timeout). Being no
    Exception, it passes every `except Exception` of the handler's code, as a kill would, so Powertools'
    idempotency keeps its INPROGRESS record; the invoker reports it as Lambda does, Runtime.ExitError."""


@dataclass
class Invocation:
    function: str
    event: Any
    result: Any = None
    error: str | None = None


@dataclass
class Stack:
    session: boto3.Session
    template: dict
    names: dict[str, Any]
    landing_bucket: str
    lake_bucket: str
    table_name: str  # the idempotency table
    state_table: str  # the pipeline state table (PIPELINE_STATE_TABLE)
    queue_url: str
    state_machine_arn: str
    ingest_function: str
    match_function: str
    dead_letter_function: str
    ingest_queue_url: str
    ingest_batch_size: int
    runtimes: dict[str, Runtime]
    handlers: dict[str, Any]
    match_s3: S3Faults
    backfill_arn: str = ""  # the backfill_days state machine (as moto_item_batcher rewrites it)
    invocations: list[Invocation] = field(default_factory=list)
    retry_sleeps: list[float] = field(default_factory=list)
    clock: SimulatedClock = field(default_factory=lambda: SimulatedClock(datetime.now(timezone.utc)))
    waits: list[str] = field(default_factory=list)  # the timestamps match_days' Wait states waited for, in order

    def client(self, service: str):
        return cached_client(self.session, service)

    def debounce(self, seconds: int | None = None) -> int:
        """Turn on ingest's debounce window: the template's MatchDebounceSeconds (the stack starts with 0, one
        execution per file, which the tests written before the window count on), or `seconds`. Returns it."""
        window = int(self.names["MatchDebounceSeconds"]) if seconds is None else seconds
        self.runtimes["ingest"].match_debounce_seconds = window
        return window

    def upload(self, key: str, body: str | bytes) -> dict:
        """Put a landing object; its notification goes to the ingest queue, and the queue's poller runs ingest.
        Returns put_object's answer."""
        answer = self.client("s3").put_object(Bucket=self.landing_bucket, Key=key,
                                              Body=body.encode() if isinstance(body, str) else body)
        self.poll_ingest_queue()
        return answer

    def delete(self, key: str) -> dict:
        """Delete a landing key as `aws s3 rm` does: the versioned bucket adds a delete marker, whose
        ObjectRemoved:DeleteMarkerCreated notification runs ingest the same way. Returns delete_object's answer."""
        answer = self.client("s3").delete_object(Bucket=self.landing_bucket, Key=key)
        self.poll_ingest_queue()
        return answer

    def poll_ingest_queue(self, max_batches: int = 100) -> list[Invocation]:
        """Lambda's SQS poller, as the template's event source configures it: receive a batch (the queue hides it
        for its visibility timeout), invoke ingest synchronously with the SQS event, delete the messages that did
        not fail. A failed message stays hidden until its visibility timeout ends (tests end it early with
        `reveal_ingest_messages`) and, after maxReceiveCount receives, moto's redrive moves it to the dead-letter
        queue. (moto's own event source mapping does not fire for S3 notifications, and ignores
        batchItemFailures.)"""
        sqs, done = self.client("sqs"), []
        for _ in range(max_batches):
            messages = sqs.receive_message(QueueUrl=self.ingest_queue_url, MaxNumberOfMessages=self.ingest_batch_size,
                                           AttributeNames=["All"]).get("Messages", [])
            if not messages:
                break
            event = {"Records": [{
                "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs", "eventSourceARN": self.names["IngestQueue.Arn"], "awsRegion": REGION,
            } for m in messages]}
            response = self.client("lambda").invoke(FunctionName=self.ingest_function, Payload=json.dumps(event))
            payload = json.loads(response["Payload"].read() or b"null")
            failed = ({m["MessageId"] for m in messages} if "FunctionError" in response
                      else {f["itemIdentifier"] for f in (payload or {}).get("batchItemFailures", [])})
            for m in messages:
                if m["MessageId"] not in failed:
                    sqs.delete_message(QueueUrl=self.ingest_queue_url, ReceiptHandle=m["ReceiptHandle"])
            done.append(self.calls(self.ingest_function)[-1])
        return done

    def reveal_ingest_messages(self) -> int:
        """End the visibility timeout of the messages in flight (what waiting 5400 s would do); returns how many."""
        from moto.sqs.models import sqs_backends

        queue = sqs_backends[ACCOUNT][REGION].get_queue(self.names["IngestQueue.QueueName"])
        hidden = [m for m in queue._messages if not m.visible]
        for message in hidden:
            message.change_visibility(0)
        return len(hidden)

    def calls(self, function: str) -> list[Invocation]:
        return [i for i in self.invocations if i.function == function]

    def executions(self) -> list[dict]:
        return self.client("stepfunctions").list_executions(stateMachineArn=self.state_machine_arn)["executions"]

    def wait(self, execution_arn: str, timeout: float = 30) -> dict:
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            described = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} still RUNNING after {timeout} s")
            time.sleep(0.05)

    def wait_all(self, timeout: float = 30) -> list[dict]:
        """Every match_days execution, then every backfill_days one (match_days starts those), once finished."""
        done = [self.wait(e["executionArn"], timeout) for e in self.executions()]
        backfills = self.client("stepfunctions").list_executions(stateMachineArn=self.backfill_arn)["executions"]
        return done + [self.wait(e["executionArn"], timeout) for e in backfills]

    def dead_letters(self) -> list:
        """Every message in the dead-letter queue (bodies parsed when JSON), made visible again afterwards."""
        sqs = self.client("sqs")
        messages, bodies = [], []
        while True:
            batch = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                break
            messages += batch
        for message in messages:
            try:
                bodies.append(json.loads(message["Body"]))
            except ValueError:
                bodies.append(message["Body"])
            sqs.change_message_visibility(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"],
                                          VisibilityTimeout=0)
        return bodies

    def lake_keys(self, prefix: str = "") -> list[str]:
        pages = self.client("s3").get_paginator("list_objects_v2").paginate(Bucket=self.lake_bucket, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


TABLES = ("IdempotencyTable", "PipelineStateTable")
QUEUES = ("DeadLetterQueue", "IngestQueue")  # the dead-letter queue first: the ingest queue's redrive names it


def _names(template: dict) -> dict[str, Any]:
    """Physical names and ARNs of the resources, as CloudFormation would give them for the default parameters."""
    names: dict[str, Any] = {"AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": "aws",
                             "AWS::StackName": "bcjourney", **parameter_defaults(template)}
    resources = template["Resources"]
    for logical, resource in resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::S3::Bucket":
            bucket = resolve(props["BucketName"], names)
            names.update({logical: bucket, f"{logical}.Arn": f"arn:aws:s3:::{bucket}"})
    for logical in TABLES:  # no TableName in the template: CloudFormation makes one up, like this
        names[logical] = f"bcjourney-{logical}-MOTO"
        names[f"{logical}.Arn"] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{names[logical]}"
    for logical in QUEUES:
        queue = resolve(resources[logical]["Properties"]["QueueName"], names)
        names.update({logical: f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{queue}",
                      f"{logical}.QueueName": queue, f"{logical}.Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}"})
    for logical in ("IngestFunction", "MatchFunction", "RedriveFunction", "DeadLetterFunction"):
        function = resolve(resources[logical]["Properties"]["FunctionName"], names)
        names.update({logical: function, f"{logical}.Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}"})
    machine = resolve(resources["MatchDaysStateMachine"]["Properties"]["Name"], names)
    names["MatchDaysStateMachine"] = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{machine}"
    names["MatchDaysStateMachine.Name"] = machine
    backfill = resolve(resources["BackfillStateMachine"]["Properties"]["Name"], names)
    names["BackfillStateMachine"] = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{backfill}"
    names["BackfillStateMachine.Name"] = backfill
    names["GlueDatabase"] = resolve(resources["GlueDatabase"]["Properties"]["DatabaseInput"]["Name"], names)
    names["AthenaWorkGroup"] = resolve(resources["AthenaWorkGroup"]["Properties"]["Name"], names)
    return names


_sessions: dict[str, boto3.Session] = {}


def shared_session(role: str) -> boto3.Session:
    """One boto3 session per role ("test", or a function's name) for the whole test process: botocore loads its
    service models once per session. Moto intercepts clients whenever a mock is active, whenever they were made."""
    if role not in _sessions:
        _sessions[role] = boto3.Session(region_name=REGION)
    return _sessions[role]


def cached_client(session: boto3.Session, service: str):
    """One client per session and service: creating a botocore client costs ~0.1 s."""
    clients = session.__dict__.setdefault("_test_clients", {})
    if service not in clients:
        clients[service] = session.client(service)
    return clients[service]


def substituted(asl_path: Path, machine: dict, names: dict[str, Any]) -> str:
    """The ASL file with the state machine's DefinitionSubstitutions filled in, as SAM deploys it."""
    definition = asl_path.read_text()
    for placeholder, value in resolve(machine["DefinitionSubstitutions"], names).items():
        definition = definition.replace("${" + placeholder + "}", value)
    assert "${" not in definition
    return definition


MOTO_BATCHES = "moto_item_batcher"


def moto_item_batcher(asl: dict) -> dict:
    """The definition with each top-level Map's ItemBatcher spelled in what moto's parser knows (moto 5.x rejects
    "ItemBatcher" and "BatchInput" at create_state_machine, and its ToleratedFailurePercentage must be written as a
    decimal). A Pass state before the Map cuts ItemsPath into lists of MaxItemsPerBatch with States.ArrayPartition
    (moto's own intrinsic, so the batching is still done by the interpreter, not by the test), and the Map's
    ItemSelector builds what AWS hands each child execution: {"Items": [...], "BatchInput": {...}} (BatchInput is
    evaluated against the Map's input in both). Everything else, the child states included, is left as it is. The one
    visible difference: the Map's input (hence the output) also carries the batches, under $.moto_item_batcher."""
    asl = copy.deepcopy(asl)
    states = asl["States"]
    for name, state in list(states.items()):
        batcher = state.get("ItemBatcher")
        if state.get("Type") != "Map" or batcher is None:
            continue
        del state["ItemBatcher"]
        batches = f"{name}MotoBatches"
        states[batches] = {"Type": "Pass", "Next": name, "ResultPath": f"$.{MOTO_BATCHES}", "Parameters": {
            "batches.$": f"States.ArrayPartition({state.get('ItemsPath', '$')}, {batcher['MaxItemsPerBatch']})"}}
        state["ItemsPath"] = f"$.{MOTO_BATCHES}.batches"
        state["ItemSelector"] = {"Items.$": "$$.Map.Item.Value",
                                 **({"BatchInput": batcher["BatchInput"]} if "BatchInput" in batcher else {})}
        if "ToleratedFailurePercentage" in state:
            state["ToleratedFailurePercentage"] = float(state["ToleratedFailurePercentage"])
        if asl["StartAt"] == name:
            asl["StartAt"] = batches
        for other in states.values():
            if other.get("Next") == name and other is not states[batches]:
                other["Next"] = batches
    return asl


def build_stack(session: boto3.Session) -> Stack:
    template = load_template()
    names = _names(template)
    resources = template["Resources"]
    s3 = cached_client(session, "s3")

    for logical in ("LandingBucket", "LakeBucket"):
        s3.create_bucket(Bucket=names[logical], CreateBucketConfiguration={"LocationConstraint": REGION})
        versioning = resources[logical]["Properties"].get("VersioningConfiguration")
        if versioning:
            s3.put_bucket_versioning(Bucket=names[logical], VersioningConfiguration=versioning)

    dynamodb = cached_client(session, "dynamodb")
    for logical in TABLES:
        table = resources[logical]["Properties"]
        dynamodb.create_table(TableName=names[logical], BillingMode=table["BillingMode"],
                              AttributeDefinitions=table["AttributeDefinitions"], KeySchema=table["KeySchema"])
        if "TimeToLiveSpecification" in table:  # the state table has none: its items must never expire
            dynamodb.update_time_to_live(TableName=names[logical],
                                         TimeToLiveSpecification=table["TimeToLiveSpecification"])

    for logical in QUEUES:
        queue = resolve(resources[logical]["Properties"], names)
        attributes = {"VisibilityTimeout": str(queue["VisibilityTimeout"]),
                      "MessageRetentionPeriod": str(queue["MessageRetentionPeriod"])}
        if "RedrivePolicy" in queue:
            attributes["RedrivePolicy"] = json.dumps(queue["RedrivePolicy"])
        queue_url = cached_client(session, "sqs").create_queue(QueueName=queue["QueueName"],
                                                               Attributes=attributes)["QueueUrl"]
        assert queue_url == names[logical], (queue_url, names[logical])
    queue_url = names["DeadLetterQueue"]

    iam = cached_client(session, "iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]}}]}
    role = iam.create_role(RoleName="bcjourney-moto", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]

    lambda_client = cached_client(session, "lambda")
    globals_ = template["Globals"]["Function"]
    for logical, folder in (("MatchFunction", "match"), ("IngestFunction", "ingest"), ("RedriveFunction", "redrive"),
                            ("DeadLetterFunction", "dead_letter")):
        props = resources[logical]["Properties"]
        created = lambda_client.create_function(
            FunctionName=names[logical], Runtime=globals_["Runtime"], Role=role, Handler=globals_["Handler"],
            Code={"ZipFile": deployment_zip(folder)}, Timeout=props["Timeout"],
            MemorySize=int(resolve(props["MemorySize"], names)),
            Environment={"Variables": function_env(template, logical, names)})
        assert created["FunctionArn"] == names[f"{logical}.Arn"]

    machine = resources["MatchDaysStateMachine"]["Properties"]
    arn = cached_client(session, "stepfunctions").create_state_machine(
        name=names["MatchDaysStateMachine.Name"], definition=substituted(ASL, machine, names), roleArn=role,
        type=machine["Type"],
    )["stateMachineArn"]
    assert arn == names["MatchDaysStateMachine"]
    backfill = resources["BackfillStateMachine"]["Properties"]
    backfill_arn = cached_client(session, "stepfunctions").create_state_machine(
        name=names["BackfillStateMachine.Name"], roleArn=role, type=backfill["Type"],
        definition=json.dumps(moto_item_batcher(json.loads(substituted(BACKFILL_ASL, backfill, names)))),
    )["stateMachineArn"]
    assert backfill_arn == names["BackfillStateMachine"]

    # The landing bucket's notifications to the ingest queue, and the queue's event source mapping to ingest (moto's
    # mapping invokes the function as each message arrives and deletes the message when the invocation succeeds).
    notifications = []
    for number, entry in enumerate(resolve(resources["LandingBucket"]["Properties"]["NotificationConfiguration"]
                                           ["QueueConfigurations"], names)):
        rules = [{"Name": r["Name"], "Value": r["Value"]} for r in entry["Filter"]["S3Key"]["Rules"]]
        notifications.append({"Id": f"landing-{number}", "QueueArn": entry["Queue"], "Events": [entry["Event"]],
                              "Filter": {"Key": {"FilterRules": rules}}})
    s3.put_bucket_notification_configuration(Bucket=names["LandingBucket"],
                                             NotificationConfiguration={"QueueConfigurations": notifications})
    (source,) = [resolve(e["Properties"], names) for e in resources["IngestFunction"]["Properties"]["Events"].values()
                 if e["Type"] == "SQS"]
    assert source["Queue"] == names["IngestQueue.Arn"]
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    cached_client(session, "sqs").purge_queue(QueueUrl=names["IngestQueue"])  # S3's s3:TestEvent

    glue = cached_client(session, "glue")
    database = resolve(resources["GlueDatabase"]["Properties"]["DatabaseInput"], names)
    glue.create_database(DatabaseInput=database)
    for table_input in glue_table_inputs(template, names).values():
        glue.create_table(DatabaseName=database["Name"], TableInput=table_input)

    # Each function gets its own session (as its own process would) and a Runtime from its template environment.
    runtimes, handlers = {}, {}
    for logical, folder in (("IngestFunction", "ingest"), ("MatchFunction", "match"),
                            ("DeadLetterFunction", "dead_letter")):
        with mock.patch.dict(os.environ, function_env(template, logical, names)):
            runtimes[folder] = Runtime.from_environment(boto3_session=shared_session(folder))
        handlers[names[logical]] = load_handler(folder)
        handlers[names[logical]].RUNTIME = runtimes[folder]
    assert runtimes["ingest"].match_debounce_seconds == int(names["MatchDebounceSeconds"])  # the template's, read
    runtimes["ingest"].match_debounce_seconds = 0  # until a test turns it on (Stack.debounce)

    built = Stack(session=session, template=template, names=names, landing_bucket=names["LandingBucket"],
                  lake_bucket=names["LakeBucket"], table_name=names["IdempotencyTable"],
                  state_table=names["PipelineStateTable"], queue_url=queue_url,
                  state_machine_arn=arn, ingest_function=names["IngestFunction"],
                  match_function=names["MatchFunction"], dead_letter_function=names["DeadLetterFunction"],
                  ingest_queue_url=names["IngestQueue"], ingest_batch_size=int(source["BatchSize"]),
                  runtimes=runtimes, handlers=handlers,
                  match_s3=S3Faults(runtimes["match"].boto3_session), backfill_arn=backfill_arn)
    built.runtimes["ingest"].clock = built.clock.now
    return built


def in_process_invoker(stack: Stack) -> Callable:
    """Replacement for moto's LambdaFunction._invoke_lambda (which runs Docker): calls our handler in-process and
    answers as moto's Docker path does, (payload, errored, logs), the error payload shaped as Lambda's."""
    lock = threading.RLock()  # one invocation at a time, as one warm Lambda instance

    def invoke(function: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
        handler = stack.handlers[function.function_name]
        record = Invocation(function.function_name, event)
        stack.invocations.append(record)
        with lock:
            try:
                record.result = handler.lambda_handler(event, LocalLambdaContext(function.function_name))
            except ProcessKilled as killed:
                record.error = "Runtime.ExitError"
                payload = {"errorMessage": f"Runtime exited: {killed}", "errorType": "Runtime.ExitError"}
                return json.dumps(payload), True, ""
            except Exception as exc:
                record.error = type(exc).__name__
                payload = {"errorMessage": str(exc), "errorType": type(exc).__name__, "requestId": "",
                           "stackTrace": traceback.format_tb(exc.__traceback__)}
                return json.dumps(payload), True, ""
        return json.dumps(record.result, default=str), False, ""

    return invoke


@pytest.fixture(scope="session")
def curated_lake() -> dict[str, bytes]:
    """The lake objects that ingesting LANDING writes (curated/, quarantine/, _reports/), computed once per test
    process by the real ingest handler on a throwaway moto stack, so tests about matching can start from them."""
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}), s3_events_as_on_aws(), \
            mock.patch.dict(os.environ, {"POWERTOOLS_METRICS_DISABLED": "true"}):
        built = build_stack(shared_session("test"))
        built.runtimes["ingest"].state_machine_arn = None
        with mock.patch.object(LambdaFunction, "_invoke_lambda", in_process_invoker(built)):
            for key, body in LANDING.items():
                built.upload(key, body)
        built.match_s3.close()
        assert [c.error for c in built.invocations] == [None] * len(LANDING)
        s3 = built.client("s3")
        return {key: s3.get_object(Bucket=built.lake_bucket, Key=key)["Body"].read() for key in built.lake_keys()}


@pytest.fixture
def stack(monkeypatch):
    """The stack on moto; a landing upload runs ingest, which starts match_days, which runs match."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_IDEMPOTENCY_DISABLED", "false")
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}), s3_events_as_on_aws(), \
            sfn_integration_as_on_aws():
        built = build_stack(shared_session("test"))
        monkeypatch.setattr(LambdaFunction, "_invoke_lambda", in_process_invoker(built))
        # moto's Retry sleeps for real (IntervalSeconds x BackoffRate^n, full jitter): record the delay instead.
        monkeypatch.setattr(retrier_decl, "time", mock.Mock(sleep=built.retry_sleeps.append))
        monkeypatch.setattr(Timestamp, "_get_wait_seconds", waits_on_clock(built))
        try:
            yield built
        finally:
            built.match_s3.heal()
            built.clock.set(datetime.max.replace(tzinfo=timezone.utc))  # every Wait ends
            try:
                built.wait_all()  # no execution thread may outlive the mock
            finally:
                built.match_s3.close()
