"""Pure numerics shared by solvers and diagnostics: FFTs, wavenumbers, mass assignment,
physical constants."""
