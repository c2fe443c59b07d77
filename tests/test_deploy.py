"""The Kubernetes manifests of deploy/kuberay and the image of deploy/Dockerfile.

Kubernetes' own kinds (CronJob, ServiceAccount, Role, RoleBinding) are validated against the
Kubernetes JSON schemas that the kubernetes-validate package ships (offline, strict: an unknown
field is an error). No schema of KubeRay's RayJob can be had offline (its CRD ships in no package
index the project uses), so the RayJob is checked structurally against the fields of the ray.io/v1
API it uses, its pod templates against Kubernetes' PodTemplateSpec schema, and its entrypoint by
parsing it with jobs/scan.py's own parser and configuration loader.
"""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

from oceanscan.cli.scan import add_scan_arguments, config_from_args

PROJECT = Path(__file__).resolve().parents[1]
DEPLOY = PROJECT / "deploy" / "kuberay"
#: Kubernetes version whose schemas the manifests must satisfy (CronJob timeZone is GA from 1.27).
KUBERNETES = "1.30.0"

#: The RayJob (ray.io/v1) fields these manifests may use, by level; anything else is a typo or a
#: field of another KubeRay version.
RAYJOB_SPEC = {
    "entrypoint",
    "runtimeEnvYAML",
    "submissionMode",
    "shutdownAfterJobFinishes",
    "ttlSecondsAfterFinished",
    "activeDeadlineSeconds",
    "backoffLimit",
    "rayClusterSpec",
    "submitterPodTemplate",
    "suspend",
}
RAYCLUSTER_SPEC = {"rayVersion", "enableInTreeAutoscaling", "headGroupSpec", "workerGroupSpecs"}
HEAD_GROUP = {"rayStartParams", "template", "serviceType"}
WORKER_GROUP = {
    "groupName",
    "replicas",
    "minReplicas",
    "maxReplicas",
    "rayStartParams",
    "template",
}


def _documents(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((DEPLOY / name).read_text()) if d]


def _ray_version() -> str:
    cluster = yaml.safe_load((PROJECT / "cluster.yaml").read_text())
    match = re.fullmatch(r"rayproject/ray:(\d+\.\d+\.\d+)-py311-cpu", cluster["docker"]["image"])
    assert match, cluster["docker"]["image"]
    return match[1]


@pytest.fixture(scope="module")
def rayjob() -> dict:
    (doc,) = _documents("rayjob-scan.yaml")
    return doc


def _validate(doc: dict) -> None:
    """Strict validation against Kubernetes' schema, failing with the first line of the error."""
    try:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)
    except kubernetes_validate.ValidationError as err:
        pytest.fail(f"{doc['kind']} {doc['metadata'].get('name')}: {str(err).splitlines()[0]}")


def _pod_templates(rayjob: dict) -> list[dict]:
    cluster = rayjob["spec"]["rayClusterSpec"]
    return [cluster["headGroupSpec"]["template"]] + [
        g["template"] for g in cluster["workerGroupSpecs"]
    ]


def test_kubernetes_kinds_validate_against_the_kubernetes_schema():
    docs = _documents("cronjob-scan.yaml")
    assert {d["kind"] for d in docs} == {"ServiceAccount", "Role", "RoleBinding", "CronJob"}
    for doc in docs:
        _validate(doc)


def test_the_validator_catches_a_misspelled_field():
    (cronjob,) = [d for d in _documents("cronjob-scan.yaml") if d["kind"] == "CronJob"]
    cronjob["spec"]["concurencyPolicy"] = cronjob["spec"].pop("concurrencyPolicy")
    with pytest.raises(kubernetes_validate.ValidationError, match="concurencyPolicy"):
        kubernetes_validate.validate(cronjob, KUBERNETES, strict=True)


def test_the_rayjob_uses_only_fields_of_the_ray_io_v1_api(rayjob):
    assert (rayjob["apiVersion"], rayjob["kind"]) == ("ray.io/v1", "RayJob")
    spec = rayjob["spec"]
    assert set(spec) <= RAYJOB_SPEC, set(spec) - RAYJOB_SPEC
    cluster = spec["rayClusterSpec"]
    assert set(cluster) <= RAYCLUSTER_SPEC, set(cluster) - RAYCLUSTER_SPEC
    assert set(cluster["headGroupSpec"]) <= HEAD_GROUP
    for group in cluster["workerGroupSpecs"]:
        assert set(group) <= WORKER_GROUP, set(group) - WORKER_GROUP
        assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
    for params in [cluster["headGroupSpec"]["rayStartParams"]] + [
        g["rayStartParams"] for g in cluster["workerGroupSpecs"]
    ]:
        assert all(isinstance(v, str) for v in params.values())  # map[string]string in the CRD
    assert spec["submissionMode"] in ("K8sJobMode", "HTTPMode")
    assert isinstance(spec["ttlSecondsAfterFinished"], int) and spec["activeDeadlineSeconds"] > 0


