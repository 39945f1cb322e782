"""template.yaml against the code and files it must agree with.

The Athena named queries: each athena_queries/*.sql is inlined in template.yaml (bcjourney_tools.named_queries
generates the block). These tests fail when a file and its inline copy differ, when a file has no named query or a
named query no file. To bring the template in line: `.venv/bin/python -m bcjourney_tools.named_queries --write`.
"""

from __future__ import annotations

import json
import re

from bcjourney.ingest.sources import DATA_SUFFIXES
from bcjourney_tools.named_queries import generated_block, query_files
from moto_stack import ASL, BACKFILL_ASL, REPO, TEMPLATE, load_template


def named_queries(template: dict) -> dict[str, dict]:
    return {r["Properties"]["Name"]: r["Properties"] for r in template["Resources"].values()
            if r["Type"] == "AWS::Athena::NamedQuery"}


def test_every_query_file_is_a_named_query_with_the_file_as_its_query_string():
    queries = named_queries(load_template())
    files = {p.stem: p for p in query_files()}
    assert files, "no athena_queries/*.sql"
    hint = "run: .venv/bin/python -m bcjourney_tools.named_queries --write"
    assert sorted(queries) == sorted(files), hint
    for name, path in files.items():
        assert queries[name]["QueryString"] == path.read_text(), f"{name} differs from its file; {hint}"
        assert queries[name]["Database"] == {"Ref": "GlueDatabase"}
        assert queries[name]["WorkGroup"] == {"Ref": "AthenaWorkGroup"}


def test_the_generated_block_is_what_the_template_holds():
    """Byte for byte, so the --write tool and a hand edit cannot drift apart."""
    assert generated_block() in TEMPLATE.read_text()


def test_named_queries_fit_athena_limits():
    for name, props in named_queries(load_template()).items():
        assert 1 <= len(name) <= 128 and len(props["Description"]) <= 1024
        assert len(props["QueryString"].encode()) <= 262144


def test_the_state_machine_retries_the_error_the_match_handler_raises():
    from bcjourney.runtime import TransientMatchError

    asl = json.loads((REPO / "statemachine" / "match_days.asl.json").read_text())
    task = asl["States"]["MatchDays"]["ItemProcessor"]["States"]["MatchDay"]
    retried = {name for retrier in task["Retry"] for name in retrier["ErrorEquals"]}
    assert TransientMatchError.__name__ in retried


def test_the_functions_get_the_environment_their_code_reads():
    resources = load_template()["Resources"]
    env = {name: set(resources[name]["Properties"]["Environment"]["Variables"])
           for name in ("IngestFunction", "MatchFunction", "RedriveFunction")}
    assert {"LAKE_URI", "IDEMPOTENCY_TABLE", "MATCH_STATE_MACHINE_ARN"} <= env["IngestFunction"]
    assert "LAKE_URI" in env["MatchFunction"]
    assert {"DEAD_LETTER_QUEUE_URL", "MATCH_STATE_MACHINE_ARN", "INGEST_QUEUE_URL"} <= env["RedriveFunction"]
    # Powertools idempotency: get, put (conditional), update (save success), delete (on failure) on the table.
    statements = [s for p in resources["IngestFunction"]["Properties"]["Policies"] if isinstance(p, dict)
                  for s in p.get("Statement", [])]
    actions = {a for s in statements if s.get("Resource") == {"Fn::GetAtt": ["IdempotencyTable", "Arn"]}
               for a in s["Action"]}
    assert {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"} <= actions
    # The redrive role may do what bcjourney.redrive does: receive, delete, change visibility of dead letters; send
    # to the ingest queue (only); start the state machine.
    redrive = [s for p in resources["RedriveFunction"]["Properties"]["Policies"] for s in p["Statement"]]
    granted = {a for s in redrive for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:SendMessage",
            "states:StartExecution"} <= granted
    assert "lambda:InvokeFunction" not in granted
    (send,) = [s for s in redrive if s["Action"] == "sqs:SendMessage"]
    assert send["Resource"] == {"Fn::GetAtt": ["IngestQueue", "Arn"]}



def test_the_dead_letter_handler_gets_what_it_needs_and_no_more():
    resources = load_template()["Resources"]
    props = resources["DeadLetterFunction"]["Properties"]
    assert {"LAKE_URI", "DEAD_LETTER_QUEUE_URL"} <= set(props["Environment"]["Variables"])
    statements = [s for p in props["Policies"] for s in p["Statement"]]
    by_action = {s["Action"]: s["Resource"] for s in statements}
    assert by_action == {"s3:PutObject": {"Fn::Sub": "${LakeBucket.Arn}/_dead_letters/*"},
                         "sqs:SendMessage": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]},
                         "cloudwatch:PutMetricData": "*"}
    # The state machine substitutes its ARN and may invoke it.
    machine = resources["MatchDaysStateMachine"]["Properties"]
    assert machine["DefinitionSubstitutions"]["DeadLetterFunctionArn"] == {"Fn::GetAtt": ["DeadLetterFunction", "Arn"]}
    invokable = [p["LambdaInvokePolicy"]["FunctionName"] for p in machine["Policies"] if "LambdaInvokePolicy" in p]
    assert {"Ref": "DeadLetterFunction"} in invokable
    asl = json.loads((REPO / "statemachine" / "match_days.asl.json").read_text())
    states = asl["States"]
    assert [c["Next"] for c in states["MatchDays"]["Catch"]] == ["RecordDeadLetter"]
    assert [c["Next"] for c in states["RecordDeadLetter"]["Catch"]] == ["SendToDeadLetterQueue"]
    # The handler gets the very body the fallback sends, so redrive reads both alike.
    assert states["RecordDeadLetter"]["Parameters"]["Payload"] == states["SendToDeadLetterQueue"]["Parameters"][
        "MessageBody"]


