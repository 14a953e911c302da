"""fixer lab: a stand-in for `python3 -m streamlit run app.py`, written by `fixer lab up` as
DIR/streamlit/__main__.py, so the process's command line is what Streamlit's is.

Like Streamlit 1.x, it asks its first-run "Email:" question on stdin *before* it opens its port
unless `--server.headless true` is given; then it serves the lab backend on `--server.port`.
"""

import os
import runpy
import sys


def flag(args, name, default):
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return default


def main():
    args = sys.argv[1:]
    if len(args) < 2 or args[0] != "run":
        print("Usage: streamlit run APP.py [--server.port P] [--server.headless true]", file=sys.stderr)
        return 2
    port = flag(args, "--server.port", "8501")
    headless = flag(args, "--server.headless", "false").lower() == "true"
    lab = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    mode = "serve" if headless else "prompt-first"
    sys.argv = ["lab-backend.py", "--port", port, "--mode", mode]
    runpy.run_path(os.path.join(lab, "lab-backend.py"), run_name="__main__")


if __name__ == "__main__":
    sys.exit(main())
