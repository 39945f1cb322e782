"""The redrive function moves dead letters back, and they succeed once the fault is gone (moto SQS, Step
Functions and Lambda; the ingest re-invoke goes through moto's Lambda invoke, run in-process by the stack).

The ingest dead letter is the S3 notification the ingest queue's redrive policy really moved after three failed
receives (moto implements maxReceiveCount); the match_days dead letter is the one the state machine's Catch really
sent."""

from __future__ import annotations

import json

from bcjourney.redrive import INGEST, MATCH_DAYS, classify, execution_name
from bcjourney_tools.local.handlers import LocalLambdaContext
from moto_stack import LANDING, REPO, client_error, function_env, load_handler

EVENTS = REPO / "events"


def redrive_handler(stack, monkeypatch):
    for name, value in function_env(stack.template, "RedriveFunction", stack.names).items():
        monkeypatch.setenv(name, value)
    module = load_handler("redrive")
    module.BOTO3_SESSION = stack.session
    return module


def test_the_sample_dead_letters_are_told_apart():
    assert classify(json.loads((EVENTS / "dlq_message_match.json").read_text())) == MATCH_DAYS
    assert classify(json.loads((EVENTS / "dlq_message_ingest.json").read_text())) == INGEST
    for other in ({"hello": 1}, [], "text", None, {"source": "match_days"}, {"requestContext": {}}):
        assert classify(other) is None
    assert execution_name("0f6c8a5e-1d2b-4c3a-9e8f-7a6b5c4d3e2f") == "redrive-0f6c8a5e-1d2b-4c3a-9e8f-7a6b5c4d3e2f"


def test_dead_letters_are_redriven_and_succeed_once_the_fault_is_gone(stack, monkeypatch):
    mapping, clicks, registrations = ("reference/page_category_mapping.csv", "conversions/clicks 2024-04-01.csv",
                                      "broker/acme/registrations.csv")
    stack.upload(mapping, LANDING[mapping])
    # Fault 1: the lake answers AccessDenied to match (a broken policy): the clicks' match_days execution fails.
    stack.match_s3.fail_next(*[client_error("AccessDenied", status=403) for _ in range(10)])
    stack.upload(clicks, LANDING[clicks])
    (failed_execution,) = [e for e in stack.wait_all() if e["status"] == "FAILED"]
    # Fault 2: ingest cannot start the state machine (say, a bad deploy): the registrations' ingest fails.
    ingest_runtime = stack.runtimes["ingest"]
    arn = ingest_runtime.state_machine_arn
    ingest_runtime.state_machine_arn = arn + "-missing"
    stack.upload(registrations, LANDING[registrations])
    failed_ingest = stack.calls(stack.ingest_function)[-1]
    assert failed_ingest.error == "BatchProcessingError"  # its one record failed: StateMachineDoesNotExist
    for _ in range(3):  # received twice more, failing; the receive after the third moves it to the dead letters
        assert stack.reveal_ingest_messages() == 1
        stack.poll_ingest_queue()
    sqs = stack.client("sqs")
    sqs.send_message(QueueUrl=stack.queue_url, MessageBody="something else entirely")
    assert sorted(str(classify(b)) for b in stack.dead_letters()) == ["None", INGEST, MATCH_DAYS]
    assert stack.lake_keys("unified/") == []

    # The faults are fixed; the operator runs the redrive function.
    stack.match_s3.heal()
    ingest_runtime.state_machine_arn = arn
    stack.invocations.clear()
    redrive = redrive_handler(stack, monkeypatch)
    report = redrive.lambda_handler({"max_messages": 10, "wait_seconds": 0}, LocalLambdaContext("bcjourney-redrive"))

    assert report["received"] == 3
    assert (report["restarted_match_days"], report["resent_to_ingest"], report["left_unknown"]) == (1, 1, 1)
    assert report["left_failed"] == 0 and report["unknown"][0]["body"] == "something else entirely"
    # The unknown message is still there, visible again; the other two are gone.
    assert stack.dead_letters() == ["something else entirely"]

    # The notification went back to the ingest queue, and its poller ran ingest with it ...
    (reinvoked,) = stack.poll_ingest_queue()
    assert reinvoked.event["Records"][0]["body"] == failed_ingest.event["Records"][0]["body"]
    assert reinvoked.error is None and reinvoked.result["applied"][0]["action"] == "repeated"
    # ... and every execution since, the restarted one and the one the re-ingest started, succeeded.
    restarted = stack.wait(report["executions"][0])
    assert restarted["name"].startswith("redrive-")
    assert json.loads(restarted["input"]) == json.loads(failed_execution["input"])
    finished = [e for e in stack.wait_all() if e["executionArn"] != failed_execution["executionArn"]]
    assert len(finished) == 2 and {e["status"] for e in finished} == {"SUCCEEDED"}
    assert stack.lake_keys("unified/journeys/") == ["unified/journeys/dt=2024-04-01/journeys.parquet",
                                           "unified/journeys/dt=2024-04-02/journeys.parquet"]


def test_a_failed_resubmission_keeps_the_message(stack, monkeypatch):
    letter = json.loads((EVENTS / "dlq_message_match.json").read_text())
    stack.client("sqs").send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps(letter))
    redrive = redrive_handler(stack, monkeypatch)
    monkeypatch.setenv("MATCH_STATE_MACHINE_ARN", stack.state_machine_arn + "-missing")
    report = redrive.lambda_handler({"max_messages": 5, "wait_seconds": 0}, LocalLambdaContext("bcjourney-redrive"))
    assert (report["received"], report["restarted_match_days"], report["left_failed"]) == (1, 0, 1)
    assert "StateMachineDoesNotExist" in report["failures"][0]["error"]
    assert stack.dead_letters() == [letter]

    # Fixed: the next run restarts it; a second run finds nothing left.
    monkeypatch.setenv("MATCH_STATE_MACHINE_ARN", stack.state_machine_arn)
    report = redrive.lambda_handler({"max_messages": 5, "wait_seconds": 0}, LocalLambdaContext("bcjourney-redrive"))
    assert (report["received"], report["restarted_match_days"]) == (1, 1)
    assert stack.wait(report["executions"][0])["status"] == "SUCCEEDED"  # an empty lake: nothing to link
    report = redrive.lambda_handler({"max_messages": 5, "wait_seconds": 0}, LocalLambdaContext("bcjourney-redrive"))
    assert report["received"] == 0


def test_a_run_stops_before_the_function_times_out(stack):
    from bcjourney.redrive import RedriveTargets, redrive

    sqs = stack.client("sqs")
    for _ in range(3):
        sqs.send_message(QueueUrl=stack.queue_url, MessageBody=(EVENTS / "dlq_message_match.json").read_text())
    targets = RedriveTargets(stack.queue_url, stack.state_machine_arn, stack.ingest_queue_url)
    clock = iter([60, 5])  # plenty of time for the first batch, then too little for another
    report = redrive(targets, sqs=sqs, stepfunctions=stack.client("stepfunctions"), max_messages=3, wait_seconds=0,
                     seconds_left=lambda: next(clock))
    assert report.stopped_early is False and report.restarted_match_days == 3  # one receive got all three
    report = redrive(targets, sqs=sqs, stepfunctions=stack.client("stepfunctions"), max_messages=3, wait_seconds=0,
                     seconds_left=lambda: 5)
    assert report.stopped_early is True and report.received == 0
