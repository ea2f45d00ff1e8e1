"""CF metadata of what ``generate``, ``convert`` and ``compare`` write (issue 27).

Our own checks run everywhere; the real checkers (compliance-checker, cfchecker, not
project dependencies) run where installed.
"""

from __future__ import annotations

import pathlib
import re

import netCDF4
import numpy as np
import pytest
import xarray as xr

from surrogates.cli import main
from surrogates.io import cf, open_dataset, to_netcdf
from surrogates.io.units import h_exponent, to_disk
from surrogates.solvers.recipe import load_recipe, run_recipe

DATASETS = pathlib.Path(__file__).parents[1] / "datasets"
PM = ["samples=1", "params.n=8", "params.steps=2", "params.box_size=64.0"]
NS = ["samples=1", "params.n=8", "params.spinup=0.1", "params.t_end=0.35", "params.save_every=0.25"]
#: UDUNITS symbols our files use (the fallback when cf_units is not installed).
KNOWN_SYMBOLS = {"1", "m", "s", "kg", "km", "Pa", "megaparsec", "kiloparsec", "since"}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """Tiny ``generate`` (PM, Navier-Stokes), ``convert`` and ``compare`` outputs."""
    tmp = tmp_path_factory.mktemp("cf")
    files = {
        "pm": run_recipe(load_recipe(DATASETS / "cosmo-pm-train", PM), tmp / "pm.nc"),
        "ns": run_recipe(load_recipe(DATASETS / "turbulence-ns", NS), tmp / "ns.nc"),
    }
    assert main(["convert", str(files["ns"]), "--out", str(tmp / "nsc.nc")]) == 0
    files["convert"] = tmp / "nsc.nc"
    report = tmp / "report"
    assert main(["compare", str(files["pm"]), str(files["pm"]), "--out", str(report),
                 "--no-figures", "--diagnostics", "metrics,cosmology"]) == 0  # fmt: skip
    files["metrics"] = report / "metrics.nc"
    return files


def _valid_units(units: str) -> bool:
    try:
        import cf_units
    except ImportError:
        words = set(re.findall(r"[A-Za-z_]+", units)) - {"e"}
        return words <= KNOWN_SYMBOLS and "h" not in words
    try:
        cf_units.Unit(units)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("kind", ["pm", "ns", "convert", "metrics"])
def test_written_files_carry_the_cf_requirements(outputs, kind):
    with netCDF4.Dataset(outputs[kind]) as nc:
        attrs = {k: nc.getncattr(k) for k in nc.ncattrs()}
        assert attrs["Conventions"] == cf.CONVENTIONS
        assert attrs["title"].strip() and re.match(r"\d{4}-\d\d-\d\dT", attrs["history"])
        for name, var in nc.variables.items():
            keys = set(var.ncattrs())
            assert keys & {"long_name", "standard_name"}, f"{name} has no long_name"
            if "units" in keys:
                assert _valid_units(var.units), f"{name}: units {var.units!r}"
            if name in nc.dimensions and var.ndim == 1:  # a coordinate variable
                assert "_FillValue" not in keys, f"coordinate {name} has a _FillValue"
        if "time" in nc.variables:
            time = nc["time"]
            assert time.standard_name == "time" and " since " in time.units and time.axis == "T"


def test_units_on_disk_and_back_in_memory(outputs):
    with netCDF4.Dataset(outputs["pm"]) as nc:
        assert (nc["x"].units, nc["x"].h_scaling) == ("megaparsec", -1.0)
        assert (nc["vel_x"].units, "h_scaling" in nc["vel_x"].ncattrs()) == ("km/s", False)
    with netCDF4.Dataset(outputs["ns"]) as nc:
        assert (nc["u_x"].units, nc["u_x"].nondimensional_units) == ("1", "length/time")
        assert nc["time"].nondimensional_units == "time"
    pm, ns = open_dataset(outputs["pm"]), open_dataset(outputs["ns"])
    assert pm["x"].attrs == {"units": "Mpc/h", "long_name": pm["x"].attrs["long_name"]}
    assert pm["disp_x"].attrs["units"] == "Mpc/h" and "h_scaling" not in pm["disp_x"].attrs
    assert ns["u_x"].attrs["units"] == "length/time" and ns["time"].attrs == {"units": "time"}
    assert "Conventions" not in pm.attrs and cf.MARKER not in pm.attrs


@pytest.mark.parametrize("kind", ["pm", "ns"])
def test_rewriting_our_output_reads_back_identically(outputs, kind, tmp_path):
    first = open_dataset(outputs[kind]).load()
    again = open_dataset(to_netcdf(first, tmp_path / "again.nc")).load()
    assert again.attrs.pop("history").count("\n") == first.attrs.pop("history").count("\n") + 1
    for ds in (first, again):
        ds.attrs.pop("source")
    xr.testing.assert_identical(again, first)


