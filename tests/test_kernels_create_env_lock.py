"""Two `scs-create-toolbox-env` for one proposal at once: the second is refused at once
(lock per proposal and identifier) and never deletes the first one's checkout or env."""

import threading
import time

import pytest

from scs_nb.atomic import locked
from scs_nb.kernels import create_env


@pytest.fixture
def proposal(tmp_path, monkeypatch):
    root = tmp_path / "exp"
    pdir = root / "SCS" / "202622" / "p002780"
    pdir.mkdir(parents=True)
    monkeypatch.setenv("EXTRA_DATA_DATA_ROOT", str(root))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter"))
    monkeypatch.delenv("JUPYTER_PATH", raising=False)
    return pdir


def test_second_creation_is_refused_and_deletes_nothing(proposal, capsys):
    checkout = proposal / "scratch" / "checkouts" / "toolbox_2780"
    env = proposal / "scratch" / "envs" / "toolbox_2780"
    # the first creation is half-way: its checkout and env exist, it holds the lock
    for d in (checkout, env):
        d.mkdir(parents=True)
        (d / "mine").write_text("the first creation's")
    with locked(checkout):
        for args in ([], ["--force", "--discard-changes"]):
            code = create_env.main(["--proposal", "2780", "--offline", "--no-kernel", *args])
            assert code == 2
            assert "another scs-create-toolbox-env is creating" in capsys.readouterr().err
    assert (checkout / "mine").is_file() and (env / "mine").is_file()


def test_concurrent_creations_one_wins(proposal, monkeypatch):
    if create_env.project_source() is None:
        pytest.skip("scs_nb is not running from a git checkout")
    real = create_env._clone

    def slow_clone(*a, **k):
        time.sleep(1.0)  # the first creation is still cloning when the second starts
        return real(*a, **k)

    monkeypatch.setattr(create_env, "_clone", slow_clone)
    results = {}

    def create(name):
        try:
            create_env.create_env(2780, offline=True, kernel=False, echo=lambda m: None)
            results[name] = "ok"
        except create_env.ToolBoxPathError as exc:
            results[name] = str(exc)

    first = threading.Thread(target=create, args=("first",))
    first.start()
    time.sleep(0.3)
    create("second")
    first.join(120)
    assert results["first"] == "ok"
    assert "another scs-create-toolbox-env is creating" in results["second"]
    env = proposal / "scratch" / "envs" / "toolbox_2780"
    assert (env / "bin" / "python").exists()
    assert (proposal / "scratch" / "checkouts" / "toolbox_2780" / ".git").exists()
