"""The ``nnscratch`` console script's entry point, kept outside the ``nnscratch`` package on purpose.

Importing anything inside ``nnscratch`` first runs ``nnscratch/__init__.py``, which imports NumPy and the whole
engine; with the command modules that is a second or two in which Ctrl-C would print the traceback of an import.
This module imports nothing at its top, so that everything, the import of the real command line included, runs
inside one ``try``.
"""

INTERRUPTED = 130  # 128 + SIGINT: what a shell reports for a program that Ctrl-C stopped


def main():
    """Import and run ``nnscratch.cli.main``: Ctrl-C at any moment, the imports included, prints one line and
    returns exit status 130 instead of a traceback.

    Ctrl-C raises ``KeyboardInterrupt`` as usual, but is also noted: an import interrupted inside a C extension
    can come out as another error (NumPy reports an interrupted import of its core as an ``ImportError``), and
    after a Ctrl-C that error, too, ends the run as interrupted.
    """
    interrupted = []

    def note_and_interrupt(number, frame):
        interrupted.append(number)
        raise KeyboardInterrupt

    try:
        import signal
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # (a background job ignores Ctrl-C)
            signal.signal(signal.SIGINT, note_and_interrupt)
        from nnscratch.cli import main as run
        return run()
    except KeyboardInterrupt:
        return stopped()
    except Exception:
        if not interrupted:
            raise
        return stopped()


def stopped():
    import sys
    print("nnscratch: interrupted", file=sys.stderr)
    return INTERRUPTED
