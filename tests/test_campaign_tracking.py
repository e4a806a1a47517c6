"""Open and click tracking over real components: mail goes through aiosmtpd on 127.0.0.1, the
links in it are fetched from `strata unsubscribe-server`'s app under uvicorn. A tracked
message's web links point at signed click URLs and it carries an open pixel; a click
redirects to the template's own link and is recorded once; forged tokens record nothing;
with tracking off the HTML is exactly what the template renders."""

from __future__ import annotations

import http.client
import re
import urllib.parse

import pytest

from campaigns.campaign import CampaignError, create_campaign
from campaigns.events import events
from campaigns.launch import launch
from campaigns.preflight import preflight
from campaigns.runner import run_campaign
from campaigns.settings import SendSettings
from campaigns.templates import Template, render_one
from campaigns.tokens import Tracked, sign_tracked
from semantic.errors import StrataError
from store import open_store
from tests.campaign_fixtures import (  # noqa: F401  (fixtures)
    app_store_fixture,
    free_port,
    frozen_people,
    serving,
    sink_fixture,
)
from tests.conftest import strata
from tests.store_fixtures import pg_server, store_url  # noqa: F401  (fixtures)

SECRET = "tracking-secret"
HTML = (
    "<html><body><p>Dear {{ name }},</p>"
    '<p><a class="cta" href="https://utility.example/e-bill?who={{ id }}&amp;from=mail">'
    "Sign up for e-bill</a></p>"
    "<p><a href='https://utility.example/tariffs'>Tariffs</a> · "
    '<a href="mailto:help@utility.example">Help</a></p></body></html>'
)
TEMPLATE = Template("Go paperless, {{ name }}", "Dear {{ name }}, sign up for e-bill.", HTML)


