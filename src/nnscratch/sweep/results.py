"""What a sweep shows and leaves behind: a line per finished trial, a table of the best, and ``trials.csv``."""
import csv
import io
import math

from optuna.trial import TrialState

from ..files import atomic_write
from .storage import counted

STATES = {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned", TrialState.FAIL: "failed",
          TrialState.RUNNING: "running", TrialState.WAITING: "waiting"}


def higher_is_better(metric):
    return not metric.endswith("loss")


def shown(value):
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def params_text(params):
    return " ".join(f"{name}={shown(value)}" for name, value in params.items())


def last_value(trial):
    """A trial's value: its result when complete, else the last metric it reported (or None)."""
    if trial.state == TrialState.COMPLETE:
        return trial.value
    if trial.intermediate_values:
        return trial.intermediate_values[max(trial.intermediate_values)]
    return None


def best_of(trials, metric):
    done = [trial for trial in trials if trial.state == TrialState.COMPLETE and trial.value is not None
            and math.isfinite(trial.value)]
    if not done:
        return None
    return (max if higher_is_better(metric) else min)(done, key=lambda trial: trial.value)


def progress_line(study, trial, job):
    trials = counted(study.get_trials(deepcopy=False))
    finished = sum(other.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL) for other in trials)
    state, value = STATES.get(trial.state, str(trial.state)), last_value(trial)
    epochs = trial.user_attrs.get("epochs")
    parts = [f"trial {trial.number:>3} {state:<8}",
             f"{job.metric} {value:.4f}" if value is not None else f"{job.metric} -",
             params_text(trial.params)]
    if epochs is not None:
        parts.append(f"{epochs} epoch{'s' if epochs != 1 else ''}")
    if "seconds" in trial.user_attrs:
        parts.append(f"{trial.user_attrs['seconds']:.1f} s")
    best = best_of(trials, job.metric)
    parts.append(f"[{finished}/{job.trials}" + (f", best {best.value:.4f} (trial {best.number})]" if best else "]"))
    if trial.user_attrs.get("error"):
        parts.append(f"error: {trial.user_attrs['error']}")
    return "  ".join(parts)


def rows(study):
    """One dict per trial (but those started past the total): number, state, value, each parameter, epochs,
    seconds, worker and error."""
    names = sorted({name for trial in study.get_trials(deepcopy=False) for name in trial.params})
    table = []
    for trial in study.get_trials(deepcopy=False):
        if trial.user_attrs.get("surplus"):
            continue
        value = last_value(trial)
        table.append({"trial": trial.number, "state": STATES.get(trial.state, str(trial.state)), "value": value,
                      **{name: trial.params.get(name) for name in names},
                      "epochs": trial.user_attrs.get("epochs"), "seconds": trial.user_attrs.get("seconds"),
                      "worker": trial.user_attrs.get("worker"),
                      "retry_of": trial.user_attrs.get("retry_of", trial.system_attrs.get("failed_trial")),
                      "error": trial.user_attrs.get("error")})
    return table, names


def write_csv(path, table, metric):
    """Every trial as a row of ``trials.csv``; the value column is named after the metric."""
    if not table:
        return
    columns = list(table[0])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([metric if column == "value" else column for column in columns])
    for row in table:
        writer.writerow(["" if row[column] is None else row[column] for column in columns])
    with atomic_write(path, "w") as file:
        file.write(buffer.getvalue())


def best_table(table, names, metric, top=5):
    """The ``top`` complete trials, best first, as text; and a count of the trials by state."""
    done = [row for row in table if row["state"] == "complete" and row["value"] is not None]
    done.sort(key=lambda row: row["value"], reverse=higher_is_better(metric))
    counts = {}
    for row in table:
        counts[row["state"]] = counts.get(row["state"], 0) + 1
    header = ["rank", "trial", metric, *names, "epochs", "seconds"]
    lines = [[str(rank), str(row["trial"]), f"{row['value']:.4f}", *[shown(row[name]) for name in names],
              str(row["epochs"] or ""), f"{row['seconds']:.1f}" if row["seconds"] is not None else ""]
             for rank, row in enumerate(done[:top], 1)]
    widths = [max(len(cell) for cell in column) for column in zip(header, *lines, strict=True)]
    text = ["  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True)) for line in [header, *lines]]
    summary = ", ".join(f"{count} {state}" for state, count in counts.items()) or "no trials yet"
    return "\n".join([f"Trials: {summary}", *(text if lines else ["No trial has completed yet."])])
