"""No secrets leave the laptop: every credential file of issue 17 is left out of a job's
package and printed by `submit --dry-run` under "left out" with its reason; ordinary folders
(such as `env/`) travel; real virtualenvs are left out and listed; `--include` is the only
way to send something left out."""

from __future__ import annotations

from pathlib import Path

import pytest

from raytuner.cli.main import main
from raytuner.cluster import workdir

SPEC = """
name: pkg
trainable: {type: function, function: "objective:f"}
space: {x: {type: float, low: 0.0, high: 1.0}}
metric: {name: loss, mode: min}
"""
SERVICE_ACCOUNT = '{"type": "service_account", "project_id": "p", "private_key_id": "k", "private_key": "x"}'
PEM = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n-----END OPENSSH PRIVATE KEY-----\n"

CREDENTIALS = {  # path -> content: each must be left out as a secret
    "gcp-key.json": SERVICE_ACCOUNT,
    "keys/my-project-3f2a1b.json": SERVICE_ACCOUNT,  # a service-account key under any name (content)
    "config/prod.json": '{"client_email": "a@b", "private_key": "-----BEGIN PRIVATE KEY-----"}',
    ".config/gcloud/application_default_credentials.json": '{"client_id": "x", "refresh_token": "y"}',
    "sub/application_default_credentials.json": "{}",
    ".npmrc": "//registry.npmjs.org/:_authToken=x\n",
    ".pypirc": "[pypi]\npassword = x\n",
    ".netrc": "machine example.com login a password b\n",
    ".boto": "[Credentials]\naws_access_key_id = x\n",
    ".s3cfg": "[default]\nsecret_key = x\n",
    "aws_credentials": "[default]\naws_access_key_id = x\n",
    ".aws/credentials": "[default]\n",
    ".aws/config": "[default]\nregion = us-east-1\n",
    "deploy/aws.ini": "[default]\naws_secret_access_key = x\n",  # AWS keys under any name (content)
    ".docker/config.json": '{"auths": {}}',
    "ci/.docker/config.json": '{"auths": {}}',
    ".dockerconfigjson": '{"auths": {}}',
    "terraform.tfstate": "{}",
    "infra/terraform.tfstate.backup": "{}",
    "secrets.yaml": "a: b\n",
    "config/Client_Secret.json": "{}",
    "token.txt": "abc\n",
    "auth/refresh_token": "abc\n",
    "certs/server.pem": "x",
    "certs/server.key": "x",
    "id_rsa": PEM,
    "id_rsa.pub": "ssh-rsa AAAA\n",
    "deploy/deploy_key": PEM,  # a private key under any name (content)
    ".env": "A=1\n",
    "config/.env.production": "A=1\n",
    ".git-credentials": "https://u:p@github.com\n",
    "kubeconfig": "apiVersion: v1\n",
}
ORDINARY = {  # path -> content: must travel
    "spec.yaml": SPEC,
    "objective.py": "def f(c):\n    return {'loss': c['x']}\n",
    "env/settings.py": "X = 1\n",  # an ordinary folder called env
    "venv/notes.md": "not a virtualenv\n",
    "data/train.csv": "a,b\n1,2\n",
    "docs/keys.md": "how we rotate keys\n",
    "config/settings.json": '{"type": "app"}',
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    for rel, text in {**CREDENTIALS, **ORDINARY, ".venv/bin/python": "x", "pyenv/pyvenv.cfg": "home = /usr\n",
                      "pyenv/lib/site.py": "x", "conda/conda-meta/history": "x", ".git/config": "x"}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _dry_run(project: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[list[str], dict[str, str]]:
    assert main(["submit", str(project / "spec.yaml"), "--workdir", str(project), "--dry-run", *extra]) == 0
    out = capsys.readouterr().out
    files: list[str] = []
    left: dict[str, str] = {}
    section = None
    for line in out.splitlines():
        if line.startswith("files ("):
            section = files
        elif line.startswith("left out ("):
            section = left  # type: ignore[assignment]
        elif line.startswith("  ") and section is files:
            files.append(line.strip())
        elif line.startswith("  ") and isinstance(section, dict) and "  (" in line.strip():
            path, reason = line.strip().split("  (", 1)
            left[path] = reason.rstrip(")")
    return files, left


def _covered(rel: str, left: dict[str, str]) -> str | None:
    """The left-out entry that covers rel (itself or a folder above it)."""
    for path, reason in left.items():
        if rel == path or (path.endswith("/") and rel.startswith(path)):
            return reason
    return None


@pytest.mark.parametrize("rel", sorted(CREDENTIALS))
def test_every_credential_file_is_left_out_and_listed(rel: str, project: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    files, left = _dry_run(project, capsys)
    assert rel not in files
    reason = _covered(rel, left)
    assert reason is not None and reason.startswith("secret: "), (rel, left)


def test_ordinary_folders_travel_and_real_virtualenvs_are_listed(project: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    files, left = _dry_run(project, capsys)
    assert set(ORDINARY) <= set(files)
    assert left[".venv/"] == "virtualenv: .venv"
    assert left["pyenv/"] == "virtualenv: has pyvenv.cfg"
    assert left["conda/"] == "virtualenv: has conda-meta"
    assert left[".git/"] == "ignored folder: .git/"
    assert not any(f.startswith((".venv/", "pyenv/", "conda/", ".git/")) for f in files)


def test_include_sends_exactly_what_it_names(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files, left = _dry_run(project, capsys, "--include", "token.txt", "--include", ".aws", "--include", "pyenv")
    assert "token.txt" in files and "token.txt" not in left
    assert "pyenv/lib/site.py" in files and "pyenv/pyvenv.cfg" in files
    # a folder named by --include is entered, but a credential inside must be named itself
    assert ".aws/credentials" not in files and left[".aws/credentials"] == "secret: matches credentials"
    assert ".aws/config" in files
    assert main(["submit", str(project / "spec.yaml"), "--workdir", str(project), "--dry-run",
                 "--include", "nope.txt"]) == 2
    assert "--include nope.txt: no such file" in capsys.readouterr().err


def test_ignore_files_and_size_are_reasons_too(project: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    (project / ".raytunerignore").write_text("docs/\n")
    monkeypatch.setattr(workdir, "MAX_FILE_BYTES", 30)
    files, left = _dry_run(project, capsys, "--exclude", "*.csv")
    assert left["docs/"] == "ignored: .raytunerignore docs/"
    assert left["data/train.csv"] == "ignored: --exclude *.csv"
    assert left["objective.py"].startswith("size: ")
    assert "objective.py" not in files


def test_names_are_compared_without_case(tmp_path: Path) -> None:
    for rel in ("SECRETS.YAML", "My.PEM", "Terraform.TFSTATE", "ID_RSA"):
        (tmp_path / rel).write_text("x")
    selection = workdir.select(tmp_path, workdir.patterns_for(tmp_path))
    assert selection.files == []
    assert all(item.kind == workdir.SECRET for item in selection.left_out)
