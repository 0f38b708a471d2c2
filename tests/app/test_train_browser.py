"""The page's Train view in a real browser (Chromium from the system's packages, driven by Playwright): start a
small run on small fake digits, watch the curve grow and the mosaic change, change the learning rate, pause,
step, resume and stop; the saved model then answers in the Draw view. Skips without Chromium or playwright.
Set ``NNSCRATCH_TRAIN_SCREENSHOT=path.png`` to keep the screenshot of the Train view mid-run."""
import json
import os
import re
import threading
import time

import pytest

from nnscratch.app import DrawServer
from nnscratch.app.training_session import TrainingSession
from tests.app.conftest import CHROMIUM

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
    from tests.app.test_train_api import fake_digits
    use_loader(fake_digits)
    session = TrainingSession(tmp_path / "models", publish_seconds=0.05, probe_every=5, probe_share=1.0)
    server = DrawServer(None, "127.0.0.1", 0, training=session)
    session.on_saved = server.use_run
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def page(browser, server):
    page = browser.new_page(viewport={"width": 1040, "height": 900})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(server.url)
    page.evaluate("import('/train.js').then((train) => train.ready)")
    page.errors = errors
    yield page
    page.close()
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
    assert page.evaluate("import('/train.js').then((train) => train.state().marks)")[0]["lr"] == 0.03
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
    answer = page.evaluate("import('/app.js').then((app) => app.settled())")
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


def test_a_finished_run_joins_the_model_picker_and_the_draw_view_keeps_its_model_until_picked(browser, use_loader,
                                                                                              tmp_path):
    from nnscratch import Network
    from nnscratch.app import DrawService
    from tests.app.test_train_api import fake_digits
    use_loader(fake_digits)
    given = DrawService(Network([784, 16, 10], activation="relu", output=None, rng=0), {}, name="given.npz")
    session = TrainingSession(tmp_path / "models", publish_seconds=0.05, probe_every=5, probe_share=1.0)
    server = DrawServer(given, "127.0.0.1", 0, training=session)
    session.on_saved = server.use_run
    threading.Thread(target=server.serve_forever, daemon=True).start()
    page = browser.new_page(viewport={"width": 1040, "height": 900})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(server.url + "#train")
        page.evaluate("import('/train.js').then((train) => train.ready)")
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
        page.close()
        server.shutdown()
        server.server_close()
    assert not errors, f"the page reported errors: {errors}"


def blue_line_pixels(page):
    """How many pixels of the loss chart are drawn in the smoothed line's blue (#2f6fdf), read from the canvas."""
    return page.evaluate("""() => {
        const canvas = document.getElementById('curves');
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let count = 0;
        for (let i = 0; i < data.length; i += 4) {
            if (Math.abs(data[i] - 47) < 30 && Math.abs(data[i + 1] - 111) < 30 && Math.abs(data[i + 2] - 223) < 30
                && data[i + 3] > 200) count++;
        }
        return count;
    }""")


def test_the_loss_chart_keeps_drawing_across_gaps_in_the_losses(page):
    # A long run on 50,000 images sends more batches between two ticks than a tick carries: the client's loss
    # array then has holes (batches no tick carried). Feed such an array and redraw: the line skips the holes.
    page.evaluate("""async () => {
        const run = (await import('/train.js')).state();
        run.losses = [];
        for (let step = 0; step < 3000; step++) if (step % 700 < 400) run.losses[step] = 2.3 * Math.exp(-step / 900);
        run.snapshot = { step: 3000 };
        document.dispatchEvent(new CustomEvent('nnscratch:view', { detail: 'train' }));
    }""")
    expect(page.locator("#curves")).to_have_attribute("data-points", str(sum(step % 700 < 400 for step in range(3000))))
    assert blue_line_pixels(page) > 200, "the loss line was not drawn"
    assert not page.errors, page.errors


def test_the_cnn_fast_preset_fills_the_network_box_and_the_mosaic_says_red_is_positive(page):
    page.select_option("#set-preset", "cnn-fast")
    assert page.locator("#set-architecture").input_value() == "cnn-small"
    expect(page.locator("#set-layers")).to_be_disabled()
    expect(page.locator("#replay-label")).to_contain_text("red: positive weights, blue: negative")


