"""Look inside in a real browser, on a small network and digits made up by the test (no MNIST, a few seconds):
one colour convention (red positive, blue negative) with a key on every map, the untrained twin explaining the
class being explained, every view labelled (confusion matrix headers, activation values, layers numbered as a
learner counts them, the ablation scale's value, the nearest digits' labels and distances), the confusion matrix
inside its card; and the page's words explained on hover, with a first-visit tour shown once.

``walk_look_inside`` is the walk itself; tests/app/test_cnn.py walks it with a convolutional network.
"""
import json
import os
import re
import threading
import urllib.request

import numpy as np
import pytest

from nnscratch import Network
from nnscratch.app import DrawServer, DrawService
from nnscratch.app.explain_api import explain_api_for
from tests.app.conftest import CHROMIUM

TEST_DIGITS = 120

if not os.path.exists(CHROMIUM):
    pytest.skip(f"browser tests need Chromium at {CHROMIUM}: install it with `apt-get install -y chromium`",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright Python package "
                               "(pip install playwright; never `playwright install`, Chromium comes from apt)")


def made_up_digits(count, seed):
    """Random pictures of 784 pixels in [0, 1], mostly dark, as digits are."""
    return np.random.default_rng(seed).uniform(0, 1, (count, 784)).astype(np.float32) ** 3


def serve(model, metadata, input_shape=(784,)):
    """A page for ``model`` whose test labels are its own answers, and with training digits of the test's own."""
    x = made_up_digits(TEST_DIGITS, 1)
    labels = model.predict(x.reshape(-1, *input_shape))
    service = DrawService(model, metadata, name="made-up digits", test_set=(x, labels))
    server = DrawServer(service, "127.0.0.1", 0)
    train_set = made_up_digits(300, 2), np.arange(300) % 10
    server.explainers = (service, explain_api_for(service, lambda: train_set))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, x, labels


def post(server, route, payload):
    request = urllib.request.Request(server.url.rstrip("/") + route, json.dumps(payload).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def open_page(browser, server, viewport=(1280, 900), **context):
    page = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, **context).new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("console", lambda message: page.errors.append(message.text) if message.type == "error" else None)
    page.goto(server.url)
    page.evaluate("import('/app.js').then((app) => app.ready)")
    return page


def canvas_colours(page, selector):
    """The canvas's pixels as (count, 3) RGB."""
    data = page.evaluate("""(selector) => { const canvas = document.querySelector(selector);
        return Array.from(canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data); }""",
                         selector)
    return np.array(data).reshape(-1, 4)[:, :3]


def check_red_positive_blue_negative(page, selector, values):
    """Every clearly positive value is drawn red (full red, less blue), every clearly negative one blue."""
    values = np.asarray(values)
    colours = canvas_colours(page, selector)
    limit = np.abs(values).max()
    positive, negative = values > 0.05 * limit, values < -0.05 * limit
    assert positive.any() and negative.any(), "the map should have both signs"
    assert np.all(colours[positive, 0] == 255) and np.all(colours[positive, 2] < 255), f"{selector}: + is not red"
    assert np.all(colours[negative, 2] == 255) and np.all(colours[negative, 0] < 255), f"{selector}: − is not blue"
    return limit


def key_numbers(page, selector):
    labels = page.locator(f"{selector} .key-labels span").all_inner_texts()
    assert len(labels) == 3 and labels[1] == "0", f"{selector} has no colour key: {labels}"
    assert labels[0].startswith("−") and labels[2].startswith("+") and labels[0][1:] == labels[2][1:], labels
    return float(labels[2][1:])


