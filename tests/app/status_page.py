"""Opens the status page of a running `vigil run` in headless Chromium, as an operator's browser would,
and writes what it shows as one JSON object, for tests/app/status_page_itest.cc to compare with the
server's own answers:

    status_page.py URL OUT.json     e.g. status_page.py http://127.0.0.1:9464/ out.json
    status_page.py --check          exits 0 when Chromium, chromedriver and Selenium are installed

It waits (on conditions, up to 90 s) until the page has polled /metrics three times and shows a
champion, a training run and a finite PSI on every row, then records: the browser log's SEVERE entries
(console errors, uncaught exceptions, failed requests), the document's content type, the models and
rollout panels, the runs and dead-letter rows, and each PSI row's displayed text next to the gauge
text the page keeps in its data-psi attribute. Missing prerequisites exit 3 with a line naming
scripts/setup; a page that never gets there exits 1 with what it showed."""
import json
import shutil
import sys

SETUP = "install with scripts/setup (Debian packages chromium, chromium-driver, python3-selenium)"


def prerequisites():
    """(chromium, chromedriver) paths; exits 3 naming what is missing."""
    missing = []
    chromium = shutil.which("chromium") or shutil.which("chromium", path="/usr/bin")
    driver = shutil.which("chromedriver") or shutil.which("chromedriver", path="/usr/bin")
    if not chromium:
        missing.append("chromium")
    if not driver:
        missing.append("chromedriver")
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("python3-selenium (the selenium module of %s)" % sys.executable)
    if missing:
        print("status_page.py: missing %s: %s" % (", ".join(missing), SETUP), file=sys.stderr)
        sys.exit(3)
    return chromium, driver


# True once the page has rendered everything the test compares.
READY = """
const rows = [...document.querySelectorAll('#psi tbody tr')];
return Number(document.body.dataset.polls) >= 3 &&
       !['', '–'].includes(document.getElementById('champion').textContent) &&
       document.querySelector('#runs tbody tr') !== null &&
       rows.length > 0 && rows.every(tr => isFinite(parseFloat(tr.dataset.psi)));
"""

# What the page shows, read in one go.
SHOWN = """
const text = id => document.getElementById(id).textContent;
const rows = sel => [...document.querySelectorAll(sel + ' tbody tr')];
return {
  content_type: document.contentType, title: document.title, updated: text('updated'),
  polls: Number(document.body.dataset.polls),
  champion: text('champion'), candidate: text('candidate'), monitored: text('serving'),
  versions: text('versions'), rollout_state: text('rollout-state'), rollout_rule: text('rollout-rule'),
  runs: rows('#runs').map(tr => tr.dataset.key),
  dead_letters: Object.fromEntries(rows('#dead-letters').map(tr => [tr.dataset.key, tr.cells[1].textContent])),
  psi: rows('#psi').map(tr => ({name: tr.dataset.key, shown: tr.cells[1].textContent,
                                gauge: tr.dataset.psi, version: tr.dataset.version})),
};
"""


def main():
    chromium, driver_path = prerequisites()
    if sys.argv[1:] == ["--check"]:
        return 0
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    url, out = sys.argv[1], sys.argv[2]
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    # --no-sandbox: the tests may run as root, where Chromium's sandbox refuses to start.
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        browser.set_page_load_timeout(60)
        browser.get(url)
        try:
            WebDriverWait(browser, 90, poll_frequency=0.25).until(lambda b: b.execute_script(READY))
        except TimeoutException:
            print("status_page.py: the page never showed a champion, a run and finite PSIs; it shows:\n%s\n"
                  "browser log: %s" % (json.dumps(browser.execute_script(SHOWN), indent=1),
                                       browser.get_log("browser")), file=sys.stderr)
            return 1
        shown = browser.execute_script(SHOWN)
        shown["severe"] = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    finally:
        browser.quit()
    with open(out, "w") as f:
        json.dump(shown, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
