"""The page's Train view in a real browser (Chromium from the system's packages, driven by Playwright): start a
small run on small fake digits, watch the curve grow and the mosaic change, change the learning rate, pause,
step, resume and stop; the saved model then answers in the Draw view. Skips without Chromium or playwright.
Set ``NNSCRATCH_TRAIN_SCREENSHOT=path.png`` to keep the screenshot of the Train view mid-run."""
import os
import re
import threading
import time

import pytest

from nnscratch.app import DrawServer
from nnscratch.app.training_session import TrainingSession

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]

if not os.path.exists(CHROMIUM):
    pytest.skip(f"browser tests need Chromium at {CHROMIUM}", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright Python package")
expect = sync_api.expect


@pytest.fixture(autouse=True)
def patient_expectations():
    """A run shares the machine with the browser: each state change gets 20 s to show (the default is 5)."""
    expect.set_options(timeout=20_000)
    yield
    expect.set_options(timeout=None)


@pytest.fixture
def server(use_loader, tmp_path):
    from test_app_train_api import fake_digits
    use_loader(fake_digits)
    session = TrainingSession(tmp_path / "models", publish_seconds=0.05, probe_every=5, probe_share=1.0)
    server = DrawServer(None, "127.0.0.1", 0, training=session)
    session.on_saved = server.use_run
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def page(server):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1040, "height": 900})
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.goto(server.url)
        page.evaluate("nnscratchTrain.ready")
        page.errors = errors
        yield page
        browser.close()
        assert not errors, f"the page reported errors: {errors}"


