"""The widget's public endpoints against a real web process: CORS, validation, mail budget."""

from __future__ import annotations

import httpx
import pytest

from desk.seed import DEMO_SITE_KEY
from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e


def test_public_endpoints_over_http(server: Server) -> None:
    site = f"{server.url}/api/public/sites/{DEMO_SITE_KEY}"
    with httpx.Client(timeout=10) as http:
        r = http.get(site, headers={"Origin": server.url})
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == server.url
        assert r.json()["online"] is False and r.json()["title"] == "Chat with Demo Shop"
        assert r.json()["online_departments"] == []
        # A foreign origin gets the data (it is public) but no CORS grant for its scripts.
        r = http.get(site, headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers
        assert http.get(f"{server.url}/api/public/sites/nope").status_code == 404
        pre = http.options(site + "/messages", headers={
            "Origin": server.url, "Access-Control-Request-Method": "POST"})
        assert pre.status_code == 204 and "POST" in pre.headers["access-control-allow-methods"]
        bad = http.post(site + "/messages", content=b"[1]",
                        headers={"Content-Type": "application/json"})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid"
        form = {"department_id": 0, "topic": "billing", "email": "a@b.example",
                "name": "<b>x</b>", "text": "Invoice wrong"}
        r = http.get(site)
        form["department_id"] = r.json()["departments"][1]["id"]
        # Each post mails an acknowledgement to the typed address: the mail guard's budget.
        budget = server.settings.mail_per_recipient_per_hour
        codes = [http.post(site + "/messages", json=form).status_code
                 for _ in range(budget + 1)]
        assert codes == [201] * budget + [429]
