"""Where a study lives, and what every worker reads from it: Optuna's journal file (one machine, any number of
processes, nothing to set up) or a database by URL (``postgresql://user@host/db``: many machines).

A study remembers what it is a sweep of (the search space, the fixed settings, the metric) in its user
attributes, so that a worker who joins it, or a rerun that resumes it, runs the same sweep or is refused with
the reason. Trials whose worker died are failed and tried again: a database notices by Optuna's heartbeat, a
journal file by the worker's process id on this machine.
"""
import os
import re
import socket
import time
import warnings

import optuna
from optuna.trial import TrialState

from .space import SweepError

JOURNAL_NAME = "journal.log"
HEARTBEAT_SECONDS, GRACE_SECONDS = 10, 30
CONNECT_TIMEOUT_SECONDS = 5
ATTRIBUTE = "nnscratch_sweep"


def storage_label(url):
    """The storage URL without its password, fit to print."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


def open_storage(url, out):
    """The Optuna storage at ``url``, or the journal file in ``out`` when ``url`` is None."""
    if url is None:
        from optuna.storages.journal import JournalFileBackend
        os.makedirs(out, exist_ok=True)
        return optuna.storages.JournalStorage(JournalFileBackend(os.path.join(out, JOURNAL_NAME)))
    if "://" not in url:
        raise SweepError(f"--storage {url!r}: expected a database URL such as postgresql://user@host/db "
                         f"(leave --storage out for a journal file in --out)")
    url = with_driver(url)
    engine = {"connect_args": {"connect_timeout": CONNECT_TIMEOUT_SECONDS}} if url.startswith("postgres") else {}
    for attempt in range(3):
        try:
            return database(url, engine)
        except ImportError as error:
            raise SweepError(f"--storage {storage_label(url)}: the database driver is missing ({error}); "
                             f"pip install nnscratch[sweep]") from None
        except Exception as error:
            import sqlalchemy.exc
            if isinstance(error, sqlalchemy.exc.IntegrityError) and attempt < 2:
                time.sleep(0.5 + attempt)  # another worker was creating the tables at the same moment
                continue
            what = ("cannot reach the database" if isinstance(error, sqlalchemy.exc.OperationalError)
                    else "cannot use the database")
            first = str(getattr(error, "orig", None) or error).strip().splitlines()
            raise SweepError(f"--storage {storage_label(url)}: {what}: "
                             f"{first[0] if first else type(error).__name__}") from None


def database(url, engine):
    with warnings.catch_warnings():  # the heartbeat is marked experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(
            url, engine_kwargs=engine, heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS,
            heartbeat_stale_trial_callback=retry_once)


def with_driver(url):
    """``postgresql://`` with the driver that is installed: SQLAlchemy 2.1 takes psycopg (3) unless told, and the
    ``sweep`` extra installs psycopg2."""
    scheme, _, rest = url.partition("://")
    if scheme not in ("postgresql", "postgres"):
        return url
    import importlib.util
    driver = "psycopg" if importlib.util.find_spec("psycopg") else "psycopg2"
    return f"postgresql+{driver}://{rest}"


def describe(space, fixed, metric):
    """What a study is a sweep of, as stored with it."""
    return {"space": {name: param.spec for name, param in space.items()}, "fixed": fixed, "metric": metric}


def open_study(storage, name, description, pruner, join):
    """The study ``name``: created with ``description`` unless it exists; an existing one must be the same sweep.
    With ``join`` it must exist already, and ``description`` may be None (take the stored one)."""
    exists = name in {summary.study_name for summary in optuna.get_all_study_summaries(storage)}
    if join and not exists:
        raise SweepError(f"--join: there is no study {name!r} in this storage to join; start it without --join")
    if description is None and not exists:
        raise SweepError("give the search space with --param (or --join a study that exists)")
    direction = "minimize" if (description or {}).get("metric", "").endswith("loss") else "maximize"
    study = optuna.create_study(storage=storage, study_name=name, pruner=pruner,
                                direction=direction, load_if_exists=True)
    stored = study.user_attrs.get(ATTRIBUTE)
    if stored is None:
        if exists and study.trials:
            raise SweepError(f"--study {name}: a study of that name exists but was not made by nnscratch sweep")
        study.set_user_attr(ATTRIBUTE, description)
        return study, description
    if description is not None:
        refuse_if_different(name, stored, description)
    return study, stored


def refuse_if_different(name, stored, given):
    there, here = stored["space"], given["space"]
    if there != here:
        def show(space):
            return " ".join(f"{key}={value}" for key, value in sorted(space.items())) or "(none)"
        raise SweepError(f"--study {name} exists with another search space: {show(there)} there, {show(here)} "
                         f"here; pass the same --param flags, --join it without them, or choose another --study")
    if stored["metric"] != given["metric"]:
        raise SweepError(f"--study {name} optimises {stored['metric']}, not {given['metric']}; pass --metric "
                         f"{stored['metric']} or choose another --study")
    differ = sorted(key for key in set(stored["fixed"]) | set(given["fixed"])
                    if stored["fixed"].get(key) != given["fixed"].get(key))
    if differ:
        shown = ", ".join(f"{key} {stored['fixed'].get(key)!r} there, {given['fixed'].get(key)!r} here"
                          for key in differ[:3])
        raise SweepError(f"--study {name} exists with other fixed settings ({shown}); pass the same flags, --join "
                         f"it without them, or choose another --study")


def retry_once(study, trial):
    """Optuna's heartbeat found ``trial``'s worker gone: try its parameters again, once."""
    if trial.user_attrs.get("retry_of") is None:
        study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})


def worker_name():
    return f"{socket.gethostname()}:{os.getpid()}"


def counted(trials):
    """The trials that count towards the study's total: all but the failed ones that were tried again, that were
    interrupted, or that started once the total was reached."""
    retried = {trial.user_attrs.get("retry_of") for trial in trials} | \
              {trial.system_attrs.get("failed_trial") for trial in trials}
    return [trial for trial in trials if not (trial.state == TrialState.FAIL and (
        trial.number in retried or trial.user_attrs.get("surplus") or trial.user_attrs.get("interrupted")))]


def retry_lost_trials(study):
    """Fail and try again (once) the running trials whose worker process on this machine has died: the heartbeat
    of a journal file. (A database has Optuna's own heartbeat.)"""
    if not isinstance(study._storage, optuna.storages.JournalStorage):
        return
    host = socket.gethostname()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker_host, _, pid = str(trial.user_attrs.get("worker", "")).rpartition(":")
        if worker_host != host or not pid.isdigit() or process_alive(int(pid)):
            continue
        try:
            study._storage.set_trial_user_attr(trial._trial_id, "error", f"its worker (process {pid}) died")
            study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        except Exception:  # another worker got there first
            continue
        if trial.user_attrs.get("retry_of") is None:
            study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})


def process_alive(pid):
    """Whether process ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            if stat.read().rpartition(")")[2].split()[0] == "Z":
                return False
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
