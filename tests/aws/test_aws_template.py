"""template.yaml against the code and files it must agree with.

The Athena named queries: each athena_queries/*.sql is inlined in template.yaml (bcjourney_tools.named_queries
generates the block). These tests fail when a file and its inline copy differ, when a file has no named query or a
named query no file. To bring the template in line: `.venv/bin/python -m bcjourney_tools.named_queries --write`.
"""

from __future__ import annotations

import json

from bcjourney_tools.named_queries import generated_block, query_files
from moto_stack import REPO, TEMPLATE, load_template


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
    assert {"DEAD_LETTER_QUEUE_URL", "MATCH_STATE_MACHINE_ARN", "INGEST_FUNCTION_NAME"} <= env["RedriveFunction"]
    # Powertools idempotency: get, put (conditional), update (save success), delete (on failure) on the table.
    statements = [s for p in resources["IngestFunction"]["Properties"]["Policies"] if isinstance(p, dict)
                  for s in p.get("Statement", [])]
    actions = {a for s in statements if s.get("Resource") == {"Fn::GetAtt": ["IdempotencyTable", "Arn"]}
               for a in s["Action"]}
    assert {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"} <= actions
    # The redrive role may do what bcjourney.redrive does: receive, delete, change visibility; invoke; start.
    redrive = [s for p in resources["RedriveFunction"]["Properties"]["Policies"] for s in p["Statement"]]
    granted = {a for s in redrive for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "lambda:InvokeFunction",
            "states:StartExecution"} <= granted



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
