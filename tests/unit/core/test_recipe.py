"""``webhook.core.recipe``: the one cache. Same annotations, same recipe; a kept recipe is the
one worked out anew; bounded in count and in what it keeps; keyed by the settings too."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from webhook.core import recipe as recipes
from webhook.core.admission import Settings
from webhook.core.ambassador import AmbassadorSettings
from webhook.core.reasons import Reason
from webhook.core.review import pod_from_object

GOLDEN = Path(__file__).resolve().parents[2] / "testdata" / "golden"
SETTINGS = AmbassadorSettings()


@pytest.fixture(autouse=True)
def _empty() -> None:
    recipes.clear()


def _kept() -> int:
    return recipes.kept()[0]


def test_the_pods_of_a_workload_share_one_recipe_made_once() -> None:
    annotations = {"downward.io/inject": "env,volume", "team": "a"}
    first = recipes.recipe(annotations, None, SETTINGS)
    again = recipes.recipe(dict(annotations), None, AmbassadorSettings())  # equal, not same
    assert again is first and _kept() == 1


def test_a_kept_recipe_is_the_recipe_worked_out_anew_for_every_golden_pod() -> None:
    for case in sorted(GOLDEN.iterdir()):
        pod = pod_from_object(yaml.safe_load((case / "input.yaml").read_text()))
        annotations = pod.metadata.annotations or {}
        for default in (None, "env"):
            kept = recipes.recipe(annotations, default, SETTINGS)
            assert kept == recipes.make_recipe(annotations, default, SETTINGS), case.name


@pytest.mark.parametrize(
    "other",
    [
        ({"downward.io/inject": "env"}, None, SETTINGS),  # a value of ours
        ({"downward.io/inject": "env,volume", "tea": "a"}, None, SETTINGS),  # a key
        ({"downward.io/inject": "env,volume", "team": "a"}, "env", SETTINGS),  # the default
        (
            {"downward.io/inject": "env,volume", "team": "a"},
            None,
            AmbassadorSettings(image="k:2"),
        ),
        (
            {"downward.io/inject": "env,volume", "team": "a"},
            None,
            AmbassadorSettings(resources={"limits": {"cpu": "1"}}),  # not in the hash
        ),
    ],
)
def test_anything_the_recipe_depends_on_makes_another(other: tuple[object, ...]) -> None:
    first = recipes.recipe({"downward.io/inject": "env,volume", "team": "a"}, None, SETTINGS)
    assert recipes.recipe(*other) is not first  # type: ignore[arg-type]
    assert _kept() == 2


def test_values_of_other_tools_do_not_matter_and_are_not_kept() -> None:
    first = recipes.recipe({"downward.io/inject": "env", "checksum/config": "1"}, None, SETTINGS)
    again = recipes.recipe({"downward.io/inject": "env", "checksum/config": "2"}, None, SETTINGS)
    assert again is first


def test_large_annotation_sets_are_worked_out_every_time_and_not_kept() -> None:
    big = {"downward.io/inject": "env", "x": "y" * 10, "z" * recipes.MAX_RECIPE_CHARS: ""}
    made = recipes.recipe(big, None, SETTINGS)
    assert made == recipes.make_recipe(big, None, SETTINGS) and _kept() == 0
    long_value = {"downward.io/inject": "env", "downward.io/env-prefix": "A" * 40_000}
    assert recipes.recipe(long_value, None, SETTINGS).findings
    assert _kept() == 0
    recipes.recipe({"x" * 100: "y" * 100_000, "downward.io/inject": "env"}, None, SETTINGS)
    assert recipes.kept() == (1, 100 + len("downward.io/inject") + len("env"))


def test_many_annotations_of_other_tools_are_kept_too() -> None:
    many = {f"team-{i}.example.com/setting-{i}": "x" for i in range(200)}
    first = recipes.recipe({"downward.io/inject": "env", **many}, None, SETTINGS)
    assert recipes.recipe({"downward.io/inject": "env", **many}, None, SETTINGS) is first


def test_the_cache_holds_at_most_max_recipes_the_least_recently_used_go_first() -> None:
    def made(key: str) -> recipes.Recipe:
        return recipes.recipe({"downward.io/inject": "env", key: ""}, None, SETTINGS)

    first, second = made("k0"), made("k1")
    for i in range(2, recipes.MAX_RECIPES + 20):
        made(f"k{i}")
        made("k0")  # in use all along
    assert _kept() == recipes.MAX_RECIPES
    assert made("k0") is first  # kept
    assert made("k1") is not second  # evicted, made anew


def test_the_cache_holds_at_most_max_kept_chars_of_keys() -> None:
    size = recipes.MAX_RECIPE_CHARS - 100
    count = recipes.MAX_KEPT_CHARS // size + 5
    for i in range(count):
        recipes.recipe({"downward.io/inject": "env", f"{i:04}" + "k" * size: ""}, None, SETTINGS)
    recipes_kept, chars = recipes.kept()
    assert chars <= recipes.MAX_KEPT_CHARS and recipes_kept == recipes.MAX_KEPT_CHARS // (
        size + 4 + len("downward.io/inject") + len("env")
    )


def test_findings_come_typos_first_then_long_values_then_bad_values() -> None:
    made = recipes.recipe(
        {
            "downward.io/inject": "env,sidecar",
            "downward.io/inejct": "x",
            "downward.io/env-prefix": "A" * 20_000,
        },
        None,
        SETTINGS,
    )
    assert [f.reason for f in made.findings] == [
        Reason.MISSPELLED_ANNOTATION,
        Reason.ANNOTATION_TOO_LONG,
        Reason.UNKNOWN_MODE,
    ]
    assert made.invalid and made.options is not None and made.kit is not None


def test_settings_are_hashable_and_their_resources_read_only() -> None:
    assert hash(Settings()) == hash(Settings()) and Settings() == Settings()
    resources = AmbassadorSettings().resources
    with pytest.raises(TypeError):
        resources["limits"]["cpu"] = "2"  # type: ignore[index]
    given = {"limits": {"cpu": "1"}}
    settings = AmbassadorSettings(resources=given)
    given["limits"]["cpu"] = "2"
    assert settings.resources["limits"]["cpu"] == "1"  # a copy, not the caller's dict
