#!/usr/bin/python3
"""What one Monte Carlo path would cost in a spreadsheet: LibreOffice recalculating a
Lodestone results workbook, timed inside one running LibreOffice (start-up, loading and
saving excluded).

usage: /usr/bin/python3 benches/spreadsheet_recalc.py RESULTS.xlsx [--runs 10]

Two measurements, each the median of --runs:
- full: calculateAll(), every formula of the workbook recomputed;
- path: the price deck's input cells (the Prices sheet, first product, every year column)
  scaled by a new factor, then calculate(), which recomputes what depends on them: what a
  spreadsheet Monte Carlo would do for each path.

Needs LibreOffice and its Python bridge (Debian: apt-get install -y --no-install-recommends
libreoffice-calc-nogui python3-uno). Not part of the tests: a benchmark for BENCHMARKS.md."""
import argparse, os, random, shutil, statistics, subprocess, sys, tempfile, time

import uno  # noqa: E402  (from python3-uno)
from com.sun.star.beans import PropertyValue  # noqa: E402


def prop(name, value):
    p = PropertyValue()
    p.Name, p.Value = name, value
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("book")
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    soffice = shutil.which("soffice")
    if not soffice:
        sys.exit("soffice not found")
    profile = tempfile.mkdtemp(prefix="lo-bench-")
    pipe = "lodestone_bench_%d" % os.getpid()
    proc = subprocess.Popen([soffice, "-env:UserInstallation=file://" + profile, "--headless",
                             "--norestore", "--nolockcheck", "--invisible",
                             "--accept=pipe,name=%s;urp;" % pipe],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        local = uno.getComponentContext()
        resolver = local.ServiceManager.createInstanceWithContext(
            "com.sun.star.bridge.UnoUrlResolver", local)
        ctx = None
        for _ in range(120):
            try:
                ctx = resolver.resolve("uno:pipe,name=%s;urp;StarOffice.ComponentContext" % pipe)
                break
            except Exception:
                time.sleep(0.5)
        if ctx is None:
            sys.exit("could not connect to LibreOffice")
        desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
        url = uno.systemPathToFileUrl(os.path.abspath(args.book))
        t0 = time.perf_counter()
        doc = desktop.loadComponentFromURL(url, "_blank", 0, (prop("Hidden", True),))
        load = time.perf_counter() - t0
        full = []
        for _ in range(args.runs):
            t = time.perf_counter()
            doc.calculateAll()
            full.append(time.perf_counter() - t)
        prices = doc.Sheets.getByName("Prices")
        # Row 2 holds the first product; its year columns follow the fields (Product, Unit,
        # Currency, Escalation): E onwards while the header is a year.
        cols = []
        c = 4
        while True:
            head = prices.getCellByPosition(c, 0)
            if head.getType().value != "VALUE":
                break
            cols.append(c)
            c += 1
        base = [prices.getCellByPosition(c, 1).getValue() for c in cols]
        # The base case's project NPV (a defined name the results writer adds): it must move
        # with the prices, or nothing was recalculated.
        npv = doc.NamedRanges.getByName("S1_ProjectNPV").getReferredCells().getCellByPosition(0, 0)
        rng = random.Random(1)
        path = []
        seen = set()
        for _ in range(args.runs):
            factor = rng.uniform(0.5, 1.5)
            t = time.perf_counter()
            for c, v in zip(cols, base):
                prices.getCellByPosition(c, 1).setValue(v * factor)
            doc.calculate()
            path.append(time.perf_counter() - t)
            seen.add(npv.getValue())
        if len(seen) < args.runs:
            sys.exit("the project NPV did not move with the prices: nothing was recalculated")
        doc.close(True)
        print("load %.3f s; full recalculation median %.3f s (min %.3f, max %.3f); "
              "price path + recalculation median %.3f s (min %.3f, max %.3f); %d price cells, %d runs"
              % (load, statistics.median(full), min(full), max(full), statistics.median(path),
                 min(path), max(path), len(cols), args.runs))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
