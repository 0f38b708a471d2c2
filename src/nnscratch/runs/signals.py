"""Signals that end a run, and the moments no signal may cut short.

Ctrl-C (SIGINT), a closed terminal or a dropped ssh connection (SIGHUP) and a job scheduler's time limit or
``kill`` (SIGTERM) all stop training the same way: ``fit`` ends at once and the run saves what it has. While a
file is being written, each of them waits until the file is complete.
"""
import signal
import threading
from contextlib import contextmanager

STOPPING_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
SIGNAL_NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGHUP (the terminal closed)"}


class Stopped(KeyboardInterrupt):
    """A stop asked for by SIGTERM or SIGHUP: handled wherever Ctrl-C is, and it remembers its signal."""

    def __init__(self, number):
        super().__init__(SIGNAL_NAMES.get(number, f"signal {number}"))
        self.number = number


def on_main_thread():
    return threading.current_thread() is threading.main_thread()


@contextmanager
def signals_stop_training(received):
    """During the block, SIGTERM and SIGHUP raise ``Stopped`` as Ctrl-C raises ``KeyboardInterrupt``; the
    number of each signal that arrived is appended to ``received`` (Ctrl-C's too), so the caller can say which
    one stopped it and exit with 128 + its number, as a shell does. A signal the process ignores stays ignored."""
    if not on_main_thread():
        yield
        return

    def stop(number, frame):
        received.append(number)
        raise Stopped(number) if number != signal.SIGINT else KeyboardInterrupt

    previous = {number: signal.signal(number, stop) for number in STOPPING_SIGNALS
                if signal.getsignal(number) is not signal.SIG_IGN}  # (under nohup, SIGHUP stays ignored)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextmanager
def interrupts_deferred():
    """Ctrl-C, SIGTERM or SIGHUP during the block waits until the block has finished (a file half written is
    worse than a second of delay), then is delivered again to whatever handled it before (so ``signals_stop_training``
    still hears which signal it was, and without one SIGTERM ends the process as usual). Only the main thread
    receives signals; elsewhere this does nothing."""
    if not on_main_thread():
        yield
        return
    received = []
    previous = {number: signal.signal(number, lambda number, frame: received.append(number))
                for number in STOPPING_SIGNALS if signal.getsignal(number) is not signal.SIG_IGN}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if received:
        signal.raise_signal(received[0])
