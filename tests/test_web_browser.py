"""The review page in a real headless Chromium (Debian's, driven by Selenium through Debian's
chromedriver) over an in-process world: log in, read, submit, resolve, reopen; script stays inert.
With ATS_INBOX_SCREENSHOTS=docs it saves the screenshots docs/recruiters.md shows into docs/ (otherwise
into the test's temporary folder, so a test run leaves the tree as it was)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from daemon.web.serve import Listener
from tests.inprocess import InProcessWorld
from tests.webworld import PASSWORD, SCRIPT_HTML, SCRIPT_SUBJECT, HeldMail, add_people, review_app, set_aside_mail

CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
DOCS = Path(__file__).parent.parent / "docs"
pytestmark = pytest.mark.skipif(not CHROMIUM.exists() or not DRIVER.exists(),
                                reason="needs Debian's chromium and chromium-driver (/usr/bin/chromium)")


@pytest.fixture
def site(tmp_path):
    world = InProcessWorld(tmp_path)
    add_people(world)
    with Listener("127.0.0.1", 0, review_app(world, HeldMail(world))) as listener:
        yield world, f"http://127.0.0.1:{listener.port}"
    world.close()


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


def log_in(browser, base: str, name: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{base}/login")
    browser.find_element(By.ID, "name").send_keys(name)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "login").click()
    browser.find_element(By.CLASS_NAME, "queue")


def shows(browser, element_id: str, text: str) -> bool:
    """Waits until the page (the next one, after a click) shows `text` in the element."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def found(driver) -> bool:
        try:
            return text in driver.find_element(By.ID, element_id).text
        except (NoSuchElementException, StaleElementReferenceException):
            return False

    WebDriverWait(browser, 10, ignored_exceptions=(StaleElementReferenceException,)).until(found)
    return True


def no_script_ran(browser) -> bool:
    from selenium.common.exceptions import NoAlertPresentException

    try:
        _ = browser.switch_to.alert.text
        return False
    except NoAlertPresentException:
        return browser.execute_script("return typeof window.__pwned") == "undefined"


@pytest.fixture
def shots(tmp_path) -> Path:
    """Where the screenshots go: docs/ when asked (ATS_INBOX_SCREENSHOTS=docs), else a temporary folder."""
    return DOCS if os.environ.get("ATS_INBOX_SCREENSHOTS") == "docs" else tmp_path


def test_a_recruiter_reads_a_set_aside_mail_and_submits_it_to_a_job(site, browser, shots):
    """Log in, see the mail's text, submit it to a job: after the next pass the candidate is in the
    sandbox and the record submitted; then resolve and reopen another; the admin page is refused."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    world, base = site
    record = set_aside_mail(world)
    other = set_aside_mail(world, subject="Sous Chef")
    log_in(browser, base, "rita")
    assert "Chef Dupont" in browser.find_element(By.CLASS_NAME, "queue").text
    assert browser.save_screenshot(str(shots / "review-queue.png"))
    browser.get(f"{base}/messages/{record.id}")
    assert "JOB-CODE-77" in browser.find_element(By.ID, "mailtext").text
    assert browser.save_screenshot(str(shots / "review-message.png"))
    Select(browser.find_element(By.ID, "target")).select_by_visible_text("Data Analyst: Screening")
    browser.find_element(By.ID, "submit").click()
    assert shows(browser, "said", "will go to 'Data Analyst'")
    world.poll()
    assert world.store.message_by_pk(record.id).status == "submitted"
    assert [str(c["job_id"]) for c in world.sandbox.state()["candidates"]] == ["103"]
    assert record.uid in world.box.done  # the mail marked done (moved) in the mailbox

    browser.get(f"{base}/messages/{other.id}")
    browser.find_element(By.ID, "note").send_keys("called her, added by hand")
    browser.find_element(By.ID, "resolve").click()
    assert shows(browser, "status", "resolved")
    browser.find_element(By.ID, "reopen").click()
    assert shows(browser, "status", "review")
    assert "rita resolve" in browser.find_element(By.ID, "history").text

    browser.get(f"{base}/status")
    assert shows(browser, "refusal", "only an admin")


def test_script_in_a_subject_and_an_html_body_never_runs(site, browser):
    """A subject and an HTML body carrying script are shown inert: no flag set, no alert open."""
    from selenium.webdriver.common.by import By

    world, base = site
    record = set_aside_mail(world, subject=SCRIPT_SUBJECT, html=SCRIPT_HTML)
    log_in(browser, base, "adam")
    assert no_script_ran(browser)
    browser.get(f"{base}/messages/{record.id}")
    browser.find_element(By.TAG_NAME, "summary").click()
    assert "Chef" in browser.find_element(By.ID, "mailhtml").text
    assert "<script>" in browser.find_element(By.ID, "subject").text  # shown as text
    for link in browser.find_elements(By.CSS_SELECTOR, "#mailhtml a"):
        link.click()
    assert no_script_ran(browser)


def test_a_form_posted_without_its_token_is_refused(site, browser):
    """A POST from a page of another site (no CSRF token) is refused and changes nothing."""

    world, base = site
    record = set_aside_mail(world)
    log_in(browser, base, "rita")
    browser.execute_script(
        "var f=document.createElement('form');f.method='post';f.action=arguments[0];"
        "var n=document.createElement('input');n.name='note';n.value='x';f.appendChild(n);"
        "document.body.appendChild(f);f.submit();", f"{base}/messages/{record.id}/resolve")
    assert shows(browser, "refusal", "security token")
    assert world.store.message_by_pk(record.id).status == "review"
