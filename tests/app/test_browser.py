"""The draw page in a real browser: Chromium from the system's packages, driven by Playwright.

The tests draw with the mouse and check the answer on the page, and load MNIST test digits through the page
to check that its predictions match the model's. They need ``/usr/bin/chromium`` (Debian/Ubuntu:
``apt-get install -y chromium``), the ``playwright`` Python package and MNIST; without them they skip.
Set ``NNSCRATCH_SCREENSHOT=path.png`` to keep the screenshot of a drawn digit and its answer.
"""
import math
import os
import re
import threading

import numpy as np
import pytest

from nnscratch import Adam, Network, evaluate, fit
from nnscratch.app import DrawServer, DrawService
from nnscratch.images.prepare import prepare_digit
from nnscratch.losses import SoftmaxCrossEntropy
from tests.app.conftest import CHROMIUM

PAGE_DIGITS = 200
MIN_AGREEMENT = 0.97

if not os.path.exists(CHROMIUM):
    pytest.skip(f"browser tests need Chromium at {CHROMIUM}: install it with `apt-get install -y chromium` "
                f"(the CI script .ci/run does)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright Python package "
                               "(pip install playwright; never `playwright install`, Chromium comes from apt)")


@pytest.fixture(scope="module")
def trained():
    """A 784-128-10 ReLU network trained for 3 epochs with Adam on MNIST (a few seconds), and the test set."""
    from nnscratch.datasets import load_mnist
    try:
        data = load_mnist(validation_size=0)
    except (ValueError, OSError) as error:
        pytest.skip(f"browser tests need MNIST: {error}")
    model = Network([784, 128, 10], activation="relu", output=None, rng=0)
    fit(model, *data.train, SoftmaxCrossEntropy(), Adam(model, 1e-3), epochs=3, batch_size=128, rng=0)
    accuracy = evaluate(model, *data.test).accuracy
    return model, data.test, accuracy


