"""The ``surrogates`` command: a thin parser over the library's functions.

Every subcommand returns exit code 0 on success and 2 with a one-line message on bad
input (``DataError`` / ``ModelError``, or a file that cannot be read or written). Set
``SURROGATES_TRACEBACK=1`` to see the full traceback of an unexpected failure.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from surrogates._files import output_path
from surrogates.errors import DataError, ModelError
from surrogates.solvers.recipe import parse_value

__all__ = ["main"]


def _options(items: Sequence[str] | None) -> dict[str, Any]:
    """``-o key=value`` items; values parse as TOML (``grid=64``, ``dims={lon="x"}``)."""
    out = {}
    for item in items or ():
        if "=" not in item:
            raise DataError(f"--option {item!r}: expected key=value")
        key, value = item.split("=", 1)
        out[key.strip()] = parse_value(value.strip())
    return out


def _cmd_inspect(args: argparse.Namespace) -> int:
    from surrogates import io

    for path in args.paths:
        text = io.describe(path, format=args.format, check_finite=args.check_finite,
                           **_options(args.option))  # fmt: skip
        print(text)
    return 0


def _cmd_convert(args: argparse.Namespace) -> int:
    from surrogates import io

    sources = args.paths[0] if len(args.paths) == 1 else list(args.paths)
    out = io.convert(
        sources, args.out, overwrite=args.overwrite, format=args.format, **_options(args.option)
    )
    print(f"wrote {out}")
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from surrogates.solvers.budget import check_recipe_budget
    from surrogates.solvers.recipe import load_recipe, run_recipe

    recipe = load_recipe(args.recipe, args.set or ())
    out = output_path(args.out)
    check_recipe_budget(recipe, out, args.memory)  # before the progress bar appears
    with tqdm(total=recipe.samples, desc=recipe.solver, unit="sample") as bar:

        def progress(sample: int, done: int, total: int) -> None:
            bar.set_postfix_str(f"sample {sample + 1} step {done}/{total}", refresh=False)
            bar.update(1 if done == total else 0)  # tqdm throttles the redraws itself

        run_recipe(recipe, out, resume=not args.restart, overwrite=args.overwrite,
                   memory=args.memory, progress=progress)  # fmt: skip
        bar.update(recipe.samples - bar.n)  # realisations reused from an interrupted run
    print(f"wrote {out} ({recipe.samples} samples, solver {recipe.solver})")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from surrogates.training import train_from_config

    path = train_from_config(args.config, args.set or (), resume=args.resume)
    print(f"wrote {path}")
    return 0


def _cmd_rollout(args: argparse.Namespace) -> int:
    from surrogates.rollout.api import rollout_cli

    out = rollout_cli(
        args.model,
        args.state,
        output_path(args.out),
        steps=args.steps,
        every=args.every,
        tile=args.tile,
        memory=args.memory,
        device=args.device,
        dask_scheduler=args.dask_scheduler,
        resume=args.resume,
        frame=args.frame,
        precision=args.precision,
        reliability=args.reliability,
    )
    print(f"wrote {out}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from surrogates.report import compare_report

    baselines = {}
    for item in args.baseline or ():
        if "=" not in item:
            raise DataError(f"--baseline {item!r}: expected NAME=PATH or NAME=VARIABLE_STEM")
        name, value = item.split("=", 1)
        baselines[name.strip()] = value.strip()
    out = compare_report(
        args.pred,
        args.truth,
        output_path(args.out),
        baselines=baselines or None,
        diagnostics=args.diagnostics.split(","),
        format=args.format,
        figures=not args.no_figures,
        **_options(args.option),
    )
    print((Path(out) / "summary.md").read_text())
    print(f"wrote metrics, figures and summary to {out}")
    return 0


def _cmd_study(args: argparse.Namespace) -> int:
    from surrogates import studies

    chosen = studies.settings(args.name, args.size, seed=args.seed, changes=args.set or ())
    out = output_path(args.out)
    if args.threads:
        if args.threads < 1:
            raise DataError(f"--threads {args.threads}: expected a positive number")
        import numba
        import torch

        torch.set_num_threads(args.threads)
        numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    handler = logging.StreamHandler(sys.stdout)  # the studies' progress lines
    handler.setFormatter(logging.Formatter("%(message)s"))
    studies_log = logging.getLogger("surrogates.studies")
    studies_log.addHandler(handler)
    studies_log.setLevel(logging.INFO)
    try:
        studies.run(args.name, chosen, out)
    finally:
        studies_log.removeHandler(handler)
    print((out / "results.md").read_text())
    print(f"wrote {out}/results.json, results.md and the figures")
    return 0


def _add_inspect(sub: Any) -> None:
    p = sub.add_parser("inspect", help="print the canonical view of solver files")
    p.add_argument("paths", nargs="+", help="files, stores or globs")
    p.add_argument("--format", default="auto", help="layout (default: auto-detect)")
    p.add_argument("--option", "-o", action="append", help="open_dataset option key=value")
    p.add_argument(
        "--check-finite",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="scan fields for NaN/Inf (default: only when they total <= 64 MiB)",
    )
    p.set_defaults(func=_cmd_inspect)


def _add_convert(sub: Any) -> None:
    p = sub.add_parser("convert", help="write solver files in the canonical form")
    p.add_argument("paths", nargs="+", help="files, stores or globs (concatenated along sample)")
    p.add_argument("--out", required=True, help="OUT.nc or OUT.zarr")
    p.add_argument("--format", default="auto", help="layout of the input (default: auto)")
    p.add_argument("--option", "-o", action="append", help="open_dataset option key=value")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier output at OUT")
    p.set_defaults(func=_cmd_convert)


def _add_generate(sub: Any) -> None:
    p = sub.add_parser("generate", help="run a dataset recipe with a reference solver")
    p.add_argument("recipe", help="datasets/<name> or a recipe.toml")
    p.add_argument("--out", required=True, help="output path (.nc, .zarr, or a snapshot stem)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a recipe key")
    p.add_argument("--restart", action="store_true", help="discard partial output, start over")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier output at OUT")
    p.add_argument("--memory", help="memory budget, e.g. 8GB (default: the available RAM)")
    p.set_defaults(func=_cmd_generate)


def _add_train(sub: Any) -> None:
    p = sub.add_parser("train", help="train a surrogate from a TOML run configuration")
    p.add_argument("config", help="run configuration, e.g. cli/train-cosmology.toml")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.set_defaults(func=_cmd_train)


def _add_rollout(sub: Any) -> None:
    p = sub.add_parser("rollout", help="run a surrogate tile by tile over a large domain")
    p.add_argument("model", help="surrogate artifact (surrogate.pt)")
    p.add_argument("state", help="initial state: any canonical dataset (file, store, glob)")
    p.add_argument("--out", required=True, help="OUT.zarr store (resumable)")
    p.add_argument("--steps", type=int, default=1, help="steps of a lead surrogate")
    p.add_argument("--every", type=int, default=1, help="save every K steps")
    p.add_argument("--tile", type=int, help="core tile size (default: largest that fits)")
    p.add_argument("--memory", help="memory budget, e.g. 4GB (default: part of free RAM)")
    p.add_argument("--device", help="cpu or cuda (default: cuda if available)")
    p.add_argument("--dask-scheduler", help="run on a Dask cluster at this address")
    p.add_argument("--frame", type=int, help="time frame of STATE to start from")
    p.add_argument(
        "--precision",
        default="32-true",
        help="network arithmetic: 32-true, or bf16-mixed (bfloat16, ~2x faster)",
    )
    p.add_argument(
        "--reliability",
        action="store_true",
        help="also write <var>_error half-widths and a per-tile table (needs an artifact"
        " with an error model)",
    )
    p.add_argument("--resume", action="store_true", help="continue an interrupted rollout")
    p.set_defaults(func=_cmd_rollout)


def _add_compare(sub: Any) -> None:
    p = sub.add_parser("compare", help="score a prediction against the truth")
    p.add_argument("pred", help="predicted dataset (file, store or glob)")
    p.add_argument("truth", help="ground-truth dataset")
    p.add_argument("--out", required=True, help="output folder for metrics, figures, summary")
    p.add_argument(
        "--baseline",
        action="append",
        metavar="NAME=PATH|STEM",
        help="extra model to tabulate: a dataset path, or a variable stem of the truth"
        " (e.g. 2LPT=disp_2lpt)",
    )
    p.add_argument("--diagnostics", default="auto", help="auto or metrics,cosmology,...")
    p.add_argument("--format", default="auto", help="layout of the inputs (default: auto)")
    p.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    p.add_argument("--option", "-o", action="append", help="compare option key=value")
    p.set_defaults(func=_cmd_compare)


def _add_study(sub: Any) -> None:
    from surrogates.studies import SIZES, STUDIES

    p = sub.add_parser("study", help="run one of the scientific studies end to end")
    p.add_argument("name", choices=list(STUDIES), help="the study")
    p.add_argument(
        "--size",
        default="laptop",
        choices=list(SIZES),
        help="quick (seconds), laptop (minutes; default) or full (docs/results)",
    )
    p.add_argument("--seed", type=int, help="the study's seed (see its Settings)")
    p.add_argument(
        "--set",
        action="append",
        metavar="FIELD=VALUE",
        help="override a setting (TOML value), e.g. budget=60 or fit.max_steps=100",
    )
    p.add_argument("--out", required=True, help="output folder (its datasets are reused)")
    p.add_argument("--threads", type=int, help="torch and numba threads (default: theirs)")
    p.set_defaults(func=_cmd_study)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="surrogates", description="Neural surrogates for PDE-governed simulation."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    _add_inspect(sub)
    _add_convert(sub)
    _add_generate(sub)
    _add_train(sub)
    _add_rollout(sub)
    _add_compare(sub)
    _add_study(sub)
    return parser


def _one_line(err: Exception) -> str:
    """The message, without the worker traceback torch's DataLoader wraps it in."""
    text = str(err)
    if "Original Traceback" in text:  # "Caught DataError in DataLoader worker process 0..."
        last = text.strip().splitlines()[-1]
        text = last.split(": ", 1)[1] if ": " in last else last
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (DataError, ModelError) as err:
        print(f"error: {_one_line(err)}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # a bug, not bad input: say so in one line unless asked
        if os.environ.get("SURROGATES_TRACEBACK"):
            raise
        print(
            f"internal error: {type(err).__name__}: {err} (set SURROGATES_TRACEBACK=1 for the"
            " traceback and please report it)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