def statements_of(resources: dict, logical: str) -> list[dict]:
    return [s for p in resources[logical]["Properties"].get("Policies", []) if isinstance(p, dict)
            for s in p.get("Statement", [])]


def actions_of(statement: dict) -> set[str]:
    return {statement["Action"]} if isinstance(statement["Action"], str) else set(statement["Action"])


def test_the_pipeline_state_table_is_durable_and_encrypted():
    table = load_template()["Resources"]["PipelineStateTable"]
    props = table["Properties"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    assert props["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert props["AttributeDefinitions"] == [{"AttributeName": "pk", "AttributeType": "S"}]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert "TimeToLiveSpecification" not in props  # a generation or sequencer that expired would be a lie


def test_ingest_and_match_get_the_state_table_and_exactly_the_actions_they_need_on_it():
    resources = load_template()["Resources"]
    table_arn = {"Fn::GetAtt": ["PipelineStateTable", "Arn"]}
    expected = {"IngestFunction": {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
                "MatchFunction": {"dynamodb:GetItem", "dynamodb:UpdateItem"},
                "DeadLetterFunction": set(), "RedriveFunction": set()}
    for logical, actions in expected.items():
        env = resources[logical]["Properties"]["Environment"]["Variables"]
        assert (env.get("PIPELINE_STATE_TABLE") == {"Ref": "PipelineStateTable"}) == bool(actions), logical
        statements = statements_of(resources, logical)
        on_table = [s for s in statements if "PipelineStateTable" in json.dumps(s)]
        granted = {a for s in on_table for a in actions_of(s)}
        assert granted == actions, logical
        for statement in on_table:  # the table only: no wildcard, no index, no other table in the same statement
            assert statement["Effect"] == "Allow" and statement["Resource"] == table_arn, logical
            assert "Condition" not in statement, logical
        # and no statement elsewhere grants DynamoDB on anything but the two tables, by name
        for statement in statements:
            if any(a.startswith("dynamodb:") for a in actions_of(statement)):
                assert statement["Resource"] in (table_arn, {"Fn::GetAtt": ["IdempotencyTable", "Arn"]}), logical
                assert not any("*" in a for a in actions_of(statement)), logical


def test_ingest_is_notified_of_creations_and_deletions_under_each_landing_prefix():
    """Through its queue: the landing bucket notifies IngestQueue of both kinds of event under each prefix (and only
    there), the queue feeds the function one message at a time with partial failures reported, hides a received
    message for longer than the function may run, and hands a message failing three times to the dead letters."""
    resources = load_template()["Resources"]
    landing = resources["LandingBucket"]
    configs = landing["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    rules = sorted((*[r["Value"] for r in c["Filter"]["S3Key"]["Rules"]], c["Event"]) for c in configs)
    assert rules == sorted((p, x, e) for p in ("conversions/", "broker/", "reference/") for x in DATA_SUFFIXES
                           for e in ("s3:ObjectCreated:*", "s3:ObjectRemoved:*"))
    assert all([r["Name"] for r in c["Filter"]["S3Key"]["Rules"]] == ["prefix", "suffix"] for c in configs)
    assert all(c["Queue"] == {"Fn::GetAtt": ["IngestQueue", "Arn"]} for c in configs)
    assert landing["DependsOn"] == "IngestQueuePolicy"
    (source,) = [e for e in resources["IngestFunction"]["Properties"]["Events"].values()]
    assert source["Type"] == "SQS" and source["Properties"]["Queue"] == {"Fn::GetAtt": ["IngestQueue", "Arn"]}
    assert source["Properties"]["BatchSize"] == 1
    assert source["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue = resources["IngestQueue"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * resources["IngestFunction"]["Properties"]["Timeout"]
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]},
                                      "maxReceiveCount": 3}
    assert queue["SqsManagedSseEnabled"] is True
    # only the landing bucket may send, and only over TLS
    statements = resources["IngestQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    allow = [s for s in statements if s["Effect"] == "Allow"]
    assert [s["Principal"] for s in allow] == [{"Service": "s3.amazonaws.com"}]
    assert allow[0]["Action"] == "sqs:SendMessage" and "aws:SourceArn" in allow[0]["Condition"]["ArnLike"]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for s in statements)
    condition, reserved, otherwise = resources["IngestFunction"]["Properties"]["ReservedConcurrentExecutions"]["Fn::If"]
    assert reserved > source["Properties"]["ScalingConfig"]["MaximumConcurrency"]  # when reserved, above the pollers


def test_the_moto_stack_builds_the_state_table_and_both_notifications(stack):
    """The moto stack follows the template: the state table with its key schema, each prefix notified of both."""
    described = stack.client("dynamodb").describe_table(TableName=stack.state_table)["Table"]
    assert described["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    for function in ("IngestFunction", "MatchFunction"):
        env = stack.client("lambda").get_function_configuration(FunctionName=stack.names[function])["Environment"]
        assert env["Variables"]["PIPELINE_STATE_TABLE"] == stack.state_table
        assert env["Variables"]["POWERTOOLS_METRICS_NAMESPACE"] == stack.names["ProjectName"]
    configs = stack.client("s3").get_bucket_notification_configuration(Bucket=stack.landing_bucket)
    events = sorted((*[r["Value"] for r in c["Filter"]["Key"]["FilterRules"]], *c["Events"])
                    for c in configs["QueueConfigurations"])
    assert events == sorted((p, x, e) for p in ("conversions/", "broker/", "reference/") for x in DATA_SUFFIXES
                            for e in ("s3:ObjectCreated:*", "s3:ObjectRemoved:*"))
    assert {c["QueueArn"] for c in configs["QueueConfigurations"]} == {stack.names["IngestQueue.Arn"]}


def test_the_moto_stack_notifies_ingest_as_s3_does_for_a_versioned_bucket(stack):
    """Every record names its version and has a sequencer that grows; a delete adds a marker, whose event has no
    size or eTag (what the handler then does with it is the ingest tests' business)."""
    key = "reference/page_category_mapping.csv"
    put = stack.upload(key, "page_category;measurement_category\n")
    deleted = stack.delete(key)
    stack.wait_all()
    created, removed = [json.loads(c.event["Records"][0]["body"])["Records"][0]
                        for c in stack.calls(stack.ingest_function)]
    assert created["eventName"] == "ObjectCreated:Put" and removed["eventName"] == "ObjectRemoved:DeleteMarkerCreated"
    assert created["s3"]["object"]["versionId"] == put["VersionId"]
    assert deleted["DeleteMarker"] and removed["s3"]["object"]["versionId"] == deleted["VersionId"]
    assert set(removed["s3"]["object"]) == {"key", "versionId", "sequencer"}
    assert int(removed["s3"]["object"]["sequencer"], 16) > int(created["s3"]["object"]["sequencer"], 16)


def test_every_partner_the_catalog_names_has_a_profile():
    """PartnerNames drives the Glue partition enums; a partner there without a profile would be rejected by ingest."""
    from bcjourney.partners import known_partners, load_profile

    names = load_template()["Parameters"]["PartnerNames"]["Default"].split(",")
    for name in names:
        assert load_profile(name).name == name
    assert sorted(names) == known_partners()


def test_every_projected_table_starts_at_the_projection_start_parameter():
    """A backfill older than the default start is queryable once the parameter says so (no fixed date)."""
    resources = load_template()["Resources"]
    ranges = [r["Properties"]["TableInput"]["Parameters"]["projection.dt.range"] for r in resources.values()
              if r["Type"] == "AWS::Glue::Table" and "projection.dt.range" in r["Properties"]["TableInput"].get(
                  "Parameters", {})]
    assert len(ranges) >= 5 and all(r == {"Fn::Sub": "${ProjectionStartDate},NOW"} for r in ranges)
    assert "2024-01-01,NOW" not in TEMPLATE.read_text()


def test_the_match_task_times_out_after_the_function_would():
    timeout = load_template()["Resources"]["MatchFunction"]["Properties"]["Timeout"]
    day = json.loads(ASL.read_text())["States"]["MatchDays"]["ItemProcessor"]["States"]["MatchDay"]
    batch = json.loads(BACKFILL_ASL.read_text())["States"]["MatchBatches"]["ItemProcessor"]["States"]["MatchBatch"]
    for task in (day, batch):
        assert timeout < task["TimeoutSeconds"] <= timeout + 120


# ---------------------------------------------------------------------------------------------------------------------
# Concurrency and quotas (docs/deploy.md): nothing reserved by default; when reserved, no execution starves another
# ---------------------------------------------------------------------------------------------------------------------
FUNCTIONS = ("IngestFunction", "MatchFunction", "DeadLetterFunction", "RedriveFunction", "FreshnessFunction")
LAMBDA_UNRESERVED_MINIMUM = 100  # Lambda keeps this much of the account's quota unreserved


def reservations(template: dict) -> dict[str, int]:
    """What each function reserves with ReserveConcurrency=true; asserts it reserves nothing otherwise."""
    reserved = {}
    for logical in FUNCTIONS:
        value = template["Resources"][logical]["Properties"]["ReservedConcurrentExecutions"]
        condition, if_true, if_false = value["Fn::If"]
        assert condition == "ReservesConcurrency" and if_false == {"Ref": "AWS::NoValue"}, logical
        reserved[logical] = if_true
    return reserved


def test_by_default_nothing_is_reserved_so_the_stack_deploys_in_an_account_with_a_quota_of_10():
    template = load_template()
    assert template["Parameters"]["ReserveConcurrency"]["Default"] == "false"
    assert template["Conditions"]["ReservesConcurrency"] == {"Fn::Equals": [{"Ref": "ReserveConcurrency"}, "true"]}
    reserved = reservations(template)
    assert all(n >= 1 for n in reserved.values())


def test_the_quota_the_reservations_need_is_the_one_the_docs_and_the_parameter_state():
    template = load_template()
    needed = sum(reservations(template).values()) + LAMBDA_UNRESERVED_MINIMUM
    assert needed == 126
    assert f"at least {needed}" in template["Parameters"]["ReserveConcurrency"]["Description"]
    docs = (REPO / "docs" / "deploy.md").read_text()
    assert "## Concurrency and quotas" in docs and f"{needed:,}" in docs.split("## Concurrency and quotas")[1]


def test_no_execution_can_take_all_of_the_match_function_s_concurrency():
    """One match_days execution runs 3 days at a time and a backfill 4 batches: below the match function's
    reservation, so a backfill and two files' executions (a day's conversions and partner file) fit together."""
    match_limit = reservations(load_template())["MatchFunction"]
    inline = json.loads(ASL.read_text())["States"]["MatchDays"]["MaxConcurrency"]
    backfill = json.loads(BACKFILL_ASL.read_text())["States"]["MatchBatches"]["MaxConcurrency"]
    assert inline < match_limit and backfill < match_limit
    assert backfill + 2 * inline <= match_limit
    # and, without reservations, all of that stays below a new account's quota of 10
    assert backfill + 2 * inline <= 10
    # Debounced, a file's days run one execution (one match) each, all at once, which a day's two files share in a
    # window: no more than their two executions would run, and room for a backfill beside them.
    from bcjourney.match_runs import DEBOUNCE_MAX_DAYS

    assert DEBOUNCE_MAX_DAYS <= 2 * inline and backfill + DEBOUNCE_MAX_DAYS <= min(match_limit, 10)


# ---------------------------------------------------------------------------------------------------------------------
# The state machines and their roles
# ---------------------------------------------------------------------------------------------------------------------
def state_machines(template: dict) -> dict[str, dict]:
    return {logical: r["Properties"] for logical, r in template["Resources"].items()
            if r["Type"] == "AWS::Serverless::StateMachine"}


def state_names(graph: dict) -> list[str]:
    """Every state's name, those inside Map item processors too."""
    names = []
    for name, state in graph["States"].items():
        names.append(name)
        if "ItemProcessor" in state:
            names += state_names(state["ItemProcessor"])
    return names


def test_every_state_machine_fills_exactly_its_placeholders_and_names_states_once():
    machines = state_machines(load_template())
    assert {m["DefinitionUri"] for m in machines.values()} == {
        f"statemachine/{p.name}" for p in (REPO / "statemachine").glob("*.asl.json")}
    for logical, machine in machines.items():
        text = (REPO / machine["DefinitionUri"]).read_text()
        assert set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", text)) == set(machine["DefinitionSubstitutions"]), logical
        names = state_names(json.loads(text))
        assert len(names) == len(set(names)), logical


def test_match_days_may_start_the_backfill_and_the_backfill_writes_only_its_results_prefix():
    template = load_template()
    machines = state_machines(template)
    match_days = machines["MatchDaysStateMachine"]
    assert match_days["DefinitionSubstitutions"]["BackfillStateMachineArn"] == {"Ref": "BackfillStateMachine"}
    (start,) = [s for p in match_days["Policies"] if isinstance(p, dict) for s in p.get("Statement", [])
                if s.get("Sid") == "StartBackfill"]
    assert (start["Action"], start["Resource"]) == ("states:StartExecution", {"Ref": "BackfillStateMachine"})

    backfill = machines["BackfillStateMachine"]
    assert backfill["DefinitionSubstitutions"]["LakeBucketName"] == {"Ref": "LakeBucket"}
    writer = json.loads(BACKFILL_ASL.read_text())["States"]["MatchBatches"]["ResultWriter"]
    assert writer["Parameters"] == {"Bucket": "${LakeBucketName}", "Prefix": "_backfills"}
    statements = [s for p in backfill["Policies"] if isinstance(p, dict) for s in p.get("Statement", [])]
    on_s3 = [s for s in statements if any(a.startswith("s3:") for a in actions_of(s))]
    assert [s["Resource"] for s in on_s3] == [{"Fn::Sub": "${LakeBucket.Arn}/_backfills/*"}]
    assert actions_of(on_s3[0]) == {"s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts",
                                    "s3:AbortMultipartUpload"}
    own = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:"
    on_states = {a: s["Resource"] for s in statements for a in actions_of(s) if a.startswith("states:")}
    assert on_states == {"states:StartExecution": {"Fn::Sub": own + "stateMachine:${ProjectName}-backfill-days"},
                         **{a: {"Fn::Sub": own + "execution:${ProjectName}-backfill-days/*"}
                            for a in ("states:DescribeExecution", "states:StopExecution", "states:RedriveExecution")}}
    assert backfill["Name"] == {"Fn::Sub": "${ProjectName}-backfill-days"}  # what the role names
    # the results expire; the rest of the lake is not touched by that rule
    rules = template["Resources"]["LakeBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    (expiry,) = [r for r in rules if r.get("Prefix") == "_backfills/"]
    assert expiry["Status"] == "Enabled" and expiry["ExpirationInDays"] >= 14 + 14  # redrive, then dead letters


def test_a_failed_backfill_alarms():
    alarms = [r["Properties"] for r in load_template()["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    watched = {json.dumps(a["Dimensions"]) for a in alarms if a["MetricName"] == "ExecutionsFailed"}
    for machine in ("MatchDaysStateMachine", "BackfillStateMachine"):
        assert json.dumps([{"Name": "StateMachineArn", "Value": {"Ref": machine}}]) in watched