@pytest.fixture(scope="module")
def server(trained):
    model, test_set, accuracy = trained
    metadata = {"dataset": "mnist", "test_accuracy": accuracy}
    service = DrawService(model, metadata, name="784-128-10 MLP, 3 epochs of Adam", test_set=test_set, rng=1)
    server = DrawServer(service, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def page(browser, server):
    page = browser.new_page(viewport={"width": 980, "height": 540})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(server.url)
    page.evaluate("import('/app.js').then((app) => app.ready)")
    yield page
    page.close()
    assert not errors, f"the page reported errors: {errors}"


def draw(page, points):
    """Draw one stroke with the mouse through ``points`` given in canvas pixels (0..280)."""
    box = page.locator("#canvas").bounding_box()
    scale = box["width"] / 280
    (x, y), *rest = points
    page.mouse.move(box["x"] + x * scale, box["y"] + y * scale)
    page.mouse.down()
    for x, y in rest:
        page.mouse.move(box["x"] + x * scale, box["y"] + y * scale, steps=2)
    page.mouse.up()
    return page.evaluate("import('/app.js').then((app) => app.settled())")


def shown_answer(page):
    return page.locator("#answer").inner_text().strip()


def test_a_vertical_bar_is_a_one(page):
    answer = draw(page, [(140, 45), (140, 235)])
    assert answer["status"] == "ok", answer
    assert shown_answer(page) == "1", f"a vertical bar was read as {shown_answer(page)} ({answer['probabilities']})"
    preview = np.array(answer["preview"]).reshape(28, 28)
    rows, columns = np.nonzero(preview)
    assert rows.max() - rows.min() >= 19 and columns.max() - columns.min() <= 4, "the preview is not a tall bar"
    assert abs(np.average(columns, weights=preview[rows, columns]) - 14) <= 0.501, "the bar is not centred"


def test_a_closed_loop_is_a_zero_and_clear_empties_the_page(page):
    loop = [(140 + 60 * math.sin(t), 140 - 90 * math.cos(t)) for t in np.linspace(0, 2 * math.pi, 48)]
    answer = draw(page, loop)
    assert shown_answer(page) == "0", f"a loop was read as {shown_answer(page)} ({answer['probabilities']})"
    page.keyboard.press("c")
    answer = page.evaluate("import('/app.js').then((app) => app.settled())")
    assert answer["status"] == "empty" and shown_answer(page) == "?", answer
    assert page.locator("#status").inner_text() == "nothing drawn yet"


def test_a_drawn_seven_and_the_screenshot(page, tmp_path):
    draw(page, [(70, 65), (140, 65), (210, 65), (175, 140), (140, 230)])
    answer = draw(page, [(120, 145), (200, 145)])
    assert shown_answer(page) == "7", f"a seven was read as {shown_answer(page)} ({answer['probabilities']})"
    bars = page.locator(".bar-value").all_inner_texts()
    assert len(bars) == 10 and bars[7] == f"{100 * answer['probabilities'][7]:.1f} %", bars
    path = os.environ.get("NNSCRATCH_SCREENSHOT") or str(tmp_path / "draw.png")
    page.screenshot(path=path, full_page=True)
    assert os.path.getsize(path) > 10000


def test_the_button_loads_a_test_digit_that_reaches_the_network_as_it_was(page, trained):
    model, (x, y), _ = trained
    page.click("#test-digit")
    # expect() polls from Python: a string predicate (wait_for_function) would be evaluated in the page, which
    # its Content-Security-Policy forbids ('unsafe-eval')
    sync_api.expect(page.locator("#truth")).to_have_attribute("data-index", re.compile(r"^\d+$"))
    answer = page.evaluate("import('/app.js').then((app) => app.settled())")
    index = int(page.locator("#truth").get_attribute("data-index"))
    assert page.locator("#truth").inner_text() == f"MNIST test digit #{index}, true label: {y[index]}"
    received = np.array(answer["preview"])
    # the canvas shows the digit ten times larger, pixel for pixel; the server prepares that picture as any other
    shown = np.kron(x[index].reshape(28, 28), np.ones((10, 10)))
    expected = prepare_digit(np.round(shown * 255) / 255).reshape(-1)
    difference = np.abs(received - expected).mean()
    assert difference < 0.002, (f"test digit #{index} reached the network changed by {difference:.4f} on average "
                                f"from what prepare_digit makes of it")
    assert np.abs(received - x[index]).mean() < 0.05, f"test digit #{index} is far from the MNIST image"
    assert shown_answer(page) == str(model.predict(received[None].astype(np.float32))[0])


def test_test_digits_drawn_on_the_canvas_get_the_models_answer(page, trained):
    model, (x, y), _ = trained
    answers = page.evaluate("""async (count) => {
        const app = await import('/app.js');
        const predictions = [];
        for (let index = 0; index < count; index++) predictions.push((await app.showTestDigit(index)).prediction);
        return predictions;
    }""", PAGE_DIGITS)
    expected = model.predict(x[:PAGE_DIGITS])
    agreement = np.mean(np.array(answers) == expected)
    print(f"the page agreed with the model on {agreement:.1%} of {PAGE_DIGITS} test digits")
    assert agreement >= MIN_AGREEMENT, (f"the page agreed with the model on {agreement:.1%} of {PAGE_DIGITS} test "
                                        f"digits (want >= {MIN_AGREEMENT:.0%}); disagreements at "
                                        f"{np.flatnonzero(np.array(answers) != expected).tolist()}")
    assert shown_answer(page) == str(answers[-1])
    assert page.locator("#model-accuracy").inner_text().startswith("test accuracy ")


# ---- on a phone -------------------------------------------------------------------------------------------------

@pytest.fixture
def phone(browser, server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  device_scale_factor=2)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server.url)
    page.evaluate("import('/app.js').then((app) => app.ready)")
    yield page
    context.close()
    assert not errors, f"the page reported errors: {errors}"


