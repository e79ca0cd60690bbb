"""Picking conversations on a page of 950: ``.venv/bin/python bench/pick_page.py [--runs 7] [--keep]``.

In a temporary folder: a migrated SQLite file, the Chat sandbox (``manage.py chat_sandbox``) and the admin under
``manage.py runserver --noreload --insecure`` (which serves the static files), with the project's own settings
(``imadmin.settings``, DEBUG off, no broker). It seeds 1,000 Chat users, a group of the first of them holding 950
one-to-one conversations, and, in Chat, 1,000 conversations in that user's list. Then, in headless Chromium
(Debian's, through Playwright), logged in as a superuser, it measures ``--runs`` times each:

1. the group page's load (navigation start to the end of DOMContentLoaded, when the deferred scripts have run),
   beside the reference of the same page with the picker's script blocked (the same run, alternating);
2. the answer to the type-ahead (``chat-users/?term=``, over HTTP with ``requests``), beside Django's own
   autocomplete of the owner box (``/admin/autocomplete/``) searching the same users;
3. opening the panel until its first page of Chat's list is shown and laid out (timed in the page), of which the
   admin's answer (the resource timing of ``recent/``), beside one get_list call sent straight to the sandbox;
4. choosing 50 conversations and adding them (the script fills the one empty row and adds 49 through Django's "Add
   another"), beside clicking Django's "Add another" 49 times on the same page.

It prints the medians and the machine's load, and exits non-zero when a figure could not be measured, or when
the page with the picker takes more than 20 % (and 50 ms) longer than without it, or adding 50 takes more than
twice as long as Django's own 49 adds plus 100 ms.
"""

import argparse
import os
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.sync_bench import (  # noqa: E402
    ADMIN_IDENTIFIER,
    SDKAPPID,
    Failure,
    Sandbox,
    environment,
    http_ok,
    manage,
    start_logged,
    started,
)
from contactgroups.chat import protocol  # noqa: E402
from contactgroups.chat.usersig import generate_usersig  # noqa: E402
from tests.services import free_port, stop  # noqa: E402

USERS = 1_000
IN_GROUP = 950
LISTED = 1_000
PICKS = 50
CHROMIUM = "/usr/bin/chromium"
LOGIN_URL = "/admin/login/"


def seed(sandbox: Sandbox) -> int:
    """The users, the group of 950 and the owner's list in Chat; the group's pk."""
    from contactgroups.models import ChatUser, ContactGroup, ContactItem

    user_ids = [f"bench_user_{number:04d}" for number in range(USERS)]
    sandbox.import_accounts(user_ids)
    users = ChatUser.objects.bulk_create(ChatUser(user_id=user_id, nickname=f"Nick {number:04d}")
                                         for number, user_id in enumerate(user_ids))
    owner = users[0]
    group = ContactGroup.objects.create(owner=owner, name="bench")
    ContactItem.objects.bulk_create(ContactItem(group=group, type=protocol.TYPE_C2C, to_account=user_id)
                                    for user_id in user_ids[1 : IN_GROUP + 1])
    group.refresh_counts()
    # Newest first: a group conversation and the 49 users not in the group, then the 950 the group holds.
    now = int(time.time())
    items = [{"Type": protocol.TYPE_GROUP, "GroupId": "@TGS#bench", "MsgTime": now}]
    items += [{"Type": protocol.TYPE_C2C, "To_Account": user_ids[number], "MsgTime": now - (USERS - number)}
              for number in range(1, USERS)]
    response = sandbox.session.post(f"{sandbox.url}/__sandbox__/conversations",
                                    json={"From_Account": owner.user_id, "SessionItem": items}, timeout=30)
    response.raise_for_status()
    return group.pk


# In the page, from the click on the panel's button to its first page of rows shown and laid out (Playwright's own
# click would add its checks of a page of a thousand rows); and the admin's answer, from the resource timing.
PANEL_SHOWN = """async () => {
  const started = performance.now();
  document.querySelector('[data-pick-open]').click();
  while (document.querySelectorAll('#pick-panel tbody tr').length < 50) {
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  document.body.offsetHeight;
  const shown = performance.now() - started;
  const answer = performance.getEntriesByType('resource').filter((entry) => entry.name.includes('/recent/')).pop();
  return [shown / 1000, answer.duration / 1000];
}"""