def test_the_rayjob_pod_templates_validate_as_kubernetes_pod_templates(rayjob):
    for i, template in enumerate(_pod_templates(rayjob)):
        _validate(
            {
                "apiVersion": "v1",
                "kind": "PodTemplate",
                "metadata": {"name": f"template-{i}"},
                "template": template,
            }
        )


def test_the_rayjob_runs_a_since_last_scan_and_deletes_its_cluster(rayjob):
    spec = rayjob["spec"]
    assert spec["shutdownAfterJobFinishes"] is True
    argv = shlex.split(spec["entrypoint"])
    assert argv[:2] == ["python", "jobs/scan.py"] and "--since-last" in argv
    # jobs/scan.py's own parser and configuration loader accept the entrypoint as written
    # (run from the working directory, the project root, as the job does).
    parser = argparse.ArgumentParser()
    add_scan_arguments(parser)
    args = parser.parse_args(argv[2:])
    config, regions = config_from_args(args)
    assert args.since_last and regions is None  # every configured region
    assert config.root.startswith("s3://")  # reachable from every worker pod
    runtime_env = yaml.safe_load(spec["runtimeEnvYAML"])
    workdir = re.search(
        r"^WORKDIR (\S+)$", (PROJECT / "deploy" / "Dockerfile").read_text(), re.MULTILINE
    )
    assert workdir and runtime_env == {"working_dir": workdir[1]}


def test_the_head_takes_no_work_and_the_gpu_workers_ask_for_gpus(rayjob):
    cluster = rayjob["spec"]["rayClusterSpec"]
    head = cluster["headGroupSpec"]
    assert head["rayStartParams"]["num-cpus"] == "0"
    (head_container,) = head["template"]["spec"]["containers"]
    assert "nvidia.com/gpu" not in head_container["resources"]["limits"]
    gpu_groups = [
        g
        for g in cluster["workerGroupSpecs"]
        if "nvidia.com/gpu" in g["template"]["spec"]["containers"][0]["resources"]["limits"]
    ]
    assert gpu_groups and len(gpu_groups) < len(cluster["workerGroupSpecs"])  # and CPU workers
    for template in _pod_templates(rayjob):
        for container in template["spec"]["containers"]:
            resources = container["resources"]
            assert resources["requests"] == resources["limits"]  # what Ray is told is what it gets


def test_images_carry_the_ray_and_python_of_cluster_yaml_and_pyproject(rayjob):
    version = _ray_version()
    pyproject = (PROJECT / "pyproject.toml").read_text()
    (ray_req,) = [
        Requirement(r) for r in re.findall(r'"(ray\[[^"]*)"', pyproject) if r.startswith("ray[")
    ]
    assert Version(version) in ray_req.specifier, (version, str(ray_req))
    assert rayjob["spec"]["rayClusterSpec"]["rayVersion"] == version
    images = [c["image"] for t in _pod_templates(rayjob) for c in t["spec"]["containers"]]
    assert images and all(
        img.endswith((f"ray{version}-py311-cpu", f"ray{version}-py311-gpu")) for img in images
    )
    dockerfile = (PROJECT / "deploy" / "Dockerfile").read_text()
    assert re.search(
        rf"^FROM rayproject/ray:{re.escape(version)}-py311-\$\{{FLAVOR\}}$",
        dockerfile,
        re.MULTILINE,
    )


def test_the_cronjob_creates_the_rayjob_from_the_generated_configmap():
    docs = {d["kind"]: d for d in _documents("cronjob-scan.yaml")}
    cronjob = docs["CronJob"]
    spec = cronjob["spec"]
    assert len(spec["schedule"].split()) == 5 and spec["concurrencyPolicy"] == "Forbid"
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    command = container["command"]
    assert command[:3] == ["kubectl", "create", "-f"]  # create: the RayJob has a generateName
    (mount,) = container["volumeMounts"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    (generator,) = kustomization["configMapGenerator"]
    assert generator["name"] == volume["configMap"]["name"]
    assert kustomization["generatorOptions"]["disableNameSuffixHash"] is True
    assert command[3] == f"{mount['mountPath']}/{generator['files'][0]}"
    assert (DEPLOY / generator["files"][0]).is_file()
    assert all((DEPLOY / r).is_file() for r in kustomization["resources"])
    # the scheduler's account may create RayJobs, and nothing else
    (rule,) = docs["Role"]["rules"]
    assert rule["apiGroups"] == ["ray.io"] and rule["resources"] == ["rayjobs"]
    assert "create" in rule["verbs"] and "delete" not in rule["verbs"]
    assert pod["serviceAccountName"] == docs["ServiceAccount"]["metadata"]["name"]
    assert docs["RoleBinding"]["subjects"][0]["name"] == pod["serviceAccountName"]