def attribute_grows(locator, name, beyond, timeout=20):
    """Poll until the number in ``name`` passes ``beyond``; returns it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = locator.get_attribute(name)
        if value is not None and value.isdigit() and int(value) > beyond:
            return int(value)
        time.sleep(0.05)
    raise AssertionError(f"{name} stayed at {locator.get_attribute(name)} (wanted > {beyond}) for {timeout} s")


def test_train_watch_control_and_then_draw_with_the_saved_model(page, tmp_path):
    expect(page.locator("#view-train")).to_be_visible()           # no model yet: the page opens on Train
    expect(page.locator("#view-draw")).to_be_hidden()
    expect(page.locator("#model-name")).to_have_text("no model yet")
    page.fill("#set-layers", "784,36,10")
    page.fill("#set-train_size", "3000")
    page.fill("#set-batch_size", "20")
    page.fill("#set-epochs", "200")
    page.click("#train-start")
    status = page.locator("#train-status")
    expect(status).to_have_attribute("data-state", "running")

    curves, mosaic = page.locator("#curves"), page.locator("#mosaic")
    points = attribute_grows(curves, "data-points", 5)
    attribute_grows(curves, "data-points", points + 20)            # the curve grows
    attribute_grows(mosaic, "data-version", 0)
    first_image = page.evaluate("document.getElementById('mosaic').toDataURL()")
    # The weights are shown quantised to 255 levels, so two snapshots a tenth of a second apart can look the
    # same; the mosaic must change as training goes on.
    deadline = time.monotonic() + 20
    while page.evaluate("document.getElementById('mosaic').toDataURL()") == first_image:
        assert time.monotonic() < deadline, "the mosaic did not change in 20 s of training"
        time.sleep(0.1)
    expect(page.locator(".health-layer")).to_have_count(2)

    page.fill("#change-lr", "0.03")
    page.click("#change-apply")
    expect(status).to_contain_text("lr 0.03")
    assert page.evaluate("nnscratchTrain.state().marks")[0]["lr"] == 0.03
    path = os.environ.get("NNSCRATCH_TRAIN_SCREENSHOT") or str(tmp_path / "train.png")
    page.screenshot(path=path, full_page=True)

    page.click("#train-pause")
    expect(status).to_have_attribute("data-state", "paused")
    expect(page.locator("#train-resume")).to_be_enabled()
    step = int(status.get_attribute("data-step"))
    page.click("#train-step")
    expect(status).to_have_attribute("data-step", str(step + 1))
    expect(status).to_have_attribute("data-state", "paused")
    page.click("#train-resume")
    expect(status).to_have_attribute("data-state", "running")
    attribute_grows(status, "data-step", step + 5)
    page.click("#train-stop")
    expect(status).to_have_attribute("data-state", "stopped", timeout=20000)
    saved = page.locator("#train-saved")
    expect(saved).to_have_attribute("data-model", re.compile(r"^page-mlp-.*\.npz$"))
    name = saved.get_attribute("data-model")
    assert (tmp_path / "models" / name).exists()

    page.click("#tab-draw")
    expect(page.locator("#view-draw")).to_be_visible()
    expect(page.locator("#model-name")).to_have_text(name)
    box = page.locator("#canvas").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.15)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.85, steps=5)
    page.mouse.up()
    answer = page.evaluate("nnscratch.settled()")
    assert answer["status"] == "ok", answer
    expect(page.locator("#answer")).to_have_text(answer["label"])


def test_replay_slider_scrubs_back_to_the_first_weights(page):
    page.fill("#set-layers", "784,16,10")
    page.fill("#set-train_size", "1000")
    page.fill("#set-epochs", "3")
    page.click("#train-start")
    expect(page.locator("#train-status")).to_have_attribute("data-state", "done", timeout=30000)
    mosaic = page.locator("#mosaic")
    expect(mosaic).to_have_attribute("data-version", re.compile(r"\d+"))
    last = page.evaluate("document.getElementById('mosaic').toDataURL()")
    page.locator("#replay").fill("0")
    expect(page.locator("#replay-label")).to_contain_text("replay frame 1 of")
    assert page.evaluate("document.getElementById('mosaic').toDataURL()") != last
    page.locator("#replay").fill(page.locator("#replay").get_attribute("max"))
    expect(page.locator("#replay-label")).to_contain_text("live")


def test_bad_settings_show_the_servers_message(page):
    page.fill("#set-lr", "-1")
    page.click("#train-start")
    expect(page.locator("#train-error")).to_have_text("lr must be positive, got -1.0")
    expect(page.locator("#train-status")).to_have_attribute("data-state", "idle")
    assert page.errors == ["Failed to load resource: the server responded with a status of 400 (Bad Request)"]
    page.errors.clear()


def test_a_finished_run_joins_the_model_picker_and_the_draw_view_keeps_its_model_until_picked(use_loader, tmp_path):
    from nnscratch import Network
    from nnscratch.app import DrawService
    from test_app_train_api import fake_digits
    use_loader(fake_digits)
    given = DrawService(Network([784, 16, 10], activation="relu", output=None, rng=0), {}, name="given.npz")
    session = TrainingSession(tmp_path / "models", publish_seconds=0.05, probe_every=5, probe_share=1.0)
    server = DrawServer(given, "127.0.0.1", 0, training=session)
    session.on_saved = server.use_run
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1040, "height": 900})
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        try:
            page.goto(server.url + "#train")
            page.evaluate("nnscratchTrain.ready")
            expect(page.locator("#model-name")).to_have_text("given.npz")
            page.fill("#set-layers", "784,16,10")
            page.fill("#set-train_size", "1000")
            page.fill("#set-epochs", "200")
            page.click("#train-start")
            expect(page.locator("#model-picker option", has_text="(training now)")).to_have_count(1)
            expect(page.locator("#model-name")).to_have_text("given.npz")   # not replaced by the run
            page.click("#train-stop")
            expect(page.locator("#train-status")).to_have_attribute("data-state", "stopped")
            name = page.locator("#train-saved").get_attribute("data-model")
            expect(page.locator("#train-saved")).to_contain_text(f"the Draw view keeps given.npz: pick {name}")
            expect(page.locator("#model-name")).to_have_text("given.npz")
            entry = str(tmp_path / "models" / name)
            expect(page.locator(f"#model-picker option[value='{entry}']")).to_have_count(1)
            expect(page.locator("#model-picker option", has_text="(training now)")).to_have_count(0)
            page.select_option("#model-picker", entry)
            expect(page.locator("#model-name")).to_have_text(name)
        finally:
            browser.close()
            server.shutdown()
            server.server_close()
    assert not errors, f"the page reported errors: {errors}"