def inside_the_screen(page, selector):
    box = page.locator(selector).bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 844 and box["x"] + box["width"] <= 390


def test_on_a_phone_the_answer_stays_in_sight_while_drawing(phone):
    canvas = phone.locator("#canvas").bounding_box()
    assert canvas["x"] >= 0 and canvas["x"] + canvas["width"] <= 390, f"the canvas does not fit the width: {canvas}"
    box = phone.locator("#canvas").bounding_box()
    phone.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    phone.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.15)
    phone.mouse.down()
    phone.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.85, steps=4)
    phone.mouse.up()
    answer = phone.evaluate("import('/app.js').then((app) => app.settled())")
    assert answer["status"] == "ok", answer
    for selector in ("#answer", "#status", "#canvas", ".bar-value.top"):
        assert inside_the_screen(phone, selector), f"{selector} is not on the screen while drawing: " \
                                                   f"{phone.locator(selector).bounding_box()}"
    assert phone.evaluate("document.scrollingElement.scrollWidth") <= 390, "the page scrolls sideways"


def test_on_a_touch_screen_key_hints_hide_and_percentages_do_not_wrap(phone):
    assert not phone.locator("kbd").first.is_visible(), "keyboard hints show on a touch screen"
    phone.evaluate("import('/app.js').then((app) => app.showTestDigit(0))")
    sync_api.expect(phone.locator(".bar-value.top")).to_have_text(re.compile(r"^\d+\.\d %$"))
    value = phone.locator(".bar-value.top")
    label = phone.locator(".bar-label.top")
    assert value.bounding_box()["height"] <= label.bounding_box()["height"] + 1, "the percentage wraps"
    widest = phone.evaluate("""() => {
        const probe = document.querySelector('.bar-value.top');
        const text = probe.textContent; probe.textContent = '100.0 %';
        const height = probe.getBoundingClientRect().height; probe.textContent = text; return height; }""")
    assert widest <= label.bounding_box()["height"] + 1, "a bold 100.0 % wraps"


