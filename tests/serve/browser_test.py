#!/usr/bin/env python3
"""vlp serve: the search page in headless Chromium (Debian chromium + chromium-driver,
python3-selenium). A server on the golden images index; the page is loaded, a query typed,
the first result checked against `vlp search`, a thumbnail clicked for "more like this",
an image uploaded, a caption and tags asked for; any console error fails the test. A
screenshot is saved (argv[2]) as a CI artifact.
usage: browser_test.py VLP SCREENSHOT.png"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import GOLDEN, MODELS, Checks, Server, build_index  # noqa: E402

VLP, SHOT = sys.argv[1], sys.argv[2]
if not (os.path.exists("/usr/bin/chromium") and os.path.exists("/usr/bin/chromedriver")):
    print("skipped: needs Debian's chromium and chromium-driver")
    sys.exit(77)
os.makedirs(os.path.dirname(os.path.abspath(SHOT)), exist_ok=True)
from selenium import webdriver  # noqa: E402  (python3-selenium)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402
C = Checks()
check = C.check
tmp = tempfile.mkdtemp(prefix="vlp-serve-browser-")
ix = build_index(VLP, tmp)
query = "a photo of an astronaut"
top = json.loads(subprocess.run([VLP, "search", ix, query, "-k", "1"], capture_output=True,
                                check=True).stdout.splitlines()[0])
want_first = os.path.basename(top["path"])
s = Server(VLP, ["-m", os.path.join(MODELS, "blip-caption-tiny"), "--index", ix], tmp)
url = "http://127.0.0.1:%d/" % s.port

opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/bin/chromium"
for a in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
          "--disable-component-update", "--disable-sync", "--no-first-run",
          "--user-data-dir=" + os.path.join(tmp, "chromium-profile"), "--window-size=1280,900"]:
    opts.add_argument(a)
opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
wait = WebDriverWait(d, 30)
errors = []


def console():
    for e in d.get_log("browser"):
        if e["level"] == "SEVERE":
            errors.append(e["message"])


def first_card():
    return d.find_element(By.CSS_SELECTOR, "#grid li.card")


def status():
    return d.find_element(By.ID, "status").text


try:
    d.get(url)
    wait.until(lambda _: d.execute_script("return document.readyState") == "complete")
    check("title", d.title == "vlp search", d.title)
    # keyboard: "/" focuses the search box; type the query and press Enter
    d.find_element(By.TAG_NAME, "body").send_keys("/")
    check("'/' focuses the search box", d.switch_to.active_element.get_attribute("id") == "q")
    d.switch_to.active_element.send_keys(query + Keys.ENTER)
    wait.until(lambda _: "results for" in status())
    cards = d.find_elements(By.CSS_SELECTOR, "#grid li.card")
    check("five results", len(cards) == 5, len(cards))
    first = first_card().get_attribute("data-name")
    check("first result = vlp search's first (%s)" % want_first, first == want_first, first)
    wait.until(lambda _: d.execute_script(
        "return [...document.querySelectorAll('#grid img')].every(i => i.complete && i.naturalWidth > 0)"))
    check("thumbnails loaded", True)
    score = first_card().find_element(By.CLASS_NAME, "score").text
    check("score shown", abs(float(score) - top["score"]) < 1e-3, (score, top["score"]))
    # "more like this": click the third result; it comes back first (itself, score 1)
    third = d.find_elements(By.CSS_SELECTOR, "#grid li.card")[2]
    third_name = third.get_attribute("data-name")
    third.find_element(By.CLASS_NAME, "thumb").click()
    wait.until(lambda _: "more like " + third_name in status())
    check("more like this: the clicked photo first", first_card().get_attribute("data-name") == third_name)
    check("more like this: score 1", first_card().find_element(By.CLASS_NAME, "score").text == "1.000")
    # keyboard: Enter on a focused thumbnail is "more like this" too
    second = d.find_elements(By.CSS_SELECTOR, "#grid li.card")[1]
    second_name = second.get_attribute("data-name")
    d.execute_script("arguments[0].focus()", second.find_element(By.CLASS_NAME, "thumb"))
    ActionChains(d).send_keys(Keys.ENTER).perform()
    wait.until(lambda _: "more like " + second_name in status())
    check("keyboard Enter on a thumbnail", first_card().get_attribute("data-name") == second_name)
    # search by an uploaded image
    d.find_element(By.ID, "file").send_keys(os.path.realpath(os.path.join(GOLDEN, "images", "rocket.jpg")))
    wait.until(lambda _: "photos like rocket.jpg" in status())
    check("upload: rocket.jpg first", first_card().get_attribute("data-name") == "rocket.jpg")
    # drop an image on the page: a synthetic drop event with a File (the coffee thumbnail)
    st, r = s.json("POST", "/v1/search", {"text": "coffee", "k": 5})
    coffee_id = [x["id"] for x in r["results"] if x["name"] == "coffee.jpg"][0]
    d.execute_script("""
      fetch('/thumb/' + arguments[0]).then((r) => r.blob()).then((b) => {
        const dt = new DataTransfer();
        dt.items.add(new File([b], 'dropped.jpg', { type: 'image/jpeg' }));
        document.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      });""", coffee_id)
    wait.until(lambda _: "photos like dropped.jpg" in status())
    check("drop: the dropped photo's original first", first_card().get_attribute("data-name") == "coffee.jpg",
          first_card().get_attribute("data-name"))
    # caption and tags on request
    info = first_card().find_element(By.CLASS_NAME, "info")
    first_card().find_element(By.CSS_SELECTOR, "button.caption").click()
    wait.until(lambda _: info.text and info.text != "Captioning ...")
    st, r = s.json("POST", "/v1/caption", {"images": [{"id": int(first_card().get_attribute("data-id"))}]})
    check("caption shown = API caption", info.text == r["data"][0]["caption"].strip(), (info.text, r))
    first_card().find_element(By.CSS_SELECTOR, "button.tags").click()
    wait.until(lambda _: "%" in info.text)
    check("tags shown", info.text.count("%") == 5, info.text)
    d.find_element(By.ID, "q").clear()
    d.find_element(By.ID, "q").send_keys(query + Keys.ENTER)
    wait.until(lambda _: "results for" in status() and first_card().get_attribute("data-name") == want_first)
    wait.until(lambda _: d.execute_script(
        "return [...document.querySelectorAll('#grid img')].every(i => i.complete && i.naturalWidth > 0)"))
    info = first_card().find_element(By.CLASS_NAME, "info")
    first_card().find_element(By.CSS_SELECTOR, "button.tags").click()
    wait.until(lambda _: "%" in info.text)
    d.save_screenshot(SHOT)
    check("screenshot saved", os.path.getsize(SHOT) > 10000, SHOT)
    console()
    check("no console errors", not errors, errors)
except Exception as e:  # a wait that timed out: report what the page showed
    import traceback; traceback.print_exc()
    check("page flow", False, "%r; status: %s" % (e, status() if d else ""))
    console()
    print("console:", errors)
finally:
    d.quit()
    check("server exits 0", s.stop() == 0)
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(C.done())