def direct_get_list(sandbox: Sandbox, owner: str) -> float:
    usersig = generate_usersig(SDKAPPID, sandbox.env["CHAT_SECRET_KEY"], ADMIN_IDENTIFIER)
    query = urllib.parse.urlencode({"sdkappid": SDKAPPID, "identifier": ADMIN_IDENTIFIER, "usersig": usersig,
                                    "random": secrets.randbits(32), "contenttype": "json"})
    body = {"From_Account": owner, "TimeStamp": 0, "StartIndex": 0, "TopTimeStamp": 0, "TopStartIndex": 0,
            "AssistFlags": protocol.GET_LIST_ASSIST_FLAGS}
    started_at = time.perf_counter()
    answer = sandbox.session.post(f"{sandbox.url}/v4/{protocol.GET_LIST}?{query}", json=body, timeout=10).json()
    elapsed = time.perf_counter() - started_at
    if answer["ErrorCode"]:
        raise Failure(f"get_list failed: {answer}")
    return elapsed


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:8.1f} ms"


def run(directory: Path, runs: int) -> int:
    from playwright.sync_api import sync_playwright

    services = []
    try:
        sandbox_port = free_port()
        env = environment(directory, "", f"http://127.0.0.1:{sandbox_port}")
        os.environ.update(env)
        import django

        django.setup()
        manage(env, "migrate", "--noinput")
        manage(env, "ensure_superuser")
        sandbox = Sandbox(env, sandbox_port, directory / "sandbox.log")
        services.append(sandbox)
        sandbox.set_latency(0)
        group_pk = seed(sandbox)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = directory / "runserver.log"
        admin = start_logged([sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload",
                              "--insecure"], env, log)
        services.append(admin)
        started(admin, lambda: http_ok(f"{url}{LOGIN_URL}"), "The admin (runserver)", log)
        page_url = f"{url}/admin/contactgroups/contactgroup/{group_pk}/change/"

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=["--no-sandbox", "--disable-gpu"])
            context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
            page = context.new_page()
            page.set_default_timeout(60_000)
            page.goto(f"{url}{LOGIN_URL}")
            page.fill("#id_username", env["DJANGO_SUPERUSER_USERNAME"])
            page.fill("#id_password", env["DJANGO_SUPERUSER_PASSWORD"])
            page.click("input[type=submit]")
            page.wait_for_url(f"{url}/admin/")
            session = requests.Session()
            session.trust_env = False
            for cookie in context.cookies():
                session.cookies.set(cookie["name"], cookie["value"])

            blocked = context.new_page()
            blocked.route("**/pick_conversations.js", lambda route: route.abort())
            loads = {"with the picker": [], "picker script blocked (reference)": []}
            for _run in range(runs):
                for label, tab in (("with the picker", page), ("picker script blocked (reference)", blocked)):
                    tab.goto(page_url, wait_until="load")
                    loads[label].append(tab.evaluate(
                        "() => { const t = performance.getEntriesByType('navigation')[0];"
                        " return t.domContentLoadedEventEnd / 1000; }"))
            if page.locator("#items-group tr.form-row:not(.empty-form)").count() != IN_GROUP + 1:
                raise Failure("The group page does not show the 950 conversations and an empty row.")

            suggest, reference = [], []
            owner_field = urllib.parse.urlencode({"app_label": "contactgroups", "model_name": "contactgroup",
                                                  "field_name": "owner", "term": "bench_user_09"})
            for number in range(runs):
                term = f"bench_user_0{number % 10}"
                started_at = time.perf_counter()
                answer = session.get(f"{url}/admin/contactgroups/contactgroup/chat-users/",
                                     params={"term": term}, timeout=10)
                suggest.append(time.perf_counter() - started_at)
                if answer.status_code != 200 or len(answer.json()["users"]) != 20:
                    raise Failure(f"The type-ahead answered HTTP {answer.status_code}: {answer.text[:200]}")
                started_at = time.perf_counter()
                answer = session.get(f"{url}/admin/autocomplete/?{owner_field}", timeout=10)
                reference.append(time.perf_counter() - started_at)
                if answer.status_code != 200:
                    raise Failure(f"Django's autocomplete answered HTTP {answer.status_code}")

            panel, answers, direct = [], [], []
            for _run in range(runs):
                page.goto(page_url, wait_until="load")
                shown, answer = page.evaluate(PANEL_SHOWN)
                panel.append(shown)
                answers.append(answer)
                direct.append(direct_get_list(sandbox, "bench_user_0000"))

            picks, adds = [], []
            for _run in range(runs):
                page.goto(page_url, wait_until="load")
                page.click("[data-pick-open]")
                page.click("[data-pick-more]")
                page.wait_for_selector("#pick-panel tbody tr >> nth=99")
                ticked = page.evaluate(
                    "(count) => { const boxes = Array.from(document.querySelectorAll("
                    "'#pick-panel tbody input[type=checkbox]:not(:disabled)')).slice(0, count);"
                    " boxes.forEach((box) => { box.checked = true; });"
                    " document.querySelector('#pick-panel tbody').dispatchEvent(new Event('change'));"
                    " return boxes.length; }", PICKS)
                if ticked != PICKS:
                    raise Failure(f"Only {ticked} conversations of Chat's list were not in the group.")
                picks.append(page.evaluate(
                    "() => { const t = performance.now(); document.querySelector('[data-pick-add]').click();"
                    " return (performance.now() - t) / 1000; }"))
                filled = page.locator("#items-group tr.form-row:not(.empty-form)").count()
                if filled != IN_GROUP + PICKS:
                    raise Failure(f"After adding {PICKS} the inline has {filled} rows, not {IN_GROUP + PICKS}.")
                page.goto(page_url, wait_until="load")
                adds.append(page.evaluate(
                    "(count) => { const link = document.querySelector('#items-group .add-row a');"
                    " const t = performance.now(); for (let i = 0; i < count; i += 1) link.click();"
                    " return (performance.now() - t) / 1000; }", PICKS - 1))
            browser.close()

        print()
        print(f"The group page with {IN_GROUP} conversations, {runs} runs each, medians "
              f"(Chromium headless, runserver, SQLite, {USERS} Chat users, {LISTED} conversations in Chat's list)")
        for label, values in loads.items():
            print(f"  page load to DOMContentLoaded, {label:<36}{ms(values)}")
        print(f"  type-ahead, chat-users/?term= (20 users)                 {ms(suggest)}")
        print(f"  Django's owner autocomplete, same users (reference)      {ms(reference)}")
        print(f"  panel opened to Chat's first page shown (50)             {ms(panel)}")
        print(f"    of which the admin's answer (recent/, one get_list)   {ms(answers)}")
        print(f"  one get_list sent straight to the sandbox (reference)    {ms(direct)}")
        print(f"  adding {PICKS} chosen conversations (1 empty row, {PICKS - 1} added)     {ms(picks)}")
        print(f"  Django's \"Add another\" clicked {PICKS - 1} times (reference)        {ms(adds)}")
        load = os.getloadavg()
        print(f"\nLoad average during the run: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} CPUs")
        with_picker = statistics.median(loads["with the picker"])
        without = statistics.median(loads["picker script blocked (reference)"])
        passed = (with_picker <= max(without * 1.2, without + 0.05)
                  and statistics.median(picks) <= 2 * statistics.median(adds) + 0.1)
        print("PASS" if passed else "FAIL")
        return 0 if passed else 1
    finally:
        for service in reversed(services):
            try:
                stop(service, signal.SIGINT) if hasattr(service, "poll") else service.stop()
            except Exception as exc:  # keep stopping the others
                print(f"could not stop {service!r}: {exc}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="Measurements of each figure.")
    parser.add_argument("--keep", action="store_true", help="Keep the folder with the database and the logs.")
    options = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="imadmin-pick-"))
    try:
        return run(directory, options.runs)
    except Failure as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        return 1
    finally:
        if options.keep:
            print(f"Kept {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
