"""cluster.yaml is a valid Ray cluster-launcher config with the shape oceanscan relies on."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import ray
import yaml

CLUSTER_YAML = Path(__file__).resolve().parents[1] / "cluster.yaml"
SCHEMA = Path(ray.__file__).parent / "autoscaler" / "ray-schema.json"


@pytest.fixture(scope="module")
def cluster() -> dict:
    return yaml.safe_load(CLUSTER_YAML.read_text())


def test_validates_against_the_launcher_schema_of_installed_ray(cluster):
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(cluster, schema)  # raises with the offending path on failure


def test_schema_rejects_a_broken_copy(cluster):
    schema = json.loads(SCHEMA.read_text())
    broken = {**cluster, "available_node_types": {"head": {"resources": {"CPU": 0}}}}
    with pytest.raises(jsonschema.ValidationError, match="node_config"):
        jsonschema.validate(broken, schema)


def test_head_takes_no_work_and_both_worker_kinds_exist(cluster):
    types = cluster["available_node_types"]
    head = types[cluster["head_node_type"]]
    assert head["resources"] == {"CPU": 0}
    assert any("--num-cpus=0" in c for c in cluster["head_start_ray_commands"])
    workers = {k: v for k, v in types.items() if k != cluster["head_node_type"]}
    gpu = [v for v in workers.values() if v["resources"].get("GPU", 0) >= 1]
    cpu = [v for v in workers.values() if "GPU" not in v["resources"] and v["resources"]["CPU"] > 0]
    assert gpu and cpu
    assert all(v["max_workers"] <= cluster["max_workers"] for v in workers.values())


def test_ray_and_python_are_pinned(cluster):
    images = [cluster["docker"]["image"]] + [
        v["docker"]["worker_image"]
        for v in cluster["available_node_types"].values()
        if "docker" in v
    ]
    assert all(img.startswith("rayproject/ray:2.60.0-py311") for img in images)
    setup = "\n".join(cluster["setup_commands"])
    assert "ray[default,train,data]==2.60.0" in setup
    assert "Python 3.11" in setup


def test_setup_installs_the_project_that_file_mounts_ship(cluster):
    (target,) = [k for k, v in cluster["file_mounts"].items() if v == "."]
    assert any("pip install" in c and target in c for c in cluster["setup_commands"])
    assert cluster["provider"]["type"] == "aws"


def test_nodes_can_reach_shared_s3_storage(cluster):
    # checkpoints and outputs go to S3: every node needs an instance profile and s3fs installed
    for node in cluster["available_node_types"].values():
        assert "IamInstanceProfile" in node["node_config"]
    assert any("[s3]" in c for c in cluster["setup_commands"])
    assert "s3://" in CLUSTER_YAML.read_text()
