# Copyright: virtrigaud.core contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from virtrigaud_runtime.spoke import settings

BASE = {"OVIM_AGENT_ID": "a1", "OVIM_CLUSTER_ID": "c1", "OVIM_HUB_ENDPOINT": "https://hub:8443",
        "OVIM_HUB_TOKEN": "secret-canary", "OVIM_PROVIDER_TYPE": "mock"}


def test_defaults():
    current = settings.load(BASE)
    assert current.zone_id == "c1" and current.report_interval == 30.0 and not current.tls_insecure
    assert current.push_auth == "token" and current.callback_url == "http://127.0.0.1:8080"
    assert "secret-canary" not in repr(current)
    assert settings.load({k: v for k, v in BASE.items() if k != "OVIM_PROVIDER_TYPE"}).provider_type == "kubevirt"


@pytest.mark.parametrize("value,seconds", [("30", 30.0), ("2m", 120.0), ("500ms", 0.5), ("1.5s", 1.5)])
def test_durations(value, seconds):
    assert settings.load(dict(BASE, OVIM_REPORT_INTERVAL=value)).report_interval == seconds


@pytest.mark.parametrize("variable,value", [
    ("OVIM_ZONE_ID", "a b"), ("OVIM_HUB_ENDPOINT", "https://user:pw@hub"), ("OVIM_REPORT_INTERVAL", "nan"),
    ("OVIM_WORKERS", "0"), ("OVIM_HUB_CLIENT_KEY", "/etc/hostname"), ("OVIM_CALLBACK_URL", "hub:80"),
    ("OVIM_DEFAULT_NAMESPACE", "Bad/Name"), ("LIBVIRT_DEFAULT_URI", None),
])
def test_refused_by_name(variable, value):
    env = dict(BASE, **({variable: value} if value is not None else {}))
    if variable == "LIBVIRT_DEFAULT_URI":
        env.update(OVIM_PROVIDER_TYPE="libvirt", VIRTRIGAUD_LIBVIRT_DOMAIN_TYPE="xen")
        variable = "VIRTRIGAUD_LIBVIRT_DOMAIN_TYPE"
    with pytest.raises(settings.SettingsError) as raised:
        settings.load(env)
    assert variable in str(raised.value) and "secret-canary" not in str(raised.value)


def _settings_file(tmp_path, text):
    path = tmp_path / "spoke.yaml"
    path.write_text(text)
    return str(path)


def test_settings_file_under_the_environment(tmp_path):
    path = _settings_file(tmp_path, "OVIM_AGENT_ID: from-file\nOVIM_CLUSTER_ID: c-file\nOVIM_REPORT_INTERVAL: 45\n"
                                    "OVIM_METRICS_ENABLED: false\nOVIM_TEMPLATE_CATALOGUE: {base: img}\n")
    env = {"OVIM_CONFIG_FILE": path, "OVIM_HUB_ENDPOINT": "https://hub:8443", "OVIM_PROVIDER_TYPE": "mock",
           "OVIM_CLUSTER_ID": "c-env"}
    current = settings.load(env)
    assert (current.agent_id, current.cluster_id, current.report_interval) == ("from-file", "c-env", 45.0)
    assert current.metrics_enabled is False and current.templates == {"base": "img"}
    assert settings.load(dict(BASE, OVIM_CONFIG_FILE=_settings_file(tmp_path, "{}"))).agent_id == "a1"


@pytest.mark.parametrize("text,named", [
    ("OVIM_REPORT_INTERVAL: -5\n", "OVIM_REPORT_INTERVAL"), ("OVIM_REPORT_INTERVALL: 5\n", "OVIM_REPORT_INTERVALL"),
    ("[1, 2]\n", "OVIM_CONFIG_FILE"), ("OVIM_AGENT_ID: [a]\n", "OVIM_AGENT_ID"), ("a: [\n", "OVIM_CONFIG_FILE"),
])
def test_settings_file_refused_by_name(tmp_path, text, named):
    env = dict(BASE, OVIM_CONFIG_FILE=_settings_file(tmp_path, text))
    if named == "OVIM_AGENT_ID":
        del env["OVIM_AGENT_ID"]
    with pytest.raises(settings.SettingsError) as raised:
        settings.load(env)
    assert str(raised.value).startswith(named) and "secret-canary" not in str(raised.value)
    if named == "OVIM_REPORT_INTERVAL":
        assert "set in OVIM_CONFIG_FILE=" in str(raised.value)


def test_settings_file_missing():
    with pytest.raises(settings.SettingsError, match="^OVIM_CONFIG_FILE=/nonexistent/x.yaml cannot be read"):
        settings.load(dict(BASE, OVIM_CONFIG_FILE="/nonexistent/x.yaml"))
