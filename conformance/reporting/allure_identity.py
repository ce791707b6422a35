"""Each IdP variant of a scenario is its own Allure test case.

allure-pytest names a test by its node id without the `[...]` part, so `okta-x[okta]` and
`okta-x[okta-aiw]` would share a `fullName`, a `testCaseId` and a `historyId`: Allure would show
one of them and file the other as a retry of it (a failing variant could hide under a passing
one). `VariantIdentity` is an allure-commons plugin that sees each scenario result before it is
written (the `report_result` hook) and gives it an identity of its own: the variant in
`fullName`, and `testCaseId` and `historyId` derived from that name, as allure-pytest derives
them from its own; the IdP also becomes a parameter of the result, which the report shows.
"""

from __future__ import annotations

from typing import Any

import allure_commons
import pytest
from allure_commons.model2 import Parameter
from allure_commons.utils import md5

__all__ = ["IDP_LABEL", "IDP_PARAMETER", "VariantIdentity", "install"]

# The label the plugin puts on every scenario result (see conformance.pytest_plugin.plugin._mark).
IDP_LABEL = "scim_idp"
IDP_PARAMETER = "IdP"


class VariantIdentity:
    """Runs before the loggers that write results (tryfirst): they write what it set."""

    @allure_commons.hookimpl(tryfirst=True)
    def report_result(self, result: Any) -> None:
        idp = next((label.value for label in result.labels or () if label.name == IDP_LABEL), None)
        if idp is None or not result.fullName:
            return  # not a scenario item (the plugin's own tests, a team's pytest tests)
        variant = f"[{idp}]"
        if not result.fullName.endswith(variant):
            result.fullName += variant
        if not any(parameter.name == IDP_PARAMETER for parameter in result.parameters):
            result.parameters.append(Parameter(name=IDP_PARAMETER, value=idp))
        result.testCaseId = md5(result.fullName)
        result.historyId = md5(result.fullName, *(p.value for p in sorted(result.parameters, key=lambda p: p.name)
                                                  if not p.excluded))


def install(config: pytest.Config) -> None:
    """Register the plugin with allure-commons for this pytest session (also in each xdist worker)."""
    identity = VariantIdentity()
    allure_commons.plugin_manager.register(identity)
    config.add_cleanup(lambda: allure_commons.plugin_manager.unregister(identity))