def test_on_a_phone_the_charts_text_is_drawn_larger_to_stay_readable(browser, server):
    phone = browser.new_page(viewport={"width": 375, "height": 740})
    try:
        phone.goto(server.url + "#train")
        phone.evaluate("import('/train.js').then((train) => train.ready)")
        curves = phone.locator("#curves")
        expect(curves).to_have_attribute("data-font-pixels", re.compile(r"\d+"))
        shown = curves.bounding_box()["width"]
        size = int(curves.get_attribute("data-font-pixels"))
        assert size * shown / 640 >= 10.5, f"{size} canvas px shown at {shown} of 640: {size * shown / 640:.1f} px"
    finally:
        phone.close()


def test_the_step_view_of_a_paused_run_checks_a_hand_calculation(page, tmp_path):
    page.fill("#set-layers", "784,12,10")
    page.fill("#set-train_size", "1000")
    page.fill("#set-epochs", "200")
    page.click("#train-start")
    status = page.locator("#train-status")
    expect(status).to_have_attribute("data-state", "running")
    expect(page.locator("#step-open")).to_be_disabled()
    page.click("#train-pause")
    expect(status).to_have_attribute("data-state", "paused")
    page.click("#step-open")
    view = page.locator("#step-view")
    expect(view).to_be_visible()
    expect(view).to_have_attribute("data-step", re.compile(r"\d+"))

    # the path: a pixel of the input, a hidden unit, an output; each click takes the step again along it
    picture = page.locator("#step-input")
    box = picture.bounding_box()
    picture.click(position={"x": box["width"] * (14.5 / 28), "y": box["height"] * (10.5 / 28)})
    expect(page.locator("#step-view .step-picker").first).to_contain_text(f"input pixel {10 * 28 + 14}")
    page.click(".step-units-hidden .step-unit[data-unit='3']")
    expect(page.locator(".step-units-hidden .step-unit.chosen")).to_have_attribute("data-unit", "3")
    page.click(".step-units-output .step-unit[data-unit='4']")
    expect(page.locator(".step-units-output .step-unit.chosen")).to_have_attribute("data-unit", "4")
    shown = page.evaluate("import('/step.js').then((step) => step.shownStep())")
    assert shown["path"]["input"] == 294 and shown["path"]["hidden"] == 3 and shown["path"]["output"] == 4

    def row(section, symbol):
        return next(row for row in shown["rows"] if row["section"] == section and row["symbol"] == symbol)

    z1, delta1, weight = row("forward", "Z⁽¹⁾"), row("backward", "∂L/∂Z⁽¹⁾"), row("backward", "∂L/∂W⁽¹⁾")
    grad_a1 = row("backward", "∂L/∂A⁽¹⁾")
    assert z1["path_entry"] == [3] and weight["path_entry"] == [294, 3]

    def on_path(row):
        return next(cell["value"] for cell in row["cells"] if cell["entry"] == row["path_entry"])

    def type_into(row, text):
        entry = json.dumps(row["path_entry"], separators=(",", ":"))   # as JSON.stringify writes it
        cell = page.locator(f"input.typed[data-row='{row['index']}'][data-entry='{entry}']")
        cell.fill(text)
        cell.press("Enter")
        verdict = cell.locator("xpath=following-sibling::span[contains(@class, 'verdict')]")
        expect(verdict).to_have_attribute("data-right", re.compile("true|false"))
        return verdict

    for quantity in (z1, delta1, weight):
        verdict = type_into(quantity, f"{on_path(quantity):.8g}")
        expect(verdict).to_have_attribute("data-right", "true")
        expect(verdict).to_contain_text("right")
    wrong = type_into(z1, f"{-on_path(z1) - 1:.6f}")
    expect(wrong).to_have_attribute("data-right", "false")
    forgot = on_path(grad_a1)     # ∂L/∂A for unit 3 where δ = ∂L/∂A ⊙ ReLU′(z) belongs
    if on_path(delta1) != forgot:  # the unit was off (z ≤ 0): forgetting the mask gives another value
        verdict = type_into(delta1, f"{forgot:.8g}")
        expect(verdict).to_have_attribute("data-right", "false")
        expect(verdict).to_contain_text("hidden unit 3")
    verdict = type_into(weight, f"{-on_path(weight):.8g}" if on_path(weight) else "1")
    expect(verdict).to_have_attribute("data-right", "false")
    path = os.environ.get("NNSCRATCH_STEP_SCREENSHOT") or str(tmp_path / "step.png")
    view.screenshot(path=path)
    page.click("#train-stop")
    expect(status).to_have_attribute("data-state", "stopped")
