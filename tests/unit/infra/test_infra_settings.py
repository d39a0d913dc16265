"""Settings that survive provisioning (issue 24, item 3), checked as text (no Bicep compiler here): the app's current
settings are read back and merged under the operator's extraAppSettings and the template's own; every tunable the
docs name is either set by the template from a parameter azd fills in, or left to EXTRA_APP_SETTINGS; and
docs/operating.md's "change it with" table says, setting by setting, which of the two it is."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.unit.infra.bicep_text import APP_SETTINGS_MERGE, INFRA, MAIN, ROOT, app_setting_values, modules

APP = INFRA / "app" / "function-app.bicep"
PARAMETERS = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
OPERATING = ROOT / "docs" / "operating.md"
# main.bicep's parameters azd does not fill in: optional names of resources (empty: prefix + token).
NAME_OVERRIDES = {
    "resourceGroupName", "identityName", "storageAccountName", "functionAppName", "planName", "topicName",
    "logAnalyticsName", "virtualNetworkName", "applicationInsightsName",
}  # fmt: skip
# What every name derives from (the environment and its region): where the deployment is, not a tunable.
WHERE = {"environmentName", "location"}


def _declared(path: Path, kind: str) -> dict[str, str]:
    """A Bicep file's `param` or `var` names → the rest of their line (type and default, or the expression)."""
    return dict(re.findall(rf"^{kind} (\w+) (.+)$", path.read_text(), re.MULTILINE))


def _identifiers(expression: str) -> set[str]:
    """The names an expression refers to: outside string literals, and inside their `${…}` interpolations."""
    inner = " ".join(re.findall(r"\$\{([^}]*)\}", expression))
    bare = re.sub(r"'(?:[^'\\]|\\.)*'", " ", expression)
    return set(re.findall(r"\b[A-Za-z_]\w*\b", f"{bare} {inner}"))


def _resolve(names: set[str], path: Path) -> set[str]:
    """The parameters of a Bicep file that `names` derive from, through its variables."""
    params, variables = _declared(path, "param"), _declared(path, "var")
    found, seen = set(), set()
    while names:
        name = names.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in params:
            found.add(name)
        elif name in variables:
            names |= _identifiers(variables[name].removeprefix("= "))
    return found


def azd_variables(setting: str) -> set[str]:
    """The azd variables a setting the template sets derives from (none: it comes from what the deployment made)."""
    app_params = _resolve(_identifiers(app_setting_values()[setting]), APP)
    wired = modules()["functionApp"].params
    main_params = _resolve({n for p in app_params if p in wired for n in _identifiers(wired[p])}, MAIN)
    variables = set()
    for param in main_params - NAME_OVERRIDES - WHERE:
        variables |= set(re.findall(r"\$\{(\w+)", PARAMETERS[param]["value"]))
    return variables


def lasting_table() -> dict[str, str]:
    """docs/operating.md's "change it with" table: each setting it names → its cell."""
    text = OPERATING.read_text()
    table = text[text.index("| setting | change it with |") :].split("\n\n")[0].splitlines()[2:]
    rows = {}
    for line in table:
        setting, way = (cell.strip() for cell in line.strip("|").split("|"))
        for name in re.findall(r"`([A-Za-z][A-Za-z0-9_]*)`", setting):
            rows[name] = way
    return rows


def test_the_apps_current_settings_are_merged_under_the_operators_and_the_templates() -> None:
    text = APP.read_text()
    assert APP_SETTINGS_MERGE in text, "union(current, extraAppSettings, the template's own): the template wins"
    for path in (APP, MAIN):
        assert re.search(r"^@secure\(\)\n@description\([^\n]*\n(?:[^\n]*\n)*?param extraAppSettings object = \{\}$",
                         path.read_text(), re.MULTILINE), path.name  # fmt: skip
    assert modules()["functionApp"].params["extraAppSettings"] == "extraAppSettings"
    # No default in the parameter file: `${EXTRA_APP_SETTINGS={}}`'s braces would end the substitution early; unset,
    # azd leaves the parameter out and the Bicep default applies.
    assert PARAMETERS["extraAppSettings"]["value"] == "${EXTRA_APP_SETTINGS}"


def test_turning_app_user_off_is_written_not_left_out() -> None:
    # A setting left out of the template stays on the app after the merge: off must be written as empty.
    assert app_setting_values()["PARTNER_CENTER_USER_TOKEN_SECRET_URL"].endswith(": ''")


def test_every_parameter_but_the_name_overrides_has_an_azd_variable() -> None:
    params = set(_declared(MAIN, "param"))
    assert params - NAME_OVERRIDES - set(PARAMETERS) == set()
    assert {"instanceMemoryMB", "failedOutcomesPerHourThreshold", "enableGdapByDefault", "appUserEnabled"} <= set(
        PARAMETERS
    )


def test_the_docs_say_for_every_setting_how_to_change_it_so_that_it_lasts() -> None:
    rows = lasting_table()
    template = app_setting_values()
    for setting, way in rows.items():
        if setting.startswith("AzureFunctionsJobHost__"):
            assert way == "`EXTRA_APP_SETTINGS`", setting
        elif setting in template:
            variables = azd_variables(setting)
            if variables:
                assert all(f"azd env set {v}" in way for v in variables), (setting, variables, way)
            else:
                assert way.startswith("set by the deployment"), (setting, way)
        else:
            assert way.startswith(("`EXTRA_APP_SETTINGS`", "not in Azure")), (setting, way)
    assert set(template) <= set(rows), f"settings the template sets the table leaves out: {set(template) - set(rows)}"


def test_every_setting_the_operating_page_names_is_in_the_table() -> None:
    text = OPERATING.read_text()
    settings_section = text[text.index("## Settings") : text.index("### Changing a setting so that it lasts")]
    named = {
        name
        for line in settings_section.splitlines()
        if line.startswith("| `")
        for name in re.findall(r"`([A-Z][A-Za-z0-9_]*)`", line.split("|")[1])
    }
    assert len(named) >= 30
    assert named - set(lasting_table()) == set()
