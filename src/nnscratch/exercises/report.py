"""What ``exercises check`` says: per class the arrays, the lockstep and the accuracy, as text, HTML or JSON."""
from .. import gradcheck
from .track import TRACK


class Result:
    """The outcome of checking a learner's classes: ``passed``, ``classes`` (one dict each), ``training``."""

    def __init__(self, classes, training=None):
        self.classes, self.training = classes, training
        for result in classes:
            result["answer"] = next((exercise.answer for exercise in TRACK
                                     if exercise.reference == result["reference"]), None)

    @property
    def passed(self):
        return bool(self.classes) and all(result["passed"] for result in self.classes)

    def to_dict(self):
        classes = [{key: value for key, value in result.items() if key != "passed"} | {"passed": result["passed"]}
                   for result in self.classes]
        return {"passed": self.passed, "threshold": gradcheck.THRESHOLD, "classes": classes,
                "training": self.training}

    def lines(self):
        lines = []
        for result in self.classes:
            lines.append(f"{result['class']}, beside the engine's {result['reference']} "
                         f"(right: relative error <= {gradcheck.THRESHOLD:g})")
            for item in result["arrays"]:
                lines.append("  " + gradcheck.describe(item))
                if not item["ok"]:
                    lines.append(f"      {item['diagnosis']}: {item['hint']}")
            if result["lockstep"]:
                lines.append("  " + lockstep_line(result["lockstep"]))
            if result["passed"] and result["answer"]:
                lines.append(f"  Right. Now compare with the model answer: {result['answer']}")
            lines.append("")
        lines += training_lines(self.training)
        wrong = sum(not result["passed"] for result in self.classes)
        lines.append("All right." if self.passed else f"{wrong} of {len(self.classes)} classes need more work.")
        return lines

    def __str__(self):
        return "\n".join(self.lines())

    def __repr__(self):
        return f"<exercises check: {'passed' if self.passed else 'not yet'}>"

    def _repr_html_(self):
        parts = []
        for result in self.classes:
            parts.append(gradcheck.html_table(f"{result['class']}, beside the engine's {result['reference']}",
                                              result["arrays"], all(item["ok"] for item in result["arrays"])))
            if result["lockstep"]:
                parts.append(f"<p>{escape(lockstep_line(result['lockstep']))}</p>")
        parts += [f"<p><b>{escape(line)}</b></p>" for line in training_lines(self.training)]
        return "".join(parts)


def escape(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def lockstep_line(lockstep):
    """One line on how the lockstep went."""
    if "skipped" in lockstep:
        return f"lockstep on MNIST: skipped ({lockstep['skipped']})"
    where = f"lockstep: {lockstep['steps']} steps of a {lockstep['network']} on MNIST beside the engine's"
    if lockstep["passed"]:
        return f"{where}: in step all along (largest relative error {lockstep['largest_relative_error']:.1e})"
    if lockstep.get("error"):
        return f"{where}: your code raised at step {lockstep['step']}: {lockstep['error']}"
    line = f"{where}: parted at step {lockstep['step']}, {lockstep['array']}"
    if lockstep.get("relative_error") is not None:
        line += (f": relative error {lockstep['relative_error']:.1e}, worst at {tuple(lockstep['worst_index'])}: "
                 f"expected {lockstep['expected']:.6g}, got {lockstep['got']:.6g}")
    return line + (f" ({lockstep['diagnosis']}: {lockstep['hint']})" if lockstep.get("diagnosis") else "")


def training_lines(training):
    if not training:
        return []
    if training.get("skipped"):
        return [f"Training: skipped ({training['skipped']})"]
    if training.get("error"):
        return [f"Training a network of your layers failed: {training['error']}"]
    return [f"Your {training['classes']}: {training['accuracy']:.1%} on the test set ({training['test_size']:,} "
            f"digits), in a {training['network']} trained for {training['seconds']:g} s "
            f"({training['epochs']:g} epochs of {training['train_size']:,} images). Now watch it on the page: "
            f"nnscratch draw", ""]