@pytest.fixture
def endpoint(app_store):
    with serving(app_store, SECRET) as base:
        yield base


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    """One GET, redirects not followed (the test looks at the redirect itself)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        conn.request("GET", parts.path)
        reply = conn.getresponse()
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
    finally:
        conn.close()


def _settings(sink, base: str, **kw) -> SendSettings:
    return SendSettings(
        smtp_host="127.0.0.1",
        smtp_port=sink.port,
        sender="ep@utility.example",
        unsubscribe_url=f"{base}/u",
        unsubscribe_secret=SECRET,
        **kw,
    )


def _people(n: int) -> list[tuple]:
    return [(i, f"Person {i}", f"p{i}@x.example", None, "Tuzla") for i in range(1, n + 1)]


def _sent(tmp_path, store, sink, base, *, tracking=True, n=3, name="Paperless", control=0.0):
    frozen = frozen_people(tmp_path, store, _people(n), name=f"{name} list")
    c = create_campaign(
        store, name, frozen, TEMPLATE, "marketer", tracking=tracking, control_share=control
    )
    settings = _settings(sink, base)
    launch(store, c.id, preflight(store, c), settings)
    run_campaign(store, c.id, settings)
    return c


def _html(sink, to: str) -> str:
    mail = next(m for m in sink.parsed() if m["To"] == to)
    return mail.get_body(("html",)).get_content()


def _hrefs(html: str) -> list[str]:
    return re.findall(r"""<a\b[^>]*\bhref=["']([^"']*)["']""", html)


def _pixel(html: str) -> str:
    (src,) = re.findall(r'<img src="([^"]*/o/[^"]*)" width="1" height="1"', html)
    return src


def test_web_links_in_the_delivered_html_become_click_urls_and_a_pixel_is_added(
    tmp_path, app_store, sink, endpoint
):
    _sent(tmp_path, app_store, sink, endpoint)
    html = _html(sink, "p1@x.example")
    web, mail = _hrefs(html)[:2], _hrefs(html)[2]
    assert all(h.startswith(f"{endpoint}/c/") for h in web) and len(set(web)) == 2
    assert mail == "mailto:help@utility.example"  # not a web link: left as it was
    assert "https://utility.example" not in html  # no target is readable in the message
    assert _pixel(html).startswith(f"{endpoint}/o/")
    assert html.index("/o/") < html.index("</body>")
    text = next(m for m in sink.parsed() if m["To"] == "p1@x.example").get_body(("plain",))
    assert text.get_content().strip() == "Dear Person 1, sign up for e-bill."


def test_a_click_redirects_to_the_templates_link_and_records_one_event(
    tmp_path, app_store, sink, endpoint
):
    c = _sent(tmp_path, app_store, sink, endpoint)
    signup = _hrefs(_html(sink, "p2@x.example"))[0]
    status, headers, _ = _get(signup)
    assert status == 303
    # The member's own rendered link, with the HTML's &amp; read as the browser reads it.
    assert headers["location"] == "https://utility.example/e-bill?who=2&from=mail"
    got = [(e["member_key"], e["kind"], e["link"], e["url"]) for e in events(app_store, c.id)]
    assert got == [("2", "click", 1, "https://utility.example/e-bill?who=2&from=mail")]


def test_clicking_the_same_link_twice_records_it_once(tmp_path, app_store, sink, endpoint):
    c = _sent(tmp_path, app_store, sink, endpoint)
    signup, tariffs = _hrefs(_html(sink, "p1@x.example"))[:2]
    for url in (signup, signup, tariffs):
        assert _get(url)[0] == 303
    assert [(e["kind"], e["link"]) for e in events(app_store, c.id)] == [
        ("click", 1),
        ("click", 2),
    ]


def test_the_open_pixel_is_a_gif_and_records_the_first_open_only(
    tmp_path, app_store, sink, endpoint
):
    c = _sent(tmp_path, app_store, sink, endpoint)
    pixel = _pixel(_html(sink, "p3@x.example"))
    for _ in range(3):  # image proxies and re-reads fetch it again
        status, headers, body = _get(pixel)
        assert (status, headers["content-type"], body[:6]) == (200, "image/gif", b"GIF89a")
    assert [(e["member_key"], e["kind"], e["link"]) for e in events(app_store, c.id)] == [
        ("3", "open", 0)
    ]


def test_a_forged_or_edited_token_is_refused_with_400_and_records_nothing(
    tmp_path, app_store, sink, endpoint
):
    c = _sent(tmp_path, app_store, sink, endpoint)
    click = _hrefs(_html(sink, "p1@x.example"))[0]
    head, link, mac = click.rpartition("/")[2].split(".")
    other_mac = sign_tracked(SECRET, Tracked(c.id, "1", 2)).split(".")[2]
    forged = [
        f"{endpoint}/c/{head}.{link}.{other_mac}",  # a valid signature, but of another link
        f"{endpoint}/c/{head}.2.{mac}",  # the link number edited
        f"{endpoint}/c/{head}.{link}.{mac[:-2]}xx",
        f"{endpoint}/c/eyJ4IjoxfQ.forged",
        f"{endpoint}/o/{head}.{link}.{mac}",  # a click's token used as the open pixel
    ]
    for url in forged:
        assert _get(url)[0] == 400, url
    assert events(app_store, c.id) == []


def test_a_signed_token_for_a_link_the_template_lacks_is_404_not_a_redirect(
    tmp_path, app_store, sink, endpoint
):
    c = _sent(tmp_path, app_store, sink, endpoint)
    beyond = sign_tracked(SECRET, Tracked(c.id, "1", 3))  # the template has two web links
    stranger = sign_tracked(SECRET, Tracked(c.id, "99", 1))  # not on the list
    for url in (f"{endpoint}/c/{beyond}", f"{endpoint}/c/{stranger}"):
        status, headers, _ = _get(url)
        assert status == 404 and "location" not in headers
    assert events(app_store, c.id) == []


def test_an_untracked_campaigns_tokens_record_nothing(tmp_path, app_store, sink, endpoint):
    c = _sent(tmp_path, app_store, sink, endpoint, tracking=False)
    assert _get(f"{endpoint}/o/{sign_tracked(SECRET, Tracked(c.id, '1', 0))}")[0] == 404
    assert events(app_store, c.id) == []


def test_with_tracking_off_the_delivered_html_is_byte_identical_to_the_rendered_template(
    tmp_path, app_store, sink, endpoint
):
    _sent(tmp_path, app_store, sink, endpoint, tracking=False)
    mail = next(m for m in sink.parsed() if m["To"] == "p1@x.example")
    fields = {"Id": 1, "Name": "Person 1", "Email": "p1@x.example", "Mobile Phone": None}
    rendered = render_one(TEMPLATE, {**fields, "Town": "Tuzla"})
    assert mail.get_body(("html",)).get_payload(decode=True) == rendered.html.encode()


def test_tracking_is_for_e_mail_only(tmp_path, app_store):
    rows = [(1, "P1", None, "+38761000001", "T")]
    frozen = frozen_people(tmp_path, app_store, rows)
    with pytest.raises(CampaignError, match="tracking is for e-mail only"):
        create_campaign(
            app_store, "S", frozen, Template("s", "x"), "m", channel="sms", tracking=True
        )


def test_a_tracked_campaign_without_an_endpoint_is_not_launched(tmp_path, app_store, sink):
    frozen = frozen_people(tmp_path, app_store, _people(2))
    c = create_campaign(app_store, "No endpoint", frozen, TEMPLATE, "m", tracking=True)
    bare = SendSettings(smtp_host="127.0.0.1", smtp_port=sink.port)
    with pytest.raises(StrataError, match="tracking endpoint's address and secret"):
        launch(app_store, c.id, preflight(app_store, c), bare)
    assert sink.messages == []


def test_the_preflight_shows_tracking_and_switching_it_voids_the_approval(tmp_path, app_store):
    from campaigns.edit import edit_draft

    frozen = frozen_people(tmp_path, app_store, _people(2))
    c = create_campaign(app_store, "Switched", frozen, TEMPLATE, "m", tracking=True)
    report = preflight(app_store, c)
    assert "  tracking: opens (a 1x1 image) and clicks on 2 web link(s) per message" in "\n".join(
        report.lines()
    )
    edit_draft(app_store, c.id, tracking=False)
    settings = SendSettings(unsubscribe_url="http://127.0.0.1:9/u", unsubscribe_secret=SECRET)
    with pytest.raises(CampaignError, match="changed since its pre-flight report"):
        launch(app_store, c.id, report, settings)


@pytest.fixture
def default_store(demo):
    # The demo model reads campaign results from $STRATA_DATA/app.db: the default store.
    with open_store() as store:
        yield store


def test_opened_and_clicked_measures_equal_hand_sql_on_the_store(
    demo, default_store, sink, tmp_path
):
    with serving(default_store, SECRET) as base:
        c = _sent(tmp_path, default_store, sink, base, n=10, name="Tracked results", control=0.2)
        sent = {m["To"]: _html(sink, m["To"]) for m in sink.parsed()}
        first, second, third = sorted(sent)[:3]  # control members were sent nothing
        # One opens and clicks both links twice; one clicks with images blocked (no pixel);
        # one opens twice and clicks nothing.
        actions = {first: ("open", 1, 1, 2, 2), second: (1,), third: ("open", "open")}
        for to, done in actions.items():
            for a in done:
                url = _pixel(sent[to]) if a == "open" else _hrefs(sent[to])[a - 1]
                assert _get(url)[0] in (200, 303)
    sql = (
        'SELECT "Facts"."# Sent", "Facts"."# Opened", "Facts"."# Clicked", "Facts"."Open Rate", '
        '"Facts"."Click Rate", "Facts"."# Links Clicked" FROM "Campaign Results" '
        'WHERE "Campaign"."Campaign" = \'Tracked results\''
    )
    got = demo.query(sql, user="admin").df.iloc[0].tolist()
    hand_sql = """SELECT
          (SELECT COUNT(*) FROM campaign_ledger WHERE campaign_id = :c AND state = 'sent'),
          (SELECT COUNT(DISTINCT member_key) FROM campaign_event WHERE campaign_id = :c),
          (SELECT COUNT(DISTINCT member_key) FROM campaign_event
             WHERE campaign_id = :c AND kind = 'click'),
          (SELECT COUNT(*) FROM campaign_event WHERE campaign_id = :c AND kind = 'click')"""
    sent_n, opened, clicked, link_clicks = default_store.read(
        lambda conn: conn.exec_driver_sql(hand_sql.replace(":c", "?"), (c.id,) * 4).one()
    )
    assert got[:3] == [sent_n, opened, clicked]
    assert got[3] == pytest.approx(opened / sent_n) and got[4] == pytest.approx(clicked / sent_n)
    assert got[5] == link_clicks
    by_link = (
        'SELECT "Engagement"."Clicked Link", "Facts"."# Clicked" FROM "Campaign Results" '
        'WHERE "Campaign"."Campaign" = \'Tracked results\' AND "Engagement"."Event" = \'click\''
    )
    per_link = default_store.read(
        lambda conn: conn.exec_driver_sql(
            "SELECT url, COUNT(DISTINCT member_key) FROM campaign_event "
            "WHERE campaign_id = ? AND kind = 'click' GROUP BY url",
            (c.id,),
        ).all()
    )
    assert sorted(demo.query(by_link, user="admin").df.itertuples(index=False, name=None)) == (
        sorted(tuple(r) for r in per_link)
    )
    assert (opened, clicked, link_clicks) == (3, 2, 2 + 1)  # the case described above
    status = strata("campaign", "status", "Tracked results")
    assert status.stdout.rstrip().endswith("; opened 3, clicked 2"), status.stderr


@pytest.mark.parametrize("store_url", ["sqlite", "postgresql"], indirect=True)
def test_the_tracking_migration_leaves_campaigns_made_before_it_untracked(store_url):  # noqa: F811
    from sqlalchemy import insert, text

    from store.connect import connect_store
    from store.migrate import _V2, MIGRATIONS, _campaign_v2
    from store.schema import now_utc, schema_version

    def at_v4(conn):
        # The store as a Strata before tracking left it: the migrations before it, a campaign.
        schema_version.create(conn)
        tracking = next(
            m.version for m in MIGRATIONS if m.name == "campaign open and click tracking"
        )
        for m in (m for m in MIGRATIONS if m.version < tracking):
            m.apply(conn)
            conn.execute(
                insert(schema_version).values(
                    version=m.version, name=m.name, applied_at=now_utc(), applied_by="test"
                )
            )
        conn.execute(
            insert(_campaign_v2).values(
                name="Old",
                list_id=1,
                channel="email",
                template="{}",
                control_share=0.0,
                status="finished",
                created_by="m",
                created_at=now_utc(),
            )
        )

    assert _V2.tables["campaign"] is _campaign_v2
    with connect_store(store_url) as store:
        store.write(at_v4)
    with open_store(store_url) as store:  # migrates to the newest version
        tracked = store.read(lambda c: c.execute(text("SELECT tracking FROM campaign")).all())
        assert [tuple(r) for r in tracked] == [(False,)]
        assert events(store, 1) == []


@pytest.mark.parametrize("store_url", ["sqlite", "postgresql"], indirect=True)
def test_each_store_keeps_one_row_per_first_open_and_first_click_per_link(
    store_url,  # noqa: F811
    tmp_path,
    sink,
):
    from campaigns.events import engagement, record_event

    with open_store(store_url) as store:
        c = _sent(tmp_path, store, sink, "https://t.example", n=2, name="Both stores")
        for link in (0, 0, 1, 1, 2):
            record_event(store, Tracked(c.id, "1", link))
        record_event(store, Tracked(c.id, "2", 2))
        got = sorted((e["member_key"], e["kind"], e["link"]) for e in events(store, c.id))
        assert got == [("1", "click", 1), ("1", "click", 2), ("1", "open", 0), ("2", "click", 2)]
        assert engagement(store, c.id) == (2, 2)