def test_files_without_the_marker_are_read_as_they_are(tmp_path):
    """Files of earlier versions (``Mpc/h`` on disk) and of other producers are untouched."""
    old = xr.Dataset(
        {"disp_x": (("sample", "x"), np.zeros((1, 4), "f4"), {"units": "Mpc/h"})},
        {"x": ("x", np.arange(4.0), {"units": "Mpc/h"}), "sample": [0]},
        {"source_format": "surrogates.solvers.pm", "title": "old", "Conventions": "CF-1.6"},
    )
    old.to_netcdf(tmp_path / "old.nc")
    back = open_dataset(tmp_path / "old.nc")
    assert back["x"].attrs == {"units": "Mpc/h"} and back["disp_x"].attrs == {"units": "Mpc/h"}
    assert back.attrs["Conventions"] == "CF-1.6" and back.attrs["title"] == "old"


def test_history_is_appended_and_string_coordinates_become_characters(outputs):
    with netCDF4.Dataset(outputs["convert"]) as nc:
        lines = nc.history.splitlines()
    assert len(lines) == 2 and all("surrogates.io.to_netcdf" in line for line in lines)
    with netCDF4.Dataset(outputs["metrics"]) as nc:
        assert nc["variable"].dtype == np.dtype("S1")
    with xr.open_dataset(outputs["metrics"]) as ds:  # xarray users still index by name
        assert "disp_x" in ds.indexes["variable"]


@pytest.mark.parametrize(
    ("units", "disk"),
    [
        ("Mpc/h", {"units": "megaparsec", "h_scaling": -1.0}),
        ("1/(Mpc/h)", {"units": "1/(megaparsec)", "h_scaling": 1.0}),
        ("(km/s)^2 (Mpc/h)^3", {"units": "(km/s)^2 (megaparsec)^3", "h_scaling": -3.0}),
        ("1e10 Msun/h", {"units": "1.989e40 kg", "h_scaling": -1.0}),
        ("1/time^2", {"units": "1", "nondimensional_units": "1/time^2"}),
        ("particle mass units", {"units": "1", "nondimensional_units": "particle mass units"}),
        ("km/s", {}),
        ("days since 2000-01-01", {}),
        (None, {}),
    ],
)
def test_units_mapping(units, disk):
    assert to_disk(units) == disk
    if "h_scaling" in disk:
        assert _valid_units(disk["units"])


def test_time_units_get_a_reference_and_bad_products_raise():
    assert to_disk("s", is_time=True) == {"units": "s since 1970-01-01 00:00:00"}
    assert to_disk("time", is_time=True)["nondimensional_units"] == "time"
    assert h_exponent("h^2 m / (h s)") == 1
    with pytest.raises(ValueError, match=r"units '\(Mpc/h': unbalanced"):
        h_exponent("(Mpc/h")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # compliance-checker's own
def test_compliance_checker_finds_no_errors(outputs, tmp_path):
    pytest.importorskip("compliance_checker")
    import json

    from compliance_checker.runner import CheckSuite, ComplianceChecker

    CheckSuite.load_all_available_checkers()
    report = tmp_path / "cc.json"
    ComplianceChecker.run_checker(str(outputs["pm"]), ["cf:1.10"], 0, "normal",
                                  output_filename=str(report), output_format="json")  # fmt: skip
    high = json.loads(report.read_text())["cf:1.10"]["high_priorities"]
    assert [m for item in high for m in item["msgs"]] == []


def test_cfchecker_finds_no_errors(outputs, tmp_path):
    pytest.importorskip("cfchecker")
    compliance_checker = pytest.importorskip("compliance_checker")  # its standard-name table
    from cfchecker.cfchecks import CFChecker, CFVersion

    names = pathlib.Path(compliance_checker.__file__).parent / "data" / "cf-standard-name-table.xml"
    tables = []
    for kind in ("area", "region"):  # stand-ins for the tables cfchecker would download
        tables.append(tmp_path / f"{kind}.xml")
        tables[-1].write_text("<table><version_number>1</version_number><date>2024</date>"
                              "<entry id='x'></entry></table>")  # fmt: skip
    area, region = (str(t) for t in tables)
    checker = CFChecker(cfStandardNamesXML=str(names), cfAreaTypesXML=area,
                        cfRegionNamesXML=region, version=CFVersion(), silent=True)  # fmt: skip
    for kind in ("ns", "metrics"):
        checker.checker(str(outputs[kind]))
        counts = checker.get_total_counts()
        assert counts["FATAL"] + counts["ERROR"] == 0, kind