def walk_look_inside(page, server, index, layer_titles, conv=False):
    """Every Look inside feature on test digit ``index``, whose answer is not class 0. ``layer_titles``: the
    activations' titles the view must show, in order."""
    expect = sync_api.expect
    answer = page.evaluate(f"import('/app.js').then((app) => app.showTestDigit({index}))")
    assert answer["status"] == "ok", answer
    predicted = answer["prediction"]
    assert predicted != 0, "the walk needs a digit not answered 0, or the untrained twin's check cannot fail"
    page.click("#tab-explain")
    split = page.locator("#x-split .bar-row:not([disabled])")
    expect(split.first).to_be_visible(timeout=60_000)
    expect(page.locator("#x-class-label")).to_have_text(str(predicted))

    # one colour convention, and a key under every map, the saliency maps included
    explained = post(server, "/api/explain", {"pixels": answer["preview"]})
    for selector, values in (("#x-saliency", explained["saliency"]), ("#x-gxi", explained["gradient_x_input"])):
        limit = check_red_positive_blue_negative(page, selector, values)
        assert key_numbers(page, selector + "-key") == pytest.approx(limit, rel=0.05), selector
    expect(page.locator(".key-words")).to_contain_text("red positive")

    # the untrained twin explains the class being explained, and follows it when another class is chosen
    page.click("#x-untrained-button")
    expect(page.locator("#x-untrained-class")).to_have_text(f"∂z_{predicted}/∂x")
    key_numbers(page, "#x-untrained-key")
    other = (predicted + 1) % 10
    page.locator("#x-classes button").nth(other).click()
    expect(page.locator("#x-class-label")).to_have_text(str(other))
    expect(page.locator("#x-untrained-class")).to_have_text(f"∂z_{other}/∂x")
    page.locator("#x-classes button").nth(predicted).click()
    expect(page.locator("#x-class-label")).to_have_text(str(predicted))

    # activations: layers numbered as a learner counts them, values written out, a key under each
    titles = page.locator("#x-layers p.layer-title")
    expect(titles).to_have_count(len(layer_titles))
    shown = titles.all_inner_texts()
    assert [title.split(", output shape ")[0] for title in shown] == layer_titles, shown
    expect(page.locator("#x-layers-counted")).to_contain_text("only the dense and convolutional layers")
    values = page.locator("#x-layers p.values").all_inner_texts()
    assert values and all(re.search(r"\d", text) for text in values), values
    assert re.search(r"largest: unit \d+ = -?\d", values[-1]), values[-1]
    assert page.locator("#x-layers .key").count() == len(layer_titles), "an activation map has no colour key"

    # the ablation lab: no "above", the slider's value shown, and moving it changes the result
    hint = page.locator("#x-ablation-hint").inner_text()
    assert "above" not in hint and "Why this class" in hint, hint
    expect(page.locator("#x-scale-value")).to_have_text("× 0 (silenced)")
    split.first.click()
    last = layer_titles[-1]
    number, rest = last.split(": ", 1)
    silenced = re.compile(rf"^Unit \d+ of {re.escape(number)} \({re.escape(rest)}\), silenced \(× 0\): "
                          rf"the network now says \d")
    expect(page.locator("#x-ablation")).to_have_text(silenced)
    page.locator("#x-scale").fill("1")
    expect(page.locator("#x-scale-value")).to_have_text("× 1 (unchanged)")
    expect(page.locator("#x-ablation")).to_contain_text(f"multiplied by 1: the network now says {predicted} ")
    unchanged = f"({100 * answer['probabilities'][predicted]:.1f} %)"
    expect(page.locator("#x-ablation")).to_contain_text(unchanged)   # × 1 is the network as it is
    page.locator("#x-scale").fill("2")
    expect(page.locator("#x-ablation")).to_contain_text("multiplied by 2: the network now says")
    page.locator("#x-scale").fill("0")
    expect(page.locator("#x-ablation")).to_contain_text("silenced (× 0)")
    page.click("#x-accuracy")
    expect(page.locator("#x-accuracy-result")).to_contain_text("with the unit", timeout=60_000)
    if conv:   # a convolution's channel is silenced the same way, and named a channel
        page.locator("#x-layers canvas.map").first.click()
        expect(page.locator("#x-ablation")).to_have_text(re.compile(
            rf"^Channel 0 of {re.escape(layer_titles[0].split(': ')[0])} \(conv [^)]*\), silenced \(× 0\)"))
        expect(page.locator("#x-layers figure figcaption").first).to_contain_text("channel 0: max |a|")

    # the nearest training digits: labels and distances under each
    for space in ("pixels", "hidden"):
        captions = page.locator(f"#x-near-{space} figcaption")
        expect(captions).to_have_count(8)
        for text in captions.all_inner_texts():
            assert re.fullmatch(r"\d · d \d+(\.\d+)?(e[+-]?\d+)?", text), f"{space}: {text!r}"

    # the confusion matrix: headers on both axes, and inside its card
    confusion = page.locator("#x-confusion table")
    expect(confusion).to_be_visible()
    expect(page.locator("#x-confusion th.corner")).to_have_text("true ↓")
    expect(page.locator("#x-confusion th.axis")).to_have_text("predicted →")
    assert page.locator("#x-confusion thead tr").nth(1).locator("th").all_inner_texts() == [str(k) for k in range(10)]
    assert page.locator("#x-confusion tbody th").all_inner_texts() == [str(k) for k in range(10)]
    card = page.locator(".panel-mistakes").bounding_box()
    table = confusion.bounding_box()
    assert table["x"] >= card["x"] and table["x"] + table["width"] <= card["x"] + card["width"] - 8, (table, card)
    assert page.evaluate("document.querySelector('#x-confusion').scrollWidth <= "
                         "document.querySelector('#x-confusion').clientWidth"), "the matrix overflows its box"
    page.locator("#x-confusion td.diagonal").nth(predicted).click()
    expect(page.locator("#x-cell canvas").first).to_be_visible()
    page.click("[data-probe=noise]")
    expect(page.locator("#x-probe")).to_contain_text("noise: the network says")