def test_an_unsure_answer_says_so(browser):
    untrained = Network([784, 16, 10], activation="relu", output=None, rng=0)   # about 10 % for every class
    server = DrawServer(DrawService(untrained, {"dataset": "mnist"}, name="untrained"), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    page = browser.new_page(viewport={"width": 980, "height": 540})
    try:
        page.goto(server.url)
        page.evaluate("import('/app.js').then((app) => app.ready)")
        answer = draw(page, [(140, 45), (140, 235)])
        assert answer["status"] == "ok" and answer["unsure"], answer
        top = max(answer["probabilities"])
        expected = f"unsure: only {100 * top:.1f} % (below {round(100 * answer['low_confidence'])} %)"
        sync_api.expect(page.locator("#status")).to_have_text(expected)
        assert "unsure" in page.locator("#answer").get_attribute("class")
    finally:
        page.close()
        server.shutdown()
        server.server_close()


def test_look_inside_explains_the_answer_and_every_view_responds(page, tmp_path):
    """Set ``NNSCRATCH_EXPLAIN_SCREENSHOT=path.png`` to keep the screenshot of the Look inside view."""
    expect = sync_api.expect
    page.set_viewport_size({"width": 1280, "height": 900})
    page.click("#test-digit")
    expect(page.locator("#answer")).not_to_have_text("?")
    page.click("#tab-explain")
    split = page.locator("#x-split .bar-row:not([disabled])")
    expect(split.first).to_be_visible()
    predicted = page.locator("#x-class-label").inner_text()
    assert predicted == page.locator("#answer").inner_text(), "the explained class is the answer"
    expect(page.locator("#x-completeness")).to_contain_text("exactly the logit")   # a ReLU network
    expect(page.locator("#x-near-pixels canvas")).to_have_count(8)
    expect(page.locator("#x-near-hidden canvas")).to_have_count(8)
    expect(page.locator("#x-layers canvas, #x-layers .unit").first).to_be_attached()

    split.first.click()  # silence the unit that pushed hardest
    expect(page.locator("#x-ablation")).to_contain_text("the network now says")
    other = next(index for index in range(10) if str(index) != predicted)
    page.locator("#x-classes button").nth(other).click()  # why this other class?
    expect(page.locator("#x-class-label")).to_have_text(str(other))

    page.locator("#x-confusion td.mistake").first.click()  # a confusion cell: its digits, most confident first
    digits = page.locator("#x-cell canvas")
    expect(digits.first).to_be_visible()
    title = digits.first.get_attribute("title")
    assert re.match(r"test digit \d+: \d+\.\d % \d", title), title
    digits.first.click()  # opens it in the views above: the explained class is that digit's answer again
    expect(page.locator("#x-class-label")).not_to_have_text(str(other))

    page.click("[data-probe=noise]")
    expect(page.locator("#x-probe")).to_contain_text("noise: the network says")
    path = os.environ.get("NNSCRATCH_EXPLAIN_SCREENSHOT") or str(tmp_path / "look-inside.png")
    page.screenshot(path=path, full_page=True)
    assert os.path.getsize(path) > 10_000


# ---- several models -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def second(trained):
    """Another network for an ensemble: 784-64-10, one epoch of Adam on a third of MNIST's training digits."""
    from nnscratch.datasets import load_mnist
    x, y = load_mnist(validation_size=0).train
    model = Network([784, 64, 10], activation="relu", output=None, rng=1)
    fit(model, x[:20000], y[:20000], SoftmaxCrossEntropy(), Adam(model, 1e-3), epochs=1, batch_size=128, rng=1)
    return model


def test_an_ensemble_answers_with_its_mean_and_looks_inside_each_member(browser, trained, second):
    from nnscratch.serialization import Ensemble
    first, test_set, _ = trained
    ensemble = Ensemble([first, second], ["models/mlp-128.npz", "models/mlp-64.npz"])
    server = DrawServer(DrawService(ensemble, {"dataset": "mnist"}, name="ensemble of 2 models", test_set=test_set),
                        "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    expect = sync_api.expect
    try:
        page.goto(server.url)
        page.evaluate("import('/app.js').then((app) => app.ready)")
        expect(page.locator("#model-name")).to_have_text("ensemble of 2 models: mlp-128.npz, mlp-64.npz")
        expect(page.locator("#model-architecture")).to_contain_text("their probabilities averaged")
        expect(page.locator("#answer-title")).to_have_text("The ensemble's answer")

        answer = draw(page, [(140, 45), (140, 235)])
        assert answer["status"] == "ok", answer
        digit = np.array(answer["preview"], dtype=np.float32)[None]
        each = np.array([first.predict_proba(digit)[0], second.predict_proba(digit)[0]], dtype=np.float64)
        mean = each.mean(axis=0)
        assert np.abs(np.array(answer["probabilities"]) - mean).max() <= 2e-6, (answer["probabilities"], mean)
        assert shown_answer(page) == str(mean.argmax()) == "1", f"a vertical bar was read as {shown_answer(page)}"
        bars = page.locator(".bar-value").all_inner_texts()
        assert bars == [f"{100 * p:.1f} %" for p in answer["probabilities"]], bars

        page.click("#tab-explain")   # Look inside: one member at a time, the first to begin with
        expect(page.locator("#x-members")).to_be_visible()
        expect(page.locator("#x-members")).to_contain_text("mean of the 2 models' probabilities")
        expect(page.locator("#x-member option")).to_have_count(2)
        for member, hidden in ((1, 64), (0, 128)):
            page.select_option("#x-member", str(member))
            expect(page.locator("#x-layers p.layer-title").first).to_contain_text(f"output shape {hidden}")
            expect(page.locator("#x-class-label")).to_have_text(str(each[member].argmax()))
            expect(page.locator("#x-near-hidden canvas")).to_have_count(8)
        expect(page.locator("#x-confusion td").first).to_be_attached()

        # a run of the Train view replaces the page's model, and the page hears of it as train.js makes it hear;
        # Look inside, open on the ensemble's 128-unit member, now shows the new 64-unit network
        server.service = DrawService(second, {"dataset": "mnist"}, name="page-run.npz", test_set=test_set)
        page.evaluate("import('/app.js').then((app) => app.showModel())")
        expect(page.locator("#model-name")).to_have_text("page-run.npz")
        expect(page.locator("#x-members")).to_be_hidden()
        expect(page.locator("#x-layers p.layer-title").first).to_contain_text("output shape 64")
        expect(page.locator("#answer-title")).to_have_text("The network's answer")
    finally:
        page.close()
        server.shutdown()
        server.server_close()
    assert not errors, f"the page reported errors: {errors}"


# ---- a convolutional network --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cnn(trained):
    """conv 3×3×4, max-pool 2, ReLU, dense 676→32, ReLU, dense 32→10: one epoch of Adam on 6,000 MNIST digits."""
    from nnscratch import Conv2D, Flatten, Linear, MaxPool2D, ReLU, Sequential
    from nnscratch.datasets import load_mnist
    x, y = load_mnist(validation_size=0).train
    rng = np.random.default_rng(3)
    model = Sequential(Conv2D(1, 4, 3, rng=rng), MaxPool2D(2), ReLU(), Flatten(), Linear(676, 32, rng=rng), ReLU(),
                       Linear(32, 10, rng=rng))
    images = x[:6000].reshape(-1, 1, 28, 28)
    fit(model, images, y[:6000], SoftmaxCrossEntropy(), Adam(model, 2e-3), epochs=1, batch_size=64, rng=3)
    return model


def test_look_inside_walks_every_view_with_a_cnn(browser, trained, cnn, tmp_path):
    """Set ``NNSCRATCH_CNN_SCREENSHOT=path.png`` to keep the screenshot of Look inside for the CNN."""
    expect = sync_api.expect
    _, test_set, _ = trained
    service = DrawService(cnn, {"dataset": "mnist", "input_shape": [1, 28, 28]}, name="tiny cnn", test_set=test_set)
    server = DrawServer(service, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    try:
        page.goto(server.url)
        page.evaluate("import('/app.js').then((app) => app.ready)")
        expect(page.locator("#model-architecture")).to_contain_text("conv 3×3×4")
        answer = page.evaluate("import('/app.js').then((app) => app.showTestDigit(0))")
        assert answer["status"] == "ok", answer
        page.click("#tab-explain")
        split = page.locator("#x-split .bar-row:not([disabled])")
        # the first views wait while the test set's answers and the training digits' hidden layer are computed
        expect(split.first).to_be_visible(timeout=120_000)
        assert page.locator("#x-class-label").inner_text() == page.locator("#answer").inner_text()
        expect(page.locator("#x-completeness")).to_contain_text("exactly the logit")
        expect(page.locator("#x-near-pixels canvas")).to_have_count(8, timeout=120_000)
        expect(page.locator("#x-near-hidden canvas")).to_have_count(8)
        expect(page.locator("#x-layers p.layer-title").first).to_have_text(
            "layer 1 of 3: conv 3×3×4, output shape 4×26×26")
        expect(page.locator("#x-layers canvas.map").first).to_be_visible()

        split.first.click()   # silence the dense unit that pushed hardest, then measure the test set without it
        expect(page.locator("#x-ablation")).to_contain_text("the network now says")
        page.click("#x-accuracy")
        result = page.locator("#x-accuracy-result")
        expect(result).to_contain_text("Test accuracy", timeout=60_000)
        assert "error" not in (result.get_attribute("class") or ""), result.inner_text()
        assert re.search(r"Test accuracy \d+\.\d\d % \(with the unit: \d+\.\d\d %\)", result.inner_text())

        page.locator("#x-layers canvas.map").first.click()   # a convolution's channel, silenced the same way
        silenced = re.compile(r"Channel 0 of layer 1 of 3 \(conv 3×3×4\), silenced \(× 0\): the network now says")
        expect(page.locator("#x-ablation")).to_contain_text(silenced)
        page.click("#x-accuracy")
        expect(result).to_contain_text("with the unit", timeout=60_000)

        page.click("#x-untrained-button")
        page.locator("#x-confusion td.mistake").first.click()
        expect(page.locator("#x-cell canvas").first).to_be_visible()
        page.click("[data-probe=noise]")
        expect(page.locator("#x-probe")).to_contain_text("noise: the network says")
        path = os.environ.get("NNSCRATCH_CNN_SCREENSHOT") or str(tmp_path / "look-inside-cnn.png")
        page.screenshot(path=path, full_page=True)
    finally:
        page.close()
        server.shutdown()
        server.server_close()
    assert not errors, f"the page reported errors: {errors}"


# ---- the model picker ---------------------------------------------------------------------------------------------

def test_the_model_picker_changes_the_model_the_draw_view_answers_with(browser, trained, tmp_path):
    from nnscratch.serialization import save_model
    expect = sync_api.expect
    model, test_set, accuracy = trained
    save_model(tmp_path / "mlp-128.npz", model, {"dataset": "mnist", "test_accuracy": accuracy})
    untrained = Network([784, 16, 10], activation="relu", output=None, rng=0)
    (tmp_path / "models").mkdir()
    save_model(tmp_path / "models" / "untrained.npz", untrained, {"dataset": "mnist"})
    service = DrawService(model, {"dataset": "mnist", "test_accuracy": accuracy}, name="mlp-128.npz",
                          test_set=test_set)
    server = DrawServer(service, "127.0.0.1", 0, models_dir=str(tmp_path / "models"),
                        given_paths=[str(tmp_path / "mlp-128.npz")])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    page = browser.new_page(viewport={"width": 980, "height": 640})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(server.url)
        page.evaluate("import('/app.js').then((app) => app.ready)")
        expect(page.locator("#picker")).to_be_visible()
        options = page.locator("#model-picker option")
        expect(options).to_have_count(2)
        assert options.all_inner_texts() == ["mlp-128.npz (given to nnscratch draw)",
                                             f"untrained.npz ({tmp_path / 'models'}/)"]
        before = draw(page, [(140, 45), (140, 235)])
        page.select_option("#model-picker", str(tmp_path / "models" / "untrained.npz"))
        expect(page.locator("#model-name")).to_have_text("untrained.npz")
        expect(page.locator("#picker-note")).to_have_text("the Draw view now answers with untrained.npz")
        after = page.evaluate("import('/app.js').then((app) => app.settled())")
        expected = untrained.predict_proba(np.array(after["preview"], dtype=np.float32)[None])[0]
        assert np.abs(np.array(after["probabilities"]) - expected).max() <= 1e-5, "the drawing was not re-answered"
        assert after["probabilities"] != before["probabilities"]
        expect(page.locator("#model-accuracy")).to_have_text("test accuracy not recorded")
        page.select_option("#model-picker", "given")
        expect(page.locator("#model-name")).to_have_text("mlp-128.npz")
    finally:
        page.close()
        server.shutdown()
        server.server_close()
    assert not errors, f"the page reported errors: {errors}"


def test_on_a_phone_the_answer_panel_keeps_its_widths_after_the_first_prediction(phone):
    def layout():
        return {selector: phone.locator(selector).bounding_box()
                for selector in ("#view-draw .panel-answer", "#answer", "#status", "#bars .bar >> nth=0")}
    before = layout()
    phone.evaluate("import('/app.js').then((app) => app.showTestDigit(0))")
    sync_api.expect(phone.locator(".bar-value.top")).to_have_text(re.compile(r"^\d+\.\d %$"))
    after = layout()
    for selector, box in before.items():
        assert (box["x"], box["width"]) == (after[selector]["x"], after[selector]["width"]), \
            f"{selector} moved or changed width with the first answer: {box} then {after[selector]}"
