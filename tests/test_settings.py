"""The settings model: one definition of every option, read the same way by every front door."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from refkit.engine.settings import OPTIONS, Settings, SettingsError, options_table

REPO = Path(__file__).resolve().parent.parent


def test_every_option_has_a_doc_a_variable_and_a_default_of_its_type():
    assert [o.name for o in OPTIONS] == [
        "enabled",
        "execute",
        "timeout",
        "device",
        "jobs",
        "max_output",
        "memory_limit",
        "on_error",
        "package_dir",
        "cache_dir",
        "approved_dir",
        "environments",
        "environments_dir",
        "live_only",
    ]
    for option in OPTIONS:
        assert option.doc.endswith(".")
        assert option.variable == "REFKIT_" + option.name.upper()
        assert isinstance(option.default, option.kind)
        assert not option.choices or option.default in option.choices


def test_layers_win_in_order_config_then_environment_then_flags():
    config = {"jobs": 3, "timeout": 10, "device": "cpu"}
    environ = {"REFKIT_JOBS": "4", "REFKIT_TIMEOUT": " 20 "}
    settings = Settings.resolve(config, environ=environ, flags={"jobs": 5, "timeout": None})
    assert (settings.jobs, settings.timeout, settings.device) == (5, 20.0, "cpu")
    assert Settings.resolve(environ={}).jobs == 2  # the default, from the model


@pytest.mark.parametrize(
    ("config", "environ", "message"),
    [
        (
            {"jobs": "two"},
            {},
            "mkdocs.yml: refkit option 'jobs': expected a whole number, got 'two'",
        ),
        ({"jobs": 1.5}, {}, "expected a whole number, got 1.5"),
        ({"enabled": "maybe"}, {}, "expected true or false, got 'maybe'"),
        ({"timeout": True}, {}, "expected a number, got True"),
        ({"execute": "sometimes"}, {}, "'sometimes' is not one of auto, always, never"),
        ({"colour": "red"}, {}, "mkdocs.yml: unknown refkit option 'colour' (known: enabled,"),
        ({}, {"REFKIT_TIMEOUT": "0"}, "REFKIT_TIMEOUT=0: must be at least 0.1"),
        ({}, {"REFKIT_DEVICE": "tpu"}, "REFKIT_DEVICE=tpu: 'tpu' is not one of auto, cpu, cuda"),
        ({"package_dir": ""}, {}, "refkit option 'package_dir': expected text, got ''"),
    ],
)
def test_a_bad_value_names_where_it_was_set(config, environ, message):
    with pytest.raises(SettingsError) as caught:
        Settings.resolve(config, environ=environ)
    assert message in str(caught.value)


TWO_ENVIRONMENTS = {
    "transformers-4.57": {"requirements": ["transformers==4.57.6"]},
    "legacy-tf": {
        "requirements": ["transformers==4.29.2", "tensorflow-cpu==2.13.1"],
        "variables": {"FORCE_TF_AVAILABLE": 1},
    },
}


def test_environments_from_the_config_are_parsed_and_held_hashable_in_order():
    settings = Settings.resolve({"environments": TWO_ENVIRONMENTS}, environ={})
    assert [env.name for env in settings.environments] == ["transformers-4.57", "legacy-tf"]
    legacy = settings.declared_environments["legacy-tf"]
    assert legacy.requirements == ("transformers==4.29.2", "tensorflow-cpu==2.13.1")
    assert dict(legacy.variables) == {"FORCE_TF_AVAILABLE": "1"}
    assert isinstance(settings.environments, tuple)
    assert hash(settings) == hash(Settings.resolve({"environments": TWO_ENVIRONMENTS}, environ={}))
    assert Settings.resolve(environ={}).environments == ()  # none by default


def test_environments_from_the_variable_are_json_and_a_flag_wins_over_it():
    environ = {"REFKIT_ENVIRONMENTS": json.dumps({"six": {"requirements": ["six==1.16.0"]}})}
    from_variable = Settings.resolve({"environments": TWO_ENVIRONMENTS}, environ=environ)
    assert [env.name for env in from_variable.environments] == ["six"]
    flag = json.dumps({"old": {"requirements": ["six==1.15.0"], "add_torch": False}})
    from_flag = Settings.resolve(environ=environ, flags={"environments": flag})
    assert [(e.name, e.add_torch) for e in from_flag.environments] == [("old", False)]
    assert Settings.resolve(environ={"REFKIT_ENVIRONMENTS": "{}"}).environments == ()


@pytest.mark.parametrize(
    ("config", "environ", "message"),
    [
        (
            {"environments": {"legacy-tf": {"requirements": "tensorflow==2.13.1"}}},
            {},
            "mkdocs.yml: refkit option 'environments': refkit environment 'legacy-tf', "
            "requirements: ",
        ),
        (
            {},
            {"REFKIT_ENVIRONMENTS": '{"legacy-tf": {"variabls": {"A": "1"}}}'},
            "REFKIT_ENVIRONMENTS: refkit environment 'legacy-tf', variabls: unknown field",
        ),
        (
            {},
            {"REFKIT_ENVIRONMENTS": '{"x": {"requirements": ["six=1"]}}'},
            "REFKIT_ENVIRONMENTS: refkit environment 'x', requirements: 'six=1' is not a requirement",
        ),
        (
            {},
            {"REFKIT_ENVIRONMENTS": "legacy-tf: {requirements: [six]}"},
            "REFKIT_ENVIRONMENTS: expected a JSON object of environments",
        ),
        (
            {"environments": ["legacy-tf"]},
            {},
            "refkit option 'environments': refkit environments: must be a mapping of names",
        ),
        (
            {"environments": {"default": {}}},
            {},
            "refkit environment 'default'",
        ),
        ({}, {"REFKIT_LIVE_ONLY": "sometimes"}, "REFKIT_LIVE_ONLY=sometimes: expected true or"),
    ],
)
def test_a_bad_environment_names_the_source_the_environment_and_the_field(config, environ, message):
    with pytest.raises(SettingsError) as caught:
        Settings.resolve(config, environ=environ)
    assert message in str(caught.value)


def test_declaring_environments_keeps_the_default_worker():
    # A serve rebuild after mkdocs.yml gained an environment must not restart the default
    # environment's worker; its runs give what they gave.
    before = Settings.resolve(environ={})
    after = Settings.resolve(
        {"environments": TWO_ENVIRONMENTS, "environments_dir": "envs", "live_only": True},
        environ={},
    )
    assert after != before
    assert after.same_runs(before)


def test_the_environments_folder_is_the_user_cache_unless_set(tmp_path):
    assert Settings.resolve({"environments_dir": ""}, environ={}).environments_path is None
    relative = Settings.resolve({"environments_dir": "envs"}, environ={}, project_dir=tmp_path)
    assert relative.environments_path == tmp_path.resolve() / "envs"
    from_variable = Settings.resolve(
        environ={"REFKIT_ENVIRONMENTS_DIR": "/srv/envs"}, project_dir=tmp_path
    )
    assert from_variable.environments_path == Path("/srv/envs")


def test_without_a_folder_the_environments_are_looked_for_in_the_user_cache(tmp_path, monkeypatch):
    from refkit.engine.environments import check

    monkeypatch.delenv("REFKIT_ENVIRONMENTS_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    settings = Settings.resolve(
        {"environments_dir": "", "environments": TWO_ENVIRONMENTS}, environ={}, project_dir=tmp_path
    )
    assert settings.environments_path is None
    # An earlier sync's folder (a venv of other requirements) in the user cache is seen there.
    (tmp_path / "xdg" / "refkit" / "environments" / "legacy-tf" / ("0" * 16)).mkdir(parents=True)
    reports = {
        r.name: r for r in check(settings.environments, cache_root=settings.environments_path)
    }
    assert reports["legacy-tf"].reason == "its requirements (or Python) changed since the last sync"
    assert reports["transformers-4.57"].reason == "it was never synced"


def test_live_only_is_off_unless_asked():
    assert Settings.resolve(environ={}).live_only is False
    assert Settings.resolve(environ={"REFKIT_LIVE_ONLY": "yes"}).live_only is True
    assert (
        Settings.resolve({"live_only": True}, environ={}, flags={"live_only": False}).live_only
        is False
    )


def test_paths_are_relative_to_the_project_folder(tmp_path):
    settings = Settings.resolve({"package_dir": "notes"}, environ={}, project_dir=tmp_path)
    assert settings.package_path == tmp_path.resolve() / "notes"
    assert settings.cache_path == tmp_path.resolve() / ".refkit-cache"


def test_the_mkdocs_config_class_is_generated_from_the_model():
    # mkdocstrings' idiom: load_config on a plugin object returns (errors, warnings).
    from refkit.engine.plugin import RefkitPlugin

    plugin = RefkitPlugin()
    assert plugin.load_config({"jobs": 4, "execute": "never"}) == ([], [])
    assert plugin.config.jobs == 4 and plugin.config.timeout == 120
    errors, _ = RefkitPlugin().load_config({"execute": "sometimes"})
    assert [name for name, _ in errors] == ["execute"]
    _, warnings = RefkitPlugin().load_config({"colour": "red"})
    assert [name for name, _ in warnings] == ["colour"]
    assert set(dict(plugin.config)) == {o.name for o in OPTIONS}
    # The mapping option as mkdocs.yml writes it; a list there is MkDocs' error, on that option.
    assert RefkitPlugin().load_config({"environments": TWO_ENVIRONMENTS}) == ([], [])
    errors, _ = RefkitPlugin().load_config({"environments": ["legacy-tf"]})
    assert [name for name, _ in errors] == ["environments"]


def test_the_extension_and_the_command_accept_exactly_the_models_options():
    from refkit.engine.cli import check
    from refkit.engine.extension import RefkitExtension

    assert set(RefkitExtension().config) == {o.name for o in OPTIONS} | {"config_file"}
    flags = {p.name for p in check.params} - {
        "ids",
        "cached",
        "config_file",
        "docs_dir",
        "env_names",
    }
    assert flags == {o.name for o in OPTIONS} - {"enabled", "on_error", "execute"}


def test_the_readme_lists_every_option_as_the_model_defines_it():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert options_table() in readme


def test_the_runner_and_worker_take_no_defaults_of_their_own():
    # Defaults live in the settings model only (jobs used to be 2 there, 1 here).
    import inspect

    from refkit.engine.runner import SnippetRunner

    parameters = inspect.signature(SnippetRunner).parameters
    for name in ("timeout", "jobs", "device", "execute", "max_output", "memory_limit"):
        assert parameters[name].default is inspect.Parameter.empty, name
    worker = (REPO / "refkit" / "engine" / "worker.py").read_text(encoding="utf-8")
    assert not re.search(r'add_argument\("--jobs"[^)]*default=', worker)


def test_the_extension_resolves_the_same_options_once_per_process_and_anew_when_they_change(
    tmp_path, monkeypatch
):
    # Zensical makes the extension anew for every page and mkdocstrings converts every
    # docstring with it: the settings are kept per process, keyed by all that they are read from.
    from refkit.engine.extension import _Process

    config = tmp_path / "mkdocs.yml"
    config.write_text(json.dumps({"site_name": "s", "plugins": [{"refkit": {"jobs": 3}}]}))
    monkeypatch.delenv("REFKIT_JOBS", raising=False)
    process = _Process()
    _, first = process.settings(str(config), {"timeout": 9})
    assert (first.jobs, first.timeout, first.project_dir) == (3, 9, tmp_path.resolve())
    assert process.settings(str(config), {"timeout": 9})[1] is first
    assert process.settings(str(config), {"timeout": 5})[1].timeout == 5
    monkeypatch.setenv("REFKIT_JOBS", "1")
    assert process.settings(str(config), {"timeout": 9})[1].jobs == 1
    # Options that cannot be a key (a host that passes objects) are resolved every time.
    environments = Settings.resolve({"environments": TWO_ENVIRONMENTS}, environ={}).environments
    made = process.settings(str(config), {"environments": environments})[1]
    assert made.environments == environments
    assert process.settings(str(config), {"environments": environments})[1] is not made