@pytest.fixture(scope="module")
def mlp_server():
    model = Network([784, 24, 10], activation="relu", output=None, bias_init="normal", rng=4)
    server, x, labels = serve(model, {"dataset": "mnist", "input_shape": [784]})
    yield server, labels
    server.shutdown()
    server.server_close()


def test_look_inside_with_an_mlp_is_labelled_and_keyed_everywhere(browser, mlp_server, tmp_path):
    server, labels = mlp_server
    page = open_page(browser, server)
    index = int(np.flatnonzero(labels != 0)[0])
    walk_look_inside(page, server, index, ["layer 1 of 2: dense 784→24, after ReLU"])
    page.screenshot(path=os.environ.get("NNSCRATCH_LOOK_INSIDE_SCREENSHOT") or str(tmp_path / "look-inside.png"),
                    full_page=True)
    page.context.close()
    assert not page.errors, page.errors


def test_the_confusion_matrix_fits_its_card_on_a_phone(browser, mlp_server):
    server, _ = mlp_server
    page = open_page(browser, server, viewport=(390, 844), is_mobile=True, has_touch=True)
    page.evaluate("import('/app.js').then((app) => app.showTestDigit(0))")
    page.evaluate("location.hash = '#explain'")
    table = page.locator("#x-confusion table")
    sync_api.expect(table).to_be_visible()
    card = page.locator(".panel-mistakes").bounding_box()
    box = table.bounding_box()
    assert box["x"] + box["width"] <= card["x"] + card["width"], (box, card)
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390, "the page scrolls sideways"
    page.context.close()
    assert not page.errors, page.errors


# ---- words explained, and the tour --------------------------------------------------------------------------------

AS_A_PERSON = "Object.defineProperty(Navigator.prototype, 'webdriver', { get: () => false });"


def test_the_tour_appears_on_the_first_visit_only_and_comes_back_with_the_question_mark(browser, mlp_server):
    server, _ = mlp_server
    expect = sync_api.expect
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(AS_A_PERSON)   # a script-driven browser is not shown the tour unasked
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server.url)
    tour = page.locator("#tour")
    expect(tour).to_be_visible()
    expect(page.locator("#tour-title")).to_have_text("Draw")
    expect(page.locator("#tab-draw")).to_have_class(re.compile("tour-target"))
    titles = []
    for _ in range(4):
        titles.append(page.locator("#tour-title").inner_text())
        page.click("#tour-next")
    assert titles == ["Draw", "Train", "Look inside", "Words explained"], titles
    expect(tour).to_be_hidden()
    page.reload()
    page.evaluate("import('/app.js').then((app) => app.ready)")
    expect(page.locator("#tour-open")).to_be_visible()
    assert tour.is_hidden(), "the tour came back on the second visit"
    page.click("#tour-open")
    expect(tour).to_be_visible()
    page.keyboard.press("Escape")
    expect(tour).to_be_hidden()
    page.goto(server.url)   # closed with Esc: still remembered
    page.evaluate("import('/app.js').then((app) => app.ready)")
    assert tour.is_hidden()
    fresh = browser.new_context()   # a first visit elsewhere, by a script: no tour in its way
    other = fresh.new_page()
    other.goto(server.url)
    other.evaluate("import('/app.js').then((app) => app.ready)")
    assert other.locator("#tour").is_hidden()
    fresh.close()
    context.close()
    assert not errors, errors


def test_a_term_explains_itself_on_hover(browser, mlp_server):
    server, labels = mlp_server
    expect = sync_api.expect
    page = open_page(browser, server)
    tip = page.locator("#term-tip")
    assert tip.is_hidden()
    page.click("#tab-train")
    rate = page.locator("label [data-term='learning rate']")   # a known word found in the page and wrapped
    expect(rate).to_have_text("Learning rate")
    rate.hover()
    expect(tip).to_be_visible()
    expect(tip).to_contain_text("η")
    expect(tip).to_contain_text("θ ← θ − η g")
    page.mouse.move(5, 5)
    expect(tip).to_be_hidden()
    page.evaluate(f"import('/app.js').then((app) => app.showTestDigit({int(np.flatnonzero(labels != 0)[0])}))")
    page.click("#tab-explain")
    expect(page.locator("#x-split .bar-row").first).to_be_visible()
    for term, words in (("saliency", "∂z_c/∂x"), ("gradient × input", "x_i · ∂z_c/∂x_i"), ("logit", "z_c")):
        page.locator(f"[data-term='{term}']").first.hover()
        expect(tip).to_contain_text(words)
    page.locator("[data-term='logit']").first.focus()   # and from the keyboard
    expect(tip).to_be_visible()
    terms = page.evaluate("import('/terms.js').then((terms) => Object.keys(terms.TERMS))")
    assert set(terms) >= {"logit", "saliency", "update/weight", "dead ReLU", "gradient × input", "softmax", "epoch",
                          "learning rate", "validation"}, terms
    page.context.close()
    assert not page.errors, page.errors
