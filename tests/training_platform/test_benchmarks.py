"""Benchmarks on the platform: the API validates methods (400, nothing created), the service exports the
version and runs a registered tiny scorer and a tiny CLIP baseline, the report is served as HTML/Markdown/JSON
and shown on the page; a baseline whose library is missing fails the benchmark with a reason."""

from __future__ import annotations

import pytest

from training.models import Benchmark, Scorer


@pytest.fixture
def tiny_clip(tmp_path_factory):
    pytest.importorskip("torch")
    from training.scorer.baselines.tiny import build_tiny_clip

    return build_tiny_clip(tmp_path_factory.mktemp("clip") / "clip")


@pytest.fixture
def roots(settings, tmp_path):
    settings.TRAINING_ROOT = tmp_path / "training"
    settings.TRAINING_EXPORT_SPLIT = ""  # small version: one export without splits, benchmarked as 'all'
    settings.TRAINING_EXPORT_MEDIA = "copy"
    return settings


@pytest.mark.django_db
def test_api_refuses_bad_methods_and_creates_nothing(client_as, rated_version):
    client, _ = client_as("researcher")
    cases = [
        ({"dataset_version": rated_version.pk, "methods": []}, "at least one method"),
        (
            {"dataset_version": rated_version.pk, "methods": [{"name": "x", "kind": "fid", "path": "/m"}]},
            "unknown kind 'fid'",
        ),
        ({"dataset_version": rated_version.pk, "methods": "a=clipscore:/m\na=pickscore:/m"}, "used twice"),
        ({"dataset_version": rated_version.pk, "methods": "a=scorer:999"}, "scorer 999 does not exist"),
        ({"dataset_version": rated_version.pk, "methods": "oops"}, "NAME=KIND:PATH"),
        ({"dataset_version": rated_version.pk, "methods": "a=blip2-itm:/m:/h.json"}, "take a fitted head"),
        ({"dataset_version": 999999, "methods": "a=clipscore:/m"}, "does not exist"),
        ({"dataset_version": rated_version.pk, "methods": "a=clipscore:/m", "split": "dev"}, "split must be"),
    ]
    for body, message in cases:
        resp = client.post("/api/v1/benchmarks/", body, format="json")
        assert resp.status_code == 400, body
        assert message in resp.json()["detail"], (message, resp.json())
    assert Benchmark.objects.count() == 0
    annotator, _ = client_as("annotator")
    assert annotator.get("/api/v1/benchmarks/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_benchmark_runs_a_scorer_and_a_baseline_and_serves_the_report(
    client_as, roots, campaign, tiny_model_dir, tiny_clip, django_capture_on_commit_callbacks
):
    from tests.training_platform.conftest import make_rated_version
    from training.services.benchmarks import benchmark_create, benchmark_execute

    version = make_rated_version(campaign)
    scorer = Scorer.objects.create(name="tiny", path=str(tiny_model_dir))
    client, user = client_as("researcher")
    bench = benchmark_create(
        dataset_version_id=version.pk,
        split="all",
        bootstrap=100,
        created_by=user,
        methods=f"tiny=scorer:{scorer.pk}\nclip=clipscore:{tiny_clip}\nclip-iqa=clip-iqa:{tiny_clip}",
    )
    assert bench.methods[0] == {"name": "tiny", "kind": "qeval", "path": str(tiny_model_dir), "scorer": scorer.pk}
    bench = benchmark_execute(benchmark_id=bench.pk)
    assert bench.status == "succeeded", bench.error
    assert bench.progress_step == 3
    tables = bench.report["tables"]
    assert tables["alignment"]["methods"] == ["tiny", "clip"] and tables["quality"]["methods"] == ["tiny", "clip-iqa"]
    cell = tables["alignment"]["cells"]["image"]["instance"]
    assert cell["n"] == 10 and set(cell["methods"]) == {"tiny", "clip"}
    # served as files, and the detail carries the report
    md = client.get(f"/api/v1/benchmarks/{bench.pk}/report/?type=md")
    assert md.status_code == 200 and b"## Table 3: alignment" in b"".join(md.streaming_content)
    detail = client.get(f"/api/v1/benchmarks/{bench.pk}/").json()
    assert detail["report"]["_meta"]["bootstrap"] == 100 and detail["report_urls"]["html"].endswith("?type=html")
    listing = client.get("/api/v1/benchmarks/").json()
    assert listing["results"][0]["id"] == bench.pk and "report" not in listing["results"][0]
    # a repeat of the task leaves a finished benchmark alone
    assert benchmark_execute(benchmark_id=bench.pk).finished_at == bench.finished_at
    # the page shows the report inline
    from django.test import Client

    web = Client()
    web.force_login(user)
    page = web.get(f"/training/benchmarks/{bench.pk}/")
    assert page.status_code == 200 and b"<iframe" in page.content and b"Table 2: visual quality" in page.content


@pytest.mark.django_db(transaction=True)
def test_missing_library_fails_the_benchmark_with_a_reason(client_as, roots, campaign):
    from tests.training_platform.conftest import make_rated_version
    from training.services.benchmarks import benchmark_create, benchmark_execute

    pytest.importorskip("torch")
    version = make_rated_version(campaign, n_items=4)
    _, user = client_as("researcher")
    bench = benchmark_create(dataset_version_id=version.pk, split="all", methods="n=niqe:", created_by=user)
    bench = benchmark_execute(benchmark_id=bench.pk)
    try:
        import pyiqa  # noqa: F401
    except Exception:  # noqa: BLE001
        assert bench.status == "failed" and "pyiqa" in bench.error and "install" in bench.error
    client, _ = client_as("researcher")
    assert client.get(f"/api/v1/benchmarks/{bench.pk}/report/?type=html").status_code in (409, 200)


@pytest.mark.django_db
def test_launch_form_creates_and_enqueues(
    client_as, rated_version, settings, tmp_path, django_capture_on_commit_callbacks
):
    from django.test import Client

    settings.TRAINING_ROOT = tmp_path
    _, user = client_as("researcher")
    web = Client()
    web.force_login(user)
    page = web.get("/training/benchmarks/")
    assert page.status_code == 200 and b"NAME=KIND:PATH" in page.content
    bad = web.post(
        "/training/benchmarks/",
        {"dataset_version": rated_version.pk, "methods": "x=fid:/m", "split": "test", "bootstrap": "100"},
    )
    assert bad.status_code == 400 and b"unknown kind" in bad.content
    sent = []
    from training import tasks

    orig = tasks.execute_benchmark.apply_async
    tasks.execute_benchmark.apply_async = lambda args: sent.append(args)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            resp = web.post(
                "/training/benchmarks/",
                {
                    "dataset_version": rated_version.pk,
                    "methods": "# comment\nclip=clipscore:/models/clip",
                    "split": "test",
                    "bootstrap": "100",
                },
            )
    finally:
        tasks.execute_benchmark.apply_async = orig
    bench = Benchmark.objects.get()
    assert resp.status_code == 302 and resp["Location"] == f"/training/benchmarks/{bench.pk}/"
    assert sent == [(bench.pk,)] and bench.methods == [{"name": "clip", "kind": "clipscore", "path": "/models/clip"}]
