"""docker-compose.yml and the container files, checked without a Docker engine: the services, the
command each runs, the shared environment, the GPU reservation, the volumes."""

import re
import stat
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("web", "worker", "training-worker", "generation-worker", "beat")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def command(service: dict) -> str:
    cmd = service["command"]
    return " ".join(cmd) if isinstance(cmd, list) else cmd


def test_all_services_are_there(compose):
    assert {"postgres", "redis", *APP_SERVICES} <= set(compose["services"])


def test_each_service_runs_its_command(compose):
    services = compose["services"]
    assert re.match(r"^gunicorn config\.wsgi\b", command(services["web"]))
    assert "-c platform/docker/gunicorn.conf.py" in command(services["web"])
    assert re.match(r"^celery -A config worker -Q default\b", command(services["worker"]))
    assert re.match(r"^celery -A config worker -Q training\b", command(services["training-worker"]))
    assert re.match(r"^celery -A config worker -Q generation\b", command(services["generation-worker"]))
    assert re.match(r"^celery -A config beat\b", command(services["beat"]))
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")


def test_the_app_services_share_one_environment(compose):
    envs = [compose["services"][name]["environment"] for name in APP_SERVICES]
    shared = compose["x-env"]
    for env in envs:
        # Per service only: the web container migrates and hands media to nginx; a worker names its queues (its
        # visibility timeout).
        own = ("DJANGO_MIGRATE", "QEVAL_MEDIA_ACCEL_PREFIX", "QEVAL_WORKER_QUEUES")
        assert {k: v for k, v in env.items() if k not in own} == shared
    for name in APP_SERVICES:
        queues = compose["services"][name]["environment"].get("QEVAL_WORKER_QUEUES")
        command = compose["services"][name]["command"]
        if "worker" in command:
            assert queues == command[command.index("-Q") + 1], name
    assert shared["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    assert shared["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in shared["DATABASE_URL"]
    assert shared["CELERY_BROKER_URL"].startswith("redis://redis:6379/")
    assert shared["SECRET_KEY"].startswith("${SECRET_KEY:?")  # compose refuses to start without one
    for name in APP_SERVICES:
        env_file = compose["services"][name]["env_file"]
        assert env_file == [{"path": ".env", "required": False}]


def test_media_and_shared_folders_live_on_a_volume_every_app_service_mounts(compose):
    shared = compose["x-env"]
    assert "data" in compose["volumes"] and "pgdata" in compose["volumes"]
    for name in APP_SERVICES:
        mounts = dict(v.split(":", 1) for v in compose["services"][name]["volumes"])
        assert mounts["data"] == "/data"
    for key in (
        "MEDIA_ROOT",
        "QEVAL_IMPORT_ROOTS",
        "QEVAL_EXPORT_ROOT",
        "QEVAL_TRAINING_ROOT",
        "QEVAL_GENERATION_ROOT",
    ):
        assert shared[key].startswith("/data/")
    assert "pgdata:/var/lib/postgresql/data" in compose["services"]["postgres"]["volumes"]


def test_the_training_worker_reserves_an_nvidia_gpu_and_has_the_training_extra(compose):
    service = compose["services"]["training-worker"]
    devices = service["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    assert service["build"]["args"]["EXTRAS"] == "training"
    assert compose["services"]["worker"]["build"]["args"]["EXTRAS"] == ""
    assert "--concurrency=1" in command(service)
    assert "deploy" not in compose["services"]["worker"]


def test_the_generation_worker_reserves_an_nvidia_gpu_and_has_the_generation_extra(compose):
    service = compose["services"]["generation-worker"]
    devices = service["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    assert service["build"]["args"]["EXTRAS"] == "generation"
    assert "--concurrency=1" in command(service) and "--prefetch-multiplier=1" in command(service)


def test_workers_wait_for_the_database_and_the_migrated_web_app(compose):
    services = compose["services"]
    assert services["web"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["web"]["depends_on"]["redis"]["condition"] == "service_healthy"
    for name in ("worker", "training-worker", "generation-worker", "beat"):
        assert services[name]["depends_on"]["web"]["condition"] == "service_healthy"
    assert services["web"]["environment"]["DJANGO_MIGRATE"] == "1"


def test_the_dockerfile_installs_the_project_with_the_extra_and_the_platform_path():
    text = (ROOT / "platform/docker/Dockerfile").read_text()
    assert "ARG EXTRAS" in text
    assert 'pip install -e ".${EXTRAS:+[$EXTRAS]}"' in text
    assert re.search(r"PYTHONPATH=/app:/app/platform\b", text)
    assert "DJANGO_SETTINGS_MODULE=config.settings.production" in text
    assert 'ENTRYPOINT ["platform/docker/entrypoint.sh"]' in text
    for copied in ("pyproject.toml", "README.md"):
        assert (ROOT / copied).exists()


def test_the_entrypoint_migrates_only_when_asked_and_is_executable():
    path = ROOT / "platform/docker/entrypoint.sh"
    assert path.stat().st_mode & stat.S_IXUSR
    text = path.read_text()
    assert 'if [ "${DJANGO_MIGRATE:-0}" = "1" ]' in text and "migrate --noinput" in text and 'exec "$@"' in text


def test_the_gunicorn_config_is_valid_python_with_a_bind():
    namespace: dict = {}
    exec(compile((ROOT / "platform/docker/gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), namespace)
    assert namespace["bind"] == "0.0.0.0:8000" and namespace["workers"] >= 1 and namespace["timeout"] >= 60


def test_the_nginx_proxy_serves_static_from_the_shared_volume(compose):
    text = (ROOT / "platform/docker/nginx.conf").read_text()
    assert "alias /data/static/;" in text and "server web:8000;" in text
    assert compose["x-env"]["STATIC_ROOT"] == "/data/static"
