"""Classification of prompts without a category: keyword rules, an LLM through a callable, and an LLM behind a real
OpenAI-compatible HTTP endpoint (a local server); the method is recorded per prompt."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from annotation.models import Prompt
from generation.services.classify import prompts_classify


@pytest.mark.django_db
def test_rules_classify_prompts_without_a_category_and_record_the_keywords(prompt_set):
    counts = prompts_classify(prompt_set=prompt_set, method="rules")
    assert counts == {"prompts": 3, "rules": 3, "llm": 0, "none": 0, "fallback": 0}
    sign = Prompt.objects.get(text__startswith="A neon sign")
    assert (sign.category, sign.subcategory) == ("Entity Generation", "text and symbol")
    assert sign.classification.method == "rules" and "sign" in sign.classification.detail["keywords"]
    # A given category is left alone unless asked.
    cube = Prompt.objects.get(text__startswith="A red cube")
    assert cube.classification.method == "given"


@pytest.mark.django_db
def test_an_llm_answer_is_used_and_a_bad_one_falls_back_to_the_rules(prompt_set):
    def llm(instruction: str) -> str:
        assert "Entity Generation / chart" in instruction and "Prompt: " in instruction
        if "old woman" in instruction:
            return 'Sure: {"category": "Entity Attribute Generation", "subcategory": "Age"}'
        return "I think it is a chart"

    counts = prompts_classify(prompt_set=prompt_set, method="llm", llm=llm, model="test-llm")
    assert (counts["llm"], counts["rules"], counts["fallback"]) == (1, 2, 2)
    woman = Prompt.objects.get(text__contains="old woman")
    assert (woman.subcategory, woman.classification.method, woman.classification.model) == ("age", "llm", "test-llm")
    chart = Prompt.objects.get(text__startswith="a bar chart")
    assert chart.classification.method == "rules" and "no JSON object" in chart.classification.detail["fallback"]


class _Endpoint(BaseHTTPRequestHandler):
    requests: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Endpoint.requests.append((self.path, body))
        answer = {"category": "Interaction Ability", "subcategory": "spatial relationships"}
        data = json.dumps({"choices": [{"message": {"content": json.dumps(answer)}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.mark.django_db
def test_an_openai_compatible_endpoint_classifies_over_http(prompt_set, settings):
    server = HTTPServer(("127.0.0.1", 0), _Endpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/v1"
        settings.QEVAL_LLM_ENDPOINTS = [url]  # the deployment lists it
        counts = prompts_classify(prompt_set=prompt_set, method="llm", model="qwen-test", endpoint=url, overwrite=True)
    finally:
        server.shutdown()
    assert counts["llm"] == 4 and counts["prompts"] == 4
    path, body = _Endpoint.requests[0]
    assert path == "/v1/chat/completions" and body["model"] == "qwen-test"
    prompt = Prompt.objects.get(text__startswith="A red cube")
    assert (prompt.category, prompt.classification.method) == ("Interaction Ability", "llm")
    assert prompt.classification.model == f"qwen-test@{url}"


@pytest.mark.django_db
def test_only_the_endpoints_the_deployment_lists_are_called(prompt_set, settings, client_as, make_user):
    """The key goes with every call: an endpoint a researcher types could collect it, or reach inside."""
    from annotation.models import Job
    from core.errors import InvalidInput

    settings.QEVAL_LLM_ENDPOINTS = []
    with pytest.raises(
        InvalidInput, match="no LLM endpoint is configured here: an operator lists them in QEVAL_LLM_ENDPOINTS"
    ):
        prompts_classify(prompt_set=prompt_set, method="llm", endpoint="http://169.254.169.254/v1")
    settings.QEVAL_LLM_ENDPOINTS = ["http://vllm.internal:8000/v1"]
    with pytest.raises(
        InvalidInput,
        match=r"endpoint https://collector.example/v1 is not one this deployment calls: choose http://vllm.internal:8000/v1$",
    ):
        prompts_classify(prompt_set=prompt_set, method="llm", endpoint="https://collector.example/v1/")
    campaign = prompt_set.campaign
    client, _ = client_as("researcher")
    answer = client.post(
        f"/api/v1/campaigns/{campaign.slug}/prompt-sets/{prompt_set.slug}/classify/",
        {"method": "llm", "endpoint": "http://10.0.0.7/v1"},
        format="json",
    )
    assert answer.status_code == 400
    assert (
        answer.json()["detail"]
        == "endpoint http://10.0.0.7/v1 is not one this deployment calls: choose http://vllm.internal:8000/v1"
    )
    from django.test import Client

    page = Client()
    page.force_login(make_user("researcher"))
    response = page.post(
        f"/generation/{campaign.slug}/prompts/{prompt_set.slug}/classify/",
        {"method": "llm", "endpoint": "http://10.0.0.7/v1"},
        follow=True,
    )
    assert "is not one this deployment calls" in response.content.decode()
    assert not Job.objects.filter(kind="prompts_classify").exists()
    # The page offers the listed endpoints as a choice, and no endpoint field where none is listed.
    html = page.get(f"/generation/{campaign.slug}/").content.decode()
    assert '<select name="endpoint" aria-label="LLM endpoint">' in html
    assert '<option value="http://vllm.internal:8000/v1">' in html
    settings.QEVAL_LLM_ENDPOINTS = []
    assert 'name="endpoint"' not in page.get(f"/generation/{campaign.slug}/").content.decode()
