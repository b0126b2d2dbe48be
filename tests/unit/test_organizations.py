"""The organizations file: the bundled samples load, relative demo dates resolve in the
contact's time zone, and a bad file is one clear error."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from app.organizations import OrganizationsError, load_organizations
from dialog.catalog import check_setup, load_flows


def test_sample_organizations_have_complete_demo_contacts():
    organizations = load_organizations()
    assert set(organizations) == {"riverside-clinic", "harbor-insurance", "northbridge-bank"}
    flows = load_flows()
    for org in organizations.values():
        check_setup(flows[org.default_agent], org.demo_setup())  # raises when a field lacks


def test_relative_demo_dates_are_in_the_contacts_zone():
    clinic = load_organizations()["riverside-clinic"]
    now = datetime(2026, 3, 7, 23, 30, tzinfo=ZoneInfo("UTC"))  # 18:30 in New York
    setup = clinic.demo_setup(now)
    start = datetime.fromisoformat(setup.context["appointment"]["start"])
    assert (start.date().isoformat(), start.hour, start.minute) == ("2026-03-08", 15, 30)
    assert start.utcoffset().total_seconds() == -4 * 3600  # DST began that morning
    assert setup.context["organization"] == "Riverside Clinic"


@pytest.mark.parametrize(("text", "problem"), [
    ("organizations: []", "organizations"),
    ("organizations:\n  - {id: Bad Id, name: X, default_agent: a, agents: [a]}", "id"),
    ("organizations:\n  - {id: x, name: X, default_agent: b, agents: [a]}", "default_agent"),
    ("organizations:\n  - {id: x, name: X, default_agent: a, agents: [a],"
     " allowed_origins: [example.com]}", "allowed_origins"),
    ("organizations: [", "while parsing"),
])
def test_bad_organization_files_name_the_problem(tmp_path, text, problem):
    path = tmp_path / "orgs.yaml"
    path.write_text(text)
    with pytest.raises(OrganizationsError, match=problem):
        load_organizations(path)
